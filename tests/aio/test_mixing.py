"""pyev watchers and asyncio work on one loop: sharing, priorities,
exceptions, nesting, Ctrl-C, closing."""

from __future__ import annotations

import asyncio
import gc
import os
import pathlib
import signal
import subprocess
import sys
import textwrap
import time
import warnings
from typing import Any

import pytest

import pyev as ev
import pyev.aio

from .conftest import WATCHDOG_SECONDS, run


def test_pyev_timer_io_and_stat_watchers_on_loop_ev_run_with_asyncio_work(
    aio: pyev.aio.EventLoop, tmp_path: pathlib.Path
) -> None:
    path = tmp_path / "config"
    path.write_text("a")
    seen: list[str] = []

    async def main() -> None:
        loop = asyncio.get_running_loop()
        assert isinstance(loop, pyev.aio.EventLoop)
        changed = asyncio.Event()
        readable = asyncio.Event()
        r, w = os.pipe()
        timer = ev.Timer(0.01, lambda wt, revents: seen.append("timer")).start(loop.ev)
        io = ev.Io(r, ev.READ, lambda wt, revents: (seen.append("io"), readable.set(), wt.stop())).start(loop.ev)
        stat = ev.Stat(str(path), lambda wt, revents: (seen.append("stat"), changed.set()), interval=0.01)
        stat.start(loop.ev)
        try:
            await asyncio.sleep(0.02)
            os.write(w, b"x")
            await readable.wait()
            time.sleep(0.01)  # a different mtime for the poll fallback
            path.write_text("bb")
            await changed.wait()
        finally:
            for watcher in (timer, io, stat):
                watcher.stop()
            os.close(r)
            os.close(w)

    run(aio, main())
    assert seen[0] == "timer" and "io" in seen and "stat" in seen


def test_a_pyev_watcher_does_not_keep_run_until_complete_alive(aio: pyev.aio.EventLoop) -> None:
    ev.Timer(60, lambda w, r: None).start(aio.ev)  # the user's, keepalive
    assert run(aio, asyncio.sleep(0, "done")) == "done"


def test_the_ready_queue_runs_before_the_poll_and_check_watchers_after_it(aio: pyev.aio.EventLoop) -> None:
    order: list[str] = []

    def high(w: ev.Check, revents: int) -> None:
        order.append("pyev-high")
        w.stop()

    def low(w: ev.Check, revents: int) -> None:
        order.append("pyev-minpri")
        w.stop()

    aio.call_soon(order.append, "asyncio-soon")
    ev.Check(high, priority=1).start(aio.ev)
    ev.Check(low, priority=ev.MINPRI).start(aio.ev)
    aio.call_soon(aio.stop)
    aio.run_forever()
    # The ready queue runs before the poll; the iteration's Check watchers after it.
    assert order == ["asyncio-soon", "pyev-high", "pyev-minpri"]


def test_an_exception_from_a_pyev_callback_propagates_out_of_run_until_complete(aio: pyev.aio.EventLoop) -> None:
    class Boom(Exception):
        pass

    def raises(w: ev.Timer, revents: int) -> None:
        raise Boom

    ev.Timer(0.001, raises).start(aio.ev)
    task = aio.create_task(asyncio.sleep(0.05, "ok"))
    with pytest.raises(Boom):
        aio.run_until_complete(task)
    assert not aio.is_running()
    # The loop is consistent and can run the same task to completion.
    assert run(aio, task) == "ok"


def test_a_pyev_break_stops_run_until_complete(aio: pyev.aio.EventLoop) -> None:
    ev.Timer(0.001, lambda w, r: aio.ev.break_(ev.BREAK_ALL)).start(aio.ev)
    fut = asyncio.sleep(5)
    with pytest.raises(RuntimeError, match="stopped before Future completed"):
        aio.run_until_complete(fut)
    # the task was created by run_until_complete; finish it
    aio.run_until_complete(asyncio.sleep(0))


def test_a_pyev_program_runs_a_coroutine_from_a_watcher_callback(ev_loop: ev.Loop) -> None:
    results: list[object] = []

    async def work() -> str:
        await asyncio.sleep(0.005)
        proc = await asyncio.create_subprocess_exec("true")
        await proc.wait()
        return "done"

    def on_timer(w: ev.Timer, revents: int) -> None:
        assert ev_loop.depth == 1
        loop = pyev.aio.EventLoop(ev_loop)
        try:
            results.append(run(loop, work()))
        finally:
            loop.close()

    ev.Timer(0.001, on_timer).start(ev_loop)
    ev_loop.run()
    assert results == ["done"]
    assert not ev_loop.closed


