"""Loop attributes: closed, is_default, backend, data, collect intervals."""

from __future__ import annotations

import os
import signal
import time
from typing import TYPE_CHECKING

import pytest

import pyev as ev

if TYPE_CHECKING:
    from tests.conftest import Recorder


def test_new_loop_is_open_and_not_the_default(loop: ev.Loop) -> None:
    assert loop.closed is False
    assert loop.is_default is False


def test_closed_becomes_true_after_close(loop: ev.Loop) -> None:
    loop.close()
    assert loop.closed is True


def test_loop_uses_the_backend_asked_for(loop: ev.Loop, backend: ev.Backend) -> None:
    assert loop.backend is backend


def test_data_is_none_by_default_and_free_for_the_user(loop: ev.Loop) -> None:
    assert loop.data is None
    payload = {"any": ["object"]}
    loop.data = payload
    assert loop.data is payload
    loop.data = None
    assert loop.data is None


def test_collect_intervals_default_to_zero(loop: ev.Loop) -> None:
    assert loop.io_collect_interval == 0.0
    assert loop.timeout_collect_interval == 0.0


@pytest.mark.parametrize("name", ["io_collect_interval", "timeout_collect_interval"])
@pytest.mark.parametrize("value", [0, 0.0, 0.005, 1, 2.5])
def test_collect_interval_is_settable(loop: ev.Loop, name: str, value: float) -> None:
    setattr(loop, name, value)
    assert getattr(loop, name) == value
    assert isinstance(getattr(loop, name), float)


def test_timers_still_fire_with_a_timeout_collect_interval(
    loop: ev.Loop, rec: Recorder
) -> None:
    loop.timeout_collect_interval = 0.01
    ev.Timer(0.001, rec.cb("a")).start(loop)
    ev.Timer(0.002, rec.cb("b")).start(loop)
    assert loop.run() is False
    assert rec.names == ["a", "b"]


def test_timer_is_not_early_with_a_timeout_collect_interval(loop: ev.Loop) -> None:
    loop.timeout_collect_interval = 0.005
    fired: list[float] = []
    start = time.monotonic()
    loop.now_update()  # timers count from the cached now(): make it >= start
    ev.Timer(0.02, lambda w, revents: fired.append(time.monotonic())).start(loop)
    loop.run()
    assert fired[0] - start >= 0.02


def test_io_and_timers_still_work_with_an_io_collect_interval(
    loop: ev.Loop, rec: Recorder, pipe: tuple[int, int]
) -> None:
    r, w = pipe
    loop.io_collect_interval = 0.005

    def on_read(watcher: ev.Io, revents: int) -> None:
        rec.calls.append(("io", revents))
        os.read(r, 1)
        watcher.stop()

    ev.Io(r, ev.READ, on_read).start(loop)
    ev.Timer(0.01, lambda t, revents: os.write(w, b"x")).start(loop)
    assert loop.run() is False
    assert rec.calls == [("io", ev.READ)]


def test_timer_is_not_early_with_an_io_collect_interval(loop: ev.Loop) -> None:
    loop.io_collect_interval = 0.01
    fired: list[float] = []
    start = time.monotonic()
    loop.now_update()  # timers count from the cached now(): make it >= start
    ev.Timer(0.02, lambda w, revents: fired.append(time.monotonic())).start(loop)
    loop.run()
    assert fired[0] - start >= 0.02


class Interrupted(Exception):
    pass


def raise_interrupted(signum: int, frame: object) -> None:
    raise Interrupted


def test_a_signal_handler_that_raises_cuts_the_io_collect_nap_short(loop: ev.Loop) -> None:
    # The nap before the poll is taken with the GIL released; a signal must
    # still run its Python handler then, as in time.sleep, and what the
    # handler raises comes out of run() at once, not after the nap.
    loop.io_collect_interval = 20.0
    ev.Timer(30.0, lambda w, revents: None).start(loop)
    previous = signal.signal(signal.SIGALRM, raise_interrupted)
    try:
        start = time.monotonic()
        signal.setitimer(signal.ITIMER_REAL, 0.05)
        with pytest.raises(Interrupted):
            loop.run()
        assert time.monotonic() - start < 10.0  # the nap alone would be 20 s
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)
    fired: list[int] = []
    loop.io_collect_interval = 0.0
    ev.Timer(0.0, lambda w, revents: fired.append(revents)).start(loop)
    loop.run(ev.RUN_ONCE)
    assert fired == [ev.TIMER]  # the loop is usable after
