"""Loop.pending_count and Loop.invoke_pending."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

import pyev as ev

if TYPE_CHECKING:
    from tests.conftest import Recorder


def test_new_loop_has_nothing_pending(loop: ev.Loop) -> None:
    assert loop.pending_count == 0


def test_pending_count_counts_each_pending_watcher_once(
    loop: ev.Loop, rec: Recorder
) -> None:
    a = ev.Idle(rec.cb("a"))
    b = ev.Idle(rec.cb("b"), priority=-1)
    a.feed(ev.CUSTOM, loop)
    b.feed(ev.CUSTOM, loop)
    assert loop.pending_count == 2
    a.feed(ev.READ, loop)
    assert loop.pending_count == 2


def test_cleared_watcher_no_longer_counts_as_pending(
    loop: ev.Loop, rec: Recorder
) -> None:
    a = ev.Idle(rec.cb("a"))
    b = ev.Idle(rec.cb("b"))
    a.feed(ev.CUSTOM, loop)
    b.feed(ev.CUSTOM, loop)
    assert a.clear_pending() == ev.CUSTOM
    assert loop.pending_count == 1
    loop.invoke_pending()
    assert rec.names == ["b"]


def test_stopped_watcher_no_longer_counts_as_pending(
    loop: ev.Loop, rec: Recorder
) -> None:
    timer = ev.Timer(30.0, rec.cb("timer")).start(loop)
    timer.feed(ev.CUSTOM)
    assert loop.pending_count == 1
    timer.stop()
    assert loop.pending_count == 0
    loop.invoke_pending()
    assert rec.calls == []


def test_invoked_watcher_no_longer_counts_as_pending(
    loop: ev.Loop, rec: Recorder
) -> None:
    ev.Idle(rec.cb("a")).feed(ev.CUSTOM, loop)
    loop.invoke_pending()
    assert loop.pending_count == 0


def test_watcher_is_not_pending_inside_its_own_callback(loop: ev.Loop) -> None:
    seen: list[tuple[bool, int]] = []
    ev.Idle(lambda w, revents: seen.append((w.is_pending, loop.pending_count))).feed(
        ev.CUSTOM, loop
    )
    loop.invoke_pending()
    assert seen == [(False, 0)]


def test_invoke_pending_runs_the_highest_priority_first(
    loop: ev.Loop, rec: Recorder
) -> None:
    for priority in (0, -2, 2, -1, 1):
        ev.Idle(rec.cb(f"p{priority}"), priority=priority).feed(ev.CUSTOM, loop)
    loop.invoke_pending()
    assert rec.names == ["p2", "p1", "p0", "p-1", "p-2"]


def test_invoke_pending_passes_the_combined_revents_once(
    loop: ev.Loop, rec: Recorder
) -> None:
    w = ev.Idle(rec.cb("w"))
    w.feed(ev.CUSTOM, loop)
    w.feed(ev.WRITE, loop)
    loop.invoke_pending()
    assert rec.calls == [("w", ev.CUSTOM | ev.WRITE)]


def test_invoke_pending_with_nothing_pending_does_nothing(loop: ev.Loop) -> None:
    loop.invoke_pending()
    assert loop.pending_count == 0


def _feeder(
    rec: Recorder, name: str, target: ev.Watcher, loop: ev.Loop
) -> Callable[[ev.Idle, int], None]:
    def callback(w: ev.Idle, revents: int) -> None:
        rec.calls.append((name, revents))
        target.feed(ev.CUSTOM, loop)

    return callback


def test_event_fed_at_a_higher_priority_mid_pass_runs_next(
    loop: ev.Loop, rec: Recorder
) -> None:
    high = ev.Idle(rec.cb("high"), priority=2)
    ev.Idle(_feeder(rec, "middle", high, loop), priority=0).feed(ev.CUSTOM, loop)
    ev.Idle(rec.cb("low"), priority=-1).feed(ev.CUSTOM, loop)
    loop.invoke_pending()
    assert rec.names == ["middle", "high", "low"]


def test_event_fed_at_a_lower_priority_mid_pass_runs_in_the_same_pass(
    loop: ev.Loop, rec: Recorder
) -> None:
    lowest = ev.Idle(rec.cb("lowest"), priority=-2)
    ev.Idle(_feeder(rec, "high", lowest, loop), priority=1).feed(ev.CUSTOM, loop)
    ev.Idle(rec.cb("middle"), priority=0).feed(ev.CUSTOM, loop)
    loop.invoke_pending()
    assert rec.names == ["high", "middle", "lowest"]
    assert loop.pending_count == 0


def test_watcher_stopped_by_an_earlier_callback_of_the_pass_is_not_invoked(
    loop: ev.Loop, rec: Recorder
) -> None:
    victim = ev.Timer(30.0, rec.cb("victim")).start(loop)
    victim.feed(ev.CUSTOM)

    def stopper(w: ev.Idle, revents: int) -> None:
        rec.calls.append(("stopper", revents))
        victim.stop()

    ev.Idle(stopper, priority=1).feed(ev.CUSTOM, loop)
    loop.invoke_pending()
    assert rec.names == ["stopper"]


def test_callback_refed_during_its_own_invocation_runs_again_in_the_same_pass(
    loop: ev.Loop, rec: Recorder
) -> None:
    def twice(w: ev.Idle, revents: int) -> None:
        rec.calls.append(("w", revents))
        if len(rec.calls) == 1:
            w.feed(ev.CUSTOM)

    ev.Idle(twice).feed(ev.CUSTOM, loop)
    loop.invoke_pending()
    assert rec.names == ["w", "w"]


def test_run_invokes_what_was_pending_before_it_started(
    loop: ev.Loop, rec: Recorder
) -> None:
    ev.Idle(rec.cb("fed")).feed(ev.CUSTOM, loop)
    assert loop.run() is False
    assert rec.calls == [("fed", ev.CUSTOM)]
