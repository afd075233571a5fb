"""Loop.once: one callback for the first of an fd event and a timeout."""

from __future__ import annotations

import os
import socket
import time
from collections.abc import Callable, Iterator

import pytest

import pyev as ev


@pytest.fixture
def sockets() -> Iterator[tuple[socket.socket, socket.socket]]:
    a, b = socket.socketpair()
    with a, b:
        yield a, b


def test_once_on_a_readable_fd_calls_back_with_read(
    loop: ev.Loop, pipe: tuple[int, int]
) -> None:
    r, w = pipe
    os.write(w, b"x")
    got: list[int] = []
    loop.once(got.append, fd=r)
    assert loop.run() is False
    assert got == [ev.READ]


def test_once_accepts_an_object_with_fileno(
    loop: ev.Loop, sockets: tuple[socket.socket, socket.socket]
) -> None:
    a, b = sockets
    a.send(b"x")
    got: list[int] = []
    loop.once(got.append, fd=b, events=ev.READ)
    loop.run()
    assert got == [ev.READ]


def test_once_waits_for_the_events_asked_for(
    loop: ev.Loop, pipe: tuple[int, int]
) -> None:
    _, w = pipe
    got: list[int] = []
    loop.once(got.append, fd=w, events=ev.WRITE)
    loop.run()
    assert got == [ev.WRITE]


def test_once_with_a_timeout_calls_back_with_timer_after_it(loop: ev.Loop) -> None:
    got: list[int] = []
    start = time.monotonic()
    loop.now_update()  # timers count from the cached now(): make it >= start
    loop.once(got.append, timeout=0.02)
    assert loop.run() is False
    assert got == [ev.TIMER]
    assert time.monotonic() - start >= 0.02


def test_once_with_an_idle_fd_and_a_timeout_fires_on_the_timeout_and_stops_watching_the_fd(
    loop: ev.Loop, pipe: tuple[int, int], watchdog: Callable[..., ev.Timer]
) -> None:
    r, _ = pipe
    got: list[int] = []
    watchdog(loop)
    loop.once(got.append, fd=r, timeout=0.01)
    assert loop.run() is False
    assert got == [ev.TIMER]


def test_once_with_a_ready_fd_and_a_timeout_fires_on_the_fd_and_cancels_the_timer(
    loop: ev.Loop, pipe: tuple[int, int], watchdog: Callable[..., ev.Timer]
) -> None:
    r, w = pipe
    os.write(w, b"x")
    got: list[int] = []
    watchdog(loop)
    loop.once(got.append, fd=r, timeout=30.0)
    assert loop.run() is False
    assert got == [ev.READ]


def test_once_combines_revents_when_fd_and_timeout_are_ready_in_the_same_pass(
    loop: ev.Loop, pipe: tuple[int, int]
) -> None:
    _, w = pipe
    got: list[int] = []
    loop.once(got.append, fd=w, events=ev.WRITE, timeout=0.0)
    loop.run()
    assert got == [ev.WRITE | ev.TIMER]


def test_once_calls_back_exactly_once_although_the_fd_stays_ready(
    loop: ev.Loop, pipe: tuple[int, int]
) -> None:
    r, w = pipe
    os.write(w, b"x")
    got: list[int] = []
    loop.once(got.append, fd=r, timeout=0.0)
    for _ in range(3):
        loop.run(ev.RUN_NOWAIT)
    assert len(got) == 1


def test_once_keeps_run_going_until_it_has_fired(loop: ev.Loop) -> None:
    got: list[int] = []
    loop.once(got.append, timeout=0.01)
    loop.run()
    assert got == [ev.TIMER]


def test_several_onces_fire_shortest_timeout_first(loop: ev.Loop) -> None:
    order: list[float] = []

    def noting(timeout: float) -> Callable[[int], None]:
        return lambda revents: order.append(timeout)

    for timeout in (0.03, 0.01, 0.02):
        loop.once(noting(timeout), timeout=timeout)
    loop.run()
    assert order == [0.01, 0.02, 0.03]


def test_once_callback_may_schedule_another_once(loop: ev.Loop) -> None:
    got: list[str] = []

    def first(revents: int) -> None:
        got.append("first")
        loop.once(lambda r: got.append("second"), timeout=0.001)

    loop.once(first, timeout=0.001)
    assert loop.run() is False
    assert got == ["first", "second"]


def test_once_without_fd_or_timeout_raises_value_error(
    loop: ev.Loop, still_runs_a_timer: Callable[[ev.Loop], None]
) -> None:
    with pytest.raises(ValueError):
        loop.once(lambda revents: None)
    still_runs_a_timer(loop)
