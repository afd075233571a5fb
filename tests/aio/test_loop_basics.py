"""The asyncio face: construction, ownership, the ready queue, timers, threads, stop."""

from __future__ import annotations

import asyncio
import math
import sys
import threading
import time

import pytest

import pyev as ev
import pyev.aio

from .conftest import run


def test_import_pyev_alone_does_not_import_asyncio() -> None:
    import subprocess

    code = "import sys, pyev; print('asyncio' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


def test_event_loop_is_an_asyncio_loop_with_its_pyev_loop(aio: pyev.aio.EventLoop, ev_loop: ev.Loop) -> None:
    assert isinstance(aio, asyncio.AbstractEventLoop)
    assert aio.ev is ev_loop


def test_an_owned_pyev_loop_is_closed_with_the_asyncio_loop() -> None:
    loop = pyev.aio.EventLoop()
    inner = loop.ev
    loop.close()
    assert inner.closed


def test_a_borrowed_pyev_loop_is_left_open_and_usable(ev_loop: ev.Loop) -> None:
    loop = pyev.aio.EventLoop(ev_loop)
    run(loop, asyncio.sleep(0.001))
    loop.close()
    assert not ev_loop.closed
    fired = []
    ev.Timer(0.001, lambda w, r: fired.append(r)).start(ev_loop)
    ev_loop.run()
    assert fired == [ev.TIMER]


def test_a_closed_pyev_loop_is_refused() -> None:
    inner = ev.Loop()
    inner.close()
    with pytest.raises(ev.Error):
        pyev.aio.EventLoop(inner)


def test_new_event_loop_and_run(ev_loop: ev.Loop) -> None:
    async def main() -> asyncio.AbstractEventLoop:
        return asyncio.get_running_loop()

    loop = pyev.aio.new_event_loop(ev_loop)
    assert isinstance(loop, pyev.aio.EventLoop) and loop.ev is ev_loop
    loop.close()
    ran_on = pyev.aio.run(main(), ev_loop=ev_loop)
    assert isinstance(ran_on, pyev.aio.EventLoop) and ran_on.ev is ev_loop and ran_on.is_closed()
    with asyncio.Runner(loop_factory=pyev.aio.new_event_loop) as runner:
        assert isinstance(runner.run(main()), pyev.aio.EventLoop)


def test_run_refuses_a_running_loop(aio: pyev.aio.EventLoop) -> None:
    async def main() -> None:
        coro = asyncio.sleep(0)
        with pytest.raises(RuntimeError, match="running event loop"):
            pyev.aio.run(coro)
        coro.close()

    run(aio, main())


def test_call_soon_runs_in_order_and_callbacks_scheduled_by_callbacks_wait_an_iteration(
    aio: pyev.aio.EventLoop,
) -> None:
    order: list[str] = []
    iterations: dict[str, int] = {}

    def first() -> None:
        order.append("first")
        iterations["first"] = aio.ev.iteration
        aio.call_soon(later)

    def later() -> None:
        order.append("later")
        iterations["later"] = aio.ev.iteration

    aio.call_soon(first)
    aio.call_soon(order.append, "second")
    aio.call_soon(aio.stop)
    aio.run_forever()
    # stop() finishes the batch it is in: 'later' was scheduled into the next one.
    assert order == ["first", "second"]
    aio.call_soon(aio.stop)
    aio.run_forever()
    assert order == ["first", "second", "later"]
    assert iterations["later"] > iterations["first"]


def test_cancelled_call_soon_handles_do_not_run(aio: pyev.aio.EventLoop) -> None:
    order: list[int] = []
    h = aio.call_soon(order.append, 1)
    aio.call_soon(order.append, 2)
    h.cancel()
    aio.call_soon(aio.stop)
    aio.run_forever()
    assert order == [2]


def test_call_later_fires_in_deadline_order_and_not_early(aio: pyev.aio.EventLoop) -> None:
    fired: list[tuple[str, float]] = []
    start = aio.time()
    for name, delay in (("c", 0.03), ("a", 0.01), ("b", 0.02)):
        aio.call_later(delay, lambda n=name: fired.append((n, aio.time())))
    aio.call_later(0.05, aio.stop)
    aio.run_forever()
    assert [n for n, _ in fired] == ["a", "b", "c"]
    for (name, when), delay in zip(fired, (0.01, 0.02, 0.03), strict=True):
        assert when - start >= delay, name


