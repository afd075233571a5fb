"""File-change latency: stat_latency (pyev, gevent, watchdog, watchfiles)."""

from __future__ import annotations

import os
import statistics
import tempfile
import threading
import time
from typing import Any

from common import (
    Result,
    gevent_loop,
    impl,
    perf_counter,
    pyev_loop,
)

# Spacing of the writes, and how long one write may go unnoticed before it
# counts as missed.
STAT_SPACING = 0.05
STAT_MISS_AFTER = 1.0


class StatProbe:
    """Appends one byte to a file per round and records the time until the
    watcher reports it: ``write`` starts a round, ``seen`` or ``miss`` ends it.
    The caller spaces the rounds STAT_SPACING apart."""

    def __init__(self, rounds: int) -> None:
        self.rounds = rounds
        self.dir = tempfile.mkdtemp(prefix="pyev-bench-")
        self.path = os.path.join(self.dir, "watched")
        with open(self.path, "wb") as f:
            f.write(b"start\n")
        self.fd = os.open(self.path, os.O_WRONLY | os.O_APPEND)
        self.latencies: list[float] = []
        self.missed = 0
        self.t_write: float | None = None

    def write(self) -> None:
        self.t_write = perf_counter()
        os.write(self.fd, b"x")

    def seen(self) -> bool:
        """The watcher fired: True if that ended a round (a late report of an
        earlier write, with no write outstanding, is ignored)."""
        if self.t_write is None:
            return False
        self.latencies.append(perf_counter() - self.t_write)
        self.t_write = None
        return True

    def miss(self) -> None:
        self.missed += 1
        self.t_write = None

    @property
    def finished(self) -> bool:
        return len(self.latencies) + self.missed >= self.rounds

    def result(self) -> Result:
        os.close(self.fd)
        os.unlink(self.path)
        os.rmdir(self.dir)
        ms = sorted(x * 1000.0 for x in self.latencies)
        if not ms:
            raise RuntimeError(f"no change noticed in {self.missed} writes")
        return statistics.median(ms), {
            "n": self.rounds,
            "missed": self.missed,
            "min_ms": round(ms[0], 4),
            "max_ms": round(ms[-1], 4),
        }

    def run_threaded(self, seen: threading.Event) -> None:
        """For watchers that call back in their own thread and set ``seen``."""
        while not self.finished:
            time.sleep(STAT_SPACING)
            seen.clear()
            self.write()
            if not seen.wait(STAT_MISS_AFTER):
                self.miss()


@impl("stat_latency", "pyev")
def stat_latency_pyev(library: str, size: dict[str, float]) -> Result:
    import pyev as ev

    probe = StatProbe(int(size["stat_writes"]))
    loop = pyev_loop()

    def next_round() -> None:
        if probe.finished:
            stat.stop()
        else:
            pause.start(loop)

    def on_change(w: Any, revents: int) -> None:
        if probe.seen():
            deadline.stop()
            next_round()

    def on_pause(w: Any, revents: int) -> None:
        probe.write()
        deadline.start(loop)

    def on_deadline(w: Any, revents: int) -> None:
        probe.miss()
        next_round()

    stat = ev.Stat(probe.path, on_change).start(loop)
    pause = ev.Timer(STAT_SPACING, on_pause)
    deadline = ev.Timer(STAT_MISS_AFTER, on_deadline)
    pause.start(loop)
    loop.run()
    return probe.result()


@impl("stat_latency", "gevent")
def stat_latency_gevent(library: str, size: dict[str, float]) -> Result:
    probe = StatProbe(int(size["stat_writes"]))
    loop = gevent_loop()
    stat = loop.stat(probe.path)
    # A fresh timer watcher per round: gevent's start() does not re-set a libev
    # timer, so one that has fired restarts with libev's leftover remainder
    # (about 0) and fires at once instead of after `after`.
    deadline: Any = None

    def next_round() -> None:
        if probe.finished:
            stat.stop()
        else:
            loop.timer(STAT_SPACING).start(on_pause)

    def on_change() -> None:
        if probe.seen():
            deadline.stop()
            next_round()

    def on_pause() -> None:
        nonlocal deadline
        probe.write()
        deadline = loop.timer(STAT_MISS_AFTER)
        deadline.start(on_deadline)

    def on_deadline() -> None:
        probe.miss()
        next_round()

    stat.start(on_change)
    next_round()
    loop.run()
    return probe.result()


@impl("stat_latency", "watchdog")
def stat_latency_watchdog(library: str, size: dict[str, float]) -> Result:
    from watchdog.events import FileSystemEventHandler
    from watchdog.observers.inotify import InotifyObserver

    probe = StatProbe(int(size["stat_writes"]))
    seen = threading.Event()

    class Handler(FileSystemEventHandler):
        def on_modified(self, event: Any) -> None:
            if event.src_path == probe.path and probe.seen():
                seen.set()

    observer = InotifyObserver()
    observer.schedule(Handler(), probe.dir, recursive=False)
    observer.start()
    try:
        probe.run_threaded(seen)
    finally:
        observer.stop()
        observer.join()
    value, extra = probe.result()
    return value, {**extra, "observer": "InotifyObserver"}


@impl("stat_latency", "watchfiles")
def stat_latency_watchfiles(library: str, size: dict[str, float]) -> Result:
    import watchfiles

    probe = StatProbe(int(size["stat_writes"]))
    seen = threading.Event()
    stop = threading.Event()
    ready = threading.Event()
    # step: ms of quiet before a batch is yielded (default 50). 1 ms shows the
    # library's own latency rather than its batching window.
    step_ms = 1

    def watcher() -> None:
        for changes in watchfiles.watch(
            probe.path,
            step=step_ms,
            stop_event=stop,
            yield_on_timeout=True,
            rust_timeout=20,
            raise_interrupt=False,
        ):
            ready.set()
            if changes and probe.seen():
                seen.set()

    thread = threading.Thread(target=watcher, daemon=True)
    thread.start()
    ready.wait(5.0)  # the first timeout yield: the watch is in place
    try:
        probe.run_threaded(seen)
    finally:
        stop.set()
        thread.join(5.0)
    value, extra = probe.result()
    return value, {**extra, "step_ms": step_ms}
