"""Module-level names: event flags and constants, backends, time and sleep."""

from __future__ import annotations

import enum
import time

import pytest

import pyev as ev

LIBEV_EVENT_BITS = {
    "NONE": 0,
    "READ": 0x01,
    "WRITE": 0x02,
    "TIMER": 0x100,
    "PERIODIC": 0x200,
    "SIGNAL": 0x400,
    "CHILD": 0x800,
    "STAT": 0x1000,
    "IDLE": 0x2000,
    "PREPARE": 0x4000,
    "CHECK": 0x8000,
    "EMBED": 0x10000,
    "FORK": 0x20000,
    "CLEANUP": 0x40000,
    "ASYNC": 0x80000,
    "CUSTOM": 0x1000000,
    "ERROR": 0x80000000,
}


def test_events_is_an_int_flag() -> None:
    assert issubclass(ev.Events, enum.IntFlag)
    assert ev.Events.READ | ev.Events.WRITE == 3


@pytest.mark.parametrize(("name", "value"), LIBEV_EVENT_BITS.items())
def test_events_member_has_libevs_bit_value(name: str, value: int) -> None:
    assert ev.Events[name] == value


@pytest.mark.parametrize(("name", "value"), LIBEV_EVENT_BITS.items())
def test_events_member_is_also_a_module_constant(name: str, value: int) -> None:
    constant = getattr(ev, name)
    assert constant == value
    assert constant == ev.Events[name]


def test_event_bits_combine_into_revents_like_libevs() -> None:
    assert ev.READ | ev.TIMER == 0x101
    assert ev.Events.ERROR & (ev.ERROR | ev.READ) == ev.ERROR


def test_run_flags_have_libevs_values() -> None:
    assert ev.RUN_NOWAIT == 1
    assert ev.RUN_ONCE == 2


def test_break_values_have_libevs_values() -> None:
    assert ev.BREAK_CANCEL == 0
    assert ev.BREAK_ONE == 1
    assert ev.BREAK_ALL == 2


def test_priority_range_is_minus_two_to_two() -> None:
    assert ev.MINPRI == -2
    assert ev.MAXPRI == 2


def test_error_is_a_runtime_error() -> None:
    assert issubclass(ev.Error, RuntimeError)


def test_version_is_a_string() -> None:
    assert isinstance(ev.__version__, str)
    assert ev.__version__


def test_backend_is_a_flag_with_epoll_and_poll() -> None:
    assert issubclass(ev.Backend, enum.Flag)
    assert {ev.Backend.EPOLL, ev.Backend.POLL} <= set(ev.Backend)
    assert not ev.Backend.EPOLL & ev.Backend.POLL


def test_supported_backends_include_epoll_and_poll_on_linux() -> None:
    supported = ev.supported_backends()
    assert isinstance(supported, ev.Backend)
    assert ev.Backend.POLL in supported
    assert ev.Backend.EPOLL in supported


def test_recommended_backends_are_a_nonempty_subset_of_the_supported() -> None:
    recommended = ev.recommended_backends()
    assert isinstance(recommended, ev.Backend)
    assert recommended
    assert recommended & ev.supported_backends() == recommended


def test_loop_without_a_backend_uses_a_recommended_one() -> None:
    with ev.Loop() as lp:
        assert lp.backend in ev.recommended_backends()


def test_time_is_the_wall_clock_in_seconds_since_the_epoch() -> None:
    now = ev.time()
    assert isinstance(now, float)
    assert abs(now - time.time()) < 1.0


def test_sleep_waits_at_least_the_given_time() -> None:
    start = time.monotonic()
    ev.sleep(0.02)
    assert time.monotonic() - start >= 0.019


@pytest.mark.parametrize("seconds", [0, 0.0, -0.001, -5, -5.0])
def test_sleep_with_a_non_positive_time_returns_at_once(seconds: float) -> None:
    start = time.monotonic()
    ev.sleep(seconds)
    assert time.monotonic() - start < 2.0


@pytest.mark.parametrize("seconds", ["0.1", None, b"1"])
def test_sleep_rejects_a_non_number_with_type_error(seconds: object) -> None:
    with pytest.raises(TypeError):
        ev.sleep(seconds)  # type: ignore[arg-type]
