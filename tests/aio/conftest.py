"""Fixtures for pyev.aio: every behaviour runs on both backends.

``ev_loop``: a pyev loop on each backend (epoll, poll), closed afterwards.
``ev_loop_signals``: the same, also in both signal mechanisms (signalfd and
the portable handler path).
``aio``: a pyev.aio EventLoop on ``ev_loop``, closed afterwards (before the
pyev loop). ``run(coro)`` runs a coroutine on it with a watchdog.
"""

from __future__ import annotations

import asyncio
from collections.abc import Coroutine, Iterator
from typing import Any, TypeVar

import pytest

import pyev as ev
import pyev.aio

BACKENDS = [pytest.param(ev.Backend.EPOLL, id="epoll"), pytest.param(ev.Backend.POLL, id="poll")]
SIGNALS = [pytest.param(True, id="signalfd"), pytest.param(False, id="handler")]
WATCHDOG_SECONDS = 10.0

T = TypeVar("T")


@pytest.fixture(params=BACKENDS)
def ev_loop(request: pytest.FixtureRequest) -> Iterator[ev.Loop]:
    loop = ev.Loop(backend=request.param)
    yield loop
    loop.close()


@pytest.fixture(params=SIGNALS)
def ev_loop_signals(request: pytest.FixtureRequest, ev_loop: ev.Loop) -> Iterator[ev.Loop]:
    loop = ev.Loop(backend=ev_loop.backend, signalfd=request.param)
    yield loop
    loop.close()


@pytest.fixture
def aio(ev_loop: ev.Loop) -> Iterator[pyev.aio.EventLoop]:
    loop = pyev.aio.EventLoop(ev_loop)
    yield loop
    loop.close()


def run(loop: asyncio.AbstractEventLoop, coro: Coroutine[Any, Any, T]) -> T:
    """run_until_complete with a watchdog: a hang fails instead of blocking."""
    return loop.run_until_complete(asyncio.wait_for(coro, WATCHDOG_SECONDS))
