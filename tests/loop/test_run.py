"""Loop.run: flags, return value, nesting, depth and iteration."""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from typing import TYPE_CHECKING

import pyev as ev

if TYPE_CHECKING:
    from tests.conftest import Recorder


def test_run_with_no_watchers_does_one_iteration_and_returns_false(
    loop: ev.Loop,
) -> None:
    assert loop.run() is False
    assert loop.iteration == 1


def test_run_returns_false_once_the_last_watcher_has_fired(
    loop: ev.Loop, rec: Recorder
) -> None:
    ev.Timer(0.001, rec.cb("timer")).start(loop)
    assert loop.run() is False
    assert rec.calls == [("timer", ev.TIMER)]


def test_run_keeps_going_until_every_timer_has_fired_earliest_first(
    loop: ev.Loop, rec: Recorder
) -> None:
    ev.Timer(0.03, rec.cb("30ms")).start(loop)
    ev.Timer(0.01, rec.cb("10ms")).start(loop)
    ev.Timer(0.02, rec.cb("20ms")).start(loop)
    assert loop.run() is False
    assert rec.names == ["10ms", "20ms", "30ms"]


def test_run_waits_at_least_as_long_as_the_timer(loop: ev.Loop) -> None:
    start = time.monotonic()
    loop.now_update()  # timers count from the cached now(): make it >= start
    ev.Timer(0.02, lambda w, revents: None).start(loop)
    loop.run()
    assert time.monotonic() - start >= 0.02


def test_run_nowait_does_one_iteration_without_blocking(
    loop: ev.Loop, rec: Recorder
) -> None:
    timer = ev.Timer(30.0, rec.cb("timer")).start(loop)
    start = time.monotonic()
    assert loop.run(ev.RUN_NOWAIT) is True
    assert time.monotonic() - start < 10.0
    assert loop.iteration == 1
    assert rec.calls == []
    timer.stop()


def test_run_nowait_invokes_events_that_are_already_there(
    loop: ev.Loop, rec: Recorder, pipe: tuple[int, int]
) -> None:
    r, w = pipe
    os.write(w, b"x")
    io = ev.Io(r, ev.READ, rec.cb("io")).start(loop)
    ev.Timer(-1.0, rec.cb("expired")).start(loop)
    assert loop.run(ev.RUN_NOWAIT) is True
    assert sorted(rec.calls) == [("expired", ev.TIMER), ("io", ev.READ)]
    io.stop()


def test_run_nowait_returns_false_when_no_watcher_remains(
    loop: ev.Loop, rec: Recorder
) -> None:
    ev.Timer(-1.0, rec.cb("expired")).start(loop)
    assert loop.run(ev.RUN_NOWAIT) is False
    assert rec.names == ["expired"]


def test_run_once_blocks_until_an_event_arrives(loop: ev.Loop, rec: Recorder) -> None:
    start = time.monotonic()
    loop.now_update()  # timers count from the cached now(): make it >= start
    ev.Timer(0.02, rec.cb("short")).start(loop)
    long = ev.Timer(30.0, rec.cb("long")).start(loop)
    assert loop.run(ev.RUN_ONCE) is True
    assert time.monotonic() - start >= 0.02
    assert rec.names == ["short"]
    assert long.is_active
    long.stop()


def test_run_once_returns_false_when_no_watcher_remains(
    loop: ev.Loop, rec: Recorder
) -> None:
    ev.Timer(0.001, rec.cb("timer")).start(loop)
    assert loop.run(ev.RUN_ONCE) is False
    assert rec.names == ["timer"]


def test_run_once_called_repeatedly_serves_one_event_at_a_time(
    loop: ev.Loop, rec: Recorder
) -> None:
    ev.Timer(0.01, rec.cb("first")).start(loop)
    ev.Timer(0.04, rec.cb("second")).start(loop)
    assert loop.run(ev.RUN_ONCE) is True
    assert rec.names == ["first"]
    while loop.run(ev.RUN_ONCE):
        pass
    assert rec.names == ["first", "second"]


def test_run_can_be_called_again_after_it_returned(
    loop: ev.Loop, rec: Recorder
) -> None:
    ev.Timer(0.001, rec.cb("one")).start(loop)
    assert loop.run() is False
    ev.Timer(0.001, rec.cb("two")).start(loop)
    assert loop.run() is False
    assert rec.names == ["one", "two"]


