"""Loop.fork, Fork watchers, forkcheck=True and the default loop in a child.

Every fork happens inside ``in_child`` (a forked copy of the test process),
so the test process' signal state and children are never touched; where a
test needs a parent and a child of its own, the function run by ``in_child``
forks again and always reaps that child.
"""

from __future__ import annotations

import os
import signal
import socket
import threading
import time
from collections.abc import Callable

import pytest

import pyev as ev

InChild = Callable[[Callable[[], object]], object]
Watchdog = Callable[..., ev.Timer]


class Boom(Exception):
    pass


def _fork_and_wait(child: Callable[[], None]) -> None:
    """Fork; the child runs ``child`` and exits with 0, or 1 if it raised.
    The parent waits for it and fails if it failed."""
    pid = os.fork()
    if pid == 0:  # pragma: no cover - runs in the child
        code = 1
        try:
            child()
            code = 0
        finally:
            os._exit(code)
    _, status = os.waitpid(pid, 0)
    assert os.waitstatus_to_exitcode(status) == 0


def _reading_io(fd: int, log: list[object], name: str = "io") -> ev.Io:
    def on_read(w: ev.Io, revents: int) -> None:
        os.read(fd, 1)
        log.append([name, revents])

    return ev.Io(fd, ev.READ, on_read)


def test_fork_watchers_run_before_prepare_in_the_next_iteration_in_the_child(
    loop: ev.Loop, in_child: InChild
) -> None:
    log: list[str] = []
    watchers: list[ev.Watcher] = [
        ev.Fork(lambda w, revents: log.append("fork")).start(loop),
        ev.Prepare(lambda w, revents: log.append("prepare")).start(loop),
        ev.Check(lambda w, revents: log.append("check")).start(loop),
    ]
    loop.run(ev.RUN_NOWAIT)
    log.clear()

    def child() -> object:
        loop.fork()
        loop.run(ev.RUN_NOWAIT)
        first = list(log)
        log.clear()
        loop.run(ev.RUN_NOWAIT)
        return [first, log]

    assert in_child(child) == [["fork", "prepare", "check"], ["prepare", "check"]]
    loop.run(ev.RUN_NOWAIT)
    assert log == ["prepare", "check"]
    for w in watchers:
        w.stop()


def test_fork_watcher_gets_the_fork_event(loop: ev.Loop, in_child: InChild) -> None:
    got: list[int] = []
    fork = ev.Fork(lambda w, revents: got.append(revents)).start(loop)

    def child() -> object:
        loop.fork()
        loop.run(ev.RUN_NOWAIT)
        return got

    assert in_child(child) == [ev.FORK]
    fork.stop()


def test_io_watcher_started_before_fork_works_in_the_child(
    loop: ev.Loop, pipe: tuple[int, int], in_child: InChild, watchdog: Watchdog
) -> None:
    r, w = pipe
    log: list[object] = []
    io = _reading_io(r, log).start(loop)
    loop.run(ev.RUN_NOWAIT)

    def child() -> object:
        loop.fork()
        watchdog(loop)
        loop.run(ev.RUN_NOWAIT)
        os.write(w, b"c")
        loop.run(ev.RUN_ONCE)
        return log

    assert in_child(child) == [["io", ev.READ]]
    io.stop()


def test_parent_loop_keeps_working_after_the_child_used_and_closed_its_copy(
    loop: ev.Loop, pipe: tuple[int, int], in_child: InChild, watchdog: Watchdog
) -> None:
    r, w = pipe
    log: list[object] = []
    io = _reading_io(r, log).start(loop)
    loop.run(ev.RUN_NOWAIT)

    def child() -> object:
        loop.fork()
        watchdog(loop)
        os.write(w, b"c")
        loop.run(ev.RUN_ONCE)
        io.stop()
        loop.run(ev.RUN_NOWAIT)
        loop.close()
        return log

    assert in_child(child) == [["io", ev.READ]]
    watchdog(loop)
    os.write(w, b"p")
    loop.run(ev.RUN_ONCE)
    assert log == [["io", ev.READ]]
    io.stop()


