"""Signal watchers, each behaviour on signalfd and on the Python-handler
fallback, on both backends (the ``signal_loop`` fixture).

Signals are process-global, so every test runs under the autouse
``stray_signals`` fixture: it puts a recording handler on the signals the
tests send (a signal pyev fails to catch is then recorded instead of killing
pytest), and afterwards checks that handlers, the wakeup fd and the main
thread's signal mask are exactly as they were before the test, then restores
them whatever happened.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import threading
import time
from collections.abc import Callable, Iterator
from types import FrameType
from typing import Any, NamedTuple

import pytest

import pyev as ev

# "Promptly": far below the SAFETY timers that keep a hung test from waiting
# forever, far above any scheduler delay.
PROMPTLY = 2.5
SAFETY = 10.0

SENT = (signal.SIGUSR1, signal.SIGUSR2, signal.SIGHUP)  # the signals tests send themselves
CHECKED = (*SENT, signal.SIGTERM, signal.SIGWINCH, signal.SIGCHLD)
SLEEP = shutil.which("sleep") or "/bin/sleep"


# -- process-global signal state -------------------------------------------


class SignalState(NamedTuple):
    handlers: dict[int, Any]
    wakeup_fd: int
    mask: frozenset[int]


def current_wakeup_fd() -> int:
    fd = signal.set_wakeup_fd(-1)
    signal.set_wakeup_fd(fd)
    return fd


def current_mask() -> frozenset[int]:
    return frozenset(signal.pthread_sigmask(signal.SIG_BLOCK, []))


def snapshot() -> SignalState:
    return SignalState({s: signal.getsignal(s) for s in CHECKED}, current_wakeup_fd(), current_mask())


def restore(state: SignalState) -> None:
    for signum, handler in state.handlers.items():
        signal.signal(signum, handler if handler is not None else signal.SIG_DFL)
    signal.set_wakeup_fd(state.wakeup_fd)
    signal.pthread_sigmask(signal.SIG_SETMASK, state.mask)


@pytest.fixture(autouse=True)
def stray_signals() -> Iterator[list[int]]:
    """Signals that reached the handler in place before pyev's (should stay empty)."""
    originals = {s: signal.getsignal(s) for s in SENT}
    strays: list[int] = []

    def record(signum: int, frame: FrameType | None) -> None:
        strays.append(signum)

    for signum in SENT:
        signal.signal(signum, record)
    before = snapshot()
    yield strays
    after = snapshot()
    restore(before)
    for signum, handler in originals.items():
        signal.signal(signum, handler if handler is not None else signal.SIG_DFL)
    assert after == before, "the test left the process' signal handlers, wakeup fd or mask changed"


@pytest.fixture
def signalfd(request: pytest.FixtureRequest) -> bool:
    """Whether this run's ``signal_loop`` uses signalfd (for more loops like it)."""
    use: bool = request.node.callspec.params["signal_loop"]
    return use


@pytest.fixture
def another_loop(signal_loop: ev.Loop, signalfd: bool) -> Iterator[ev.Loop]:
    """A second loop configured like ``signal_loop``."""
    lp = ev.Loop(backend=signal_loop.backend, signalfd=signalfd)
    yield lp
    lp.close()


# -- helpers ------------------------------------------------------------------


def noop(w: Any, revents: int) -> None:
    pass


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


def start_guard(loop: ev.Loop) -> ev.Timer:
    """A timer that fails the test if ``loop.run()`` waits for SAFETY s."""

    def hung(w: ev.Timer, revents: int) -> None:
        raise AssertionError(f"the loop waited {SAFETY} s for an event that should have come at once")

    return ev.Timer(SAFETY, hung).start(loop)


def stop_all(*watchers: ev.Watcher) -> None:
    for w in watchers:
        w.stop()


def spawn_and_terminate() -> tuple[frozenset[int], int | None]:
    """Start ``sleep 30`` with subprocess, read its blocked-signal mask, send
    it SIGTERM with ``terminate()``; return (its mask, its returncode)."""
    proc = subprocess.Popen([SLEEP, "30"])
    try:
        blocked = blocked_signals(proc.pid)
        proc.terminate()
        try:
            code: int | None = proc.wait(timeout=5)
        except subprocess.TimeoutExpired:
            code = None
        return blocked, code
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()