def test_call_at_returns_a_timer_handle_and_cancel_stops_it(aio: pyev.aio.EventLoop) -> None:
    fired: list[int] = []
    h = aio.call_at(aio.time() + 0.01, fired.append, 1)
    assert isinstance(h, asyncio.TimerHandle)
    assert h.when() > aio.time() - 1
    h.cancel()
    h.cancel()
    aio.call_later(0.03, aio.stop)
    aio.run_forever()
    assert fired == []


def test_a_due_timer_runs_after_the_callbacks_already_queued(aio: pyev.aio.EventLoop) -> None:
    order: list[str] = []
    aio.call_soon(order.append, "soon")
    aio.call_later(0, order.append, "later-0")
    aio.call_later(-1, order.append, "later-negative")
    aio.call_soon(aio.stop)
    aio.run_forever()
    assert order == ["soon", "later-0", "later-negative"]


def test_call_later_cancel_churn_leaves_no_timer_on_the_pyev_loop(aio: pyev.aio.EventLoop) -> None:
    handles = [aio.call_later(10 + i, lambda: None) for i in range(1000)]
    for h in handles:
        h.cancel()
    assert not aio._timer_watchers
    aio.ev.verify()


def test_call_soon_threadsafe_wakes_a_blocked_loop(aio: pyev.aio.EventLoop) -> None:
    async def main() -> str:
        fut: asyncio.Future[str] = aio.create_future()

        def worker() -> None:
            aio.call_soon_threadsafe(fut.set_result, threading.current_thread().name)

        t = threading.Thread(target=worker, name="worker")
        t.start()
        result = await fut
        t.join()
        return result

    assert run(aio, main()) == "worker"


def test_run_in_executor(aio: pyev.aio.EventLoop) -> None:
    assert run(aio, aio.run_in_executor(None, sum, [1, 2, 3])) == 6


def test_nested_run_of_the_same_loop_raises(aio: pyev.aio.EventLoop) -> None:
    async def main() -> None:
        coro = asyncio.sleep(0)
        with pytest.raises(RuntimeError, match="already running"):
            aio.run_until_complete(coro)
        coro.close()

    run(aio, main())


def test_stop_before_run_forever_polls_once_and_returns(aio: pyev.aio.EventLoop) -> None:
    ran: list[int] = []
    aio.call_soon(ran.append, 1)
    aio.stop()
    aio.run_forever()
    assert ran == [1]
    assert not aio.is_running()


def test_internal_watchers_do_not_keep_the_pyev_loop_alive(aio: pyev.aio.EventLoop) -> None:
    aio.call_later(60, lambda: None)  # pending asyncio work, not running
    r, w = __import__("os").pipe()
    try:
        aio.add_reader(r, lambda: None)
        assert aio.ev.run() is False  # returns at once: nothing of the user's is active
    finally:
        aio.remove_reader(r)
        __import__("os").close(r)
        __import__("os").close(w)


@pytest.mark.parametrize("debug", [False, True], ids=["", "debug"])
@pytest.mark.parametrize("via", ["call_soon", "call_later", "reader"])
def test_an_unretrieved_task_exception_is_reported_as_soon_as_the_task_is_dropped(
    aio: pyev.aio.EventLoop, debug: bool, via: str
) -> None:
    # No reference cycle may keep a failed task alive until the next garbage
    # collection: asyncio reports "exception was never retrieved" from the
    # task's finalizer, and code (and tests) rely on it happening promptly.
    import gc
    import socket

    reported: list[object] = []
    aio.set_debug(debug)
    aio.set_exception_handler(lambda loop, ctx: reported.append(ctx.get("exception")))

    async def fails() -> None:
        raise ZeroDivisionError

    def spawn() -> None:
        asyncio.ensure_future(fails())

    a, b = socket.socketpair()

    def on_readable() -> None:
        aio.remove_reader(a)
        spawn()

    async def main() -> None:
        if via == "call_soon":
            aio.call_soon(spawn)
        elif via == "call_later":
            aio.call_later(0.001, spawn)
        else:
            aio.add_reader(a, on_readable)
            b.send(b"x")
        for _ in range(100):
            await asyncio.sleep(0.001)
            if reported:
                break

    enabled = gc.isenabled()
    gc.disable()
    try:
        run(aio, main())
    finally:
        if enabled:
            gc.enable()
        a.close()
        b.close()
    assert len(reported) == 1 and isinstance(reported[0], ZeroDivisionError)


