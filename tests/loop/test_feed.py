"""Loop.feed_fd_event and Loop.feed_signal_event."""

from __future__ import annotations

import signal
from collections.abc import Callable
from typing import TYPE_CHECKING

import pyev as ev

if TYPE_CHECKING:
    from tests.conftest import Recorder


def test_feed_fd_event_gives_each_io_its_own_events(
    loop: ev.Loop, rec: Recorder, pipe: tuple[int, int]
) -> None:
    r, _ = pipe
    watchers = [
        ev.Io(r, ev.READ, rec.cb("read")).start(loop),
        ev.Io(r, ev.WRITE, rec.cb("write")).start(loop),
        ev.Io(r, ev.READ | ev.WRITE, rec.cb("both")).start(loop),
    ]
    loop.feed_fd_event(r, ev.READ | ev.WRITE)
    assert loop.pending_count == 3
    loop.invoke_pending()
    assert sorted(rec.calls) == [
        ("both", ev.READ | ev.WRITE),
        ("read", ev.READ),
        ("write", ev.WRITE),
    ]
    for w in watchers:
        w.stop()


def test_feed_fd_event_skips_io_watchers_without_overlap(
    loop: ev.Loop, rec: Recorder, pipe: tuple[int, int]
) -> None:
    r, _ = pipe
    watchers = [
        ev.Io(r, ev.READ, rec.cb("read")).start(loop),
        ev.Io(r, ev.WRITE, rec.cb("write")).start(loop),
    ]
    loop.feed_fd_event(r, ev.READ)
    loop.invoke_pending()
    assert rec.calls == [("read", ev.READ)]
    for w in watchers:
        w.stop()


def test_feed_fd_event_only_reaches_watchers_of_that_fd(
    loop: ev.Loop, rec: Recorder, pipe: tuple[int, int]
) -> None:
    r, w = pipe
    watchers = [
        ev.Io(r, ev.READ, rec.cb("r")).start(loop),
        ev.Io(w, ev.READ, rec.cb("w")).start(loop),
    ]
    loop.feed_fd_event(r, ev.READ)
    loop.invoke_pending()
    assert rec.names == ["r"]
    for watcher in watchers:
        watcher.stop()


def test_feed_fd_event_on_an_fd_without_watchers_is_ignored(
    loop: ev.Loop, pipe: tuple[int, int]
) -> None:
    r, _ = pipe
    loop.feed_fd_event(r, ev.READ)
    loop.feed_fd_event(100_000, ev.READ | ev.WRITE)
    assert loop.pending_count == 0
    assert loop.run() is False


def test_feed_fd_event_after_the_watcher_stopped_is_ignored(
    loop: ev.Loop, rec: Recorder, pipe: tuple[int, int]
) -> None:
    r, _ = pipe
    ev.Io(r, ev.READ, rec.cb("io")).start(loop).stop()
    loop.feed_fd_event(r, ev.READ)
    assert loop.pending_count == 0
    loop.invoke_pending()
    assert rec.calls == []


def test_fed_fd_event_is_delivered_by_run(loop: ev.Loop, pipe: tuple[int, int]) -> None:
    r, _ = pipe
    seen: list[int] = []

    def once(w: ev.Io, revents: int) -> None:
        seen.append(revents)
        w.stop()

    ev.Io(r, ev.READ, once).start(loop)
    loop.feed_fd_event(r, ev.READ)
    assert loop.run() is False
    assert seen == [ev.READ]


def test_feed_signal_event_without_signal_watchers_is_ignored(loop: ev.Loop) -> None:
    loop.feed_signal_event(signal.SIGUSR1)
    assert loop.pending_count == 0
    assert loop.run() is False


def test_feed_signal_event_queues_every_signal_watcher_of_that_signal(
    loop: ev.Loop, in_child: Callable[[Callable[[], object]], object]
) -> None:
    def child() -> object:
        calls: list[list[object]] = []
        watchers = [
            ev.Signal(signal.SIGUSR1, lambda w, r: calls.append(["usr1 a", r])).start(
                loop
            ),
            ev.Signal(signal.SIGUSR1, lambda w, r: calls.append(["usr1 b", r])).start(
                loop
            ),
            ev.Signal(signal.SIGUSR2, lambda w, r: calls.append(["usr2", r])).start(
                loop
            ),
        ]
        loop.feed_signal_event(signal.SIGUSR1)
        pending = loop.pending_count
        loop.invoke_pending()
        for w in watchers:
            w.stop()
        return [pending, sorted(calls)]

    assert in_child(child) == [2, [["usr1 a", ev.SIGNAL], ["usr1 b", ev.SIGNAL]]]


def test_feed_signal_event_ignores_a_signal_watched_by_another_loop(
    loop: ev.Loop, in_child: Callable[[Callable[[], object]], object]
) -> None:
    def child() -> object:
        calls: list[int] = []
        with ev.Loop() as owner:
            w = ev.Signal(signal.SIGUSR1, lambda w, r: calls.append(r)).start(owner)
            loop.feed_signal_event(signal.SIGUSR1)
            counts = [loop.pending_count, owner.pending_count]
            loop.invoke_pending()
            owner.invoke_pending()
            w.stop()
        return [counts, calls]

    assert in_child(child) == [[0, 0], []]