def blocked_signals(pid: int) -> frozenset[int]:
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("SigBlk:"):
                bits = int(line.split()[1], 16)
                return frozenset(n for n in range(1, signal.NSIG) if bits & (1 << (n - 1)))
    raise AssertionError("no SigBlk line in /proc/pid/status")


# -- several watchers, one loop -----------------------------------------------


def test_every_watcher_of_a_signal_fires_once_for_coalesced_signals(signal_loop: ev.Loop) -> None:
    calls: list[tuple[str, int]] = []

    def cb(name: str) -> Callable[[ev.Signal, int], None]:
        return lambda w, revents: calls.append((name, revents))

    ws = [ev.Signal(signal.SIGUSR1, cb(n)).start(signal_loop) for n in ("a", "b", "c")]
    other = ev.Signal(signal.SIGUSR2, cb("usr2")).start(signal_loop)
    try:
        for _ in range(3):
            os.kill(os.getpid(), signal.SIGUSR1)
        signal_loop.run(ev.RUN_NOWAIT)
        assert sorted(calls) == [("a", ev.SIGNAL), ("b", ev.SIGNAL), ("c", ev.SIGNAL)]
        signal_loop.run(ev.RUN_NOWAIT)
        assert len(calls) == 3

        os.kill(os.getpid(), signal.SIGUSR1)  # a later signal fires them again
        signal_loop.run(ev.RUN_NOWAIT)
        assert sorted(name for name, _ in calls) == ["a", "a", "b", "b", "c", "c"]
        assert all(w.is_active for w in ws)
    finally:
        stop_all(*ws, other)


def test_signal_raised_before_run_nowait_is_handled_in_that_call(signal_loop: ev.Loop) -> None:
    got: list[str] = []
    w1 = ev.Signal(signal.SIGUSR1, lambda w, r: got.append("usr1")).start(signal_loop)
    w2 = ev.Signal(signal.SIGHUP, lambda w, r: got.append("hup")).start(signal_loop)
    try:
        os.kill(os.getpid(), signal.SIGUSR1)
        assert signal_loop.run(ev.RUN_NOWAIT) is True
        assert got == ["usr1"]
        signal.raise_signal(signal.SIGHUP)
        signal_loop.run(ev.RUN_NOWAIT)
        assert got == ["usr1", "hup"]
    finally:
        stop_all(w1, w2)


def test_watcher_stopped_after_the_signal_arrived_gets_nothing(signal_loop: ev.Loop) -> None:
    got: list[str] = []
    a = ev.Signal(signal.SIGUSR1, lambda w, r: got.append("a")).start(signal_loop)
    b = ev.Signal(signal.SIGUSR1, lambda w, r: got.append("b")).start(signal_loop)
    c = ev.Signal(signal.SIGUSR1, lambda w, r: got.append("c")).start(signal_loop)
    try:
        os.kill(os.getpid(), signal.SIGUSR1)
        a.stop()
        c.stop()
        signal_loop.run(ev.RUN_NOWAIT)
        assert got == ["b"]
    finally:
        stop_all(a, b, c)


def test_watcher_stopped_by_a_higher_priority_watcher_of_the_same_signal_gets_nothing(
    signal_loop: ev.Loop,
) -> None:
    got: list[str] = []
    low = ev.Signal(signal.SIGUSR1, lambda w, r: got.append("low"), priority=ev.MINPRI)

    def high_cb(w: ev.Signal, revents: int) -> None:
        got.append("high")
        low.stop()

    high = ev.Signal(signal.SIGUSR1, high_cb, priority=ev.MAXPRI)
    low.start(signal_loop)
    high.start(signal_loop)
    try:
        os.kill(os.getpid(), signal.SIGUSR1)
        signal_loop.run(ev.RUN_NOWAIT)
        assert got == ["high"]
        assert not low.is_pending
    finally:
        stop_all(low, high)


def test_stopping_one_of_two_watchers_keeps_the_signal_handled(
    signal_loop: ev.Loop, stray_signals: list[int]
) -> None:
    got: list[str] = []
    a = ev.Signal(signal.SIGUSR1, lambda w, r: got.append("a")).start(signal_loop)
    b = ev.Signal(signal.SIGUSR1, lambda w, r: got.append("b")).start(signal_loop)
    try:
        a.stop()
        os.kill(os.getpid(), signal.SIGUSR1)
        signal_loop.run(ev.RUN_NOWAIT)
        assert got == ["b"]
        assert stray_signals == []
    finally:
        stop_all(a, b)


