"""What the workload modules share: the workload table, sizes, the
registry of implementations, and how each library's loop is made."""

from __future__ import annotations

import argparse
import resource
import socket
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

perf_counter = time.perf_counter

LIBRARIES = ("pyev", "asyncio", "uvloop", "gevent")
STAT_PEERS = ("watchdog", "watchfiles")

# Sizes: "full" keeps the whole suite (repeat=5) under ~15 minutes on a
# 2-core machine; "quick" is a smoke check of about a minute.
SIZES: dict[str, dict[str, float]] = {
    "full": {
        "timer_churn": 100_000,
        "timer_fire": 50_000,
        "idle": 500_000,
        "pingpong": 100_000,
        "pingpong_idle_fds": 100_000,
        "idle_fds": 10_000,
        "async_send": 200_000,
        "echo_seconds": 3.0,
        "echo_conns": 50,
        "child_reap": 2_000,
        "signals": 50_000,
        "stat_writes": 20,
        "memory_timer": 100_000,
        "memory_io": 10_000,
    },
    "quick": {
        "timer_churn": 10_000,
        "timer_fire": 5_000,
        "idle": 20_000,
        "pingpong": 5_000,
        "pingpong_idle_fds": 2_000,
        "idle_fds": 10_000,
        "async_send": 20_000,
        "echo_seconds": 0.5,
        "echo_conns": 50,
        "child_reap": 100,
        "signals": 2_000,
        "stat_writes": 5,
        "memory_timer": 10_000,
        "memory_io": 2_000,
    },
}


@dataclass(frozen=True)
class Workload:
    name: str
    unit: str
    higher_is_better: bool
    what: str


WORKLOADS: dict[str, Workload] = {
    w.name: w
    for w in (
        Workload(
            "timer_churn",
            "start+stop/s",
            True,
            "start then stop (shuffled) N timers, 0.5-60 s timeouts",
        ),
        Workload(
            "timer_fire",
            "timers/s",
            True,
            "N timers all due within 50 ms: N / time until all fired",
        ),
        Workload("idle", "iterations/s", True, "idle callbacks per second"),
        Workload("pingpong", "round trips/s", True, "1 byte each way over a socketpair"),
        Workload(
            "pingpong_idle_fds",
            "round trips/s",
            True,
            "pingpong with ~10,000 more idle fds watched for READ",
        ),
        Workload("async_send", "sends/s", True, "a thread sends N times to an async watcher"),
        Workload(
            "echo", "requests/s", True, "TCP line echo, 50 connections, shared load generator"
        ),
        Workload("child_reap", "exits/s", True, "posix_spawn /bin/true, reaped via child watching"),
        Workload("signals", "signals/s", True, "SIGUSR1 to self, one at a time"),
        Workload(
            "stat_latency", "ms", False, "append to a file: median ms until the watch callback"
        ),
        Workload("memory_timer", "bytes/timer", False, "tracemalloc bytes per started idle timer"),
        Workload("memory_io", "bytes/io", False, "tracemalloc bytes per started idle READ watcher"),
    )
}

Result = tuple[float, dict[str, Any]]
Impl = Callable[[str, dict[str, float]], Result]
IMPLS: dict[str, dict[str, Impl]] = {name: {} for name in WORKLOADS}


def impl(workload: str, *libraries: str) -> Callable[[Impl], Impl]:
    def register(fn: Impl) -> Impl:
        for library in libraries:
            IMPLS[workload][library] = fn
        return fn

    return register


def libraries_for(workload: str) -> list[str]:
    """Libraries in report order; those without an implementation are n/a."""
    order = LIBRARIES + STAT_PEERS
    return [lib for lib in order if lib in IMPLS[workload]]


# --- loops -----------------------------------------------------------------


def pyev_loop() -> Any:
    import pyev as ev

    loop = ev.default_loop()
    loop.now_update()
    return loop


def gevent_loop() -> Any:
    import gevent

    loop = gevent.get_hub().loop
    # The cached time is from hub creation; refresh it before arming timers.
    loop.update_now()
    return loop


def aio_loop(library: str) -> Any:
    if library == "uvloop":
        import uvloop

        return uvloop.new_event_loop()
    import asyncio

    return asyncio.new_event_loop()


def run_aio(loop: Any) -> None:
    try:
        loop.run_forever()
    finally:
        loop.close()


def raise_nofile() -> tuple[int, int]:
    """Raises the soft RLIMIT_NOFILE to the hard one; returns the new limits."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    want = hard if hard != resource.RLIM_INFINITY else max(soft, 1 << 16)
    if soft < want:
        resource.setrlimit(resource.RLIMIT_NOFILE, (want, hard))
    return resource.getrlimit(resource.RLIMIT_NOFILE)


def idle_socketpairs(wanted: int) -> tuple[list[socket.socket], int]:
    """Up to ``wanted`` fds (socketpair ends) that never get data."""
    soft, _ = raise_nofile()
    room = (soft - 64) if soft != resource.RLIM_INFINITY else wanted
    count = max(0, min(wanted, room)) // 2 * 2
    socks: list[socket.socket] = []
    for _ in range(count // 2):
        socks.extend(socket.socketpair())
    return socks, soft


def noop(*args: object) -> None:
    pass


def run_settings(parser: argparse.ArgumentParser, args: argparse.Namespace, root: Path) -> tuple[str, int, Path]:
    """The size mode, repetitions and report path (made ready) that the
    runners' shared options (--quick, --repeat, --out) ask for."""
    mode = "quick" if args.quick else "full"
    repeat = args.repeat or (1 if args.quick else 5)
    if repeat < 1:
        parser.error("--repeat must be >= 1")
    if args.out:
        out = Path(args.out)
    elif args.quick:
        out = Path(tempfile.gettempdir()) / "pyev-benchmarks-quick" / "benchmarks"
    else:
        out = root / "docs" / "benchmarks"
    out.parent.mkdir(parents=True, exist_ok=True)
    return mode, repeat, out


# -- report sections kept between runs ------------------------------------------------


def marked_section(text: str, start_mark: str, end_mark: str) -> str:
    """The section of a report between the two marks ("" if none), marks included."""
    start = text.find(start_mark)
    end = text.find(end_mark, start)
    if start < 0 or end < 0:
        return ""
    return text[start : end + len(end_mark)]


def with_marked_section(text: str, section: str, start_mark: str, end_mark: str) -> str:
    """``text`` with its marked section replaced by ``section`` (appended if none)."""
    old = marked_section(text, start_mark, end_mark)
    if old:
        return text.replace(old, section)
    return text.rstrip("\n") + ("\n\n" if text.strip() else "") + section + "\n"
