"""Child watchers, each behaviour on pidfds and on the SIGCHLD fallback, on
both backends (the ``child_loop`` fixture; it is never the default loop).

Children are started with ``os.posix_spawn`` (subprocess would reap them
itself) and recorded in the ``children`` fixture, which kills and reaps
whatever a test leaves behind. The autouse ``signal_state`` fixture checks
that the test left SIGCHLD's handler, the wakeup fd and the signal mask as
it found them, and restores them.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import threading
import time
from collections.abc import Callable, Iterator
from typing import Any, NamedTuple

import pytest

import pyev as ev

SAFETY = 10.0
SH = shutil.which("sh") or "/bin/sh"
SLEEP = shutil.which("sleep") or "/bin/sleep"
TRUE = shutil.which("true") or "/bin/true"
CHECKED = (signal.SIGCHLD, signal.SIGUSR1, signal.SIGTERM)


# -- process-global state ------------------------------------------------------


class SignalState(NamedTuple):
    handlers: dict[int, Any]
    wakeup_fd: int
    mask: frozenset[int]


def snapshot() -> SignalState:
    fd = signal.set_wakeup_fd(-1)
    signal.set_wakeup_fd(fd)
    return SignalState(
        {s: signal.getsignal(s) for s in CHECKED},
        fd,
        frozenset(signal.pthread_sigmask(signal.SIG_BLOCK, [])),
    )


@pytest.fixture(autouse=True)
def signal_state() -> Iterator[None]:
    before = snapshot()
    yield
    after = snapshot()
    for signum, handler in before.handlers.items():
        signal.signal(signum, handler if handler is not None else signal.SIG_DFL)
    signal.set_wakeup_fd(before.wakeup_fd)
    signal.pthread_sigmask(signal.SIG_SETMASK, before.mask)
    assert after == before, "the test left the process' signal handlers, wakeup fd or mask changed"


@pytest.fixture
def children() -> Iterator[list[int]]:
    """Pids the test spawned; those still ours afterwards are killed and reaped."""
    pids: list[int] = []
    yield pids
    for pid in pids:
        try:
            exited = os.waitid(os.P_PID, pid, os.WEXITED | os.WNOHANG | os.WNOWAIT)
        except ChildProcessError:
            continue  # reaped already (the pid may belong to someone else by now)
        if exited is None:
            os.kill(pid, signal.SIGKILL)
        os.waitpid(pid, 0)


# -- helpers ------------------------------------------------------------------


def noop(w: Any, revents: int) -> None:
    pass


def spawn(children: list[int], path: str, *args: str) -> int:
    pid = os.posix_spawn(path, [os.path.basename(path), *args], os.environ)
    children.append(pid)
    return pid


def run_until(loop: ev.Loop, done: Callable[[], bool], limit: float = SAFETY) -> None:
    """Run ``RUN_ONCE`` iterations until ``done()``; fail after ``limit`` s."""

    def hung(w: ev.Timer, revents: int) -> None:
        raise AssertionError(f"condition not reached within {limit} s")

    guard = ev.Timer(limit, hung).start(loop)
    guard.keepalive = False
    try:
        while not done():
            loop.run(ev.RUN_ONCE)
    finally:
        guard.stop()


def wait_until_zombie(pid: int) -> None:
    """Wait until child ``pid`` has exited, without reaping it."""
    deadline = time.monotonic() + SAFETY
    while os.waitid(os.P_PID, pid, os.WEXITED | os.WNOHANG | os.WNOWAIT) is None:
        assert time.monotonic() < deadline, f"child {pid} did not exit"
        time.sleep(0.001)


def is_reaped(pid: int) -> bool:
    try:
        os.waitid(os.P_PID, pid, os.WEXITED | os.WNOHANG | os.WNOWAIT)
    except ChildProcessError:
        return True
    return False


class Event(NamedTuple):
    revents: int
    rpid: int
    rstatus: int
    exit_code: int | None
    term_signal: int | None
    active: bool


def recorder(events: list[Event]) -> Callable[[ev.Child, int], None]:
    def cb(w: ev.Child, revents: int) -> None:
        events.append(Event(revents, w.rpid, w.rstatus, w.exit_code, w.term_signal, w.is_active))

    return cb


# -- exits --------------------------------------------------------------------


def test_child_exit_code_and_status_are_set_before_the_callback(
    child_loop: ev.Loop, children: list[int]
) -> None:
    assert not child_loop.is_default
    events: list[Event] = []
    pid = spawn(children, SH, "-c", "exit 3")
    w = ev.Child(pid, recorder(events)).start(child_loop)
    try:
        run_until(child_loop, lambda: bool(events))
        [e] = events
        assert e.revents == ev.CHILD
        assert e.rpid == pid
        assert os.WIFEXITED(e.rstatus) and os.WEXITSTATUS(e.rstatus) == 3
        assert (e.exit_code, e.term_signal) == (3, None)
        assert is_reaped(pid)
    finally:
        w.stop()


def test_child_killed_by_a_signal_reports_the_signal(child_loop: ev.Loop, children: list[int]) -> None:
    events: list[Event] = []
    pid = spawn(children, SLEEP, "30")
    w = ev.Child(pid, recorder(events)).start(child_loop)
    try:
        child_loop.run(ev.RUN_NOWAIT)
        assert events == []
        os.kill(pid, signal.SIGKILL)
        run_until(child_loop, lambda: bool(events))
        [e] = events
        assert (e.revents, e.rpid) == (ev.CHILD, pid)
        assert os.WIFSIGNALED(e.rstatus) and os.WTERMSIG(e.rstatus) == signal.SIGKILL
        assert (e.exit_code, e.term_signal) == (None, signal.SIGKILL)
        assert is_reaped(pid)
    finally:
        w.stop()


def test_child_that_exited_before_the_watcher_started_is_reported(
    child_loop: ev.Loop, children: list[int]
) -> None:
    events: list[Event] = []
    pid = spawn(children, SH, "-c", "exit 4")
    wait_until_zombie(pid)
    w = ev.Child(pid, recorder(events)).start(child_loop)
    try:
        run_until(child_loop, lambda: bool(events))
        assert [(e.rpid, e.exit_code) for e in events] == [(pid, 4)]
        assert is_reaped(pid)
    finally:
        w.stop()


def test_child_watcher_stays_active_after_the_exit_and_does_not_fire_again(
    child_loop: ev.Loop, children: list[int]
) -> None:
    events: list[Event] = []
    pid = spawn(children, TRUE)
    w = ev.Child(pid, recorder(events)).start(child_loop)
    try:
        run_until(child_loop, lambda: bool(events))
        assert events[0].active
        assert w.is_active
        other = spawn(children, TRUE)  # another child's exit, another SIGCHLD
        wait_until_zombie(other)
        for _ in range(3):
            child_loop.run(ev.RUN_NOWAIT)
        assert len(events) == 1
        assert w.is_active
    finally:
        w.stop()
    assert not w.is_active


def test_trace_reports_stop_and_continue_before_the_exit(child_loop: ev.Loop, children: list[int]) -> None:
    traced: list[Event] = []
    untraced: list[Event] = []
    pid = spawn(children, SLEEP, "30")
    wt = ev.Child(pid, recorder(traced), trace=True).start(child_loop)
    wu = ev.Child(pid, recorder(untraced)).start(child_loop)
    try:
        os.kill(pid, signal.SIGSTOP)
        run_until(child_loop, lambda: len(traced) >= 1)
        os.kill(pid, signal.SIGCONT)
        run_until(child_loop, lambda: len(traced) >= 2)
        os.kill(pid, signal.SIGTERM)
        run_until(child_loop, lambda: len(traced) >= 3 and len(untraced) >= 1)

        stopped, continued, exited = traced
        assert all(e.revents == ev.CHILD and e.rpid == pid for e in traced)
        assert os.WIFSTOPPED(stopped.rstatus) and os.WSTOPSIG(stopped.rstatus) == signal.SIGSTOP
        assert (stopped.exit_code, stopped.term_signal) == (None, None)
        assert os.WIFCONTINUED(continued.rstatus)
        assert (continued.exit_code, continued.term_signal) == (None, None)
        assert (exited.exit_code, exited.term_signal) == (None, signal.SIGTERM)
        assert [(e.rpid, e.term_signal) for e in untraced] == [(pid, signal.SIGTERM)]
        assert is_reaped(pid)
    finally:
        wt.stop()
        wu.stop()


# -- never steal --------------------------------------------------------------


def _watch_other_children(loop: ev.Loop, children: list[int]) -> list[ev.Child]:
    """Child watchers for other pids: one plain, one traced (the traced one
    needs SIGCHLD with pidfds too, so both mechanisms are at work)."""
    return [
        ev.Child(spawn(children, SLEEP, "30"), noop).start(loop),
        ev.Child(spawn(children, SLEEP, "30"), noop, trace=True).start(loop),
    ]


def test_subprocess_keeps_its_exit_status_while_the_loop_processes_sigchld(
    child_loop: ev.Loop, children: list[int]
) -> None:
    watchers = _watch_other_children(child_loop, children)
    try:
        proc = subprocess.Popen([SH, "-c", "exit 7"])
        wait_until_zombie(proc.pid)
        for _ in range(3):  # the loop sees the SIGCHLD and looks at its children
            child_loop.run(ev.RUN_NOWAIT)
        assert proc.wait(timeout=SAFETY) == 7
        assert subprocess.run([SH, "-c", "exit 7"], check=False).returncode == 7
    finally:
        for w in watchers:
            w.stop()


def test_subprocess_run_in_another_thread_returns_its_exit_code_while_the_loop_runs(
    child_loop: ev.Loop, children: list[int]
) -> None:
    codes: list[int] = []
    errors: list[BaseException] = []
    watchers = _watch_other_children(child_loop, children)
    wake = ev.Async(lambda w, r: child_loop.break_()).start(child_loop)

    def worker() -> None:
        try:
            for _ in range(5):
                codes.append(subprocess.run([SH, "-c", "exit 7"], check=False).returncode)
        except BaseException as exc:  # noqa: BLE001 - reported by the main thread
            errors.append(exc)
        finally:
            wake.send()

    def hung(w: ev.Timer, revents: int) -> None:
        raise AssertionError("the worker thread did not finish")

    guard = ev.Timer(SAFETY, hung).start(child_loop)
    thread = threading.Thread(target=worker)
    thread.start()
    try:
        child_loop.run()
    finally:
        thread.join()
        for w in (*watchers, wake, guard):
            w.stop()
    assert errors == []
    assert codes == [7] * 5


# -- pid 0 --------------------------------------------------------------------


def test_any_child_watcher_on_a_non_default_loop_raises(child_loop: ev.Loop) -> None:
    w = ev.Child(0, noop)
    with pytest.raises(ev.Error):
        w.start(child_loop)
    assert not w.is_active
    child_loop.verify()


def test_any_child_watcher_on_the_default_loop_gets_every_childs_exit_and_reaps_it(
    child_mechanism: bool, clean_default_loop: None, children: list[int]
) -> None:
    loop = ev.default_loop()
    events: list[Event] = []
    pid = spawn(children, SH, "-c", "exit 5")
    w = ev.Child(0, recorder(events)).start(loop)
    try:
        run_until(loop, lambda: pid in {e.rpid for e in events})
        assert [(e.revents, e.exit_code) for e in events if e.rpid == pid] == [(ev.CHILD, 5)]
        # Child(0) takes every child's status: nothing is left for the owner.
        with pytest.raises(ChildProcessError):
            os.waitpid(pid, os.WNOHANG)
    finally:
        w.stop()


def test_pid_watcher_and_any_child_watcher_both_fire_for_one_exit(
    child_mechanism: bool, clean_default_loop: None, children: list[int]
) -> None:
    loop = ev.default_loop()
    any_events: list[Event] = []
    own_events: list[Event] = []
    pid = spawn(children, SH, "-c", "exit 6")
    w_any = ev.Child(0, recorder(any_events)).start(loop)
    w_own = ev.Child(pid, recorder(own_events)).start(loop)
    try:
        run_until(loop, lambda: bool(own_events) and pid in {e.rpid for e in any_events})
        for _ in range(3):  # neither fires a second time
            loop.run(ev.RUN_NOWAIT)
        assert [(e.rpid, e.exit_code) for e in own_events] == [(pid, 6)]
        assert [(e.rpid, e.exit_code) for e in any_events if e.rpid == pid] == [(pid, 6)]
    finally:
        w_any.stop()
        w_own.stop()


def test_any_child_watcher_reports_each_of_several_children_that_exited_together(
    child_mechanism: bool, clean_default_loop: None, children: list[int]
) -> None:
    loop = ev.default_loop()
    events: list[Event] = []
    pids = [spawn(children, SH, "-c", f"exit {code}") for code in (5, 6, 7)]
    for pid in pids:
        wait_until_zombie(pid)
    w = ev.Child(0, recorder(events)).start(loop)
    try:
        run_until(loop, lambda: all(is_reaped(pid) for pid in pids))
        for _ in range(3):
            loop.run(ev.RUN_NOWAIT)
        ours = sorted((e.rpid, e.exit_code) for e in events if e.rpid in pids)
        assert ours == [(pids[0], 5), (pids[1], 6), (pids[2], 7)]
    finally:
        w.stop()


# -- many ---------------------------------------------------------------------


def test_a_thousand_children_are_each_reported_exactly_once(child_loop: ev.Loop, children: list[int]) -> None:
    calls: dict[ev.Child, int] = {}

    def on_exit(w: ev.Child, revents: int) -> None:
        calls[w] = calls.get(w, 0) + 1

    def all_reported(batch: list[ev.Child]) -> Callable[[], bool]:
        return lambda: all(w in calls for w in batch)

    everyone: list[ev.Child] = []
    for _ in range(10):  # batches of 100 keep the pidfds well inside the fd limit
        batch = [ev.Child(spawn(children, TRUE), on_exit).start(child_loop) for _ in range(100)]
        everyone.extend(batch)
        try:
            run_until(child_loop, all_reported(batch))
            for _ in range(2):  # a second report would show now
                child_loop.run(ev.RUN_NOWAIT)
        finally:
            for w in batch:
                w.stop()
    assert len(everyone) == 1000
    assert len(calls) == 1000
    assert sorted(set(calls.values())) == [1]
    assert all(w.rpid == w.pid and w.exit_code == 0 for w in everyone)
    assert all(is_reaped(pid) for pid in children)


# -- errors -------------------------------------------------------------------


@pytest.mark.parametrize("whose", ["parent", "already-reaped"])
def test_child_watcher_for_a_process_that_is_not_our_child_raises_at_start(
    child_loop: ev.Loop, children: list[int], whose: str
) -> None:
    if whose == "parent":
        pid = os.getppid()
    else:
        pid = spawn(children, TRUE)
        os.waitpid(pid, 0)
    w = ev.Child(pid, noop)
    try:
        with pytest.raises(ChildProcessError):
            w.start(child_loop)
        assert not w.is_active
        child_loop.verify()
    finally:
        w.stop()


def test_child_rejects_a_negative_pid() -> None:
    with pytest.raises(ValueError):
        ev.Child(-1, noop)
    with pytest.raises(ValueError):
        ev.Child(1, noop).set(-5)


@pytest.mark.parametrize("pid", ["123", 1.0, None], ids=["str", "float", "None"])
def test_child_rejects_a_non_int_pid(pid: Any) -> None:
    with pytest.raises(TypeError):
        ev.Child(pid, noop)
    with pytest.raises(TypeError):
        ev.Child(1, noop).set(pid)


@pytest.mark.parametrize("trace", [1, "yes", None], ids=["int", "str", "None"])
def test_child_rejects_a_non_bool_trace(trace: Any) -> None:
    with pytest.raises(TypeError):
        ev.Child(1, noop, trace=trace)
    with pytest.raises(TypeError):
        ev.Child(1, noop).set(1, trace)


def test_child_set_changes_pid_and_trace_only_while_inactive(
    child_loop: ev.Loop, children: list[int]
) -> None:
    pid = spawn(children, SLEEP, "30")
    w = ev.Child(1, noop)
    w.set(pid, True)
    assert (w.pid, w.trace) == (pid, True)
    w.start(child_loop)
    try:
        with pytest.raises(ev.Error):
            w.set(pid, False)
        assert (w.pid, w.trace) == (pid, True)
    finally:
        w.stop()
