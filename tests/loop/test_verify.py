"""Loop.verify: silent on a healthy loop in any state, loud on corruption."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

import pyev as ev


def test_verify_passes_on_a_new_loop(loop: ev.Loop) -> None:
    loop.verify()


def test_verify_passes_with_every_kind_of_watcher_active_pending_and_stopped(
    loop: ev.Loop, pipe: tuple[int, int], tmp_path: Path
) -> None:
    r, w = pipe
    os.write(w, b"x")
    noop = lambda watcher, revents: None
    watchers: list[ev.Watcher] = [
        ev.Io(r, ev.READ, noop).start(loop),
        ev.Io(w, ev.WRITE, noop, priority=2).start(loop),
        ev.Timer(30.0, noop).start(loop),
        ev.Timer(-1.0, noop, priority=-2).start(loop),
        ev.Timer(0.0, noop, repeat=0.5).start(loop),
        ev.Periodic(0.0, noop, interval=30.0).start(loop),
        ev.Idle(noop, priority=1).start(loop),
        ev.Idle(noop, priority=-1).start(loop),
        ev.Prepare(noop).start(loop),
        ev.Check(noop).start(loop),
        ev.Fork(noop).start(loop),
        ev.Cleanup(noop).start(loop),
        ev.Async(noop).start(loop),
        ev.Stat(str(tmp_path / "file"), noop).start(loop),
        ev.Tree(tmp_path, noop).start(loop),
    ]
    loop.verify()
    for watcher in watchers[::3]:
        watcher.feed(ev.CUSTOM)
    ev.Idle(noop).feed(ev.CUSTOM, loop)
    loop.verify()
    loop.ref()
    loop.verify()
    loop.unref()
    loop.run(ev.RUN_NOWAIT)
    loop.verify()
    for watcher in watchers[::2]:
        watcher.stop()
    loop.verify()
    loop.run(ev.RUN_NOWAIT)
    for watcher in watchers:
        watcher.stop()
    loop.verify()


def test_verify_passes_when_called_from_every_callback(loop: ev.Loop) -> None:
    calls: list[int] = []

    def checked(w: ev.Watcher, revents: int) -> None:
        loop.verify()
        calls.append(revents)

    def repeating(w: ev.Timer, revents: int) -> None:
        checked(w, revents)
        if len(calls) >= 6:
            w.stop()

    ev.Timer(0.0, repeating, repeat=0.001).start(loop)
    ev.Timer(0.002, checked).start(loop)
    prepare = ev.Prepare(checked).start(loop)
    prepare.keepalive = False
    loop.once(lambda revents: loop.verify(), timeout=0.001)
    loop.run()
    prepare.stop()
    loop.verify()
    assert ev.TIMER in calls and ev.PREPARE in calls


def test_verify_reports_a_corrupted_reference_count_with_an_assertion_error(
    loop: ev.Loop,
) -> None:
    ev.Timer(30.0, lambda w, revents: None).start(loop)
    loop._activecnt += 1  # no public call can do this; it stands for memory corruption
    with pytest.raises(AssertionError) as raised:
        loop.verify()
    assert str(raised.value)
