"""A forked child that disposes of a loop it inherited must leave the
parent's loop working.

After ``fork`` the child holds copies of the loop's kernel objects (the
epoll set, the inotify instance, pidfds), which are the same kernel objects
as the parent's. However the child gets rid of the loop (``close()``,
dropping the last reference, or either after ``loop.fork()``), it may only
close its own copies of the fds: the parent's Child, Io and Stat watchers
still fire afterwards.

Everything runs inside ``in_child``; the function it runs plays the parent:
it forks a worker (watched with a Child watcher) and then the child that
disposes of the loop, and reaps both.
"""

from __future__ import annotations

import gc
import os
import weakref
from collections.abc import Callable
from pathlib import Path

import pytest

import pyev as ev

InChild = Callable[[Callable[[], object]], object]
Watchdog = Callable[..., ev.Timer]

DISPOSALS = ["close", "drop", "fork_then_close", "fork_then_drop"]


class Holder:
    """The only references to the loop and its watchers, so that the child
    can drop them all."""

    def __init__(self) -> None:
        self.loop: ev.Loop | None = None
        self.watchers: list[ev.Watcher] = []


def _dispose(holder: Holder, how: str) -> int:
    """Runs in the forked child: get rid of the inherited loop ``how``.
    Returns the exit code (0: done as asked)."""
    loop = holder.loop
    assert loop is not None
    if how.startswith("fork_then_"):
        loop.fork()
    if how.endswith("close"):
        loop.close()
        return 0
    ref = weakref.ref(loop)
    del loop
    holder.loop = None
    holder.watchers.clear()
    gc.collect()
    return 0 if ref() is None else 3  # 3: the loop was not collected, nothing tested


def _watch(holder: Holder, backend: ev.Backend, worker: int, fd: int, path: Path, fired: list[object]) -> None:
    """Start a Child, an Io and a Stat watcher on a new loop kept by ``holder``
    only, and register them all with the kernel."""

    def on_child(w: ev.Child, revents: int) -> None:
        fired.append(["child", revents, w.exit_code])
        w.stop()

    def on_io(w: ev.Io, revents: int) -> None:
        os.read(fd, 1)
        fired.append(["io", revents])
        w.stop()

    def on_stat(w: ev.Stat, revents: int) -> None:
        fired.append(["stat", revents])
        w.stop()

    loop = holder.loop = ev.Loop(backend=backend)
    holder.watchers = [
        ev.Child(worker, on_child).start(loop),
        ev.Io(fd, ev.READ, on_io).start(loop),
        ev.Stat(path, on_stat).start(loop),
    ]
    loop.run(ev.RUN_NOWAIT)


@pytest.mark.parametrize("how", DISPOSALS)
def test_parent_child_io_and_stat_watchers_still_fire_after_a_forked_child_disposed_of_the_loop(
    backend: ev.Backend, how: str, in_child: InChild, watchdog: Watchdog, tmp_path: Path
) -> None:
    watched = tmp_path / "watched"
    watched.write_text("x")

    def parent() -> object:
        gate_r, gate_w = os.pipe()
        worker = os.fork()
        if worker == 0:  # pragma: no cover - runs in the worker
            os.read(gate_r, 1)
            os._exit(7)
        os.close(gate_r)
        io_r, io_w = os.pipe()
        fired: list[object] = []
        holder = Holder()
        _watch(holder, backend, worker, io_r, watched, fired)

        disposer = os.fork()
        if disposer == 0:  # pragma: no cover - runs in the child
            code = 1
            try:
                code = _dispose(holder, how)
            finally:
                os._exit(code)
        _, status = os.waitpid(disposer, 0)
        assert os.waitstatus_to_exitcode(status) == 0

        loop = holder.loop
        assert loop is not None
        os.write(gate_w, b"x")  # the worker exits
        os.write(io_w, b"x")
        watched.write_text("changed")
        watchdog(loop)
        loop.run()  # until all three fired (each stops itself)
        loop.close()
        for fd in (gate_w, io_r, io_w):
            os.close(fd)
        return sorted(fired, key=str)

    assert in_child(parent) == [["child", ev.CHILD, 7], ["io", ev.READ], ["stat", ev.STAT]]