def test_run_from_a_callback_runs_the_loop_nested(loop: ev.Loop, rec: Recorder) -> None:
    log: list[object] = []

    def inner(w: ev.Timer, revents: int) -> None:
        log.append(("inner", loop.depth))

    def outer(w: ev.Timer, revents: int) -> None:
        log.append(("outer", loop.depth))
        ev.Timer(0.005, inner).start(loop)
        log.append(("nested run returned", loop.run()))
        log.append(("outer again", loop.depth))

    ev.Timer(0.0, outer).start(loop)
    assert loop.run() is False
    assert log == [
        ("outer", 1),
        ("inner", 2),
        ("nested run returned", False),
        ("outer again", 1),
    ]
    assert loop.depth == 0


def test_nested_run_first_invokes_watchers_still_pending_from_the_outer_pass(
    loop: ev.Loop,
) -> None:
    log: list[object] = []

    def first(w: ev.Idle, revents: int) -> None:
        log.append("first")
        loop.run(ev.RUN_NOWAIT)
        log.append("first done")

    def second(w: ev.Idle, revents: int) -> None:
        log.append(("second", loop.depth))

    ev.Idle(first, priority=1).feed(ev.CUSTOM, loop)
    ev.Idle(second, priority=0).feed(ev.CUSTOM, loop)
    loop.run()
    assert log == ["first", ("second", 2), "first done"]


def test_depth_is_zero_outside_run(loop: ev.Loop) -> None:
    assert loop.depth == 0
    loop.run(ev.RUN_NOWAIT)
    assert loop.depth == 0


def test_depth_is_one_inside_a_callback(loop: ev.Loop) -> None:
    seen: list[int] = []
    ev.Timer(0.0, lambda w, revents: seen.append(loop.depth)).start(loop)
    loop.run()
    assert seen == [1]


def test_depth_counts_each_nested_run(loop: ev.Loop) -> None:
    seen: list[int] = []

    def level(w: ev.Idle, revents: int) -> None:
        seen.append(loop.depth)
        if len(seen) < 3:
            w.feed(ev.CUSTOM)
            loop.run(ev.RUN_NOWAIT)

    ev.Idle(level).feed(ev.CUSTOM, loop)
    loop.run(ev.RUN_NOWAIT)
    assert seen == [1, 2, 3]
    assert loop.depth == 0


def test_iteration_starts_at_zero(loop: ev.Loop) -> None:
    assert loop.iteration == 0


def test_iteration_counts_each_poll(loop: ev.Loop) -> None:
    for expected in (1, 2, 3):
        loop.run(ev.RUN_NOWAIT)
        assert loop.iteration == expected


def test_prepare_of_the_first_iteration_sees_zero_and_callbacks_after_the_poll_see_one(
    loop: ev.Loop, pipe: tuple[int, int]
) -> None:
    r, w = pipe
    os.write(w, b"x")
    seen: dict[str, int] = {}

    def note(name: str) -> Callable[[ev.Watcher, int], None]:
        def callback(watcher: ev.Watcher, revents: int) -> None:
            seen.setdefault(name, loop.iteration)

        return callback

    watchers: list[ev.Watcher] = [
        ev.Prepare(note("prepare")).start(loop),
        ev.Check(note("check")).start(loop),
        ev.Idle(note("idle"), priority=ev.MAXPRI).start(loop),
        ev.Io(r, ev.READ, note("io")).start(loop),
        ev.Timer(-1.0, note("timer")).start(loop),
    ]
    loop.run(ev.RUN_NOWAIT)
    assert seen == {"prepare": 0, "check": 1, "idle": 1, "io": 1, "timer": 1}
    for watcher in watchers:
        watcher.stop()


def test_idle_watcher_runs_once_per_iteration(loop: ev.Loop) -> None:
    seen: list[int] = []

    def idle(w: ev.Idle, revents: int) -> None:
        seen.append(loop.iteration)
        if len(seen) == 3:
            w.stop()

    ev.Idle(idle).start(loop)
    assert loop.run() is False
    assert seen == [1, 2, 3]
