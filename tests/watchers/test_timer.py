"""Timer watchers (API.md Timer; LIBEV_SEMANTICS 3.2)."""

from __future__ import annotations

import time

import pytest

import pyev as ev

from .helpers import noop


def _armed_now(loop: ev.Loop) -> float:
    """A monotonic instant no later than the loop's time that a timer started
    right after this call is measured from."""
    before = time.monotonic()
    loop.now_update()
    return before


# -- firing ----------------------------------------------------------------------


def test_timer_fires_no_earlier_than_after(loop: ev.Loop, watchdog: ev.Timer) -> None:
    fired: list[tuple[float, int, bool]] = []

    def cb(w: ev.Timer, revents: int) -> None:
        fired.append((time.monotonic(), revents, w.is_active))

    t0 = _armed_now(loop)
    ev.Timer(0.03, cb).start(loop)
    assert loop.run() is False
    assert len(fired) == 1
    when, revents, active = fired[0]
    assert when - t0 >= 0.03
    assert revents == ev.TIMER
    assert active is False  # a one-shot timer is stopped before its callback


def test_timer_with_negative_after_fires_in_the_next_iteration(loop: ev.Loop) -> None:
    iterations: list[int] = []
    t = ev.Timer(-1.0, lambda w, revents: iterations.append(loop.iteration)).start(loop)
    start = loop.iteration
    loop.run(ev.RUN_NOWAIT)
    assert iterations == [start + 1]
    assert not t.is_active


def test_repeating_timer_fires_every_repeat_seconds_until_stopped(loop: ev.Loop, watchdog: ev.Timer) -> None:
    fired: list[float] = []

    def cb(w: ev.Timer, revents: int) -> None:
        assert w.is_active  # a repeating timer stays active across calls
        fired.append(time.monotonic())
        if len(fired) == 3:
            w.stop()

    t0 = _armed_now(loop)
    ev.Timer(0.02, cb, repeat=0.01).start(loop)
    assert loop.run() is False
    assert len(fired) == 3
    for k, when in enumerate(fired):
        assert when - t0 >= 0.02 + k * 0.01


def test_expired_timers_fire_earliest_deadline_first(loop: ev.Loop) -> None:
    order: list[str] = []
    for name, after in (("c", 0.03), ("a", 0.01), ("b", 0.02)):
        ev.Timer(after, lambda w, revents, name=name: order.append(name)).start(loop)  # type: ignore[misc]
    ev.sleep(0.05)
    loop.run(ev.RUN_NOWAIT)  # all three expire in this one iteration
    assert order == ["a", "b", "c"]


def test_expired_timers_with_negative_after_fire_earliest_deadline_first(loop: ev.Loop) -> None:
    order: list[float] = []
    for after in (-0.1, -0.3, -0.2):
        ev.Timer(after, lambda w, revents: order.append(w.after)).start(loop)
    loop.run(ev.RUN_NOWAIT)
    assert order == [-0.3, -0.2, -0.1]


def test_timer_stopped_by_an_earlier_timer_of_the_same_pass_does_not_fire(loop: ev.Loop) -> None:
    fired: list[str] = []
    late = ev.Timer(-0.1, lambda w, revents: fired.append("late"))

    def early_cb(w: ev.Timer, revents: int) -> None:
        fired.append("early")
        late.stop()

    ev.Timer(-0.2, early_cb).start(loop)
    late.start(loop)
    loop.run(ev.RUN_NOWAIT)
    assert fired == ["early"]
    assert not late.is_active and not late.is_pending
    loop.verify()


def test_stopped_timer_does_not_fire(loop: ev.Loop, watchdog: ev.Timer) -> None:
    fired: list[int] = []
    t = ev.Timer(0.01, lambda w, revents: fired.append(revents)).start(loop)
    t.stop()
    ev.sleep(0.02)
    assert loop.run() is False
    assert fired == []


def test_start_on_an_active_timer_keeps_its_deadline(loop: ev.Loop) -> None:
    t = ev.Timer(5.0, noop).start(loop)
    ev.sleep(0.02)
    loop.now_update()
    t.start(loop)
    assert t.remaining <= 5.0 - 0.02


def test_one_shot_timer_can_be_restarted_from_its_callback(loop: ev.Loop, watchdog: ev.Timer) -> None:
    fired: list[float] = []

    def cb(w: ev.Timer, revents: int) -> None:
        fired.append(time.monotonic())
        if len(fired) < 3:
            w.start(loop)

    t0 = _armed_now(loop)
    ev.Timer(0.01, cb).start(loop)
    assert loop.run() is False
    assert len(fired) == 3
    # Each restart is measured from the loop's time, which is no earlier than
    # the previous expiry; so the n-th call comes at least n * after late.
    for k, when in enumerate(fired, start=1):
        assert when - t0 >= k * 0.01


