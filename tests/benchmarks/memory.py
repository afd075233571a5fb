"""Bytes per idle watcher: memory_timer, memory_io."""

from __future__ import annotations

import socket
from collections.abc import Callable
from typing import Any

from common import (
    Result,
    aio_loop,
    gevent_loop,
    idle_socketpairs,
    impl,
    noop,
    pyev_loop,
)

# --- 11. memory -------------------------------------------------------------


def traced_delta(n: int, setup: Callable[[], None], create: Callable[[list[Any]], None]) -> Result:
    """Bytes per object that ``create`` allocates while filling ``keep``.

    ``setup`` runs first (and untraced-for-the-result) so one-off structures
    are not charged to the objects; the callback is one shared function and
    ``keep`` is preallocated, so neither counts.
    """
    import gc
    import tracemalloc

    setup()
    keep: list[Any] = [None] * n
    gc.collect()
    gc.disable()
    tracemalloc.start()
    before = tracemalloc.get_traced_memory()[0]
    create(keep)
    after = tracemalloc.get_traced_memory()[0]
    tracemalloc.stop()
    gc.enable()
    return (after - before) / n, {"n": n, "method": "tracemalloc"}


@impl("memory_timer", "pyev")
def memory_timer_pyev(library: str, size: dict[str, float]) -> Result:
    import pyev as ev

    n = int(size["memory_timer"])
    loop = pyev_loop()
    Timer = ev.Timer

    def setup() -> None:
        Timer(1.0, noop).start(loop).stop()

    def create(keep: list[Any]) -> None:
        for i in range(n):
            keep[i] = Timer(100.0 + i, noop).start(loop)

    return traced_delta(n, setup, create)


@impl("memory_timer", "gevent")
def memory_timer_gevent(library: str, size: dict[str, float]) -> Result:
    n = int(size["memory_timer"])
    loop = gevent_loop()
    timer = loop.timer

    def setup() -> None:
        w = timer(1.0)
        w.start(noop)
        w.stop()

    def create(keep: list[Any]) -> None:
        for i in range(n):
            w = timer(100.0 + i)
            w.start(noop)
            keep[i] = w

    return traced_delta(n, setup, create)


@impl("memory_timer", "asyncio", "uvloop")
def memory_timer_aio(library: str, size: dict[str, float]) -> Result:
    n = int(size["memory_timer"])
    loop = aio_loop(library)
    call_later = loop.call_later

    def setup() -> None:
        call_later(1.0, noop).cancel()

    def create(keep: list[Any]) -> None:
        for i in range(n):
            keep[i] = call_later(100.0 + i, noop)

    result = traced_delta(n, setup, create)
    loop.close()
    return result


def memory_io_fds(n: int) -> list[socket.socket]:
    socks, _ = idle_socketpairs(n)
    if len(socks) < n:
        raise RuntimeError(f"only {len(socks)} fds available, {n} needed")
    return socks


@impl("memory_io", "pyev")
def memory_io_pyev(library: str, size: dict[str, float]) -> Result:
    import pyev as ev

    n = int(size["memory_io"])
    socks = memory_io_fds(n)
    fds = [s.fileno() for s in socks]
    loop = pyev_loop()
    Io, READ = ev.Io, ev.READ

    def setup() -> None:
        Io(fds[0], READ, noop).start(loop).stop()
        loop.run(ev.RUN_NOWAIT)

    def create(keep: list[Any]) -> None:
        for i, fd in enumerate(fds):
            keep[i] = Io(fd, READ, noop).start(loop)
        loop.run(ev.RUN_NOWAIT)  # the registrations are flushed in the loop

    return traced_delta(n, setup, create)


@impl("memory_io", "gevent")
def memory_io_gevent(library: str, size: dict[str, float]) -> Result:
    n = int(size["memory_io"])
    socks = memory_io_fds(n)
    fds = [s.fileno() for s in socks]
    loop = gevent_loop()
    io = loop.io

    def setup() -> None:
        w = io(fds[0], 1)
        w.start(noop)
        w.stop()
        loop.run(nowait=True)

    def create(keep: list[Any]) -> None:
        for i, fd in enumerate(fds):
            w = io(fd, 1)
            w.start(noop)
            keep[i] = w
        loop.run(nowait=True)

    return traced_delta(n, setup, create)


@impl("memory_io", "asyncio", "uvloop")
def memory_io_aio(library: str, size: dict[str, float]) -> Result:
    n = int(size["memory_io"])
    socks = memory_io_fds(n)
    fds = [s.fileno() for s in socks]
    loop = aio_loop(library)

    def setup() -> None:
        loop.add_reader(fds[0], noop)
        loop.remove_reader(fds[0])

    def create(keep: list[Any]) -> None:
        for fd in fds:
            loop.add_reader(fd, noop)
        loop.call_soon(loop.stop)
        loop.run_forever()

    result = traced_delta(n, setup, create)
    loop.close()
    return result