def test_a_nested_pyev_run_inside_asyncio_leaves_asyncio_work_for_the_outer_level(
    aio: pyev.aio.EventLoop,
) -> None:
    order: list[str] = []

    async def main() -> None:
        loop = asyncio.get_running_loop()
        loop.call_soon(order.append, "asyncio")
        loop.call_later(0.001, order.append, "asyncio-timer")

        def inner(w: ev.Timer, revents: int) -> None:
            order.append("inner-pyev")

        def outer_cb() -> None:
            ev.Timer(0.01, inner).start(aio.ev)
            aio.ev.run()  # nested: returns once the user's timer is done
            order.append("nested-run-returned")

        outer_cb()
        await asyncio.sleep(0.02)

    run(aio, main())
    assert order.index("nested-run-returned") < order.index("asyncio")
    assert order.index("inner-pyev") < order.index("nested-run-returned")
    assert "asyncio-timer" in order


def test_exceptions_in_asyncio_callbacks_go_to_the_exception_handler(aio: pyev.aio.EventLoop) -> None:
    seen: list[dict[str, object]] = []
    aio.set_exception_handler(lambda loop, ctx: seen.append(ctx))

    def fail() -> None:
        raise ValueError("x")

    aio.call_soon(fail)
    aio.call_later(0.001, fail)
    run(aio, asyncio.sleep(0.01))
    assert [type(c["exception"]) for c in seen] == [ValueError, ValueError]


def _open_fds() -> set[str]:
    return set(os.listdir("/proc/self/fd"))


