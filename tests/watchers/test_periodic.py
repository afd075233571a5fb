"""Periodic watchers (API.md Periodic; LIBEV_SEMANTICS 3.3)."""

from __future__ import annotations

import math

import pytest

import pyev as ev

from .helpers import assert_loop_runs_a_timer, noop


class Boom(Exception):
    pass


def _aligned(at: float, offset: float, interval: float) -> bool:
    """``at`` is ``offset + N * interval`` (to the precision of epoch floats)."""
    return abs(math.remainder(at - offset, interval)) < 1e-5


# -- absolute mode ----------------------------------------------------------------


def test_absolute_periodic_in_the_past_fires_in_the_next_iteration_then_stops(loop: ev.Loop) -> None:
    calls: list[tuple[int, bool, int]] = []
    offset = ev.time() - 10.0
    p = ev.Periodic(offset, lambda w, revents: calls.append((revents, w.is_active, loop.iteration)))
    p.start(loop)
    assert p.at == offset
    start = loop.iteration
    loop.run(ev.RUN_NOWAIT)
    assert calls == [(ev.PERIODIC, False, start + 1)]
    assert not p.is_active
    assert p.at == offset
    assert loop.run(ev.RUN_NOWAIT) is False
    assert len(calls) == 1
    loop.verify()


def test_absolute_periodic_fires_after_its_offset(loop: ev.Loop, watchdog: ev.Timer) -> None:
    seen: list[tuple[float, float]] = []
    offset = ev.time() + 0.03
    ev.Periodic(offset, lambda w, revents: seen.append((ev.time(), loop.now()))).start(loop)
    assert loop.run() is False
    assert len(seen) == 1
    wall, now = seen[0]
    assert wall > offset
    assert now > offset


def test_absolute_periodic_can_be_restarted_from_its_callback(loop: ev.Loop, watchdog: ev.Timer) -> None:
    count: list[int] = []

    def cb(w: ev.Periodic, revents: int) -> None:
        count.append(revents)
        if len(count) < 3:
            w.set(loop.now() - 1.0)
            w.start(loop)

    ev.Periodic(ev.time() - 1.0, cb).start(loop)
    assert loop.run() is False
    assert count == [ev.PERIODIC] * 3


# -- interval mode ------------------------------------------------------------------


def test_interval_periodic_at_is_aligned_to_offset_and_strictly_after_now(loop: ev.Loop) -> None:
    offset, interval = 0.013, 0.05
    p = ev.Periodic(offset, noop, interval=interval).start(loop)
    now = loop.now()
    assert p.at > now
    assert p.at - now <= interval + 1e-6
    assert _aligned(p.at, offset, interval)


def test_interval_periodic_with_offset_in_the_future_fires_before_offset(loop: ev.Loop) -> None:
    # The schedule is offset + N * interval for any integer N, negative too.
    offset, interval = ev.time() + 1000.0, 0.5
    p = ev.Periodic(offset, noop, interval=interval).start(loop)
    assert loop.now() < p.at <= loop.now() + interval + 1e-6
    assert _aligned(p.at, offset, interval)


def test_interval_periodic_fires_repeatedly_on_aligned_times(loop: ev.Loop, watchdog: ev.Timer) -> None:
    offset, interval = 0.003, 0.01
    p = ev.Periodic(offset, noop, interval=interval)
    firings: list[tuple[float, float, float, bool]] = []
    previous: list[float] = []

    def cb(w: ev.Periodic, revents: int) -> None:
        firings.append((previous[-1], loop.now(), w.at, w.is_active))
        previous.append(w.at)
        if len(firings) == 3:
            w.stop()

    p.callback = cb
    p.start(loop)
    previous.append(p.at)
    assert loop.run() is False
    assert len(firings) == 3
    for due, now, next_at, active in firings:
        assert now > due  # never early
        assert next_at > now  # rescheduled strictly after now
        assert _aligned(next_at, offset, interval)
        assert active


# -- manual (reschedule) mode --------------------------------------------------------


