"""What one poll reports, however it ends: more ready fds than its buffer
holds, a registration that outlived its fd number, a loop closed by Python
code that runs while the loop prepares to poll."""

from __future__ import annotations

import os
import socket
from collections.abc import Iterator

import pytest

import pyev as ev

MANY = 100  # more than the epoll backend's first buffer (64 events)


@pytest.fixture
def readable_pipes() -> Iterator[list[int]]:
    pipes = [os.pipe() for _ in range(MANY)]
    for _, w in pipes:
        os.write(w, b"x")
    yield [r for r, _ in pipes]
    for r, w in pipes:
        os.close(r)
        os.close(w)


def test_more_ready_fds_than_the_poll_buffer_holds_all_get_their_events(
    loop: ev.Loop, readable_pipes: list[int]
) -> None:
    got: list[int] = []
    for r in readable_pipes:
        ev.Io(r, ev.READ, lambda w, revents: (got.append(w.fd), w.stop())).start(loop)
    loop.run(ev.RUN_ONCE)
    first = list(got)
    assert len(first) >= 64  # a full buffer's worth, and only real events
    assert set(first) <= set(readable_pipes)
    loop.run(ev.RUN_NOWAIT)
    assert sorted(got) == sorted(readable_pipes)


def test_a_watched_fd_closed_while_a_copy_stays_open_does_not_keep_the_loop_busy(loop: ev.Loop) -> None:
    a, b = socket.socketpair()
    b.send(b"x")  # a is readable, and stays so
    copy = os.dup(a.fileno())  # the file outlives the number
    w = ev.Io(a, ev.READ, lambda w_, revents: None).start(loop)
    loop.run(ev.RUN_NOWAIT)  # registered
    w.stop()
    a.close()  # before the loop could tell the kernel
    start = loop.iteration
    ev.Timer(0.2, lambda w_, revents: None).start(loop)
    loop.run()
    # A few polls for the timer; a registration left reporting the old file
    # would wake every one of them at once, hundreds of thousands of times.
    assert loop.iteration - start < 50
    os.close(copy)
    b.close()


def test_run_returns_when_python_code_run_before_the_poll_closes_the_loop(
    loop: ev.Loop, pipe: tuple[int, int]
) -> None:
    # Python code runs between the loop's break check and its poll: the
    # backend's modify (flushing fd changes), signal handlers, finalizers.
    # A signal handler that closes the loop there stands in for all of them.
    backend = loop._backend
    modify = backend.modify

    def modify_then_close(*args: object) -> None:
        modify(*args)  # type: ignore[arg-type]
        loop.close()

    backend.modify = modify_then_close  # type: ignore[method-assign]
    ev.Io(pipe[0], ev.READ, lambda w, revents: None).start(loop)
    assert loop.run() is False
    assert loop.closed
