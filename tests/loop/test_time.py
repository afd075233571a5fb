"""Loop.now, now_update, suspend and resume."""

from __future__ import annotations

import time

import pyev as ev


def test_now_is_the_wall_clock_time(loop: ev.Loop) -> None:
    loop.now_update()
    assert isinstance(loop.now(), float)
    assert abs(loop.now() - ev.time()) < 1.0


def test_now_is_cached_until_the_next_update(loop: ev.Loop) -> None:
    loop.now_update()
    cached = loop.now()
    ev.sleep(0.02)
    assert loop.now() == cached


def test_now_update_refreshes_the_cached_time(loop: ev.Loop) -> None:
    loop.now_update()
    before = loop.now()
    ev.sleep(0.02)
    loop.now_update()
    assert loop.now() - before >= 0.015


def test_now_does_not_change_while_the_callbacks_of_one_pass_run(loop: ev.Loop) -> None:
    seen: list[float] = []

    def slow(w: ev.Idle, revents: int) -> None:
        seen.append(loop.now())
        ev.sleep(0.02)

    ev.Idle(slow, priority=1).feed(ev.CUSTOM, loop)
    ev.Idle(lambda w, revents: seen.append(loop.now())).feed(ev.CUSTOM, loop)
    loop.run(ev.RUN_NOWAIT)
    assert len(seen) == 2
    assert seen[0] == seen[1]


def test_now_advances_from_one_iteration_to_the_next(loop: ev.Loop) -> None:
    loop.run(ev.RUN_NOWAIT)
    first = loop.now()
    ev.sleep(0.02)
    loop.run(ev.RUN_NOWAIT)
    assert loop.now() - first >= 0.015


def test_timer_started_after_now_update_counts_from_the_refreshed_time(
    loop: ev.Loop,
) -> None:
    fired_at: list[float] = []
    started_at: list[float] = []

    def slow(w: ev.Timer, revents: int) -> None:
        ev.sleep(0.03)
        started_at.append(time.monotonic())
        loop.now_update()
        ev.Timer(0.02, lambda t, r: fired_at.append(time.monotonic())).start(loop)

    ev.Timer(0.0, slow).start(loop)
    loop.run()
    assert fired_at[0] - started_at[0] >= 0.02


def test_timer_does_not_count_the_time_the_loop_was_suspended(loop: ev.Loop) -> None:
    fired_at: list[float] = []
    loop.now_update()
    ev.Timer(0.03, lambda w, revents: fired_at.append(time.monotonic())).start(loop)
    loop.suspend()
    ev.sleep(0.06)
    loop.resume()
    resumed_at = time.monotonic()
    loop.run()
    assert fired_at
    assert fired_at[0] - resumed_at >= 0.025


def test_timer_started_before_suspend_still_fires_after_resume(loop: ev.Loop) -> None:
    fired: list[int] = []
    ev.Timer(0.01, lambda w, revents: fired.append(revents)).start(loop)
    loop.suspend()
    loop.resume()
    assert loop.run() is False
    assert fired == [ev.TIMER]


def test_resume_reschedules_periodics_into_the_future(loop: ev.Loop) -> None:
    fired: list[int] = []
    periodic = ev.Periodic(
        0.0, lambda w, revents: fired.append(revents), interval=0.02
    ).start(loop)
    loop.suspend()
    ev.sleep(0.05)
    loop.resume()
    assert periodic.at > loop.now()
    periodic.stop()


def test_resume_refreshes_now(loop: ev.Loop) -> None:
    loop.now_update()
    before = loop.now()
    loop.suspend()
    ev.sleep(0.02)
    loop.resume()
    assert loop.now() - before >= 0.015