# -- one loop at a time -------------------------------------------------------


def test_signal_watched_on_one_loop_cannot_be_started_on_another(
    signal_loop: ev.Loop, another_loop: ev.Loop
) -> None:
    first = [ev.Signal(signal.SIGUSR1, noop).start(signal_loop) for _ in range(2)]
    second = ev.Signal(signal.SIGUSR1, noop)
    try:
        with pytest.raises(ev.Error):
            second.start(another_loop)
        assert not second.is_active
        first[0].stop()
        with pytest.raises(ev.Error):  # one watcher still holds it
            second.start(another_loop)
        assert not second.is_active
        another_loop.verify()
        signal_loop.verify()
    finally:
        stop_all(*first, second)


@pytest.mark.parametrize("release", ["stop", "close"])
def test_second_loop_takes_the_signal_after_the_first_lets_go(
    signal_loop: ev.Loop, another_loop: ev.Loop, release: str
) -> None:
    got: list[str] = []
    first = ev.Signal(signal.SIGUSR1, lambda w, r: got.append("first")).start(signal_loop)
    second = ev.Signal(signal.SIGUSR1, lambda w, r: got.append("second"))
    try:
        with pytest.raises(ev.Error):
            second.start(another_loop)
        if release == "stop":
            first.stop()
        else:
            signal_loop.close()
        second.start(another_loop)
        assert second.is_active
        os.kill(os.getpid(), signal.SIGUSR1)
        another_loop.run(ev.RUN_NOWAIT)
        if release == "stop":
            signal_loop.run(ev.RUN_NOWAIT)
        assert got == ["second"]
    finally:
        stop_all(first, second)


# -- restoring the process' state ---------------------------------------------


_user_handler_calls: list[int] = []


def _user_handler(signum: int, frame: FrameType | None) -> None:
    _user_handler_calls.append(signum)


@pytest.mark.parametrize(
    "previous", [_user_handler, signal.SIG_IGN, signal.SIG_DFL], ids=["function", "SIG_IGN", "SIG_DFL"]
)
@pytest.mark.parametrize("release", ["last_stop", "close"])
def test_previous_handler_wakeup_fd_and_mask_are_restored(
    signal_loop: ev.Loop, previous: Any, release: str
) -> None:
    r, w = os.pipe2(os.O_NONBLOCK | os.O_CLOEXEC)
    ws = [ev.Signal(signal.SIGUSR1, noop) for _ in range(2)]
    hup = ev.Signal(signal.SIGHUP, noop)
    saved = snapshot()
    try:
        signal.signal(signal.SIGUSR1, previous)
        signal.set_wakeup_fd(w)
        signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGUSR2, signal.SIGWINCH})
        user = snapshot()

        for x in (*ws, hup):
            x.start(signal_loop)
        assert signal.getsignal(signal.SIGUSR1) is not previous
        signal_loop.run(ev.RUN_NOWAIT)  # one poll, with signalfd's mask applied around it
        assert current_mask() == user.mask, "a signal stays blocked after run() returned"
        ws[0].stop()
        assert signal.getsignal(signal.SIGUSR1) is not previous, "restored before the last watcher stopped"
        if release == "last_stop":
            ws[1].stop()
            assert signal.getsignal(signal.SIGUSR1) is previous  # while SIGHUP is still watched
            hup.stop()
        else:
            signal_loop.close()
        assert signal.getsignal(signal.SIGUSR1) is previous
        assert snapshot() == user
    finally:
        stop_all(*ws, hup)
        restore(saved)
        os.close(r)
        os.close(w)


def test_restored_user_handler_gets_the_signal_again(signal_loop: ev.Loop) -> None:
    got: list[str] = []
    _user_handler_calls.clear()
    w = ev.Signal(signal.SIGUSR1, lambda w, r: got.append("watcher"))
    saved = snapshot()
    try:
        signal.signal(signal.SIGUSR1, _user_handler)
        w.start(signal_loop)
        os.kill(os.getpid(), signal.SIGUSR1)
        signal_loop.run(ev.RUN_NOWAIT)
        w.stop()
        os.kill(os.getpid(), signal.SIGUSR1)
        assert got == ["watcher"]
        assert _user_handler_calls == [signal.SIGUSR1]
    finally:
        w.stop()
        restore(saved)
        _user_handler_calls.clear()


