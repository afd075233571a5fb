"""Fork and Cleanup watchers (API.md; LIBEV_SEMANTICS 3.10, 3.11, 1.16)."""

from __future__ import annotations

import os

import pytest

import pyev as ev

from .helpers import noop


class Boom(Exception):
    pass


# -- Cleanup ----------------------------------------------------------------------


def test_cleanup_alone_does_not_keep_run_alive(loop: ev.Loop, watchdog: ev.Timer) -> None:
    calls: list[int] = []
    c = ev.Cleanup(lambda w, revents: calls.append(revents)).start(loop)
    assert loop.run() is False
    assert calls == []
    assert c.is_active


def test_cleanup_does_not_count_beside_a_referenced_watcher(loop: ev.Loop, watchdog: ev.Timer) -> None:
    ev.Cleanup(noop).start(loop)
    fired: list[int] = []
    ev.Timer(0.005, lambda w, revents: fired.append(revents)).start(loop)
    assert loop.run() is False
    assert fired == [ev.TIMER]
    loop.verify()


def test_cleanup_is_called_once_when_the_loop_closes(backend: ev.Backend) -> None:
    lp = ev.Loop(backend=backend)
    calls: list[tuple[ev.Cleanup, int, int]] = []
    c = ev.Cleanup(lambda w, revents: calls.append((w, revents, lp.depth))).start(lp)
    lp.close()
    assert calls == [(c, ev.CLEANUP, 0)]
    assert not c.is_active
    lp.close()
    assert len(calls) == 1


def test_every_active_cleanup_is_called_on_close(backend: ev.Backend) -> None:
    lp = ev.Loop(backend=backend)
    called: list[str] = []
    for name in ("a", "b", "c"):
        ev.Cleanup(lambda w, revents, name=name: called.append(name)).start(lp)  # type: ignore[misc]
    lp.close()
    assert sorted(called) == ["a", "b", "c"]


def test_stopped_cleanup_is_not_called_on_close(backend: ev.Backend) -> None:
    lp = ev.Loop(backend=backend)
    calls: list[int] = []
    c = ev.Cleanup(lambda w, revents: calls.append(revents)).start(lp)
    c.stop()
    lp.close()
    assert calls == []


def test_cleanup_is_called_when_a_loop_used_as_context_manager_exits(backend: ev.Backend) -> None:
    calls: list[int] = []
    with ev.Loop(backend=backend) as lp:
        ev.Cleanup(lambda w, revents: calls.append(revents)).start(lp)
        lp.run(ev.RUN_NOWAIT)
        assert calls == []
    assert calls == [ev.CLEANUP]
    assert lp.closed


def test_cleanup_callback_may_stop_other_watchers_of_the_closing_loop(backend: ev.Backend) -> None:
    lp = ev.Loop(backend=backend)
    timer = ev.Timer(100.0, noop).start(lp)
    ev.Cleanup(lambda w, revents: timer.stop()).start(lp)
    lp.close()
    assert not timer.is_active
    assert lp.closed


def test_close_completes_and_reraises_when_a_cleanup_callback_raises(backend: ev.Backend) -> None:
    lp = ev.Loop(backend=backend)
    called: list[str] = []

    def failing(w: ev.Cleanup, revents: int) -> None:
        called.append("failing")
        raise Boom

    timer = ev.Timer(100.0, noop).start(lp)
    ev.Cleanup(failing).start(lp)
    ev.Cleanup(lambda w, revents: called.append("fine")).start(lp)
    with pytest.raises(Boom):
        lp.close()
    assert sorted(called) == ["failing", "fine"]
    assert lp.closed
    assert not timer.is_active
    with pytest.raises(ev.Error):
        lp.run()


# -- Fork -------------------------------------------------------------------------


def test_fork_watcher_is_not_called_without_a_fork(loop: ev.Loop) -> None:
    calls: list[int] = []
    ev.Fork(lambda w, revents: calls.append(revents)).start(loop)
    ev.Prepare(noop).start(loop)
    for _ in range(3):
        loop.run(ev.RUN_NOWAIT)
    assert calls == []


def test_fork_watcher_runs_once_before_prepare_after_loop_fork(loop: ev.Loop) -> None:
    calls: list[tuple[str, int]] = []
    ev.Fork(lambda w, revents: calls.append(("fork", revents))).start(loop)
    ev.Prepare(lambda w, revents: calls.append(("prepare", revents))).start(loop)
    loop.fork()
    loop.run(ev.RUN_NOWAIT)
    assert calls == [("fork", ev.FORK), ("prepare", ev.PREPARE)]
    loop.run(ev.RUN_NOWAIT)
    assert calls == [("fork", ev.FORK), ("prepare", ev.PREPARE), ("prepare", ev.PREPARE)]


def test_fork_watcher_runs_in_a_forked_child_and_its_io_still_works(loop: ev.Loop) -> None:
    r, w = os.pipe()
    calls: list[str] = []
    ev.Fork(lambda watcher, revents: calls.append("fork")).start(loop)
    ev.Io(r, ev.READ, lambda watcher, revents: calls.append("io")).start(loop)
    loop.run(ev.RUN_NOWAIT)  # registered with the kernel before the fork
    pid = os.fork()
    if pid == 0:  # pragma: no cover - the child reports through its exit status
        code = 1
        try:
            loop.fork()
            loop.run(ev.RUN_NOWAIT)
            os.write(w, b"x")
            loop.run(ev.RUN_NOWAIT)
            code = 0 if calls == ["fork", "io"] else 2
        finally:
            os._exit(code)
    try:
        _, status = os.waitpid(pid, 0)
        assert os.waitstatus_to_exitcode(status) == 0
        loop.run(ev.RUN_NOWAIT)
        assert calls == ["io"]  # the parent saw the child's byte, and no fork
    finally:
        os.close(r)
        os.close(w)
        loop.close()


def test_fork_and_cleanup_constructor_arguments_are_readable() -> None:
    data = object()
    for cls in (ev.Fork, ev.Cleanup):
        w = cls(noop, priority=2, data=data)
        assert (w.callback, w.priority, w.data) == (noop, 2, data)