def test_reschedule_is_called_with_the_watcher_and_now_and_gives_at(loop: ev.Loop, watchdog: ev.Timer) -> None:
    asked: list[tuple[ev.Periodic, float, float]] = []
    fired: list[float] = []

    def reschedule(w: ev.Periodic, now: float) -> float:
        asked.append((w, now, loop.now()))
        return now + 0.01

    def cb(w: ev.Periodic, revents: int) -> None:
        fired.append(loop.now())
        if len(fired) == 2:
            w.stop()

    p = ev.Periodic(0.0, cb, reschedule=reschedule)
    p.start(loop)
    assert len(asked) == 1
    first_at = p.at
    assert first_at == asked[0][1] + 0.01
    assert loop.run() is False
    assert len(fired) == 2
    assert fired[0] > first_at
    assert len(asked) >= 3  # at start and after each firing
    for w, now, loop_now in asked:
        assert w is p
        assert now == loop_now


def test_reschedule_exception_propagates_from_start(loop: ev.Loop) -> None:
    def reschedule(w: ev.Periodic, now: float) -> float:
        raise Boom

    p = ev.Periodic(0.0, noop, reschedule=reschedule)
    with pytest.raises(Boom):
        p.start(loop)
    assert not p.is_active
    assert_loop_runs_a_timer(loop)


def test_reschedule_exception_propagates_from_again(loop: ev.Loop) -> None:
    p = ev.Periodic(0.0, noop, reschedule=lambda w, now: now + 100.0).start(loop)

    def failing(w: ev.Periodic, now: float) -> float:
        raise Boom

    p.reschedule = failing
    with pytest.raises(Boom):
        p.again()
    assert_loop_runs_a_timer(loop)


def test_reschedule_exception_propagates_from_run(loop: ev.Loop, watchdog: ev.Timer) -> None:
    answers = iter([0.01])

    def reschedule(w: ev.Periodic, now: float) -> float:
        delay = next(answers, None)
        if delay is None:
            raise Boom
        return now + delay

    ev.Periodic(0.0, noop, reschedule=reschedule).start(loop)
    with pytest.raises(Boom):
        loop.run()
    assert_loop_runs_a_timer(loop)


def test_a_reschedule_callback_that_stops_its_watcher_leaves_it_stopped(loop: ev.Loop, watchdog: ev.Timer) -> None:
    calls: list[int] = []
    first = True

    def reschedule(w: ev.Periodic, now: float) -> float:
        nonlocal first
        if not first:
            w.stop()  # from inside the scheduling that follows its expiry
        first = False
        return now + 0.001

    p = ev.Periodic(0.0, lambda w, r: calls.append(r), reschedule=reschedule).start(loop)
    ev.Timer(0.05, lambda w, r: loop.break_()).start(loop)
    loop.run()
    assert not p.is_active
    assert calls == []  # stopped before its event was queued: never called
    loop.verify()  # L1: the active count no longer holds it


def test_a_reschedule_callback_that_restarts_its_watcher_keeps_it_armed_once(loop: ev.Loop, watchdog: ev.Timer) -> None:
    fired: list[int] = []
    restarted = False

    def reschedule(w: ev.Periodic, now: float) -> float:
        nonlocal restarted
        if w.is_active and not restarted and fired:
            restarted = True
            w.stop()
            w.start(loop)  # re-entrant: calls reschedule again, armed at once
        return now + 0.001

    def callback(w: ev.Periodic, revents: int) -> None:
        fired.append(revents)
        if len(fired) == 3:
            w.stop()

    p = ev.Periodic(0.0, callback, reschedule=reschedule).start(loop)
    loop.run()
    assert fired == [ev.PERIODIC] * 3
    assert restarted and not p.is_active
    loop.verify()


NON_FINITE: list[tuple[object, type[Exception]]] = [
    (math.nan, ValueError),
    (math.inf, ValueError),
    (-math.inf, ValueError),
    ("soon", TypeError),
    (None, TypeError),
]


@pytest.mark.parametrize(("result", "error"), NON_FINITE, ids=["nan", "inf", "-inf", "str", "none"])
def test_reschedule_returning_a_non_finite_or_non_float_raises_from_start(
    loop: ev.Loop, result: object, error: type[Exception]
) -> None:
    p = ev.Periodic(0.0, noop, reschedule=lambda w, now: result)  # type: ignore[arg-type,return-value]
    with pytest.raises(error):
        p.start(loop)
    assert not p.is_active
    assert_loop_runs_a_timer(loop)


