"""Loop.close, the context manager, and what a closed loop refuses."""

from __future__ import annotations

import os
import signal
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

import pyev as ev

if TYPE_CHECKING:
    from tests.conftest import Recorder


class FirstFailure(Exception):
    pass


class SecondFailure(Exception):
    pass


def _open_fds() -> set[str]:
    return set(os.listdir("/proc/self/fd"))


def test_close_invokes_active_cleanup_watchers(loop: ev.Loop, rec: Recorder) -> None:
    ev.Cleanup(rec.cb("a")).start(loop)
    ev.Cleanup(rec.cb("b")).start(loop)
    loop.close()
    assert sorted(rec.calls) == [("a", ev.CLEANUP), ("b", ev.CLEANUP)]
    assert loop.closed


def test_close_does_not_invoke_stopped_cleanup_watchers(
    loop: ev.Loop, rec: Recorder
) -> None:
    ev.Cleanup(rec.cb("stopped")).start(loop).stop()
    loop.close()
    assert rec.calls == []


def test_cleanup_callbacks_run_before_the_loop_is_torn_down(loop: ev.Loop) -> None:
    seen: list[object] = []
    timer = ev.Timer(30.0, lambda w, r: None).start(loop)

    def cleanup(w: ev.Cleanup, revents: int) -> None:
        seen.extend([loop.closed, timer.is_active, loop.depth])
        timer.stop()

    ev.Cleanup(cleanup).start(loop)
    loop.close()
    assert seen == [False, True, 0]


def test_cleanup_watcher_does_not_keep_run_alive(loop: ev.Loop) -> None:
    ev.Cleanup(lambda w, r: None).start(loop)
    assert loop.run() is False


def test_close_stops_every_watcher_and_forgets_pending_events(
    loop: ev.Loop, pipe: tuple[int, int], tmp_path: Path
) -> None:
    r, _ = pipe
    noop = lambda w, revents: None
    watchers: list[ev.Watcher] = [
        ev.Io(r, ev.READ, noop).start(loop),
        ev.Timer(30.0, noop).start(loop),
        ev.Timer(30.0, noop, repeat=1.0).start(loop),
        ev.Periodic(0.0, noop, interval=30.0).start(loop),
        ev.Idle(noop).start(loop),
        ev.Prepare(noop).start(loop),
        ev.Check(noop).start(loop),
        ev.Fork(noop).start(loop),
        ev.Async(noop).start(loop),
        ev.Stat(str(tmp_path / "missing"), noop).start(loop),
        ev.Tree(tmp_path, noop).start(loop),
        ev.Tree(tmp_path, noop, coalesce=1.0).start(loop),
        ev.Cleanup(noop).start(loop),
    ]
    (tmp_path / "new").write_text("a change, so that the tree's coalescing timer runs")
    loop.run(ev.RUN_NOWAIT)
    fed = ev.Timer(30.0, noop).start(loop)
    fed.feed(ev.CUSTOM)
    inactive_but_fed = ev.Idle(noop)
    inactive_but_fed.feed(ev.CUSTOM, loop)
    loop.close()
    for w in [*watchers, fed, inactive_but_fed]:
        assert not w.is_active, w
        assert not w.is_pending, w
    assert loop.pending_count == 0


def test_close_stops_signal_watchers(
    loop: ev.Loop, in_child: Callable[[Callable[[], object]], object]
) -> None:
    def child() -> object:
        w = ev.Signal(signal.SIGUSR1, lambda w, r: None).start(loop)
        loop.close()
        return w.is_active

    assert in_child(child) is False


def test_close_is_idempotent(loop: ev.Loop, rec: Recorder) -> None:
    ev.Cleanup(rec.cb("cleanup")).start(loop)
    loop.close()
    loop.close()
    assert rec.names == ["cleanup"]
    assert loop.closed


def test_close_releases_the_loops_file_descriptors(
    backend: ev.Backend, pipe: tuple[int, int]
) -> None:
    r, _ = pipe
    before = _open_fds()
    lp = ev.Loop(backend=backend)
    ev.Async(lambda w, revents: None).start(lp)
    ev.Io(r, ev.READ, lambda w, revents: None).start(lp)
    lp.run(ev.RUN_NOWAIT)
    lp.close()
    assert _open_fds() == before


@pytest.mark.parametrize("inotify", [True, False], ids=["inotify", "polling"])
def test_an_unclosed_loop_collected_as_garbage_releases_its_file_descriptors(
    backend: ev.Backend, inotify: bool, tmp_path: Path
) -> None:
    import gc

    watched = tmp_path / "f"
    watched.write_text("x")
    before = _open_fds()
    for _ in range(3):
        lp = ev.Loop(backend=backend, inotify=inotify)
        ev.Async(lambda w, revents: None).start(lp)
        ev.Stat(watched, lambda w, revents: None).start(lp)
        ev.Tree(tmp_path, lambda w, revents: None).start(lp)
        lp.run(ev.RUN_NOWAIT)
        del lp
        gc.collect()
    assert _open_fds() == before