def test_repeating_timer_that_falls_behind_fires_once_per_iteration(loop: ev.Loop, watchdog: ev.Timer) -> None:
    iterations: list[int] = []

    def cb(w: ev.Timer, revents: int) -> None:
        iterations.append(loop.iteration)
        ev.sleep(0.03)  # six periods: it falls behind every time
        if len(iterations) == 4:
            w.stop()

    ev.Timer(0.005, cb, repeat=0.005).start(loop)
    loop.run()
    assert len(iterations) == 4
    assert len(set(iterations)) == 4  # never two calls in one iteration


# -- again() -------------------------------------------------------------------------


def test_timer_again_clears_a_pending_event_of_an_active_timer(loop: ev.Loop) -> None:
    fired: list[int] = []
    t = ev.Timer(10.0, lambda w, revents: fired.append(revents), repeat=10.0).start(loop)
    t.feed(ev.CUSTOM)
    t.again()
    assert not t.is_pending
    assert t.is_active
    loop.run(ev.RUN_NOWAIT)
    assert fired == []


def test_timer_again_clears_a_pending_event_of_an_inactive_timer(loop: ev.Loop) -> None:
    fired: list[int] = []
    t = ev.Timer(10.0, lambda w, revents: fired.append(revents))
    t.feed(ev.TIMER, loop)
    t.again(loop)
    assert not t.is_pending
    assert not t.is_active
    loop.run(ev.RUN_NOWAIT)
    assert fired == []


def test_timer_again_on_an_active_timer_rearms_it_repeat_seconds_from_now(loop: ev.Loop) -> None:
    t = ev.Timer(10.0, noop, repeat=0.5).start(loop)
    assert t.remaining == pytest.approx(10.0)
    ev.sleep(0.02)
    loop.now_update()
    t.again()
    assert t.is_active
    assert t.remaining == pytest.approx(0.5)


def test_timer_again_with_zero_repeat_stops_it(loop: ev.Loop, watchdog: ev.Timer) -> None:
    fired: list[int] = []
    t = ev.Timer(0.01, lambda w, revents: fired.append(revents)).start(loop)
    t.again()
    assert not t.is_active
    assert loop.run() is False
    assert fired == []
    loop.verify()


def test_timer_again_on_an_inactive_timer_with_repeat_starts_it_ignoring_after(
    loop: ev.Loop, watchdog: ev.Timer
) -> None:
    fired: list[float] = []

    def cb(w: ev.Timer, revents: int) -> None:
        fired.append(time.monotonic())
        w.stop()

    t = ev.Timer(100.0, cb, repeat=0.02)
    t0 = _armed_now(loop)
    t.again(loop)
    assert t.is_active
    assert t.loop is loop
    assert t.remaining == pytest.approx(0.02)
    assert loop.run() is False
    assert len(fired) == 1
    assert fired[0] - t0 >= 0.02


def test_timer_again_on_an_inactive_timer_without_repeat_does_nothing(loop: ev.Loop, watchdog: ev.Timer) -> None:
    fired: list[int] = []
    t = ev.Timer(0.01, lambda w, revents: fired.append(revents))
    t.again(loop)
    assert not t.is_active
    ev.sleep(0.02)
    assert loop.run() is False
    assert fired == []


def test_timer_again_from_its_own_callback_rearms_a_repeating_timer(loop: ev.Loop) -> None:
    remaining: list[float] = []

    def cb(w: ev.Timer, revents: int) -> None:
        w.again()
        remaining.append(w.remaining)

    t = ev.Timer(-1.0, cb, repeat=7.0).start(loop)
    loop.run(ev.RUN_NOWAIT)
    assert remaining == [pytest.approx(7.0)]
    assert t.is_active


def test_timer_again_without_a_loop_on_a_never_started_timer_uses_the_default_loop(
    clean_default_loop: None,
) -> None:
    t = ev.Timer(100.0, noop, repeat=100.0)
    t.again()
    assert t.is_active
    assert t.loop is ev.default_loop()
    t.stop()


# -- remaining, restart, repeat -------------------------------------------------------


def test_remaining_of_an_inactive_timer_is_after() -> None:
    assert ev.Timer(5.0, noop, repeat=7.0).remaining == 5.0


def test_remaining_counts_down_while_active(loop: ev.Loop) -> None:
    t = ev.Timer(5.0, noop).start(loop)
    assert t.remaining == pytest.approx(5.0)
    ev.sleep(0.02)
    loop.now_update()
    assert 0.0 < t.remaining <= 5.0 - 0.02


