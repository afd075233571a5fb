"""Prepare and Check watchers (API.md; LIBEV_SEMANTICS 3.8, 2.4)."""

from __future__ import annotations

import socket
import time
from collections.abc import Callable
from typing import Any

import pyev as ev

from .helpers import PROMPTLY, noop

Pair = tuple[socket.socket, socket.socket]


def test_prepare_runs_before_the_poll_and_check_after_it(loop: ev.Loop) -> None:
    calls: list[tuple[str, int]] = []
    ev.Prepare(lambda w, revents: calls.append(("prepare", loop.iteration))).start(loop)
    ev.Check(lambda w, revents: calls.append(("check", loop.iteration))).start(loop)
    ev.Timer(-1.0, lambda w, revents: calls.append(("timer", loop.iteration))).start(loop)
    loop.run(ev.RUN_NOWAIT)
    # iteration counts polls: prepare sees the count before the poll.
    assert calls == [("prepare", 0), ("check", 1), ("timer", 1)]


def test_prepare_and_check_bracket_every_iteration(loop: ev.Loop) -> None:
    calls: list[tuple[str, int]] = []
    ev.Prepare(lambda w, revents: calls.append(("prepare", revents))).start(loop)
    ev.Check(lambda w, revents: calls.append(("check", revents))).start(loop)
    for _ in range(3):
        loop.run(ev.RUN_NOWAIT)
    assert calls == [("prepare", ev.PREPARE), ("check", ev.CHECK)] * 3


def test_check_runs_before_other_watchers_of_its_priority_queued_in_the_iteration(
    loop: ev.Loop, socketpair: Pair
) -> None:
    calls: list[str] = []
    a, _ = socketpair
    ev.Io(a, ev.WRITE, lambda w, revents: calls.append("io")).start(loop)
    ev.Timer(-1.0, lambda w, revents: calls.append("timer")).start(loop)
    ev.Periodic(ev.time() - 1.0, lambda w, revents: calls.append("periodic")).start(loop)
    ev.Check(lambda w, revents: calls.append("check")).start(loop)
    loop.run(ev.RUN_NOWAIT)
    assert calls[0] == "check"
    assert sorted(calls) == ["check", "io", "periodic", "timer"]


def test_lower_priority_check_runs_after_higher_priority_watchers(loop: ev.Loop) -> None:
    calls: list[str] = []
    ev.Timer(-1.0, lambda w, revents: calls.append("timer")).start(loop)
    ev.Check(lambda w, revents: calls.append("check"), priority=-1).start(loop)
    loop.run(ev.RUN_NOWAIT)
    assert calls == ["timer", "check"]


def test_prepares_run_highest_priority_first(loop: ev.Loop) -> None:
    calls: list[int] = []
    for priority in (-1, 2, 0):
        ev.Prepare(lambda w, revents: calls.append(w.priority), priority=priority).start(loop)
    loop.run(ev.RUN_NOWAIT)
    assert calls == [2, 0, -1]


def test_idle_started_in_prepare_keeps_the_following_poll_from_blocking(loop: ev.Loop) -> None:
    calls: list[str] = []
    idle = ev.Idle(lambda w, revents: calls.append("idle"))

    def prepare_cb(w: ev.Prepare, revents: int) -> None:
        calls.append("prepare")
        idle.start(loop)

    ev.Prepare(prepare_cb).start(loop)
    timer = ev.Timer(5.0, noop).start(loop)
    started = time.monotonic()
    loop.run(ev.RUN_ONCE)
    assert time.monotonic() - started < PROMPTLY
    assert calls == ["prepare", "idle"]
    assert timer.is_active


def test_io_started_in_prepare_is_polled_in_the_same_iteration(loop: ev.Loop, socketpair: Pair) -> None:
    calls: list[str] = []
    a, _ = socketpair
    io = ev.Io(a, ev.WRITE, lambda w, revents: calls.append("io"))

    def prepare_cb(w: ev.Prepare, revents: int) -> None:
        io.start(loop)
        w.stop()

    ev.Prepare(prepare_cb).start(loop)
    loop.run(ev.RUN_NOWAIT)
    assert calls == ["io"]


def test_watchers_started_in_a_callback_take_part_from_the_next_iteration(loop: ev.Loop, socketpair: Pair) -> None:
    calls: list[tuple[str, int]] = []
    a, _ = socketpair

    def log(name: str) -> Callable[[Any, int], None]:
        return lambda w, revents: calls.append((name, loop.iteration))

    check = ev.Check(log("check"))
    idle = ev.Idle(log("idle"), priority=1)  # above the io and timer, so not locked out
    io = ev.Io(a, ev.WRITE, log("io"))
    timer = ev.Timer(-1.0, log("timer"))

    def starter(w: ev.Timer, revents: int) -> None:
        calls.append(("starter", loop.iteration))
        for late in (check, idle, io, timer):
            late.start(loop)

    ev.Timer(-1.0, starter).start(loop)
    loop.run(ev.RUN_NOWAIT)
    assert calls == [("starter", 1)]
    loop.run(ev.RUN_NOWAIT)
    assert sorted(calls[1:]) == [("check", 2), ("idle", 2), ("io", 2), ("timer", 2)]


def test_break_in_prepare_ends_the_iteration_without_poll_or_check(loop: ev.Loop) -> None:
    calls: list[str] = []

    def prepare_cb(w: ev.Prepare, revents: int) -> None:
        calls.append("prepare")
        loop.break_()

    ev.Prepare(prepare_cb).start(loop)
    ev.Check(lambda w, revents: calls.append("check")).start(loop)
    assert loop.run() is True
    assert calls == ["prepare"]
    assert loop.iteration == 0


def test_prepare_and_check_constructor_arguments_are_readable() -> None:
    data = object()
    for cls in (ev.Prepare, ev.Check, ev.Idle):
        w = cls(noop, priority=1, data=data)
        assert (w.callback, w.priority, w.data) == (noop, 1, data)