# -- children are born with a clean mask --------------------------------------


def test_subprocess_started_by_the_main_program_can_be_terminated_while_sigterm_is_watched(
    signal_loop: ev.Loop,
) -> None:
    w = ev.Signal(signal.SIGTERM, noop).start(signal_loop)
    try:
        signal_loop.run(ev.RUN_NOWAIT)
        blocked, code = spawn_and_terminate()
        assert signal.SIGTERM not in blocked
        assert code == -signal.SIGTERM
    finally:
        w.stop()


def test_subprocess_started_by_a_callback_can_be_terminated_while_sigterm_is_watched(
    signal_loop: ev.Loop,
) -> None:
    results: list[tuple[frozenset[int], int | None]] = []
    w = ev.Signal(signal.SIGTERM, noop).start(signal_loop)
    t = ev.Timer(0, lambda timer, revents: results.append(spawn_and_terminate())).start(signal_loop)
    try:
        run_until(signal_loop, lambda: bool(results))
        [(blocked, code)] = results
        assert signal.SIGTERM not in blocked
        assert code == -signal.SIGTERM
    finally:
        stop_all(w, t)


def test_subprocess_started_by_another_thread_can_be_terminated_while_the_loop_waits(
    signal_loop: ev.Loop,
) -> None:
    polling = threading.Event()
    results: list[tuple[frozenset[int], int | None]] = []
    errors: list[BaseException] = []
    sigterm = ev.Signal(signal.SIGTERM, noop).start(signal_loop)
    prepare = ev.Prepare(lambda w, r: polling.set()).start(signal_loop)
    prepare.keepalive = False
    wake = ev.Async(lambda w, r: signal_loop.break_()).start(signal_loop)
    guard = start_guard(signal_loop)

    def worker() -> None:
        try:
            assert polling.wait(SAFETY)
            results.append(spawn_and_terminate())
        except BaseException as exc:  # noqa: BLE001 - reported by the main thread
            errors.append(exc)
        finally:
            wake.send()

    thread = threading.Thread(target=worker)
    thread.start()
    try:
        signal_loop.run()
    finally:
        thread.join()
        stop_all(sigterm, prepare, wake, guard)
    assert errors == []
    [(blocked, code)] = results
    assert signal.SIGTERM not in blocked
    assert code == -signal.SIGTERM


# -- signals that land in other threads ---------------------------------------


def _send_by_os_kill(main_ident: int) -> None:
    os.kill(os.getpid(), signal.SIGUSR1)


def _send_by_pthread_kill_to_main(main_ident: int) -> None:
    signal.pthread_kill(main_ident, signal.SIGUSR1)


def _send_by_pthread_kill_to_self(main_ident: int) -> None:
    signal.pthread_kill(threading.get_ident(), signal.SIGUSR1)


def _send_by_another_process(main_ident: int) -> None:
    subprocess.run(["kill", "-s", "USR1", str(os.getpid())], check=True)


SENDERS = [
    pytest.param(_send_by_os_kill, id="os.kill-from-thread"),
    pytest.param(_send_by_pthread_kill_to_main, id="pthread_kill-to-main-thread"),
    pytest.param(_send_by_pthread_kill_to_self, id="pthread_kill-to-the-sending-thread"),
    pytest.param(_send_by_another_process, id="kill-from-another-process"),
]


