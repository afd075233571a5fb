"""Periodic schedules that must neither hang nor overflow: a reschedule
callback answering a time before now, and offsets far from now
(API.md Periodic; LIBEV_SEMANTICS 2.5 and 3.3)."""

from __future__ import annotations

import math

import pytest

import pyev as ev

from .helpers import assert_loop_runs_a_timer, noop

MIN_INTERVAL = 1.0 / 8192


def _before_now(w: ev.Periodic, now: float) -> float:
    return now - 1.0


# -- reschedule answering a time before now ---------------------------------------


def test_reschedule_returning_a_time_before_now_raises_value_error_from_start(loop: ev.Loop) -> None:
    p = ev.Periodic(0.0, noop, reschedule=_before_now)
    with pytest.raises(ValueError):
        p.start(loop)
    assert not p.is_active
    assert_loop_runs_a_timer(loop)


def test_reschedule_returning_a_time_before_now_raises_value_error_from_again(loop: ev.Loop) -> None:
    p = ev.Periodic(0.0, noop, reschedule=lambda w, now: now + 100.0).start(loop)
    p.reschedule = _before_now
    with pytest.raises(ValueError):
        p.again()
    assert not p.is_active
    assert_loop_runs_a_timer(loop)


def test_reschedule_returning_a_time_before_now_raises_value_error_from_run_instead_of_spinning(
    loop: ev.Loop, watchdog: ev.Timer
) -> None:
    asked: list[float] = []
    fired: list[int] = []

    def reschedule(w: ev.Periodic, now: float) -> float:
        asked.append(now)
        if len(asked) > 100:
            raise AssertionError("reschedule is asked over and over: run() spins")
        return now + 0.005 if len(asked) == 1 else now - 1.0

    p = ev.Periodic(0.0, lambda w, revents: fired.append(revents), reschedule=reschedule).start(loop)
    with pytest.raises(ValueError):
        loop.run()
    assert len(asked) == 2
    assert not p.is_active
    assert_loop_runs_a_timer(loop)


def test_reschedule_returning_exactly_now_is_accepted(loop: ev.Loop) -> None:
    p = ev.Periodic(0.0, noop, reschedule=lambda w, now: now).start(loop)
    assert p.is_active
    assert p.at == loop.now()
    p.stop()


# -- offsets far from now -------------------------------------------------------------

FAR_OFFSETS = [
    pytest.param(1e308, 0.001, id="1e308-every-ms"),
    pytest.param(1e308, 0.25, id="1e308-every-quarter-s"),
    pytest.param(-1e308, 0.01, id="minus-1e308-every-10ms"),
    pytest.param(-1e300, 1.0, id="minus-1e300-every-s"),
    pytest.param(1e20, 0.001, id="1e20-every-ms"),
    pytest.param(-1e15, 0.125, id="minus-1e15-every-eighth-s"),
]


@pytest.mark.parametrize(("offset", "interval"), FAR_OFFSETS)
def test_interval_periodic_with_an_offset_far_from_now_is_due_within_one_interval_aligned_to_the_offset(
    loop: ev.Loop, offset: float, interval: float
) -> None:
    p = ev.Periodic(offset, noop, interval=interval).start(loop)
    now = loop.now()
    assert now < p.at <= now + interval + 1e-6
    # offset + N * interval, reckoned from the offset's exact remainder
    assert abs(math.remainder(p.at - math.fmod(offset, interval), interval)) < 1e-5
    p.stop()


@pytest.mark.parametrize(("offset", "interval"), FAR_OFFSETS)
def test_interval_periodic_with_an_offset_far_from_now_fires_and_is_rescheduled(
    loop: ev.Loop, watchdog: ev.Timer, offset: float, interval: float
) -> None:
    fired: list[float] = []

    def cb(w: ev.Periodic, revents: int) -> None:
        fired.append(w.at)
        if len(fired) == 2:
            w.stop()

    p = ev.Periodic(offset, cb, interval=interval).start(loop)
    loop.run()
    assert len(fired) == 2
    assert fired[0] < fired[1]
    assert not p.is_active


@pytest.mark.parametrize(("offset", "interval"), FAR_OFFSETS)
def test_interval_periodic_again_with_an_offset_far_from_now_is_due_within_one_interval(
    loop: ev.Loop, offset: float, interval: float
) -> None:
    p = ev.Periodic(0.0, noop, interval=1.0).start(loop)
    p.offset = offset
    p.interval = interval
    p.again()
    now = loop.now()
    assert now < p.at <= now + interval + 1e-6
    p.stop()


def test_interval_periodic_below_the_minimum_interval_is_aligned_to_the_minimum(loop: ev.Loop) -> None:
    p = ev.Periodic(-1e300, noop, interval=1e-300).start(loop)
    now = loop.now()
    assert now < p.at <= now + MIN_INTERVAL + 1e-6
    p.stop()
