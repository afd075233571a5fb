"""Idle watchers (API.md Idle; LIBEV_SEMANTICS 3.7)."""

from __future__ import annotations

import time

import pyev as ev

from .helpers import PROMPTLY, noop


def test_active_idle_watcher_keeps_the_loop_from_blocking(loop: ev.Loop) -> None:
    calls: list[int] = []
    ev.Idle(lambda w, revents: calls.append(revents)).start(loop)
    timer = ev.Timer(5.0, noop).start(loop)
    started = time.monotonic()
    loop.run(ev.RUN_ONCE)
    assert time.monotonic() - started < PROMPTLY
    assert calls == [ev.IDLE]
    assert timer.is_active


def test_idle_watcher_is_called_once_per_iteration_and_stays_active(loop: ev.Loop) -> None:
    iterations: list[int] = []
    idle = ev.Idle(lambda w, revents: iterations.append(loop.iteration)).start(loop)
    for _ in range(3):
        loop.run(ev.RUN_NOWAIT)
    assert iterations == [1, 2, 3]
    assert idle.is_active


def test_idle_watcher_stopping_itself_lets_run_return(loop: ev.Loop, watchdog: ev.Timer) -> None:
    count: list[int] = []

    def cb(w: ev.Idle, revents: int) -> None:
        count.append(revents)
        if len(count) == 3:
            w.stop()

    ev.Idle(cb).start(loop)
    assert loop.run() is False
    assert count == [ev.IDLE] * 3


def test_higher_priority_idle_runs_in_the_same_iteration_as_a_pending_timer(loop: ev.Loop) -> None:
    calls: list[tuple[str, int]] = []
    ev.Idle(lambda w, revents: calls.append(("idle", loop.iteration)), priority=1).start(loop)
    ev.Timer(-1.0, lambda w, revents: calls.append(("timer", loop.iteration))).start(loop)
    loop.run(ev.RUN_NOWAIT)
    assert calls == [("idle", 1), ("timer", 1)]


def test_lower_priority_idle_is_locked_out_by_a_pending_timer(loop: ev.Loop) -> None:
    calls: list[tuple[str, int]] = []
    ev.Idle(lambda w, revents: calls.append(("idle", loop.iteration)), priority=-1).start(loop)
    ev.Timer(-1.0, lambda w, revents: calls.append(("timer", loop.iteration))).start(loop)
    loop.run(ev.RUN_NOWAIT)
    assert calls == [("timer", 1)]
    loop.run(ev.RUN_NOWAIT)
    assert calls == [("timer", 1), ("idle", 2)]


def test_idle_of_equal_priority_is_locked_out_by_a_pending_timer(loop: ev.Loop) -> None:
    calls: list[str] = []
    ev.Idle(lambda w, revents: calls.append("idle")).start(loop)
    ev.Timer(-1.0, lambda w, revents: calls.append("timer")).start(loop)
    loop.run(ev.RUN_NOWAIT)
    assert calls == ["timer"]
    loop.run(ev.RUN_NOWAIT)
    assert calls == ["timer", "idle"]


def test_idle_levels_run_one_per_iteration_highest_first(loop: ev.Loop) -> None:
    calls: list[tuple[int, int]] = []

    def cb(w: ev.Idle, revents: int) -> None:
        calls.append((w.priority, loop.iteration))
        w.stop()

    for priority in (0, 2, -1, 1):
        ev.Idle(cb, priority=priority).start(loop)
    assert loop.run() is False
    assert calls == [(2, 1), (1, 2), (0, 3), (-1, 4)]


def test_all_idle_watchers_of_the_chosen_level_run_together(loop: ev.Loop) -> None:
    calls: list[tuple[str, int]] = []
    for name in ("a", "b", "c"):
        ev.Idle(lambda w, revents, name=name: calls.append((name, loop.iteration))).start(loop)  # type: ignore[misc]
    loop.run(ev.RUN_NOWAIT)
    assert sorted(calls) == [("a", 1), ("b", 1), ("c", 1)]


def test_active_higher_priority_idle_locks_out_lower_idles(loop: ev.Loop) -> None:
    calls: list[int] = []
    high = ev.Idle(lambda w, revents: calls.append(w.priority), priority=1).start(loop)
    ev.Idle(lambda w, revents: calls.append(w.priority), priority=0).start(loop)
    for _ in range(3):
        loop.run(ev.RUN_NOWAIT)
    assert calls == [1, 1, 1]
    high.stop()
    loop.run(ev.RUN_NOWAIT)
    assert calls == [1, 1, 1, 0]


def test_idle_is_not_locked_out_by_prepare_or_check_watchers(loop: ev.Loop) -> None:
    calls: list[str] = []
    ev.Prepare(lambda w, revents: calls.append("prepare"), priority=2).start(loop)
    ev.Check(lambda w, revents: calls.append("check"), priority=2).start(loop)
    ev.Idle(lambda w, revents: calls.append("idle"), priority=-2).start(loop)
    loop.run(ev.RUN_NOWAIT)
    assert sorted(calls) == ["check", "idle", "prepare"]


def test_idle_is_not_locked_out_by_a_lower_priority_async(loop: ev.Loop) -> None:
    calls: list[str] = []
    a = ev.Async(lambda w, revents: calls.append("async"), priority=-2).start(loop)
    ev.Idle(lambda w, revents: calls.append("idle"), priority=2).start(loop)
    a.send()
    loop.run(ev.RUN_NOWAIT)
    assert calls == ["idle", "async"]
