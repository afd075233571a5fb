"""Exceptions raised by callbacks: they propagate out of run() and the loop
stays consistent (pending work is kept, depth restored, run works again)."""

from __future__ import annotations

import os
from collections.abc import Callable
from typing import TYPE_CHECKING, cast

import pytest

import pyev as ev

if TYPE_CHECKING:
    from tests.conftest import Recorder


class Boom(Exception):
    pass


RAISED = [
    pytest.param(Boom, id="exception"),
    pytest.param(KeyboardInterrupt, id="keyboardinterrupt"),
    pytest.param(SystemExit, id="systemexit"),
]


def _raiser(
    kind: type[BaseException], log: list[str] | None = None, name: str = "raiser"
) -> Callable[..., None]:
    def callback(w: ev.Watcher, revents: int) -> None:
        if log is not None:
            log.append(name)
        raise kind

    return callback


@pytest.mark.parametrize("kind", RAISED)
def test_exception_from_a_callback_propagates_out_of_run(
    loop: ev.Loop, kind: type[BaseException]
) -> None:
    ev.Timer(0.0, _raiser(kind)).start(loop)
    with pytest.raises(kind):
        loop.run()


@pytest.mark.parametrize("kind", RAISED)
def test_watchers_pending_behind_a_raising_callback_stay_pending_and_run_next_time(
    loop: ev.Loop, rec: Recorder, kind: type[BaseException]
) -> None:
    log: list[str] = []
    ev.Idle(_raiser(kind, log), priority=2).feed(ev.CUSTOM, loop)
    middle = ev.Idle(lambda w, revents: log.append("middle"), priority=1)
    low = ev.Idle(lambda w, revents: log.append("low"), priority=0)
    middle.feed(ev.CUSTOM, loop)
    low.feed(ev.CUSTOM, loop)
    with pytest.raises(kind):
        loop.run()
    assert log == ["raiser"]
    assert middle.is_pending and low.is_pending
    assert loop.pending_count == 2
    assert loop.run() is False
    assert log == ["raiser", "middle", "low"]


@pytest.mark.parametrize("kind", RAISED)
def test_io_event_polled_in_the_pass_that_raised_is_not_lost(
    loop: ev.Loop, pipe: tuple[int, int], kind: type[BaseException]
) -> None:
    r, w = pipe
    os.write(w, b"x")
    got: list[int] = []

    def on_read(watcher: ev.Io, revents: int) -> None:
        got.append(revents)
        watcher.stop()

    io = ev.Io(r, ev.READ, on_read, priority=0).start(loop)
    ev.Timer(-1.0, _raiser(kind), priority=1).start(loop)
    with pytest.raises(kind):
        loop.run()
    assert got == []
    assert io.is_pending
    assert loop.run() is False
    assert got == [ev.READ]


@pytest.mark.parametrize("kind", RAISED)
def test_depth_is_restored_after_an_exception(
    loop: ev.Loop, kind: type[BaseException]
) -> None:
    ev.Timer(0.0, _raiser(kind)).start(loop)
    with pytest.raises(kind):
        loop.run()
    assert loop.depth == 0


@pytest.mark.parametrize("kind", RAISED)
def test_exception_in_a_nested_run_propagates_through_the_outer_run_and_restores_depth(
    loop: ev.Loop, kind: type[BaseException]
) -> None:
    depths: list[int] = []

    def inner(w: ev.Timer, revents: int) -> None:
        depths.append(loop.depth)
        raise kind

    def outer(w: ev.Timer, revents: int) -> None:
        ev.Timer(0.0, inner).start(loop)
        loop.run()

    ev.Timer(0.0, outer).start(loop)
    with pytest.raises(kind):
        loop.run()
    assert depths == [2]
    assert loop.depth == 0


def test_exception_caught_by_the_outer_callback_leaves_the_outer_run_going(
    loop: ev.Loop, rec: Recorder
) -> None:
    def outer(w: ev.Timer, revents: int) -> None:
        ev.Timer(0.0, _raiser(Boom)).start(loop)
        try:
            loop.run()
        except Boom:
            rec.calls.append(("caught at depth", loop.depth))

    ev.Timer(0.0, outer).start(loop)
    ev.Timer(0.02, rec.cb("later")).start(loop)
    assert loop.run() is False
    assert rec.calls == [("caught at depth", 1), ("later", ev.TIMER)]


@pytest.mark.parametrize("kind", RAISED)
def test_run_works_again_after_an_exception(
    loop: ev.Loop,
    kind: type[BaseException],
    still_runs_a_timer: Callable[[ev.Loop], None],
) -> None:
    ev.Timer(0.0, _raiser(kind)).start(loop)
    with pytest.raises(kind):
        loop.run()
    loop.verify()
    still_runs_a_timer(loop)