def test_start_after_stop_arms_the_full_after_again(loop: ev.Loop) -> None:
    t = ev.Timer(5.0, noop).start(loop)
    ev.sleep(0.02)
    loop.now_update()
    t.stop()
    assert t.remaining == 5.0
    t.start(loop)
    assert t.remaining == pytest.approx(5.0)


def test_restarted_expired_one_shot_timer_waits_after_again(loop: ev.Loop, watchdog: ev.Timer) -> None:
    fired: list[float] = []
    t = ev.Timer(0.02, lambda w, revents: fired.append(time.monotonic())).start(loop)
    loop.run()
    t0 = _armed_now(loop)
    t.start(loop)
    loop.run()
    assert len(fired) == 2
    assert fired[1] - t0 >= 0.02


def test_repeat_set_to_zero_makes_the_next_expiry_final(loop: ev.Loop, watchdog: ev.Timer) -> None:
    fired: list[int] = []

    def cb(w: ev.Timer, revents: int) -> None:
        fired.append(revents)
        w.repeat = 0.0

    ev.Timer(0.005, cb, repeat=0.005).start(loop)
    assert loop.run() is False
    assert fired == [ev.TIMER, ev.TIMER]


def test_repeat_assigned_while_active_is_used_by_again(loop: ev.Loop) -> None:
    t = ev.Timer(10.0, noop, repeat=1.0).start(loop)
    t.repeat = 0.25
    assert t.repeat == 0.25
    assert t.remaining == pytest.approx(10.0)
    t.again()
    assert t.remaining == pytest.approx(0.25)


def test_repeat_given_to_a_one_shot_timer_makes_it_repeat(loop: ev.Loop, watchdog: ev.Timer) -> None:
    fired: list[int] = []

    def cb(w: ev.Timer, revents: int) -> None:
        fired.append(revents)
        if len(fired) == 3:
            w.stop()

    t = ev.Timer(0.005, cb)
    t.repeat = 0.005
    t.start(loop)
    loop.run()
    assert fired == [ev.TIMER] * 3


def test_repeating_timer_with_a_tiny_interval_keeps_firing_until_stopped(
    loop: ev.Loop, watchdog: ev.Timer
) -> None:
    calls: list[int] = []
    remaining: list[float] = []

    def cb(w: ev.Timer, revents: int) -> None:
        assert w.is_active and not w.is_pending
        calls.append(revents)
        remaining.append(w.remaining)
        if len(calls) == 30:
            w.stop()

    t = ev.Timer(0.001, cb, repeat=0.001).start(loop)
    assert loop.run() is False
    assert calls == [ev.TIMER] * 30
    assert not t.is_active
    # Re-armed before the callback: at most one interval ahead, never behind.
    assert all(0.0 <= r <= 0.001 + 1e-9 for r in remaining), remaining


def test_remaining_is_at_most_after_when_started_and_after_whenever_inactive(loop: ev.Loop) -> None:
    inside: list[float] = []
    t = ev.Timer(0.25, lambda w, revents: inside.append(w.remaining))
    assert t.remaining == 0.25
    t.start(loop)
    # Computed as deadline - now, so equal to after up to the rounding of now.
    assert 0.0 < t.remaining <= 0.25 + 1e-9
    t.stop()
    assert t.remaining == 0.25
    t.set(-1.0)
    assert t.remaining == -1.0
    t.start(loop)
    assert -1.0 - 1e-9 <= t.remaining <= -1.0 + 1e-9
    loop.run(ev.RUN_NOWAIT)
    assert inside == [-1.0]  # an expired one-shot timer is inactive in its callback
    assert t.remaining == -1.0


# -- attributes ------------------------------------------------------------------------


def test_timer_constructor_arguments_are_readable() -> None:
    data = object()
    t = ev.Timer(1.5, noop, repeat=2.5, priority=2, data=data)
    assert (t.after, t.repeat, t.priority, t.data, t.callback) == (1.5, 2.5, 2, data, noop)


def test_timer_accepts_integer_times() -> None:
    t = ev.Timer(2, noop, repeat=3)
    assert t.after == 2.0 and isinstance(t.after, float)
    assert t.repeat == 3.0 and isinstance(t.repeat, float)


def test_timer_repeat_defaults_to_zero() -> None:
    assert ev.Timer(1.0, noop).repeat == 0.0


@pytest.mark.parametrize("name", ["after", "remaining"])
def test_timer_after_and_remaining_are_read_only(name: str) -> None:
    t = ev.Timer(1.0, noop)
    with pytest.raises(AttributeError):
        setattr(t, name, 2.0)
    assert t.after == 1.0