async def _use_everything() -> None:
    loop = asyncio.get_running_loop()
    server = await asyncio.start_server(lambda r, w: w.close(), "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    await reader.read()
    writer.close()
    await writer.wait_closed()
    server.close()
    await server.wait_closed()
    proc = await asyncio.create_subprocess_exec("true", stdout=asyncio.subprocess.PIPE)
    await proc.communicate()
    loop.call_soon_threadsafe(lambda: None)
    loop.call_later(30, lambda: None)
    await loop.run_in_executor(None, time.sleep, 0)


@pytest.mark.parametrize("owned", [True, False], ids=["owned", "borrowed"])
@pytest.mark.parametrize("backend", [ev.Backend.EPOLL, ev.Backend.POLL], ids=["epoll", "poll"])
def test_close_leaves_no_fd_open_and_warns_nothing(backend: ev.Backend, owned: bool) -> None:
    gc.collect()  # loops other tests dropped without closing
    before = _open_fds()
    handler_calls: list[object] = []
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        ev_loop = ev.Loop(backend=backend)
        loop = pyev.aio.EventLoop(None if owned else ev_loop)
        loop.set_exception_handler(lambda lp, ctx: handler_calls.append(ctx))
        loop.add_signal_handler(signal.SIGUSR1, lambda: None)
        loop.run_until_complete(_use_everything())
        loop.run_until_complete(loop.shutdown_default_executor())
        loop.close()
        assert loop.ev.closed is owned
        ev_loop.close()
    assert handler_calls == []
    assert _open_fds() == before


CLOSE_SCRIPT = textwrap.dedent(
    """
    import asyncio, os, sys
    import pyev as ev
    import pyev.aio

    def fds():
        return sorted(os.listdir("/proc/self/fd"))

    async def main():
        loop = asyncio.get_running_loop()
        ev.Timer(0.001, lambda w, r: None).start(loop.ev)
        await asyncio.sleep(0.01)
        await asyncio.create_subprocess_exec("true")

    before = fds()
    if sys.argv[1] == "owned":
        pyev.aio.run(main())
    else:
        ev_loop = ev.Loop(backend=ev.Backend[sys.argv[1]])
        pyev.aio.run(main(), ev_loop=ev_loop)
        ev_loop.close()
    print(before == fds() or (before, fds()))
    """
)


@pytest.mark.parametrize("loop", ["owned", "EPOLL", "POLL"], ids=["owned", "borrowed-epoll", "borrowed-poll"])
def test_a_program_that_closes_its_loop_is_left_with_no_fd_of_pyevs(loop: str) -> None:
    out = subprocess.run(
        [sys.executable, "-c", CLOSE_SCRIPT, loop],
        capture_output=True,
        text=True,
        timeout=WATCHDOG_SECONDS,
    )
    assert out.stdout.strip() == "True", out.stdout + out.stderr


CTRL_C_SCRIPT = textwrap.dedent(
    """
    import asyncio, sys
    import pyev as ev
    import pyev.aio

    async def main():
        print("ready", flush=True)
        try:
            await asyncio.sleep(60)
        except asyncio.CancelledError:
            print("cancelled", flush=True)
            raise

    try:
        pyev.aio.run(main(), ev_loop=ev.Loop(backend=ev.Backend[sys.argv[1]], signalfd=sys.argv[2] == "signalfd"))
    except KeyboardInterrupt:
        print("KeyboardInterrupt", flush=True)
    """
)


@pytest.mark.parametrize("backend", ["EPOLL", "POLL"])
@pytest.mark.parametrize("mode", ["signalfd", "handler"])
def test_ctrl_c_while_idle_cancels_main_and_raises_keyboard_interrupt(backend: str, mode: str) -> None:
    proc = subprocess.Popen(
        [sys.executable, "-c", CTRL_C_SCRIPT, backend, mode], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )
    try:
        assert proc.stdout is not None
        assert proc.stdout.readline().strip() == "ready"
        time.sleep(0.1)  # let it block in the poll
        start = time.monotonic()
        proc.send_signal(signal.SIGINT)
        out, err = proc.communicate(timeout=WATCHDOG_SECONDS)
        elapsed = time.monotonic() - start
    finally:
        proc.kill()
        proc.wait()
    assert out.split() == ["cancelled", "KeyboardInterrupt"], err
    assert elapsed < WATCHDOG_SECONDS


@pytest.mark.parametrize(("aio_priority", "expected"), [(0, ["pyev", "asyncio"]), (2, ["asyncio", "pyev"])])
def test_the_priority_argument_moves_asyncio_timers_relative_to_user_watchers(
    ev_loop: ev.Loop, aio_priority: int, expected: list[str]
) -> None:
    loop = pyev.aio.EventLoop(ev_loop, priority=aio_priority)
    try:
        order: list[str] = []
        ev.Timer(0.001, lambda w, r: order.append("pyev"), priority=1).start(ev_loop)
        loop.call_later(0.001, order.append, "asyncio")
        time.sleep(0.01)  # both are due at the next poll
        loop.call_later(0.05, loop.stop)
        loop.run_forever()
        assert order == expected
    finally:
        loop.close()


def test_watcher_errors_handler_sends_a_pyev_callback_exception_to_the_exception_handler(ev_loop: ev.Loop) -> None:
    class Boom(Exception):
        pass

    def raises(w: ev.Timer, revents: int) -> None:
        raise Boom("from a watcher")

    loop = pyev.aio.EventLoop(ev_loop, watcher_errors="handler")
    contexts: list[dict[str, Any]] = []
    loop.set_exception_handler(lambda lp, ctx: contexts.append(ctx))
    try:
        ev.Timer(0.001, raises).start(ev_loop)
        ev.Timer(0.002, raises).start(ev_loop)
        # The run goes on past both exceptions and completes.
        assert run(loop, asyncio.sleep(0.05, "ok")) == "ok"
    finally:
        loop.close()
    assert [type(c["exception"]) for c in contexts] == [Boom, Boom]
    assert contexts[0]["ev_loop"] is ev_loop
    assert "pyev watcher" in contexts[0]["message"]


def test_watcher_errors_handler_still_raises_keyboard_interrupt(ev_loop: ev.Loop) -> None:
    def interrupts(w: ev.Timer, revents: int) -> None:
        raise KeyboardInterrupt

    loop = pyev.aio.EventLoop(ev_loop, watcher_errors="handler")
    try:
        ev.Timer(0.001, interrupts).start(ev_loop)
        with pytest.raises(KeyboardInterrupt):
            loop.run_until_complete(asyncio.sleep(5))
    finally:
        loop.close()


def test_watcher_errors_rejects_an_unknown_choice(ev_loop: ev.Loop) -> None:
    with pytest.raises(ValueError, match="watcher_errors"):
        pyev.aio.EventLoop(ev_loop, watcher_errors="ignore")
