"""Ctrl-C latency: SIGINT to KeyboardInterrupt out of an idle ``run``.

    python tests/benchmarks/ctrl_c.py [--trials 20]

For each loop (pyev.aio on epoll and poll, with signalfd and with the
portable handler path; stock ``asyncio.run`` for comparison) a fresh
process runs ``main()``, which sleeps for a minute. Once it is idle in its
poll the parent sends SIGINT and notes the time; the child notes the time
at which KeyboardInterrupt came out of ``run`` (after the Runner cancelled
``main`` and shut down). Both clocks are CLOCK_MONOTONIC, which is
system-wide. Prints the median and the largest latency per loop, in ms.
"""

from __future__ import annotations

import argparse
import os
import signal
import statistics
import subprocess
import sys
import time

CHILD = """
import asyncio, sys, time
import pyev as ev
import pyev.aio

async def main():
    print("ready", flush=True)
    await asyncio.sleep(60)

kind = sys.argv[1]
try:
    if kind == "asyncio":
        asyncio.run(main())
    else:
        backend, mechanism = kind.split("+")
        ev_loop = ev.Loop(backend=ev.Backend[backend], signalfd=mechanism == "signalfd")
        pyev.aio.run(main(), ev_loop=ev_loop)
except KeyboardInterrupt:
    print(time.monotonic(), flush=True)
"""

KINDS = ["EPOLL+signalfd", "EPOLL+handler", "POLL+signalfd", "POLL+handler", "asyncio"]


def one(kind: str, idle: float) -> float:
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(filter(None, [os.getcwd(), os.environ.get("PYTHONPATH")])))
    proc = subprocess.Popen(
        [sys.executable, "-c", CHILD, kind], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env
    )
    try:
        assert proc.stdout is not None
        if proc.stdout.readline().strip() != "ready":
            raise RuntimeError(proc.stderr.read() if proc.stderr else "no output")
        time.sleep(idle)  # blocked in its poll by now
        sent = time.monotonic()
        proc.send_signal(signal.SIGINT)
        out, err = proc.communicate(timeout=30)
    finally:
        proc.kill()
        proc.wait()
    try:
        return (float(out.strip().splitlines()[-1]) - sent) * 1000.0
    except (ValueError, IndexError):
        raise RuntimeError(f"{kind}: no KeyboardInterrupt: {out!r} {err[-2000:]}") from None


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--trials", type=int, default=20)
    ap.add_argument("--idle", type=float, default=0.2, help="seconds the child idles before the signal")
    args = ap.parse_args()
    print(f"{'loop':16s} {'median ms':>10s} {'max ms':>8s}  (n={args.trials})")
    for kind in KINDS:
        samples = [one(kind, args.idle) for _ in range(args.trials)]
        print(f"{kind:16s} {statistics.median(samples):10.2f} {max(samples):8.2f}", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