def test_calling_fork_without_forking_keeps_the_loop_working(
    loop: ev.Loop, pipe: tuple[int, int], watchdog: Watchdog
) -> None:
    r, w = pipe
    log: list[object] = []
    io = _reading_io(r, log).start(loop)
    fork = ev.Fork(lambda w, revents: log.append(["fork", revents])).start(loop)
    loop.run(ev.RUN_NOWAIT)
    loop.fork()
    watchdog(loop)
    os.write(w, b"x")
    loop.run(ev.RUN_ONCE)
    assert log == [["fork", ev.FORK], ["io", ev.READ]]
    io.stop()
    fork.stop()


def test_forkcheck_loop_notices_the_fork_by_itself(
    backend: ev.Backend, pipe: tuple[int, int], in_child: InChild, watchdog: Watchdog
) -> None:
    r, w = pipe
    log: list[object] = []
    with ev.Loop(backend=backend, forkcheck=True) as lp:
        io = _reading_io(r, log).start(lp)
        fork = ev.Fork(lambda watcher, revents: log.append(["fork", revents])).start(lp)
        lp.run(ev.RUN_NOWAIT)
        assert log == []

        def child() -> object:
            watchdog(lp)
            os.write(w, b"c")
            lp.run(ev.RUN_ONCE)
            lp.run(ev.RUN_NOWAIT)
            return log

        assert in_child(child) == [["fork", ev.FORK], ["io", ev.READ]]
        lp.run(ev.RUN_NOWAIT)
        assert log == []
        io.stop()
        fork.stop()


@pytest.mark.usefixtures("clean_default_loop")
def test_default_loop_is_rearmed_in_a_forked_child_by_itself_and_the_parent_keeps_working(
    pipe: tuple[int, int], in_child: InChild, watchdog: Watchdog
) -> None:
    r, w = pipe
    log: list[object] = []
    lp = ev.default_loop()
    io = _reading_io(r, log).start(lp)
    fork = ev.Fork(lambda watcher, revents: log.append(["fork", revents])).start(lp)
    lp.run(ev.RUN_NOWAIT)

    def child() -> object:
        same = ev.default_loop() is lp
        watchdog(lp)
        os.write(w, b"c")
        lp.run(ev.RUN_ONCE)
        io.stop()
        lp.run(ev.RUN_NOWAIT)
        return [same, log]

    assert in_child(child) == [True, [["fork", ev.FORK], ["io", ev.READ]]]
    watchdog(lp)
    os.write(w, b"p")
    lp.run(ev.RUN_ONCE)
    assert log == [["io", ev.READ]]
    io.stop()
    fork.stop()


def test_fork_watcher_that_raises_is_not_called_again_for_the_same_fork(
    loop: ev.Loop, pipe: tuple[int, int], in_child: InChild, watchdog: Watchdog
) -> None:
    r, w = pipe
    log: list[object] = []

    def raising(watcher: ev.Fork, revents: int) -> None:
        log.append("raising fork")
        raise Boom

    ev.Fork(raising, priority=1).start(loop)
    ev.Fork(lambda watcher, revents: log.append("other fork")).start(loop)
    io = _reading_io(r, log).start(loop)
    loop.run(ev.RUN_NOWAIT)

    def child() -> object:
        loop.fork()
        watchdog(loop)
        try:
            loop.run(ev.RUN_NOWAIT)
        except Boom:
            log.append("raised")
        os.write(w, b"c")
        loop.run(ev.RUN_ONCE)
        loop.run(ev.RUN_NOWAIT)
        return log

    assert in_child(child) == ["raising fork", "raised", "other fork", ["io", ev.READ]]
    io.stop()


def _wait_for_a_signal_in_the_poll(
    lp: ev.Loop, got: list[int], watchdog: Watchdog
) -> None:
    """Send SIGUSR1 to the main thread (not the process) while it is blocked
    in the poll, and run the loop until the Signal watcher has it; fail if
    that does not happen promptly."""
    main = threading.main_thread().ident
    assert main is not None
    watchdog(lp, 2.0)
    sender = threading.Timer(0.05, signal.pthread_kill, (main, signal.SIGUSR1))
    sender.start()
    try:
        while not got:
            lp.run(ev.RUN_ONCE)
    finally:
        sender.join()


