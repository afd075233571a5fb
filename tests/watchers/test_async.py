"""Async watchers (API.md Async; LIBEV_SEMANTICS 3.12)."""

from __future__ import annotations

import os
import signal
import threading
import time
from collections.abc import Iterator
from types import FrameType

import pytest

import pyev as ev

from .helpers import PROMPTLY, noop, run_until

WAIT = 6.0  # seconds a helper thread waits for the loop before giving up


@pytest.fixture
def sigusr1_restored() -> Iterator[None]:
    """Restores the SIGUSR1 disposition a test replaces."""
    old = signal.getsignal(signal.SIGUSR1)
    yield
    signal.signal(signal.SIGUSR1, old)


def test_send_from_another_thread_wakes_a_blocked_loop(loop: ev.Loop) -> None:
    calls: list[int] = []
    a = ev.Async(lambda w, revents: calls.append(revents)).start(loop)
    timer = ev.Timer(10.0, noop).start(loop)

    def sender() -> None:
        time.sleep(0.05)  # let the loop block first
        a.send()

    thread = threading.Thread(target=sender)
    started = time.monotonic()
    thread.start()
    try:
        run_until(loop, lambda: bool(calls))
    finally:
        thread.join()
    assert time.monotonic() - started < PROMPTLY
    assert calls == [ev.ASYNC]
    assert timer.is_active
    assert a.is_active  # an async watcher stays active after its callback


def test_sends_before_the_loop_notices_coalesce_into_one_callback(loop: ev.Loop) -> None:
    calls: list[int] = []
    a = ev.Async(lambda w, revents: calls.append(revents)).start(loop)
    for _ in range(3):
        a.send()
    loop.run(ev.RUN_NOWAIT)
    loop.run(ev.RUN_NOWAIT)
    assert calls == [ev.ASYNC]


def test_sent_is_true_after_send_and_false_inside_the_callback(loop: ev.Loop) -> None:
    inside: list[bool] = []
    a = ev.Async(lambda w, revents: inside.append(w.sent)).start(loop)
    assert a.sent is False
    a.send()
    assert a.sent is True
    loop.run(ev.RUN_NOWAIT)
    assert inside == [False]
    assert a.sent is False


def test_send_to_an_inactive_watcher_is_lost_when_it_starts(loop: ev.Loop) -> None:
    calls: list[int] = []
    a = ev.Async(lambda w, revents: calls.append(revents))
    a.send()
    a.start(loop)
    assert a.sent is False
    loop.run(ev.RUN_NOWAIT)
    assert calls == []


def test_send_then_stop_then_start_gives_no_callback(loop: ev.Loop) -> None:
    calls: list[int] = []
    a = ev.Async(lambda w, revents: calls.append(revents)).start(loop)
    a.send()
    a.stop()
    a.start(loop)
    loop.run(ev.RUN_NOWAIT)
    assert calls == []


def test_send_from_a_callback_is_delivered_later_in_the_same_run(loop: ev.Loop, watchdog: ev.Timer) -> None:
    order: list[str] = []

    def a1_second(w: ev.Async, revents: int) -> None:
        order.append("a1 again")
        a1.stop()
        a2.stop()

    def a1_first(w: ev.Async, revents: int) -> None:
        order.append("a1")
        a2.send()

    def a2_cb(w: ev.Async, revents: int) -> None:
        order.append("a2")
        a1.callback = a1_second
        a1.send()

    a1 = ev.Async(a1_first).start(loop)
    a2 = ev.Async(a2_cb).start(loop)
    a1.send()
    assert loop.run() is False
    assert order == ["a1", "a2", "a1 again"]


def test_send_from_a_python_signal_handler_is_delivered(loop: ev.Loop, sigusr1_restored: None) -> None:
    calls: list[int] = []
    a = ev.Async(lambda w, revents: calls.append(revents)).start(loop)
    ev.Timer(10.0, noop).start(loop)

    def handler(signum: int, frame: FrameType | None) -> None:
        a.send()

    signal.signal(signal.SIGUSR1, handler)
    os.kill(os.getpid(), signal.SIGUSR1)
    started = time.monotonic()
    run_until(loop, lambda: bool(calls))
    assert time.monotonic() - started < PROMPTLY
    assert calls == [ev.ASYNC]


