"""libev's classic first program: wait for stdin to become readable, or give
up after 5.5 seconds, whichever comes first.

    python examples/hello.py            # type a line within 5.5 s, or wait
    echo hi | python examples/hello.py  # stdin is readable at once
"""

from __future__ import annotations

import argparse
import sys

import pyev as ev


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--timeout", type=float, default=5.5, help="seconds to wait (default 5.5)")
    args = parser.parse_args(argv)

    loop = ev.default_loop()

    def stdin_ready(watcher: ev.Io, revents: int) -> None:
        print("stdin ready")
        # One-shot: stop this watcher and the timer, and everything is done.
        watcher.stop()
        timeout_watcher.stop()

    def timeout(watcher: ev.Timer, revents: int) -> None:
        print("timeout")
        stdin_watcher.stop()

    stdin_watcher = ev.Io(sys.stdin, ev.READ, stdin_ready).start(loop)
    timeout_watcher = ev.Timer(args.timeout, timeout).start(loop)
    loop.run()
    return 0


if __name__ == "__main__":
    sys.exit(main())
