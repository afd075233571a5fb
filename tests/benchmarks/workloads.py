"""One benchmark measurement per process: ``workloads.py WORKLOAD LIBRARY [--quick]``.

Prints exactly one JSON object on stdout::

    {"workload": ..., "library": ..., "value": ..., "unit": ...,
     "higher_is_better": bool, "n": ..., ...extra}

``run.py`` starts this script once per measurement, so every measurement
gets a fresh interpreter: no warmed allocator, no leftover watchers, no
signal disposition or SIGCHLD handler inherited from another library.

Every library is used at its lowest public level, with plain callbacks:

- pyev: watchers on ``ev.default_loop()``.
- gevent: libev watchers of the hub's loop (``gevent.get_hub().loop``, the
  libev default loop), ``loop.run()`` called from the main greenlet; no
  greenlets, no monkey-patching.
- asyncio: ``asyncio.new_event_loop()`` (the epoll selector loop here), with
  ``call_later`` / ``call_soon`` / ``add_reader`` / ``add_signal_handler`` /
  ``call_soon_threadsafe``.
- uvloop: the same asyncio code on ``uvloop.new_event_loop()``.
- watchdog, watchfiles: only in ``stat_latency``.

Each callback does the same trivial Python work in every library (count,
maybe re-arm), so the numbers compare the libraries' dispatch cost.
Peers are imported inside the functions that use them, so a broken peer
install fails only its own measurements.
"""

from __future__ import annotations

import faulthandler
import json
import sys

# The workload modules register their implementations on import.
import fds  # noqa: F401
import files  # noqa: F401
import memory  # noqa: F401
import sources  # noqa: F401
import timers  # noqa: F401
from common import IMPLS, SIZES, WORKLOADS, libraries_for


def main(argv: list[str]) -> int:
    import argparse

    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("workload", choices=sorted(WORKLOADS))
    parser.add_argument("library")
    parser.add_argument("--quick", action="store_true", help="small sizes (smoke check)")
    parser.add_argument(
        "--hang-after",
        type=float,
        default=240.0,
        help="dump every thread's traceback and exit after this many seconds",
    )
    args = parser.parse_args(argv)
    fn = IMPLS[args.workload].get(args.library)
    if fn is None:
        parser.error(
            f"{args.workload} has no {args.library} implementation "
            f"(have: {', '.join(libraries_for(args.workload))})"
        )
    faulthandler.dump_traceback_later(args.hang_after, exit=True)
    value, extra = fn(args.library, SIZES["quick" if args.quick else "full"])
    faulthandler.cancel_dump_traceback_later()
    w = WORKLOADS[args.workload]
    print(
        json.dumps(
            {
                "workload": w.name,
                "library": args.library,
                "value": value,
                "unit": w.unit,
                "higher_is_better": w.higher_is_better,
                **extra,
            }
        ),
        flush=True,
    )
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
