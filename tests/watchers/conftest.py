"""Fixtures for the watcher tests (the shared ``loop`` and ``rec`` come from
tests/conftest.py)."""

from __future__ import annotations

import os
import socket
from collections.abc import Iterator

import pytest

import pyev as ev

from .helpers import close_quietly

WATCHDOG_SECONDS = 5.0


@pytest.fixture
def watchdog(loop: ev.Loop) -> Iterator[ev.Timer]:
    """A timer that fails a hung ``run()`` fast; it does not keep the loop alive."""

    def hung(w: ev.Timer, revents: int) -> None:
        raise AssertionError(f"watchdog: the loop ran {WATCHDOG_SECONDS} s without finishing the test")

    dog = ev.Timer(WATCHDOG_SECONDS, hung).start(loop)
    dog.keepalive = False
    yield dog
    if not loop.closed:
        dog.stop()


@pytest.fixture
def pipe() -> Iterator[tuple[int, int]]:
    """An empty pipe (read end, write end)."""
    r, w = os.pipe()
    yield r, w
    close_quietly(r, w)


@pytest.fixture
def socketpair() -> Iterator[tuple[socket.socket, socket.socket]]:
    """A connected, non-blocking pair of stream sockets with nothing to read."""
    a, b = socket.socketpair()
    a.setblocking(False)
    b.setblocking(False)
    yield a, b
    a.close()
    b.close()


@pytest.fixture(params=["inotify", "polling"])
def mechanism(request: pytest.FixtureRequest) -> str:
    """How a Tree watcher sees changes: each tree test runs on both."""
    kind: str = request.param
    return kind


@pytest.fixture
def tree_loop(mechanism: str) -> Iterator[ev.Loop]:
    """An epoll loop whose Tree watchers use ``mechanism`` (polling: the
    portable profile, ``Loop(inotify=False)``)."""
    lp = ev.Loop(backend=ev.Backend.EPOLL, inotify=mechanism == "inotify")
    yield lp
    lp.close()