@pytest.mark.parametrize("kind", RAISED)
def test_exception_from_a_prepare_callback_leaves_the_loop_usable(
    loop: ev.Loop,
    kind: type[BaseException],
    still_runs_a_timer: Callable[[ev.Loop], None],
) -> None:
    prepare = ev.Prepare(_raiser(kind)).start(loop)
    with pytest.raises(kind):
        loop.run()
    prepare.stop()
    loop.verify()
    still_runs_a_timer(loop)


@pytest.mark.parametrize("kind", RAISED)
def test_exception_from_a_check_callback_does_not_lose_the_events_of_that_pass(
    loop: ev.Loop, rec: Recorder, kind: type[BaseException]
) -> None:
    check = ev.Check(_raiser(kind), priority=2).start(loop)
    ev.Timer(-1.0, rec.cb("timer")).start(loop)
    with pytest.raises(kind):
        loop.run()
    check.stop()
    assert rec.calls == []
    assert loop.run() is False
    assert rec.calls == [("timer", ev.TIMER)]


@pytest.mark.parametrize("kind", RAISED)
def test_repeating_timer_that_raised_stays_scheduled(
    loop: ev.Loop, kind: type[BaseException]
) -> None:
    calls: list[int] = []

    def tick(w: ev.Timer, revents: int) -> None:
        calls.append(revents)
        if len(calls) == 1:
            raise kind
        w.stop()

    timer = ev.Timer(0.0, tick, repeat=0.005).start(loop)
    with pytest.raises(kind):
        loop.run()
    assert timer.is_active
    assert loop.run() is False
    assert calls == [ev.TIMER, ev.TIMER]


def test_break_requested_before_an_exception_does_not_stop_the_next_run(
    loop: ev.Loop, rec: Recorder
) -> None:
    def break_then_raise(w: ev.Timer, revents: int) -> None:
        loop.break_(ev.BREAK_ALL)
        raise Boom

    ev.Timer(0.0, break_then_raise).start(loop)
    ev.Timer(0.01, rec.cb("later")).start(loop)
    with pytest.raises(Boom):
        loop.run()
    assert loop.run() is False
    assert rec.names == ["later"]


def test_exception_from_invoke_pending_keeps_the_rest_pending(
    loop: ev.Loop, rec: Recorder
) -> None:
    ev.Idle(_raiser(Boom), priority=1).feed(ev.CUSTOM, loop)
    ev.Idle(rec.cb("rest")).feed(ev.CUSTOM, loop)
    with pytest.raises(Boom):
        loop.invoke_pending()
    assert loop.pending_count == 1
    loop.invoke_pending()
    assert rec.names == ["rest"]


def test_exception_from_a_once_callback_propagates_and_it_does_not_fire_again(
    loop: ev.Loop,
) -> None:
    calls: list[int] = []

    def once(revents: int) -> None:
        calls.append(revents)
        raise Boom

    loop.once(once, timeout=0.0)
    with pytest.raises(Boom):
        loop.run()
    assert loop.run() is False
    assert calls == [ev.TIMER]


@pytest.mark.parametrize("kind", [Boom, KeyboardInterrupt], ids=["exception", "keyboardinterrupt"])
def test_timers_expired_with_a_raising_one_stay_pending_and_fire_in_order_at_the_next_run(
    loop: ev.Loop, kind: type[BaseException]
) -> None:
    fired: list[int] = []

    def cb(w: ev.Timer, revents: int) -> None:
        fired.append(cast(int, w.data))
        if w.data == 1:
            raise kind

    timers = [ev.Timer(-5.0 + k, cb, data=k).start(loop) for k in range(5)]
    with pytest.raises(kind):
        loop.run()
    assert fired == [0, 1]
    assert loop.depth == 0
    assert loop.pending_count == 3
    assert [t.is_pending for t in timers] == [False, False, True, True, True]
    loop.verify()
    assert loop.run() is False
    assert fired == [0, 1, 2, 3, 4]
    assert loop.pending_count == 0
    loop.verify()


def test_exception_from_invoke_pending_leaves_expired_timers_pending(loop: ev.Loop) -> None:
    fired: list[int] = []

    def cb(w: ev.Timer, revents: int) -> None:
        fired.append(cast(int, w.data))
        if w.data == 0:
            raise Boom

    for k in range(3):
        ev.Timer(-3.0 + k, cb, data=k).start(loop)
    with pytest.raises(Boom):
        loop.run(ev.RUN_NOWAIT)
    assert fired == [0]
    loop.invoke_pending()
    assert fired == [0, 1, 2]
    assert loop.pending_count == 0
    assert loop.run(ev.RUN_NOWAIT) is False
