"""Subprocesses on Child watchers; add_signal_handler on Signal watchers."""

from __future__ import annotations

import asyncio
import os
import signal
import sys
import threading

import pytest

import pyev as ev
import pyev.aio

from .conftest import run


def test_subprocess_exec_reports_its_exit_code(aio: pyev.aio.EventLoop) -> None:
    async def main() -> tuple[int, bytes]:
        proc = await asyncio.create_subprocess_exec(
            sys.executable, "-c", "import sys; print('out'); sys.exit(7)", stdout=asyncio.subprocess.PIPE
        )
        out, _ = await proc.communicate()
        return proc.returncode or 0, out

    assert run(aio, main()) == (7, b"out\n")


def test_subprocess_killed_by_a_signal_has_a_negative_returncode(aio: pyev.aio.EventLoop) -> None:
    async def main() -> int | None:
        proc = await asyncio.create_subprocess_exec(sys.executable, "-c", "import time; time.sleep(30)")
        proc.terminate()
        return await proc.wait()

    assert run(aio, main()) == -signal.SIGTERM


def test_subprocess_while_a_signal_watcher_is_active_is_born_with_no_blocked_signal(
    ev_loop_signals: ev.Loop,
) -> None:
    loop = pyev.aio.EventLoop(ev_loop_signals)
    loop.add_signal_handler(signal.SIGUSR1, lambda: None)
    try:

        async def main() -> bytes:
            proc = await asyncio.create_subprocess_exec(
                "sh", "-c", "grep SigBlk /proc/self/status", stdout=asyncio.subprocess.PIPE
            )
            out, _ = await proc.communicate()
            return out

        out = run(loop, main())
        assert int(out.split()[1], 16) == 0
    finally:
        loop.remove_signal_handler(signal.SIGUSR1)
        loop.close()


def test_add_signal_handler_runs_the_callback(ev_loop_signals: ev.Loop) -> None:
    loop = pyev.aio.EventLoop(ev_loop_signals)
    try:
        got: list[int] = []
        loop.add_signal_handler(signal.SIGUSR1, got.append, 1)
        os.kill(os.getpid(), signal.SIGUSR1)  # before the loop runs

        async def main() -> None:
            while not got:
                await asyncio.sleep(0.001)
            os.kill(os.getpid(), signal.SIGUSR1)  # while it runs
            while len(got) < 2:
                await asyncio.sleep(0.001)

        run(loop, main())
        assert got == [1, 1]
        assert loop.remove_signal_handler(signal.SIGUSR1)
        assert signal.getsignal(signal.SIGUSR1) == signal.SIG_DFL
        assert not loop.remove_signal_handler(signal.SIGUSR1)
    finally:
        loop.close()


def test_removing_the_sigint_handler_restores_keyboard_interrupt(aio: pyev.aio.EventLoop) -> None:
    aio.add_signal_handler(signal.SIGINT, lambda: None)
    assert aio.remove_signal_handler(signal.SIGINT)
    assert signal.getsignal(signal.SIGINT) is signal.default_int_handler


def test_add_signal_handler_checks_as_asyncio(aio: pyev.aio.EventLoop) -> None:
    async def coro() -> None:
        pass

    with pytest.raises(TypeError):
        aio.add_signal_handler(signal.SIGUSR1, coro)
    with pytest.raises(TypeError):
        aio.add_signal_handler("boom", lambda: None)  # type: ignore[arg-type]
    for bad in (0, -1, signal.NSIG + 1):
        with pytest.raises(ValueError):
            aio.add_signal_handler(bad, lambda: None)
        with pytest.raises(ValueError):
            aio.remove_signal_handler(bad)
    with pytest.raises(RuntimeError):
        aio.add_signal_handler(signal.SIGKILL, lambda: None)
    assert not aio.remove_signal_handler(signal.SIGKILL)
    errors: list[BaseException] = []

    def in_thread() -> None:
        try:
            aio.add_signal_handler(signal.SIGUSR2, lambda: None)
        except RuntimeError as exc:
            errors.append(exc)

    t = threading.Thread(target=in_thread)
    t.start()
    t.join()
    assert len(errors) == 1


def test_a_signal_owned_by_another_loop_raises_runtime_error(aio: pyev.aio.EventLoop) -> None:
    other = pyev.aio.EventLoop()
    try:
        aio.add_signal_handler(signal.SIGUSR2, lambda: None)
        with pytest.raises(RuntimeError):
            other.add_signal_handler(signal.SIGUSR2, lambda: None)
    finally:
        aio.remove_signal_handler(signal.SIGUSR2)
        other.close()


def test_close_removes_signal_handlers(ev_loop: ev.Loop) -> None:
    loop = pyev.aio.EventLoop(ev_loop)
    loop.add_signal_handler(signal.SIGUSR1, lambda: None)
    loop.close()
    assert signal.getsignal(signal.SIGUSR1) == signal.SIG_DFL


def test_signalling_a_child_that_exited_unnoticed_still_reports_its_exit(aio: pyev.aio.EventLoop) -> None:
    # Before 3.13 asyncio signalled through Popen.send_signal, whose poll()
    # reaps a child that has exited: the Child watcher then never saw the
    # exit (uvloop's suite: test_signals_and_custom_handler_1 hung).
    async def main() -> int:
        proc = await asyncio.create_subprocess_exec(sys.executable, "-c", "pass")
        os.waitid(os.P_PID, proc.pid, os.WEXITED | os.WNOWAIT)  # exited, not reaped, the loop not told
        proc.send_signal(signal.SIGUSR1)
        proc.terminate()
        proc.kill()
        return await proc.wait()

    assert run(aio, main()) == 0


def test_a_forked_child_can_take_the_signals_of_the_parents_loop(ev_loop_signals: ev.Loop) -> None:
    # docs/asyncio.md, Fork: the child makes a new loop. The parent's loop
    # let go of its signals in the child, leaving the parent's own delivery
    # (its signalfd, its handlers) as it was (uvloop's suite:
    # test_signals_fork_in_thread).
    loop = pyev.aio.EventLoop(ev_loop_signals)
    got: list[str] = []
    loop.add_signal_handler(signal.SIGUSR1, got.append, "parent")
    loop.add_signal_handler(signal.SIGHUP, got.append, "parent SIGHUP")
    try:
        pid = os.fork()
        if pid == 0:
            code = 1
            try:
                child = pyev.aio.new_event_loop()
                child.add_signal_handler(signal.SIGUSR1, got.append, "child")
                child.add_signal_handler(signal.SIGUSR2, child.stop)
                os.kill(os.getpid(), signal.SIGUSR1)
                os.kill(os.getpid(), signal.SIGUSR2)
                child.call_later(5, child.stop)
                child.run_forever()
                code = 0 if got == ["child"] and signal.getsignal(signal.SIGHUP) == signal.SIG_DFL else 2
            finally:
                os._exit(code)
        _, status = os.waitpid(pid, 0)
        assert os.waitstatus_to_exitcode(status) == 0

        async def main() -> None:
            os.kill(os.getpid(), signal.SIGUSR1)
            while not got:
                await asyncio.sleep(0.001)

        run(loop, main())
        assert got == ["parent"]
    finally:
        loop.close()
    assert signal.getsignal(signal.SIGHUP) == signal.SIG_DFL
