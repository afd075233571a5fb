"""Python signal handlers that run while run() is blocked in the poll (the
signal has no Signal watcher): an exception one raises propagates out of
run() and leaves the loop usable; an Async one sends wakes the loop. Each on
signalfd and handler mode, with and without a Signal watcher for another
signal, on both backends."""

from __future__ import annotations

import signal
import threading
from collections.abc import Callable, Iterator
from typing import Any

import pytest

import pyev as ev


class Boom(Exception):
    pass


def noop(w: Any, revents: int) -> None:
    pass


@pytest.fixture
def usr1_handler() -> Iterator[Callable[[Callable[[int, Any], Any]], None]]:
    """Installs a Python handler for SIGUSR1; the old one is restored after."""
    old = signal.getsignal(signal.SIGUSR1)

    def install(handler: Callable[[int, Any], Any]) -> None:
        signal.signal(signal.SIGUSR1, handler)

    try:
        yield install
    finally:
        signal.signal(signal.SIGUSR1, old)


def _signal_main_thread_once_polling(loop: ev.Loop, signum: int) -> None:
    """Right before the first poll, have a thread send ``signum`` to the
    main thread (the loop's) shortly after, while it blocks."""
    main = threading.main_thread().ident
    assert main is not None and threading.get_ident() == main

    def prepare(w: ev.Prepare, revents: int) -> None:
        w.stop()
        threading.Timer(0.02, signal.pthread_kill, (main, signum)).start()

    ev.Prepare(prepare).start(loop)


SIGNAL_SETUPS = [
    pytest.param(True, False, id="signalfd"),
    pytest.param(False, False, id="no-signalfd"),
    pytest.param(True, True, id="signalfd-with-signal-watcher"),
    pytest.param(False, True, id="handler-mode-with-signal-watcher"),
]


@pytest.mark.parametrize(("use_signalfd", "with_watcher"), SIGNAL_SETUPS)
def test_exception_from_a_python_signal_handler_during_the_poll_propagates_out_of_run(
    backend: ev.Backend,
    usr1_handler: Callable[[Callable[[int, Any], Any]], None],
    use_signalfd: bool,
    with_watcher: bool,
) -> None:
    def handler(signum: int, frame: Any) -> None:
        raise Boom

    usr1_handler(handler)
    with ev.Loop(backend=backend, signalfd=use_signalfd) as loop:
        fired: list[int] = []
        # The only keepalive watcher: run() would block for 5 s without the signal.
        long = ev.Timer(5.0, lambda w, revents: fired.append(revents)).start(loop)
        if with_watcher:
            ev.Signal(signal.SIGUSR2, noop).start(loop).keepalive = False
        _signal_main_thread_once_polling(loop, signal.SIGUSR1)
        with pytest.raises(Boom):
            loop.run()
        assert fired == []
        assert loop.depth == 0
        assert long.is_active
        loop.verify()
        # Still usable.
        long.stop()
        ev.Timer(0.001, lambda w, revents: fired.append(revents)).start(loop)
        assert loop.run() is False
        assert fired == [ev.TIMER]


@pytest.mark.parametrize(("use_signalfd", "with_watcher"), SIGNAL_SETUPS)
def test_async_sent_from_a_python_signal_handler_during_the_poll_wakes_the_loop(
    backend: ev.Backend,
    usr1_handler: Callable[[Callable[[int, Any], Any]], None],
    use_signalfd: bool,
    with_watcher: bool,
) -> None:
    log: list[str] = []
    with ev.Loop(backend=backend, signalfd=use_signalfd) as loop:
        long = ev.Timer(5.0, lambda w, revents: log.append("timer")).start(loop)

        def on_async(w: ev.Async, revents: int) -> None:
            log.append("async")
            w.stop()
            long.stop()

        wake = ev.Async(on_async).start(loop)

        def handler(signum: int, frame: Any) -> None:
            log.append("handler")
            wake.send()

        usr1_handler(handler)
        if with_watcher:
            ev.Signal(signal.SIGUSR2, noop).start(loop).keepalive = False
        _signal_main_thread_once_polling(loop, signal.SIGUSR1)
        assert loop.run() is False
        assert log == ["handler", "async"]
        loop.verify()