def test_run_on_a_closed_loop_raises_error(loop: ev.Loop) -> None:
    loop.close()
    with pytest.raises(ev.Error):
        loop.run()
    with pytest.raises(ev.Error):
        loop.run(ev.RUN_NOWAIT)


@pytest.mark.parametrize(
    "make",
    [
        pytest.param(lambda: ev.Timer(0.01, lambda w, r: None), id="timer"),
        pytest.param(lambda: ev.Idle(lambda w, r: None), id="idle"),
        pytest.param(lambda: ev.Prepare(lambda w, r: None), id="prepare"),
        pytest.param(lambda: ev.Async(lambda w, r: None), id="async"),
        pytest.param(lambda: ev.Cleanup(lambda w, r: None), id="cleanup"),
        pytest.param(
            lambda: ev.Periodic(0.0, lambda w, r: None, interval=1.0), id="periodic"
        ),
    ],
)
def test_starting_a_watcher_on_a_closed_loop_raises_error(
    loop: ev.Loop, make: Callable[[], ev.Watcher]
) -> None:
    loop.close()
    w = make()
    with pytest.raises(ev.Error):
        w.start(loop)
    assert not w.is_active


def test_starting_an_io_watcher_on_a_closed_loop_raises_error(
    loop: ev.Loop, pipe: tuple[int, int]
) -> None:
    r, _ = pipe
    loop.close()
    w = ev.Io(r, ev.READ, lambda w, revents: None)
    with pytest.raises(ev.Error):
        w.start(loop)
    assert not w.is_active


def test_restarting_a_watcher_stopped_by_close_raises_error(loop: ev.Loop) -> None:
    timer = ev.Timer(30.0, lambda w, r: None).start(loop)
    loop.close()
    with pytest.raises(ev.Error):
        timer.start(loop)


def test_async_send_after_close_does_nothing(loop: ev.Loop, rec: Recorder) -> None:
    a = ev.Async(rec.cb("async")).start(loop)
    loop.close()
    a.send()
    assert not a.is_active
    assert rec.calls == []


def test_loop_is_a_context_manager_that_closes_on_exit(
    backend: ev.Backend, rec: Recorder
) -> None:
    with ev.Loop(backend=backend) as lp:
        assert isinstance(lp, ev.Loop)
        assert not lp.closed
        ev.Cleanup(rec.cb("cleanup")).start(lp)
        ev.Timer(0.001, rec.cb("timer")).start(lp)
        lp.run()
    assert lp.closed
    assert rec.names == ["timer", "cleanup"]


def test_context_manager_closes_the_loop_when_the_body_raises(
    backend: ev.Backend,
) -> None:
    with pytest.raises(FirstFailure), ev.Loop(backend=backend) as lp:
        raise FirstFailure
    assert lp.closed


def test_context_manager_returns_the_loop_itself(backend: ev.Backend) -> None:
    lp = ev.Loop(backend=backend)
    with lp as entered:
        assert entered is lp


def test_a_raising_cleanup_still_completes_close_and_the_first_exception_is_reraised(
    loop: ev.Loop, pipe: tuple[int, int]
) -> None:
    r, _ = pipe
    ran: list[type[Exception]] = []

    def failing(kind: type[Exception]) -> Callable[[ev.Cleanup, int], None]:
        def callback(w: ev.Cleanup, revents: int) -> None:
            ran.append(kind)
            raise kind

        return callback

    ev.Cleanup(failing(FirstFailure)).start(loop)
    ev.Cleanup(failing(SecondFailure)).start(loop)
    timer = ev.Timer(30.0, lambda w, revents: None).start(loop)
    io = ev.Io(r, ev.READ, lambda w, revents: None).start(loop)
    with pytest.raises((FirstFailure, SecondFailure)) as raised:
        loop.close()
    assert len(ran) == 2
    assert type(raised.value) is ran[0]
    assert loop.closed
    assert not timer.is_active
    assert not io.is_active
    loop.close()
    with pytest.raises(ev.Error):
        loop.run()


def test_a_raising_cleanup_still_runs_the_other_cleanups(
    loop: ev.Loop, rec: Recorder
) -> None:
    def failing(w: ev.Cleanup, revents: int) -> None:
        raise FirstFailure

    ev.Cleanup(failing).start(loop)
    ev.Cleanup(rec.cb("other")).start(loop)
    with pytest.raises(FirstFailure):
        loop.close()
    assert rec.names == ["other"]


@pytest.mark.parametrize("kind", [KeyboardInterrupt, SystemExit])
def test_cleanup_raising_keyboard_interrupt_or_system_exit_still_closes_the_loop(
    loop: ev.Loop, kind: type[BaseException]
) -> None:
    def interrupted(w: ev.Cleanup, revents: int) -> None:
        raise kind

    ev.Cleanup(interrupted).start(loop)
    timer = ev.Timer(30.0, lambda w, revents: None).start(loop)
    with pytest.raises(kind):
        loop.close()
    assert loop.closed
    assert not timer.is_active
