"""Loop.break_: ONE, ALL, CANCEL, and where a break takes effect."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

import pyev as ev

if TYPE_CHECKING:
    from tests.conftest import Recorder


def _nested_break(loop: ev.Loop, how: int, log: list[object]) -> ev.Timer:
    """An outer callback runs a nested loop; a timer in it calls break_(how).
    Returns a later timer that only the outer run would wait for."""

    def breaker(w: ev.Timer, revents: int) -> None:
        log.append("break")
        loop.break_(how)

    def outer(w: ev.Timer, revents: int) -> None:
        ev.Timer(0.001, breaker).start(loop)
        log.append(("nested run returned", loop.run()))

    ev.Timer(0.0, outer).start(loop)
    return ev.Timer(0.03, lambda w, revents: log.append("later timer")).start(loop)


def test_break_one_leaves_only_the_innermost_run(loop: ev.Loop) -> None:
    log: list[object] = []
    _nested_break(loop, ev.BREAK_ONE, log)
    assert loop.run() is False
    assert log == ["break", ("nested run returned", True), "later timer"]


def test_break_all_leaves_every_nested_run(loop: ev.Loop) -> None:
    log: list[object] = []
    later = _nested_break(loop, ev.BREAK_ALL, log)
    assert loop.run() is True
    assert log == ["break", ("nested run returned", True)]
    assert later.is_active
    later.stop()


def test_break_one_is_the_default(loop: ev.Loop, rec: Recorder) -> None:
    ev.Timer(0.001, lambda w, revents: loop.break_()).start(loop)
    later = ev.Timer(30.0, rec.cb("later")).start(loop)
    assert loop.run() is True
    assert rec.calls == []
    later.stop()


def test_run_returns_true_after_a_break_while_watchers_remain(
    loop: ev.Loop, rec: Recorder
) -> None:
    ev.Timer(0.001, lambda w, revents: loop.break_(ev.BREAK_ONE)).start(loop)
    later = ev.Timer(30.0, rec.cb("later")).start(loop)
    assert loop.run() is True
    assert later.is_active
    assert rec.calls == []
    later.stop()


def test_run_after_a_break_carries_on_with_the_remaining_watchers(
    loop: ev.Loop, rec: Recorder
) -> None:
    ev.Timer(0.001, lambda w, revents: loop.break_(ev.BREAK_ALL)).start(loop)
    ev.Timer(0.3, rec.cb("later")).start(loop)
    assert loop.run() is True
    assert rec.names == []
    assert loop.run() is False
    assert rec.names == ["later"]


def test_break_cancel_cancels_a_break_requested_earlier_in_the_same_pass(
    loop: ev.Loop, rec: Recorder
) -> None:
    def changes_its_mind(w: ev.Timer, revents: int) -> None:
        loop.break_(ev.BREAK_ONE)
        loop.break_(ev.BREAK_CANCEL)

    ev.Timer(0.001, changes_its_mind).start(loop)
    ev.Timer(0.02, rec.cb("later")).start(loop)
    assert loop.run() is False
    assert rec.names == ["later"]


def test_break_cancel_by_a_later_callback_of_the_same_pass_keeps_the_loop_running(
    loop: ev.Loop, rec: Recorder
) -> None:
    ev.Idle(lambda w, revents: loop.break_(ev.BREAK_ALL), priority=1).feed(
        ev.CUSTOM, loop
    )
    ev.Idle(lambda w, revents: loop.break_(ev.BREAK_CANCEL), priority=0).feed(
        ev.CUSTOM, loop
    )
    ev.Timer(0.01, rec.cb("later")).start(loop)
    assert loop.run() is False
    assert rec.names == ["later"]


def test_break_before_run_has_no_effect(loop: ev.Loop, rec: Recorder) -> None:
    loop.break_(ev.BREAK_ALL)
    ev.Timer(0.01, rec.cb("timer")).start(loop)
    assert loop.run() is False
    assert rec.names == ["timer"]


def test_break_after_run_returned_does_not_affect_the_next_run(
    loop: ev.Loop, rec: Recorder
) -> None:
    loop.run()
    loop.break_(ev.BREAK_ONE)
    ev.Timer(0.01, rec.cb("timer")).start(loop)
    assert loop.run() is False
    assert rec.names == ["timer"]


def test_break_lets_the_callbacks_already_queued_in_the_pass_run(
    loop: ev.Loop, rec: Recorder
) -> None:
    def breaker(w: ev.Idle, revents: int) -> None:
        rec.calls.append(("breaker", revents))
        loop.break_(ev.BREAK_ONE)

    ev.Idle(breaker, priority=1).feed(ev.CUSTOM, loop)
    ev.Idle(rec.cb("queued behind"), priority=0).feed(ev.CUSTOM, loop)
    later = ev.Timer(30.0, rec.cb("later")).start(loop)
    assert loop.run() is True
    assert rec.names == ["breaker", "queued behind"]
    later.stop()


def test_break_from_prepare_returns_without_polling(
    loop: ev.Loop, rec: Recorder
) -> None:
    def prepare(w: ev.Prepare, revents: int) -> None:
        rec.calls.append(("prepare", revents))
        loop.break_(ev.BREAK_ONE)

    watchers: list[ev.Watcher] = [
        ev.Prepare(prepare).start(loop),
        ev.Check(rec.cb("check")).start(loop),
        ev.Timer(-1.0, rec.cb("expired timer")).start(loop),
    ]
    assert loop.run() is True
    assert loop.iteration == 0
    assert rec.names == ["prepare"]
    for watcher in watchers:
        watcher.stop()


def test_break_from_a_callback_fed_before_run_returns_without_polling(
    loop: ev.Loop, rec: Recorder
) -> None:
    ev.Idle(lambda w, revents: loop.break_(ev.BREAK_ONE)).feed(ev.CUSTOM, loop)
    check = ev.Check(rec.cb("check")).start(loop)
    assert loop.run() is True
    assert loop.iteration == 0
    assert rec.calls == []
    check.stop()


def test_break_all_from_a_doubly_nested_run_leaves_all_three(loop: ev.Loop) -> None:
    log: list[object] = []

    def level(depth: int) -> Callable[[ev.Idle, int], None]:
        def callback(w: ev.Idle, revents: int) -> None:
            if depth == 3:
                loop.break_(ev.BREAK_ALL)
                return
            ev.Idle(level(depth + 1)).feed(ev.CUSTOM, loop)
            log.append((depth, loop.run()))

        return callback

    keeper = ev.Timer(30.0, lambda w, revents: log.append("keeper fired")).start(loop)
    ev.Idle(level(1)).feed(ev.CUSTOM, loop)
    assert loop.run() is True
    assert log == [(2, True), (1, True)]
    assert loop.depth == 0
    keeper.stop()
