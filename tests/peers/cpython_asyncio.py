"""Run the interpreter's own ``test.test_asyncio`` against pyev.aio.

    python tests/peers/cpython_asyncio.py                 # pyev.aio, every module
    python tests/peers/cpython_asyncio.py --loop stock    # the stand-in baseline
    python tests/peers/cpython_asyncio.py --compare       # both, and the difference
    python tests/peers/cpython_asyncio.py -m test_events -m test_streams

The suite's files are never edited; only the loop is chosen:
- the default policy's loop factory is replaced, so everything built with
  ``asyncio.new_event_loop()``, ``asyncio.run()``, ``asyncio.Runner()`` or
  ``IsolatedAsyncioTestCase`` gets the peer loop (the class attribute
  survives the suite's ``set_event_loop_policy(None)`` teardowns);
- the per-selector classes of test_events, test_sock_lowlevel and
  test_sendfile are replaced by one ``PEER_...`` class built from their
  mixins with ``create_event_loop`` returning the peer loop (test_events'
  ``UnixEventLoopTestsMixin`` is left out: it attaches a policy child
  watcher, which pyev.aio does not consult); test_subprocess gets a
  ``PEER_SubprocessTests`` class beside its watcher classes (which already
  take their loop from the policy).

The baseline ("stock") is a stand-in: an empty subclass of
``asyncio.SelectorEventLoop`` defined here, outside the asyncio package,
run through the same harness.

White-box modules that test asyncio's own classes with mocks are not run
(WHITE_BOX). Tests that assert asyncio internals pyev.aio replaces are in
EXCLUDE, each with its reason; they are skipped for pyev.aio only.

Each module runs in its own process under a time cap (``--cap``), and with
``--test-cap`` each test under one too; a module that hits either is
reported with the test that was running (a test over its cap is reported as
"timeout" and the module goes on without it).
"""

from __future__ import annotations

import argparse
import json
import pathlib
import sys
import time

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent))
import _peerlib  # noqa: E402

HERE = pathlib.Path(__file__).resolve().parent

# Modules that test asyncio's own classes (mock-heavy, not loop-agnostic),
# or another platform's.
WHITE_BOX = {
    "test_base_events",
    "test_selector_events",
    "test_unix_events",
    "test_proactor_events",
    "test_windows_events",
    "test_windows_utils",
}

# The longest-running modules, started first by a parallel run.
SLOW = {"test_events", "test_subprocess", "test_sendfile", "test_streams", "test_tasks", "test_sslproto", "test_ssl"}

# Test id suffix -> why pyev.aio is not expected to pass it. Skipped for
# pyev.aio only (the baseline runs them).
EXCLUDE: dict[str, str] = {
    "test_subprocess.SubprocessFastWatcherTests": (
        "FastChildWatcher's SIGCHLD handler reaps every child with waitpid(-1), so it can steal the exit "
        "of a child pyev.aio's Child watcher waits for (seen: test_stdin_broken_pipe hung once in two runs)"
    ),
    "test_subprocess.GenericWatcherTests.test_create_subprocess_fails_with_inactive_watcher": (
        "asserts that subprocess creation consults the policy child watcher; pyev.aio uses a Child watcher "
        "on the pid instead, the same on 3.11 to 3.14"
    ),
}


# Tests that the harness itself cannot run on a real loop (any loop: the
# stand-in too). Skipped for both loops.
HARNESS_SKIP: dict[str, str] = {
    "test_runners.PEER_RunTests.test_asyncio_run_without_uncancel": (
        "written for test_runners' mock loop (its select() never blocks): on a real loop main() waits forever"
    ),
    "test_subprocess.GenericWatcherTests.test_create_subprocess_with_pidfd": (
        "3.12: asserts that get_event_loop() raises, which depends on whether an earlier test of the module "
        "called set_event_loop() (run alone it fails on both loops; the harness's classes change the order)"
    ),
}


def _modules() -> list[str]:
    import test.test_asyncio as pkg

    names = sorted(p.stem for p in pathlib.Path(pkg.__path__[0]).glob("test_*.py"))
    return [n for n in names if n not in WHITE_BOX]


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--loop", choices=("pyev", "stock"), default="pyev")
    ap.add_argument("--compare", action="store_true", help="run both loops and list what only the stand-in passes")
    ap.add_argument("-m", "--module", action="append", help="run only these modules")
    ap.add_argument("--cap", type=float, default=300.0, help="seconds per module process (default 300)")
    ap.add_argument("--test-cap", type=float, default=0.0, help="seconds per test (default 0: none)")
    ap.add_argument("-v", "--verbose", action="store_true", help="print failures")
    ap.add_argument("-j", "--jobs", type=int, default=1, help="modules run at once (default 1)")
    ap.add_argument("--json", help="write all outcomes here")
    args = ap.parse_args()
    modules = args.module or _modules()
    loops = ["stock", "pyev"] if args.compare else [args.loop]
    all_results = {}
    for loop in loops:
        t0 = time.monotonic()
        all_results[loop] = _peerlib.run_modules(
            loop,
            modules,
            lambda m, loop=loop: [loop, m],
            HERE / "_cpython_worker.py",
            args.cap,
            args.verbose,
            args.jobs,
            SLOW,
            args.test_cap,
        )
        print(f"[{loop}] total {_peerlib.totals(all_results[loop])} in {time.monotonic() - t0:.0f}s", flush=True)
    if args.json:
        pathlib.Path(args.json).write_text(json.dumps(all_results, indent=1))
    status = 0
    if args.compare:
        missing = _peerlib.only_stock_passes(all_results["stock"], all_results["pyev"])
        print(f"passed by the stand-in but not by pyev.aio: {len(missing)}")
        for line in missing:
            print("   ", line)
        status = 1 if missing else 0
    else:
        res = all_results[loops[0]]
        bad = sum(v for k, v in _peerlib.totals(res).items() if k not in ("pass", "skip", "excluded"))
        hung = [m for m, r in res.items() if r["timed_out"] or r.get("crashed")]
        status = 1 if bad or hung else 0
    return status


if __name__ == "__main__":
    sys.exit(main())