@pytest.mark.parametrize(("result", "error"), NON_FINITE, ids=["nan", "inf", "-inf", "str", "none"])
def test_reschedule_returning_a_non_finite_or_non_float_raises_from_run(
    loop: ev.Loop, watchdog: ev.Timer, result: object, error: type[Exception]
) -> None:
    answers: list[object] = []

    def reschedule(w: ev.Periodic, now: float) -> object:
        answers.append(now)
        return now + 0.005 if len(answers) == 1 else result

    ev.Periodic(0.0, noop, reschedule=reschedule).start(loop)  # type: ignore[arg-type]
    with pytest.raises(error):
        loop.run()
    assert_loop_runs_a_timer(loop)


# -- again() and settable fields ------------------------------------------------------


def test_offset_assigned_while_active_takes_effect_at_again(loop: ev.Loop) -> None:
    fired: list[int] = []
    far = ev.time() + 100.0
    p = ev.Periodic(far, lambda w, revents: fired.append(revents)).start(loop)
    past = ev.time() - 1.0
    p.offset = past
    assert p.offset == past
    assert p.at == far
    loop.run(ev.RUN_NOWAIT)
    assert fired == []
    p.again()
    assert p.is_active
    assert p.at == past
    loop.run(ev.RUN_NOWAIT)
    assert fired == [ev.PERIODIC]


def test_interval_assigned_while_active_takes_effect_at_again(loop: ev.Loop) -> None:
    p = ev.Periodic(0.0, noop, interval=1000.0).start(loop)
    old_at = p.at
    p.interval = 0.25
    assert p.interval == 0.25
    assert p.at == old_at
    p.again()
    assert loop.now() < p.at <= loop.now() + 0.25 + 1e-6
    assert _aligned(p.at, 0.0, 0.25)


def test_reschedule_assigned_while_active_takes_effect_at_again(loop: ev.Loop) -> None:
    p = ev.Periodic(ev.time() + 100.0, noop).start(loop)
    old_at = p.at
    target = ev.time() + 555.0

    def reschedule(w: ev.Periodic, now: float) -> float:
        return target

    p.reschedule = reschedule
    assert p.reschedule is reschedule
    assert p.at == old_at
    p.again()
    assert p.at == target
    p.reschedule = None
    assert p.reschedule is None
    p.again()
    assert p.at == p.offset


def test_interval_assigned_while_active_applies_from_the_next_firing(loop: ev.Loop, watchdog: ev.Timer) -> None:
    p = ev.Periodic(0.0, lambda w, revents: loop.break_(), interval=0.01).start(loop)
    p.interval = 1000.0
    loop.run()
    assert p.is_active
    assert p.at > loop.now()
    assert _aligned(p.at, 0.0, 1000.0)
    p.stop()


def test_periodic_again_on_a_never_started_watcher_uses_the_given_loop(loop: ev.Loop) -> None:
    p = ev.Periodic(ev.time() + 100.0, noop)
    p.again(loop)
    assert p.is_active
    assert p.loop is loop
    p.stop()


def test_periodic_again_on_an_active_watcher_keeps_it_active_once(loop: ev.Loop) -> None:
    p = ev.Periodic(ev.time() + 100.0, noop).start(loop)
    p.again()
    p.again()
    assert p.is_active
    loop.verify()
    p.stop()
    assert loop.run(ev.RUN_NOWAIT) is False


def test_periodic_again_clears_a_pending_event(loop: ev.Loop) -> None:
    fired: list[int] = []
    p = ev.Periodic(ev.time() + 100.0, lambda w, revents: fired.append(revents)).start(loop)
    p.feed(ev.CUSTOM)
    p.again()
    assert not p.is_pending
    loop.run(ev.RUN_NOWAIT)
    assert fired == []


# -- attributes --------------------------------------------------------------------------


def test_periodic_constructor_arguments_are_readable() -> None:
    data = object()

    def reschedule(w: ev.Periodic, now: float) -> float:
        return now + 1.0

    p = ev.Periodic(12.5, noop, interval=3.0, reschedule=reschedule, priority=-2, data=data)
    assert (p.offset, p.interval, p.reschedule) == (12.5, 3.0, reschedule)
    assert (p.callback, p.priority, p.data) == (noop, -2, data)


def test_periodic_defaults_are_absolute_mode() -> None:
    p = ev.Periodic(12.5, noop)
    assert p.interval == 0.0
    assert p.reschedule is None


def test_periodic_at_is_read_only() -> None:
    p = ev.Periodic(12.5, noop)
    with pytest.raises(AttributeError):
        p.at = 1.0  # type: ignore[misc]