def test_an_infinite_deadline_never_fires_and_a_nan_one_is_due_at_once(aio: pyev.aio.EventLoop) -> None:
    # asyncio accepts both (uvloop's suite: test_inf_wait_for); a pyev Timer
    # must be finite.
    fired: list[str] = []
    never = aio.call_later(math.inf, fired.append, "inf")
    aio.call_at(math.nan, fired.append, "nan")

    async def main() -> str:
        await asyncio.sleep(0.01)
        return await asyncio.wait_for(asyncio.sleep(0, "done"), math.inf)

    assert run(aio, main()) == "done"
    assert fired == ["nan"]
    assert never.when() == math.inf
    never.cancel()


def test_a_timer_handle_is_named_as_asyncio_names_it(aio: pyev.aio.EventLoop) -> None:
    # Debug mode's slow-callback warning shows the repr ("Executing <TimerHandle ...").
    h = aio.call_later(10, lambda: None)
    assert repr(h).startswith("<TimerHandle when=")
    h.cancel()
    assert repr(h).startswith("<TimerHandle cancelled when=")


def test_new_event_loop_serves_as_a_class_attribute_loop_factory() -> None:
    # IsolatedAsyncioTestCase.loop_factory (3.13+) and similar hooks read a
    # class attribute: the factory must not become a method there.
    class Case:
        loop_factory = pyev.aio.new_event_loop

    loop = Case().loop_factory()
    try:
        assert isinstance(loop, pyev.aio.EventLoop)
        assert loop.run_until_complete(asyncio.sleep(0, "ran")) == "ran"
    finally:
        loop.close()


@pytest.mark.skipif(sys.version_info < (3, 13), reason="IsolatedAsyncioTestCase.loop_factory is new in 3.13")
def test_isolated_asyncio_test_case_runs_on_new_event_loop() -> None:
    import unittest

    seen: list[object] = []

    class Case(unittest.IsolatedAsyncioTestCase):
        loop_factory = pyev.aio.new_event_loop

        async def test_loop(self) -> None:
            seen.append(asyncio.get_running_loop())

    result = unittest.TestResult()
    unittest.defaultTestLoader.loadTestsFromTestCase(Case).run(result)
    assert result.wasSuccessful(), result.errors + result.failures
    assert len(seen) == 1 and isinstance(seen[0], pyev.aio.EventLoop)


def test_a_timer_that_expires_behind_queued_callbacks_runs_after_them(aio: pyev.aio.EventLoop) -> None:
    # asyncio appends expired timer handles to the ready queue behind what
    # is already there; a task that was just created therefore takes its
    # first step before a short timeout made after it fires (wait_for's
    # cancellation relies on it). The busy wait makes sure the timer has
    # expired by the next poll.
    order: list[str] = []

    def first() -> None:
        aio.call_soon(order.append, "queued")
        aio.call_later(0.0001, order.append, "timer")
        until = time.monotonic() + 0.005
        while time.monotonic() < until:
            pass

    aio.call_soon(first)
    aio.call_later(0.05, aio.stop)
    aio.run_forever()
    assert order == ["queued", "timer"]



def test_timers_expiring_together_all_run_before_what_the_first_one_queues(aio: pyev.aio.EventLoop) -> None:
    # asyncio moves every expired timer to the ready queue before it runs
    # any: two timeouts due together both fire before the task step the
    # first one's cancel() queues (nested asyncio.timeout blocks rely on it).
    order: list[str] = []

    def first() -> None:
        order.append("first")
        aio.call_soon(order.append, "queued by first")

    when = aio.time() + 0.001
    aio.call_at(when, first)
    aio.call_at(when, order.append, "second")
    aio.call_later(0.05, aio.stop)
    aio.run_forever()
    assert order == ["first", "second", "queued by first"]