def test_signal_handler_send_wakes_a_loop_blocked_in_poll(loop: ev.Loop, sigusr1_restored: None) -> None:
    calls: list[int] = []
    a = ev.Async(lambda w, revents: calls.append(revents)).start(loop)
    ev.Timer(10.0, noop).start(loop)

    def handler(signum: int, frame: FrameType | None) -> None:
        a.send()

    signal.signal(signal.SIGUSR1, handler)
    main = threading.get_ident()

    def interrupter() -> None:
        time.sleep(0.05)  # let the loop block first
        signal.pthread_kill(main, signal.SIGUSR1)

    thread = threading.Thread(target=interrupter)
    started = time.monotonic()
    thread.start()
    try:
        run_until(loop, lambda: bool(calls))
    finally:
        thread.join()
    assert time.monotonic() - started < PROMPTLY
    assert calls == [ev.ASYNC]


def test_last_send_of_a_storm_from_another_thread_is_never_lost(loop: ev.Loop, watchdog: ev.Timer) -> None:
    done = threading.Event()
    seen: list[bool] = []

    def cb(w: ev.Async, revents: int) -> None:
        finished = done.is_set()
        seen.append(finished)
        if finished:
            w.stop()

    a = ev.Async(cb).start(loop)

    def sender() -> None:
        for i in range(10_000):
            a.send()
            if i % 100 == 0:
                time.sleep(0)  # let the loop thread run meanwhile
        done.set()
        a.send()

    thread = threading.Thread(target=sender)
    thread.start()
    try:
        # Returns only once the callback has seen the final flag: a lost last
        # send would leave the loop blocked until the watchdog fails the test.
        assert loop.run() is False
    finally:
        thread.join()
    assert seen[-1] is True
    assert 1 <= len(seen) <= 10_001


def test_each_send_made_after_the_previous_callback_gets_its_own_callback(loop: ev.Loop, watchdog: ev.Timer) -> None:
    rounds = 500
    acked = threading.Semaphore(0)
    count: list[int] = []

    def cb(w: ev.Async, revents: int) -> None:
        count.append(revents)
        if len(count) == rounds:
            w.stop()
        acked.release()

    a = ev.Async(cb).start(loop)

    def sender() -> None:
        for _ in range(rounds):
            a.send()
            if not acked.acquire(timeout=WAIT):
                return  # the loop missed a send; the watchdog fails the test

    thread = threading.Thread(target=sender)
    thread.start()
    try:
        assert loop.run() is False
    finally:
        thread.join()
    assert count == [ev.ASYNC] * rounds


def test_send_on_a_closed_loop_does_nothing(backend: ev.Backend) -> None:
    lp = ev.Loop(backend=backend)
    a = ev.Async(noop).start(lp)
    lp.close()
    a.send()
    assert not a.is_active


def test_async_constructor_arguments_are_readable() -> None:
    data = object()
    a = ev.Async(noop, priority=-1, data=data)
    assert (a.callback, a.priority, a.data, a.sent) == (noop, -1, data, False)


def test_async_sent_is_read_only() -> None:
    a = ev.Async(noop)
    with pytest.raises(AttributeError):
        a.sent = True  # type: ignore[misc]


def test_async_wakes_the_loop_when_its_eventfd_reuses_a_just_stopped_io_fd(loop: ev.Loop) -> None:
    # The Io's stale slot (stopped, not yet flushed) must not unregister the
    # wake-up eventfd that was given the same fd number meanwhile.
    r, w = os.pipe()
    io = ev.Io(r, ev.READ, lambda w_, e: None).start(loop)
    loop.run(ev.RUN_NOWAIT)
    io.stop()
    os.close(r)
    os.close(w)
    got: list[str] = []
    sender = ev.Async(lambda w_, e: got.append("async")).start(loop)
    fallback = ev.Timer(30.0, lambda w_, e: got.append("timeout")).start(loop)
    try:
        for _ in range(2):
            got.clear()
            # sent once the loop is blocked in its poll: only the eventfd can wake it
            threading.Timer(0.05, sender.send).start()
            loop.run(ev.RUN_ONCE)
            assert got == ["async"]
    finally:
        fallback.stop()
        sender.stop()