def test_parent_signal_watcher_keeps_working_after_the_child_changed_its_signal_watchers(
    backend: ev.Backend, in_child: InChild, watchdog: Watchdog
) -> None:
    def parent() -> object:
        lp = ev.Loop(backend=backend)
        got: list[int] = []
        usr1 = ev.Signal(signal.SIGUSR1, lambda w, revents: got.append(revents)).start(
            lp
        )
        lp.run(ev.RUN_NOWAIT)

        def child() -> None:
            lp.fork()
            lp.run(ev.RUN_NOWAIT)
            ev.Signal(signal.SIGUSR2, lambda w, revents: None).start(lp)
            usr1.stop()
            lp.run(ev.RUN_NOWAIT)

        _fork_and_wait(child)
        _wait_for_a_signal_in_the_poll(lp, got, watchdog)
        usr1.stop()
        lp.close()
        return got

    assert in_child(parent) == [ev.SIGNAL]


def test_parent_default_loop_keeps_its_signal_watcher_after_the_child_closed_its_copy(
    in_child: InChild, watchdog: Watchdog
) -> None:
    def parent() -> object:
        lp = ev.default_loop()
        got: list[int] = []
        usr1 = ev.Signal(signal.SIGUSR1, lambda w, revents: got.append(revents)).start(
            lp
        )
        lp.run(ev.RUN_NOWAIT)
        _fork_and_wait(lambda: ev.default_loop().close())
        _wait_for_a_signal_in_the_poll(lp, got, watchdog)
        usr1.stop()
        lp.close()
        return got

    assert in_child(parent) == [ev.SIGNAL]


def test_child_stopping_inherited_watchers_before_rearming_leaves_the_parents_working(
    in_child: InChild, watchdog: Watchdog
) -> None:
    """A forked child that stops the parent's Child and Signal watchers right
    away (before its loop ran) must not touch the kernel objects it still
    shares with the parent: the parent still hears its child exit and its
    signal arrive while it polls."""

    def parent() -> object:
        lp = ev.default_loop()
        log: list[object] = []
        signals: list[int] = []
        worker = os.fork()
        if worker == 0:  # pragma: no cover - runs in the child
            time.sleep(0.2)
            os._exit(7)
        exits = ev.Child(worker, lambda w, revents: (log.append(w.exit_code), w.stop())).start(lp)
        usr1 = ev.Signal(signal.SIGUSR1, lambda w, revents: signals.append(revents)).start(lp)

        def child() -> None:
            exits.stop()
            usr1.stop()

        _fork_and_wait(child)
        watchdog(lp, 5.0)
        while exits.is_active:
            lp.run(ev.RUN_ONCE)
        _wait_for_a_signal_in_the_poll(lp, signals, watchdog)
        usr1.stop()
        lp.close()
        return [log, signals]

    assert in_child(parent) == [[7], [ev.SIGNAL]]


def test_run_once_still_blocks_after_fork_when_a_stopped_io_fd_is_ready(loop: ev.Loop) -> None:
    """An Io stopped before Loop.fork() must leave the rebuilt kernel set:
    otherwise its ready fd wakes every poll and RUN_ONCE spins."""
    a, b = socket.socketpair()
    try:
        io = ev.Io(a, ev.WRITE, lambda w, revents: None).start(loop)
        loop.run(ev.RUN_NOWAIT)
        io.stop()
        loop.fork()
        fired: list[int] = []
        ev.Timer(0.05, lambda w, revents: fired.append(revents)).start(loop)
        start = time.monotonic()
        loop.run(ev.RUN_ONCE)
        while not fired:
            loop.run(ev.RUN_ONCE)
        assert loop.iteration <= 4, f"{loop.iteration} polls for one 50 ms timer"
        assert time.monotonic() - start >= 0.04
    finally:
        a.close()
        b.close()


def test_run_once_still_blocks_after_fork_with_an_async_and_a_freed_low_fd(loop: ev.Loop) -> None:
    """After fork the wake-up eventfd is replaced; the old number must leave
    the kernel set even when the new one gets a different number."""
    ev.Async(lambda w, revents: None).start(loop)
    loop.run(ev.RUN_NOWAIT)
    spare = os.open("/dev/null", os.O_RDONLY)
    loop.fork()
    os.close(spare)  # a lower number is free for the new eventfd
    loop.run(ev.RUN_NOWAIT)  # rebuild
    fired: list[int] = []
    ev.Timer(0.05, lambda w, revents: fired.append(revents)).start(loop)
    before = loop.iteration
    while not fired:
        loop.run(ev.RUN_ONCE)
    assert loop.iteration - before <= 3, f"{loop.iteration - before} polls for one 50 ms timer"
