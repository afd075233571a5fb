"""The loop's fast paths keep asyncio's behaviour (tests/benchmarks/aio.py
measures their speed; nothing here times anything).

- call_soon / call_later / call_at are single-frame overrides of asyncio's:
  same checks, same errors, same debug-mode source tracebacks.
- A timer handle made while the ready queue runs is armed when the batch
  ends, still before the poll: one cancelled by the batch that made it never
  starts a pyev Timer; one that is not fires on time.
- The loop's own attributes live in slots, so the instance dict stays small
  enough for CPython to keep its keys shared.
"""

from __future__ import annotations

import asyncio
import time
from typing import Any

import pytest

import pyev as ev
import pyev.aio

from .conftest import run


def _live_timers(loop: pyev.aio.EventLoop) -> int:
    return len(loop.ev._timers)


def test_a_timer_made_and_cancelled_by_one_callback_never_starts_a_pyev_timer(aio: pyev.aio.EventLoop) -> None:
    seen: list[int] = []

    def churn() -> None:
        handles = [aio.call_later(30.0 + i, seen.append, i) for i in range(100)]
        handles += [aio.call_at(aio.time() + 30.0, seen.append, -1)]
        seen.append(_live_timers(aio))
        for h in handles:
            h.cancel()
        seen.append(_live_timers(aio))
        aio.call_soon(aio.stop)

    aio.call_soon(churn)
    aio.run_forever()
    assert seen == [0, 0]
    assert _live_timers(aio) == 0


def test_a_timer_made_by_a_ready_callback_is_armed_before_the_poll(aio: pyev.aio.EventLoop) -> None:
    # Nothing else is active: were the timer not armed before the poll, the
    # poll would block and the stop would never come.
    fired: list[float] = []

    def arm() -> None:
        aio.call_later(0.02, lambda: (fired.append(aio.time()), aio.stop()))

    aio.call_soon(arm)
    t0 = aio.time()
    aio.run_forever()
    assert len(fired) == 1
    assert 0.02 <= fired[0] - t0 < 5.0


def test_timers_made_by_a_batch_fire_in_deadline_order_and_survive_the_batch(aio: pyev.aio.EventLoop) -> None:
    order: list[int] = []

    async def main() -> None:
        loop = asyncio.get_running_loop()
        kept = [loop.call_later(0.001 * (5 - i), order.append, 5 - i) for i in range(5)]
        dropped = loop.call_later(0.001, order.append, 99)
        dropped.cancel()
        assert dropped not in kept
        await asyncio.sleep(0.02)

    run(aio, main())
    assert order == [1, 2, 3, 4, 5]


def test_an_armed_timer_cancelled_later_stops_its_pyev_timer(aio: pyev.aio.EventLoop) -> None:
    ran: list[int] = []

    async def main() -> None:
        loop = asyncio.get_running_loop()
        await asyncio.sleep(0)  # timers made before (the watchdog's) are armed
        before = _live_timers(aio)
        h = loop.call_later(30.0, ran.append, 1)
        await asyncio.sleep(0)  # the batch ends: h is armed
        assert _live_timers(aio) == before + 1
        h.cancel()
        assert _live_timers(aio) == before
        h.cancel()  # twice is harmless, as in asyncio
        assert h.cancelled()

    run(aio, main())
    assert ran == []


def test_a_timer_made_outside_the_batch_is_armed_at_once(aio: pyev.aio.EventLoop) -> None:
    h = aio.call_later(30.0, lambda: None)
    assert _live_timers(aio) == 1
    h.cancel()
    assert _live_timers(aio) == 0


def test_an_interrupted_batch_leaves_its_timers_armed_for_the_next_run(aio: pyev.aio.EventLoop) -> None:
    fired: list[str] = []

    def arm_then_interrupt() -> None:
        aio.call_later(0.01, lambda: (fired.append("timer"), aio.stop()))
        raise KeyboardInterrupt

    aio.call_soon(arm_then_interrupt)
    with pytest.raises(KeyboardInterrupt):
        aio.run_forever()
    aio.run_forever()
    assert fired == ["timer"]


def test_priority_reaches_the_pyev_timer(ev_loop: ev.Loop) -> None:
    loop = pyev.aio.EventLoop(ev_loop, priority=ev.MAXPRI)
    try:
        h: Any = loop.call_later(30.0, lambda: None)
        assert h._watcher.priority == ev.MAXPRI
        h.cancel()
    finally:
        loop.close()


@pytest.mark.parametrize("method", ["call_soon", "call_later", "call_at"])
def test_a_closed_loop_refuses_like_asyncio(method: str) -> None:
    loop = pyev.aio.new_event_loop()
    loop.close()
    args: tuple[Any, ...] = () if method == "call_soon" else (1.0,)
    with pytest.raises(RuntimeError, match="Event loop is closed"):
        getattr(loop, method)(*args, lambda: None)


