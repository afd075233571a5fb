"""Small helpers shared by the watcher tests."""

from __future__ import annotations

import os
from collections.abc import Callable
from typing import Any

import pyev as ev

# A generous bound for "promptly": far below the 5-10 s timers the tests keep
# active to show that the loop did not wait for them, far above any scheduler
# delay.
PROMPTLY = 2.5


def noop(w: Any, revents: int) -> None:
    pass


def run_until(loop: ev.Loop, done: Callable[[], bool], limit: float = 5.0) -> None:
    """Run ``RUN_ONCE`` iterations until ``done()``; fail after ``limit``
    seconds instead of hanging (the guard timer does not keep the loop alive)."""

    def hung(w: ev.Timer, revents: int) -> None:
        raise AssertionError(f"condition not reached within {limit} s")

    guard = ev.Timer(limit, hung).start(loop)
    guard.keepalive = False
    try:
        while not done():
            loop.run(ev.RUN_ONCE)
    finally:
        guard.stop()


def assert_loop_runs_a_timer(loop: ev.Loop) -> None:
    """The loop is consistent and still fires a timer."""
    loop.verify()
    fired: list[int] = []
    ev.Timer(0.001, lambda w, revents: fired.append(revents)).start(loop)
    loop.run()
    assert fired == [ev.TIMER]
    loop.verify()


def pipe_at(fd: int) -> tuple[int, int]:
    """A new pipe whose read end has the (closed) descriptor number ``fd``.

    The kernel hands out the lowest free number, so normally ``os.pipe()``
    gives ``fd`` back; if something else freed a lower number meanwhile, the
    read end is moved there with ``dup2`` so the reuse still happens."""
    r, w = os.pipe()
    if r != fd:
        if w == fd:
            moved = os.dup(w)
            os.close(w)
            w = moved
        os.dup2(r, fd)
        os.close(r)
        r = fd
    return r, w


def close_quietly(*fds: int) -> None:
    for fd in fds:
        try:
            os.close(fd)
        except OSError:
            pass
