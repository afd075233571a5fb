"""Loop.ref / unref and keepalive: what keeps run() going."""

from __future__ import annotations

from typing import TYPE_CHECKING

import pyev as ev

if TYPE_CHECKING:
    from tests.conftest import Recorder


def test_unref_lets_run_return_while_a_watcher_is_still_active(
    loop: ev.Loop, rec: Recorder
) -> None:
    timer = ev.Timer(30.0, rec.cb("timer")).start(loop)
    loop.unref()
    assert loop.run() is False
    assert rec.calls == []
    assert timer.is_active
    loop.ref()
    timer.stop()
    loop.verify()


def test_unreffed_expired_timer_still_fires_in_the_one_pass_run_makes(
    loop: ev.Loop, rec: Recorder
) -> None:
    def fired(w: ev.Timer, revents: int) -> None:
        rec.calls.append(("timer", revents))
        loop.ref()  # libev's idiom: give the reference back when the watcher stops

    ev.Timer(-1.0, fired).start(loop)
    loop.unref()
    assert loop.run() is False
    assert rec.calls == [("timer", ev.TIMER)]
    loop.verify()


def test_ref_keeps_run_going_without_active_watchers_until_unref(loop: ev.Loop) -> None:
    seen: list[int] = []

    def idle(w: ev.Idle, revents: int) -> None:
        seen.append(loop.iteration)
        if len(seen) == 3:
            loop.unref()

    idler = ev.Idle(idle)
    idler.keepalive = False
    idler.start(loop)
    loop.ref()
    assert loop.run() is False
    assert seen == [1, 2, 3]
    idler.stop()
    loop.verify()


def test_run_nowait_returns_true_while_a_reference_is_held(loop: ev.Loop) -> None:
    loop.ref()
    assert loop.run(ev.RUN_NOWAIT) is True
    loop.unref()
    assert loop.run(ev.RUN_NOWAIT) is False


def test_each_ref_needs_its_own_unref(loop: ev.Loop) -> None:
    loop.ref()
    loop.ref()
    loop.unref()
    assert loop.run(ev.RUN_NOWAIT) is True
    loop.unref()
    assert loop.run(ev.RUN_NOWAIT) is False
    loop.verify()


def test_watcher_without_keepalive_does_not_keep_run_alive(
    loop: ev.Loop, rec: Recorder
) -> None:
    timer = ev.Timer(30.0, rec.cb("timer"))
    timer.keepalive = False
    timer.start(loop)
    assert loop.run() is False
    assert rec.calls == []
    assert timer.is_active
    timer.stop()
    loop.verify()


def test_run_keeps_going_for_a_referenced_watcher_beside_an_unreferenced_one(
    loop: ev.Loop, rec: Recorder
) -> None:
    background = ev.Timer(30.0, rec.cb("background"))
    background.keepalive = False
    background.start(loop)
    ev.Timer(0.01, rec.cb("foreground")).start(loop)
    assert loop.run() is False
    assert rec.names == ["foreground"]
    background.stop()