@pytest.mark.parametrize("send", SENDERS)
def test_signal_sent_while_other_threads_run_reaches_the_waiting_loop(
    signal_loop: ev.Loop, send: Callable[[int], None], stray_signals: list[int]
) -> None:
    polling = threading.Event()
    stop = threading.Event()
    sent_at: list[float] = []
    got_at: list[float] = []
    errors: list[BaseException] = []

    def on_signal(w: ev.Signal, revents: int) -> None:
        got_at.append(time.monotonic())
        signal_loop.break_()

    def busy() -> None:
        while not stop.is_set():
            time.sleep(0.001)

    def sender() -> None:
        try:
            assert polling.wait(SAFETY)
            for _ in range(20):  # let the loop get into its poll
                time.sleep(0.001)
            sent_at.append(time.monotonic())
            send(main_ident)
        except BaseException as exc:  # noqa: BLE001 - reported by the main thread
            errors.append(exc)

    main_ident = threading.get_ident()
    w = ev.Signal(signal.SIGUSR1, on_signal).start(signal_loop)
    prepare = ev.Prepare(lambda p, r: polling.set()).start(signal_loop)
    prepare.keepalive = False
    guard = start_guard(signal_loop)
    threads = [threading.Thread(target=busy), threading.Thread(target=sender)]
    for t in threads:
        t.start()
    try:
        signal_loop.run()
        threads[1].join()
        for _ in range(3):  # a second delivery of the one signal would show now
            signal_loop.run(ev.RUN_NOWAIT)
    finally:
        stop.set()
        for t in threads:
            t.join()
        stop_all(w, prepare, guard)
    assert errors == []
    assert len(got_at) == 1
    assert got_at[0] - sent_at[0] < PROMPTLY
    assert stray_signals == []


# -- feeding ------------------------------------------------------------------


def test_feed_signal_event_delivers_to_that_signals_watchers(signal_loop: ev.Loop) -> None:
    got: list[tuple[str, int]] = []
    ws = [
        ev.Signal(signal.SIGUSR1, lambda w, r: got.append(("usr1-a", r))).start(signal_loop),
        ev.Signal(signal.SIGUSR1, lambda w, r: got.append(("usr1-b", r))).start(signal_loop),
        ev.Signal(signal.SIGUSR2, lambda w, r: got.append(("usr2", r))).start(signal_loop),
    ]
    try:
        signal_loop.feed_signal_event(signal.SIGUSR1)
        assert signal_loop.pending_count == 2
        signal_loop.run(ev.RUN_NOWAIT)
        assert sorted(got) == [("usr1-a", ev.SIGNAL), ("usr1-b", ev.SIGNAL)]
        signal_loop.feed_signal_event(signal.SIGHUP)  # no watcher: nothing happens
        signal_loop.run(ev.RUN_NOWAIT)
        assert len(got) == 2
    finally:
        stop_all(*ws)


def test_feed_signal_event_does_not_reach_another_loops_watchers(
    signal_loop: ev.Loop, another_loop: ev.Loop
) -> None:
    got: list[str] = []
    w = ev.Signal(signal.SIGUSR1, lambda w, r: got.append("watcher")).start(signal_loop)
    try:
        another_loop.feed_signal_event(signal.SIGUSR1)
        another_loop.run(ev.RUN_NOWAIT)
        signal_loop.run(ev.RUN_NOWAIT)
        assert got == []
    finally:
        w.stop()


@pytest.mark.parametrize("signum", [0, -1, signal.NSIG])
def test_feed_signal_event_rejects_out_of_range_numbers(signal_loop: ev.Loop, signum: int) -> None:
    with pytest.raises(ValueError):
        signal_loop.feed_signal_event(signum)


# -- set and arguments --------------------------------------------------------


def test_signal_set_changes_the_signal_only_while_inactive(signal_loop: ev.Loop) -> None:
    got: list[str] = []
    w = ev.Signal(signal.SIGUSR1, lambda w, r: got.append("fired"))
    w.set(signal.SIGUSR2)
    assert w.signum == signal.SIGUSR2
    w.start(signal_loop)
    try:
        with pytest.raises(ev.Error):
            w.set(signal.SIGHUP)
        assert w.signum == signal.SIGUSR2
        os.kill(os.getpid(), signal.SIGUSR2)
        signal_loop.run(ev.RUN_NOWAIT)
        assert got == ["fired"]
        w.stop()
        w.set(signal.SIGHUP)
        assert w.signum == signal.SIGHUP
    finally:
        w.stop()


@pytest.mark.parametrize(
    "signum",
    [0, -1, -signal.SIGUSR1, signal.NSIG, signal.NSIG + 100, signal.SIGKILL, signal.SIGSTOP],
    ids=["zero", "minus-one", "negative", "NSIG", "above-NSIG", "SIGKILL", "SIGSTOP"],
)
def test_signal_rejects_bad_numbers(signum: int) -> None:
    with pytest.raises(ValueError):
        ev.Signal(signum, noop)
    w = ev.Signal(signal.SIGUSR1, noop)
    with pytest.raises(ValueError):
        w.set(signum)
    assert w.signum == signal.SIGUSR1


