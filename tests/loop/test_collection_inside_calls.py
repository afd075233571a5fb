"""Finalizers and gc callbacks that start or stop watchers in the middle of
the loop's own bookkeeping leave it consistent.

On Python 3.11 a garbage collection can run inside any allocation of a
container (a tuple, a list), and with it ``__del__`` methods and
``gc.callbacks``. The loop's C code allocates such objects while it updates
the fd table and the deadline heap; a collection there may start an Io on a
high fd (growing the fd table) or start and stop timers. On 3.12 and later
collections run only between bytecodes, and these tests then check the
same outcome without the collection in the middle.
"""

from __future__ import annotations

import gc
import os
from collections.abc import Callable, Iterator

import pytest

import pyev as ev

# Each one past the fd table's size after the one before (it starts at 64
# slots and doubles), so starting an Io on it moves the table.
HIGH_FDS = (100, 200, 400, 800)


def with_collections(action: Callable[[], None], op: Callable[[], object]) -> None:
    """Run ``op()`` so that, on 3.11, a collection running ``action`` comes
    at the first allocation of a collectable container inside it, and at
    every second one after that (a gc threshold of 1, the generation's count
    at 1 when ``op`` starts). The list free list is emptied first, so that
    a new list is such an allocation too; tuples of more than 20 items
    always are."""

    def on_gc(phase: str, info: dict[str, int]) -> None:
        if phase == "start":
            action()

    threshold = gc.get_threshold()
    gc.collect()
    drained = [[] for _ in range(200)]
    gc.set_threshold(1)
    while gc.get_count()[0] != 1:
        drained.append([])
    gc.callbacks.append(on_gc)
    try:
        op()
    finally:
        gc.callbacks.remove(on_gc)
        gc.set_threshold(*threshold)
        del drained


@pytest.fixture
def high_fds() -> Iterator[tuple[list[int], int]]:
    """HIGH_FDS, each the read end of one pipe, and its write end."""
    r, w = os.pipe()
    for fd in HIGH_FDS:
        os.dup2(r, fd)
    os.close(r)
    yield list(HIGH_FDS), w
    for fd in HIGH_FDS:
        os.close(fd)
    os.close(w)


class StartsOnePerCall:
    """Starts the next of ``watchers`` at each call, until none is left."""

    def __init__(self, loop: ev.Loop, watchers: list[ev.Io]) -> None:
        self.loop, self.waiting = loop, list(watchers)

    def __call__(self) -> None:
        if self.waiting:
            self.waiting.pop(0).start(self.loop)


def noop(w: ev.Watcher, revents: int) -> None:
    pass


# More watchers on one fd than a tuple free list serves (20): changing the
# slot allocates a collectable tuple.
SHARED = 25


def test_io_watchers_started_by_a_collection_while_another_io_starts_all_get_events(
    loop: ev.Loop, pipe: tuple[int, int], high_fds: tuple[list[int], int]
) -> None:
    r, w = pipe
    got: list[str] = []
    shared = [ev.Io(r, ev.READ, lambda w_, e: got.append("shared")).start(loop) for _ in range(SHARED)]
    highs = [ev.Io(fd, ev.READ, lambda w_, e, fd=fd: got.append(f"high{fd}")) for fd in high_fds[0]]
    one_more = ev.Io(r, ev.READ, lambda w_, e: got.append("one more"))
    with_collections(StartsOnePerCall(loop, highs), lambda: one_more.start(loop))
    for high in highs:
        high.start(loop)
    loop.verify()
    os.write(w, b"x")
    os.write(high_fds[1], b"x")
    loop.run(ev.RUN_NOWAIT)
    assert sorted(got) == sorted(["shared"] * SHARED + ["one more"] + [f"high{fd}" for fd in high_fds[0]])
    for x in (*shared, one_more, *highs):
        x.stop()
    loop.verify()


def test_io_watchers_started_by_a_collection_while_another_io_stops_all_get_events(
    loop: ev.Loop, pipe: tuple[int, int], high_fds: tuple[list[int], int]
) -> None:
    r, w = pipe
    got: list[str] = []
    shared = [ev.Io(r, ev.READ, lambda w_, e: got.append("shared")).start(loop) for _ in range(SHARED + 1)]
    highs = [ev.Io(fd, ev.READ, lambda w_, e, fd=fd: got.append(f"high{fd}")) for fd in high_fds[0]]
    with_collections(StartsOnePerCall(loop, highs), shared[0].stop)
    for high in highs:
        high.start(loop)
    loop.verify()
    os.write(w, b"x")
    os.write(high_fds[1], b"x")
    loop.run(ev.RUN_NOWAIT)
    assert sorted(got) == sorted(["shared"] * SHARED + [f"high{fd}" for fd in high_fds[0]])