def test_none_delays_are_refused_like_asyncio(aio: pyev.aio.EventLoop) -> None:
    with pytest.raises(TypeError, match="delay must not be None"):
        aio.call_later(None, lambda: None)  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="when cannot be None"):
        aio.call_at(None, lambda: None)  # type: ignore[arg-type]


def _source_frames(loop: asyncio.AbstractEventLoop, method: str) -> list[tuple[str, str]]:
    def here() -> Any:
        if method == "call_soon":
            return loop.call_soon(lambda: None)
        if method == "call_later":
            return loop.call_later(30.0, lambda: None)
        return loop.call_at(loop.time() + 30.0, lambda: None)

    loop.set_debug(True)
    h = here()
    h.cancel()
    return [(f.name, f.line or "") for f in h._source_traceback[-2:]]


@pytest.mark.parametrize("method", ["call_soon", "call_later", "call_at"])
def test_debug_source_tracebacks_end_at_the_caller_as_in_asyncio(method: str) -> None:
    stock = asyncio.new_event_loop()
    mine = pyev.aio.new_event_loop()
    try:
        theirs = _source_frames(stock, method)
        ours = _source_frames(mine, method)
    finally:
        stock.close()
        mine.close()
    assert ours == theirs
    assert ours[-1][0] == "here"


def test_debug_mode_checks_the_thread_and_the_callback(aio: pyev.aio.EventLoop) -> None:
    aio.set_debug(True)

    async def coro() -> None:
        pass

    for method, args in (("call_soon", ()), ("call_later", (1.0,)), ("call_at", (1.0,))):
        c = coro()
        with pytest.raises(TypeError, match="coroutines cannot be used"):
            getattr(aio, method)(*args, c)
        c.close()


def test_the_instance_dict_keeps_its_keys_shared(aio: pyev.aio.EventLoop) -> None:
    # CPython shares an instance dict's keys (and specialises attribute and
    # method lookups on it) only up to 30 keys; asyncio's own attributes
    # take about 25. The loop's own belong in EventLoop.__slots__.
    assert len(vars(aio)) <= 30, sorted(vars(aio))


def test_a_stop_from_the_batch_still_arms_its_timers(aio: pyev.aio.EventLoop) -> None:
    fired: list[int] = []

    def arm_and_stop() -> None:
        aio.call_later(0.005, fired.append, 1)
        aio.stop()

    aio.call_soon(arm_and_stop)
    aio.run_forever()
    t0 = time.monotonic()
    aio.call_later(0.05, aio.stop)
    aio.run_forever()
    assert fired == [1]
    assert time.monotonic() - t0 < 5.0


def test_a_batch_that_closes_the_pyev_loop_drops_its_unarmed_timers() -> None:
    inner = ev.Loop()
    loop = pyev.aio.EventLoop(inner)
    errors: list[dict[str, Any]] = []
    loop.set_exception_handler(lambda _, context: errors.append(context))

    def arm_then_close() -> None:
        loop.call_later(30.0, lambda: None)
        inner.close()

    loop.call_soon(arm_then_close)
    loop.run_forever()  # returns: its pyev loop is closed
    assert errors == []
    loop.close()


def test_a_deadline_that_is_not_a_float_is_armed_at_once(aio: pyev.aio.EventLoop) -> None:
    async def main() -> None:
        loop = asyncio.get_running_loop()
        await asyncio.sleep(0)
        before = _live_timers(aio)
        h = loop.call_at(int(loop.time()) + 30, lambda: None)
        assert _live_timers(aio) == before + 1
        h.cancel()

    run(aio, main())


def _slot_values(handle: object) -> dict[str, object]:
    values: dict[str, object] = {}
    for cls in type(handle).__mro__:
        for name in getattr(cls, "__slots__", ()):
            if name in ("__weakref__", "_watcher"):
                continue
            values[name] = getattr(handle, name, "<unset>")
    return values


@pytest.mark.parametrize("context", [None, "given"])
def test_a_timer_handle_is_built_as_asyncios_constructor_builds_it(aio: pyev.aio.EventLoop, context: Any) -> None:
    # call_later builds its handle without TimerHandle.__init__: every slot
    # of asyncio's handle classes (on this Python) must hold what that
    # constructor would put there.
    import contextvars

    ctx = contextvars.copy_context() if context else None

    def callback(x: int) -> None:
        pass

    ours: Any = aio.call_at(aio.time() + 60, callback, 1, context=ctx)
    stock: Any = asyncio.TimerHandle(ours.when(), callback, (1,), aio, ctx)
    try:
        mine, theirs = _slot_values(ours), _slot_values(stock)
        assert mine.keys() == theirs.keys()
        for name in mine:
            if name == "_context":
                assert isinstance(mine[name], contextvars.Context)
                if ctx is not None:
                    assert mine[name] is ctx
            else:
                assert mine[name] == theirs[name], name
        assert repr(ours) == repr(stock)
    finally:
        ours.cancel()
    assert ours.cancelled() and ours._callback is None and ours._args is None
    stock.cancel()
    assert _slot_values(ours).keys() == _slot_values(stock).keys()