@pytest.mark.parametrize("signum", ["SIGUSR1", "10", 10.0, None], ids=["name", "digits", "float", "None"])
def test_signal_rejects_non_int_numbers(signum: Any) -> None:
    with pytest.raises(TypeError):
        ev.Signal(signum, noop)
    w = ev.Signal(signal.SIGUSR1, noop)
    with pytest.raises(TypeError):
        w.set(signum)


def test_signal_accepts_signal_enum_members() -> None:
    assert ev.Signal(signal.Signals.SIGUSR1, noop).signum == signal.SIGUSR1


def test_first_watcher_of_a_signal_started_from_a_non_main_thread_raises(
    signal_loop: ev.Loop, signalfd: bool
) -> None:
    outcome: list[object] = []
    before = signal.getsignal(signal.SIGUSR1)

    def in_thread() -> None:
        lp = ev.Loop(backend=signal_loop.backend, signalfd=signalfd)
        try:
            w = ev.Signal(signal.SIGUSR1, noop)
            try:
                w.start(lp)
            except ev.Error as exc:
                outcome.append(exc)
            else:
                outcome.append("started")
            outcome.append(w.is_active)
            lp.verify()
            fired: list[int] = []
            ev.Timer(0, lambda t, r: fired.append(r)).start(lp)
            lp.run()
            outcome.append(fired)
        except BaseException as exc:  # noqa: BLE001 - reported by the main thread
            outcome.append(exc)
        finally:
            lp.close()

    thread = threading.Thread(target=in_thread)
    thread.start()
    thread.join()
    assert len(outcome) == 3 and isinstance(outcome[0], ev.Error), outcome
    assert outcome[1:] == [False, [ev.TIMER]]
    assert signal.getsignal(signal.SIGUSR1) is before


# -- fork ---------------------------------------------------------------------


def test_forked_child_uses_its_own_loop_and_signal_watcher_while_the_parent_keeps_working(
    signal_loop: ev.Loop, signalfd: bool
) -> None:
    parent_got: list[int] = []
    reports = bytearray()
    usr1 = ev.Signal(signal.SIGUSR1, lambda w, r: parent_got.append(r)).start(signal_loop)
    signal_loop.run(ev.RUN_NOWAIT)
    r, w = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: report through the pipe, never return into pytest
        status = 1
        try:
            os.close(r)
            child_loop = ev.Loop(backend=signal_loop.backend, signalfd=signalfd)

            def child_cb(sw: ev.Signal, revents: int) -> None:
                os.kill(os.getppid(), signal.SIGUSR1)
                os.write(w, b"G")
                child_loop.break_()

            ev.Signal(signal.SIGUSR2, child_cb).start(child_loop)
            ev.Timer(SAFETY, lambda t, rv: child_loop.break_()).start(child_loop)
            os.write(w, b"R")
            child_loop.run()
            status = 0
        except BaseException as exc:  # noqa: BLE001 - reported through the pipe
            os.write(w, f"E{exc!r}".encode())
        finally:
            os._exit(status)

    os.close(w)

    def on_report(io: ev.Io, revents: int) -> None:
        data = os.read(r, 4096)
        reports.extend(data)
        if b"R" in data:
            os.kill(pid, signal.SIGUSR2)
        if not data:
            io.stop()

    reader = ev.Io(r, ev.READ, on_report).start(signal_loop)
    try:
        run_until(signal_loop, lambda: not reader.is_active and bool(parent_got))
        _, status = os.waitpid(pid, 0)
        pid = 0
        assert bytes(reports) == b"RG"
        assert os.waitstatus_to_exitcode(status) == 0
        assert parent_got == [ev.SIGNAL]

        os.kill(os.getpid(), signal.SIGUSR1)  # the parent's watcher still works
        signal_loop.run(ev.RUN_NOWAIT)
        assert parent_got == [ev.SIGNAL, ev.SIGNAL]
    finally:
        stop_all(usr1, reader)
        os.close(r)
        if pid:
            os.kill(pid, signal.SIGKILL)
            os.waitpid(pid, 0)