class StartsTimers:
    """Starts ``per_call`` timers on ``loop`` at each call, ``limit`` in all."""

    def __init__(self, loop: ev.Loop, per_call: int = 70, limit: int = 300) -> None:
        self.loop, self.per_call, self.limit = loop, per_call, limit
        self.started: list[ev.Timer] = []

    def __call__(self) -> None:
        if len(self.started) < self.limit and not self.loop.closed:
            self.started.extend(ev.Timer(30.0, noop).start(self.loop) for _ in range(self.per_call))


def test_listing_the_timers_while_a_collection_starts_more_lists_each_once(loop: ev.Loop) -> None:
    timers = [ev.Timer(10.0 + i, noop).start(loop) for i in range(5)]
    starts = StartsTimers(loop)
    listed: list[list[ev.Timer]] = []
    with_collections(starts, lambda: listed.append(loop._timers.live()))
    assert starts.started
    assert None not in listed[0]
    assert len(set(map(id, listed[0]))) == len(listed[0])
    assert {id(t) for t in timers} <= set(map(id, listed[0]))
    loop.verify()
    loop.close()
    assert not any(t.is_active for t in (*timers, *starts.started))


class StartsIoWatchers:
    """Starts an Io for writing on ``fd`` at each call, ``limit`` in all."""

    def __init__(self, loop: ev.Loop, fd: int, limit: int = 40) -> None:
        self.loop, self.fd, self.limit = loop, fd, limit
        self.started: list[ev.Io] = []

    def __call__(self) -> None:
        if len(self.started) < self.limit:
            self.started.append(ev.Io(self.fd, ev.WRITE, noop).start(self.loop))


def test_listing_fd_changes_while_a_collection_makes_more_lists_each_once(
    loop: ev.Loop, high_fds: tuple[list[int], int]
) -> None:
    ios = [ev.Io(fd, ev.READ, noop).start(loop) for fd in high_fds[0]]
    starts = StartsIoWatchers(loop, high_fds[1])
    listed: list[list[int]] = []
    with_collections(starts, lambda: listed.append(loop._fdtable.changes))
    assert None not in listed[0]
    assert len(set(listed[0])) == len(listed[0])
    assert set(high_fds[0]) <= set(listed[0])
    loop.verify()
    for x in (*ios, *starts.started):
        x.stop()
    loop.verify()


def test_close_while_collections_start_io_and_timer_watchers_stops_what_it_had(
    loop: ev.Loop, pipe: tuple[int, int], high_fds: tuple[list[int], int]
) -> None:
    r, _ = pipe
    timers = [ev.Timer(10.0 + i, noop).start(loop) for i in range(5)]
    ios = [ev.Io(r, ev.READ, noop).start(loop) for _ in range(SHARED)]
    start_timers = StartsTimers(loop)
    start_ios = StartsIoWatchers(loop, high_fds[1])

    def start_both() -> None:
        start_timers()
        start_ios()

    with_collections(start_both, loop.close)
    assert not any(x.is_active for x in (*timers, *ios))


class StopsTimerWhenConverted:
    """A deadline whose conversion to float stops the timer being armed."""

    def __init__(self, timer: ev.Timer, value: float) -> None:
        self.timer, self.value = timer, value

    def __float__(self) -> float:
        self.timer.stop()
        return self.value


def test_a_timer_stopped_while_its_deadline_is_converted_is_armed_consistently(loop: ev.Loop) -> None:
    timers = [ev.Timer(5.0 + i, noop).start(loop) for i in range(4)]
    victim = timers[1]
    loop._timers.arm(victim, StopsTimerWhenConverted(victim, loop._mn_now + 1.0))  # type: ignore[arg-type]
    # Stopped first, then armed: in the heap exactly once, at the new deadline.
    assert [t for t in loop._timers.live() if t is victim] == [victim]
    loop._timers.disarm(victim)
    loop.verify()
    for t in timers:
        t.stop()
    assert len(loop._timers) == 0
    loop.verify()


def test_an_io_started_again_by_a_collection_inside_its_own_start_is_listed_and_counted_once(
    loop: ev.Loop, pipe: tuple[int, int]
) -> None:
    r, _ = pipe
    shared = [ev.Io(r, ev.READ, noop).start(loop) for _ in range(SHARED)]
    target = ev.Io(r, ev.WRITE, noop)

    def start_target() -> None:
        if not target.is_active:
            target.start(loop)

    with_collections(start_target, lambda: target.start(loop))
    assert sum(w is target for w in loop._fdtable.watchers(r)) == 1
    loop.verify()
    for w in (*shared, target):
        w.stop()
    assert loop._activecnt == 0
    loop.verify()
