"""The whole public API under random sequences of operations.

A wider Hypothesis state machine than tests/test_loop_state_machine.py: every
watcher type (Signal through ``os.kill`` of SIGUSR1/SIGUSR2 to this process,
Stat on a temporary file, Tree on its directory, Child on ``/bin/true``
children, Embed of a second loop) plus feeding, priorities, keepalive, ``Io.events`` changes while
active, ``again()``, ``set()``, ``once()``, nested ``run`` from callbacks,
``suspend``/``resume``, and closing the loop and carrying on with a new one
(with random ``signalfd``/``inotify`` mechanisms). After every step both
loops pass ``verify()`` and the user-visible state agrees with what the
machine did (the same checks as the smaller machine: a stopped watcher is
not called again until fed or started, ``pending_count`` is exact, ``depth``
is 0 outside ``run``), and ``invoke_pending`` calls watchers highest
priority first.

Cost: PYEV_SM_EXAMPLES (default 50) examples of PYEV_SM_STEPS (default 40)
steps per backend. The soak runs it with more, see docs/internals.md.
"""

from __future__ import annotations

import os
import signal
import socket
import tempfile
from dataclasses import dataclass, field
from types import FrameType
from typing import Any

import pytest
from hypothesis import HealthCheck, Phase, event, settings
from hypothesis import strategies as st
from hypothesis.control import currently_in_test_context
from hypothesis.stateful import Bundle, RuleBasedStateMachine, initialize, invariant, multiple, precondition, rule

import pyev as ev

KINDS = ["io", "pipe_io", "timer", "periodic", "idle", "prepare", "check", "async", "fork", "cleanup",
         "signal", "stat", "tree", "child", "embed"]
ACTIONS = ["none", "none", "none", "break_one", "break_all", "stop_self", "stop_other", "raise",
           "nested", "feed_other", "verify"]
SIGNALS = [signal.SIGUSR1, signal.SIGUSR2]
TRUE = "/bin/true" if os.path.exists("/bin/true") else "/usr/bin/true"
MAX_DEPTH = 3


class Boom(Exception):
    pass


@dataclass(eq=False)
class Tracked:
    kind: str
    watcher: ev.Watcher
    action: str
    silenced: bool = False  # stopped by the machine and not fed or started since
    calls: list[int] = field(default_factory=list)


def _ignore(signum: int, frame: FrameType | None) -> None:
    """Stands in for the default action (termination) while no watcher
    catches the signals the machine sends."""


class ApiMachine(RuleBasedStateMachine):
    backend: ev.Backend = ev.Backend.EPOLL
    watchers = Bundle("watchers")

    def __init__(self) -> None:
        super().__init__()
        self.saved_handlers = {s: signal.signal(s, _ignore) for s in SIGNALS}
        self.loop = ev.Loop(backend=self.backend)
        self.inner = ev.Loop(backend=ev.Backend.EPOLL)  # the loop Embed watchers embed
        self.inner_io = ev.Io(0, ev.READ, self._inner_cb)  # fd set below
        self.inner_calls = 0
        self.readable, self.peer = socket.socketpair()
        self.peer.send(b"x")  # readable stays readable: the data is never read
        self.inner_io.set(self.readable, ev.READ)
        self.pipe_r, self.pipe_w = os.pipe2(os.O_NONBLOCK | os.O_CLOEXEC)
        self.dir = tempfile.mkdtemp(prefix="pyev-sm-")
        self.path = os.path.join(self.dir, "watched")
        with open(self.path, "w") as f:
            f.write("0")
        self.children: list[int] = []
        self.all: list[Tracked] = []
        self.late_calls: list[str] = []
        self.once_outstanding = 0
        self.invoke_log: list[tuple[int, str]] | None = None
        self.loops_made = 1
        self.direct: Tracked | None = None  # the watcher invoke_directly is calling
        self.ending = False  # run_until_idle_or_break's guard has fired

    @initialize(
        target=watchers,
        signalfd=st.booleans(),
        inotify=st.booleans(),
        specs=st.lists(
            st.tuples(st.sampled_from(KINDS), st.sampled_from(ACTIONS), st.integers(ev.MINPRI, ev.MAXPRI),
                      st.integers(0, 3), st.booleans()),
            max_size=6,
        ),
    )
    def begin(self, signalfd: bool, inotify: bool, specs: list[tuple[str, str, int, int, bool]]) -> Any:
        """The loop's signal and stat mechanisms, and a few watchers to
        start with (examples are short: waiting for create steps would leave
        most of them with one or two watchers)."""
        self.loop.close()
        self.loop = ev.Loop(backend=self.backend, signalfd=signalfd, inotify=inotify)
        return multiple(*(self.create(*spec) for spec in specs))

    def teardown(self) -> None:
        try:
            for lp in (self.loop, self.inner):
                try:
                    lp.close()
                except Boom:
                    pass  # a Cleanup callback raised: close() completed, then re-raised
            for s, previous in self.saved_handlers.items():
                # pyev put back the handler it found when its watchers stopped.
                assert signal.getsignal(s) is _ignore, f"signal {s}: handler not restored"
        finally:
            for s, previous in self.saved_handlers.items():
                signal.signal(s, previous)
            self.readable.close()
            self.peer.close()
            os.close(self.pipe_r)
            os.close(self.pipe_w)
            for pid in self.children:
                try:
                    os.waitpid(pid, 0)
                except ChildProcessError:
                    pass  # reaped by a Child watcher
            for name in os.listdir(self.dir):
                os.unlink(os.path.join(self.dir, name))
            os.rmdir(self.dir)

    # -- creating ------------------------------------------------------------

    def _inner_cb(self, w: ev.Io, revents: int) -> None:
        self.inner_calls += 1

    def _callback(self, tracked: list[Tracked]):  # type: ignore[no-untyped-def]
        def callback(w: ev.Watcher, revents: int) -> None:
            me = tracked[0]
            if me.silenced and self.direct is not me:
                self.late_calls.append(f"{me.kind} called with {revents:#x} after the machine stopped it")
            me.calls.append(revents)
            if currently_in_test_context():  # (a failing example can be replayed as a script)
                event(f"callback: {me.kind}")  # shown by --hypothesis-show-statistics
            if self.invoke_log is not None:
                self.invoke_log.append((w.priority, me.action))
            if isinstance(w, ev.Embed) and len(me.calls) % 2:
                w.sweep()
            if me.action == "break_one":
                self.loop.break_(ev.BREAK_ONE)
            elif me.action == "break_all":
                self.loop.break_(ev.BREAK_ALL)
            elif me.action == "stop_self":
                w.stop()
            elif me.action == "stop_other" and self.all:
                self.all[len(me.calls) % len(self.all)].watcher.stop()
            elif me.action == "feed_other" and self.all and len(me.calls) < 3 and not self.loop.closed:
                other = self.all[len(me.calls) % len(self.all)]
                other.watcher.feed(ev.CUSTOM, self.loop)
                other.silenced = False
            elif me.action == "nested" and self.loop.depth < MAX_DEPTH and not self.loop.closed and not self.ending:
                # (A run() cancels a break not yet acted on, as libev's does:
                # no nesting once the guard of run_until_idle_or_break broke.)
                self.loop.run(ev.RUN_NOWAIT)
            elif me.action == "verify":
                self.loop.verify()
            elif me.action == "raise":
                raise Boom

        return callback

    def _spawn(self) -> int:
        """A child that has exited but is not reaped yet (a zombie), so what
        a Child watcher sees does not depend on timing."""
        pid = os.posix_spawn(TRUE, [TRUE], os.environ)
        self.children.append(pid)
        os.waitid(os.P_PID, pid, os.WEXITED | os.WNOWAIT)
        return pid

    @rule(
        target=watchers,
        kind=st.sampled_from(KINDS),
        action=st.sampled_from(ACTIONS),
        priority=st.integers(ev.MINPRI, ev.MAXPRI),
        variant=st.integers(0, 3),
        start=st.booleans(),
    )
    def create(self, kind: str, action: str, priority: int, variant: int, start: bool) -> Tracked:
        holder: list[Tracked] = []
        cb = self._callback(holder)
        now = self.loop.now()
        kw: dict[str, Any] = {"priority": priority}
        w: ev.Watcher
        if kind == "io":
            fd = self.readable if variant % 2 else self.peer
            w = ev.Io(fd, [ev.READ, ev.WRITE, ev.READ | ev.WRITE, 0][variant], cb, **kw)
        elif kind == "pipe_io":
            fd = self.pipe_r if variant % 2 else self.pipe_w
            w = ev.Io(fd, [ev.READ, ev.WRITE, ev.READ | ev.WRITE, ev.READ][variant], cb, **kw)
        elif kind == "timer":
            w = ev.Timer([-1.0, 0.0, 0.001, 30.0][variant], cb, repeat=[0.0, 0.001][variant % 2], **kw)
        elif kind == "periodic":
            w = ev.Periodic([now - 1.0, now + 0.001, 0.0, now + 30.0][variant], cb,
                            interval=[0.0, 0.0, 0.01, 0.0][variant], **kw)
        elif kind == "signal":
            w = ev.Signal(SIGNALS[variant % 2], cb, **kw)
        elif kind == "stat":
            w = ev.Stat(self.path, cb, interval=[0.0, 0.1, 0.15, 1.0][variant], **kw)
        elif kind == "tree":
            w = ev.Tree(self.dir, cb, coalesce=[0.0, 0.0, 0.001, 0.01][variant],
                        interval=[0.0, 0.1, 0.15, 1.0][variant], **kw)
        elif kind == "child":
            w = ev.Child(self._spawn(), cb, **kw)
        elif kind == "embed":
            w = ev.Embed(self.inner, cb, **kw)
        else:
            cls = {"idle": ev.Idle, "prepare": ev.Prepare, "check": ev.Check, "async": ev.Async,
                   "fork": ev.Fork, "cleanup": ev.Cleanup}[kind]
            w = cls(cb, **kw)
        tracked = Tracked(kind, w, action)
        holder.append(tracked)
        self.all.append(tracked)
        if start:  # most bugs need an active watcher: do not wait for a start step
            self._start(tracked)
        return tracked

    # -- watcher operations --------------------------------------------------

    @rule(t=watchers)
    def start(self, t: Tracked) -> None:
        self._start(t)

    def _start(self, t: Tracked) -> None:
        w = t.watcher
        if w.is_active and w.loop is not self.loop:
            with pytest.raises(ev.Error):
                w.start(self.loop)
            return
        if isinstance(w, ev.Child) and not w.is_active:
            try:
                w.start(self.loop)
            except ChildProcessError:
                # Only right once the child is reaped (by an earlier watcher).
                with pytest.raises(ChildProcessError):
                    os.waitid(os.P_PID, w.pid, os.WEXITED | os.WNOHANG | os.WNOWAIT)
                return
        else:
            w.start(self.loop)
        t.silenced = False
        assert w.is_active
        assert w.loop is self.loop

    @rule(t=watchers)
    def stop(self, t: Tracked) -> None:
        t.watcher.stop()
        t.silenced = True
        assert not t.watcher.is_active
        assert not t.watcher.is_pending

    @rule(t=watchers, revents=st.sampled_from([0, ev.READ, ev.WRITE, ev.CUSTOM, ev.CUSTOM | ev.READ]))
    def feed(self, t: Tracked, revents: int) -> None:
        t.watcher.feed(revents, self.loop)
        t.silenced = False
        assert t.watcher.is_pending

    @rule(t=watchers)
    def clear_pending(self, t: Tracked) -> None:
        was_pending = t.watcher.is_pending
        revents = t.watcher.clear_pending()
        assert not t.watcher.is_pending
        if not was_pending:
            assert revents == 0
        if not t.watcher.is_active:
            t.silenced = True

    @rule(t=watchers, priority=st.integers(ev.MINPRI, ev.MAXPRI))
    def set_priority(self, t: Tracked, priority: int) -> None:
        w = t.watcher
        if w.is_active or w.is_pending:
            with pytest.raises(ev.Error):
                w.priority = priority
        else:
            w.priority = priority
            assert w.priority == priority

    @rule(t=watchers)
    def toggle_keepalive(self, t: Tracked) -> None:
        t.watcher.keepalive = not t.watcher.keepalive

    @rule(t=watchers, repeat=st.sampled_from([0.0, 0.001, 30.0]))
    def timer_again(self, t: Tracked, repeat: float) -> None:
        w = t.watcher
        if isinstance(w, ev.Timer) and not (w.is_active and w.loop is not self.loop):
            w.repeat = repeat
            w.again(self.loop)
            assert not w.is_pending
            assert w.is_active == (repeat > 0)
            t.silenced = not w.is_active

    @rule(t=watchers, interval=st.sampled_from([0.0, 0.005, 10.0]))
    def periodic_again(self, t: Tracked, interval: float) -> None:
        w = t.watcher
        if isinstance(w, ev.Periodic) and not (w.is_active and w.loop is not self.loop):
            w.interval = interval
            w.again(self.loop)
            assert w.is_active
            assert not w.is_pending
            t.silenced = False

    @rule(t=watchers, variant=st.integers(0, 3))
    def set_(self, t: Tracked, variant: int) -> None:
        """``set(...)`` with the type's own arguments: only while inactive."""
        w = t.watcher
        call: Any
        if isinstance(w, ev.Io):
            fd = [self.readable, self.peer, self.pipe_r, self.pipe_w][variant]
            call = lambda: w.set(fd, [ev.READ, ev.WRITE, ev.READ | ev.WRITE, ev.READ][variant])  # noqa: E731
        elif isinstance(w, ev.Timer):
            call = lambda: w.set([0.0, 0.001, -1.0, 30.0][variant], repeat=[0.0, 0.001][variant % 2])  # noqa: E731
        elif isinstance(w, ev.Periodic):
            call = lambda: w.set(self.loop.now() + [0.0, 0.001, -1.0, 30.0][variant], interval=0.0)  # noqa: E731
        elif isinstance(w, ev.Signal):
            call = lambda: w.set(SIGNALS[variant % 2])  # noqa: E731
        elif isinstance(w, ev.Stat):
            call = lambda: w.set(self.path, interval=[0.0, 0.1, 0.2, 1.0][variant])  # noqa: E731
        elif isinstance(w, ev.Tree):
            call = lambda: w.set(self.dir, coalesce=[0.0, 0.001, 0.0, 0.01][variant])  # noqa: E731
        elif isinstance(w, ev.Child):
            call = lambda: w.set(self._spawn() if variant == 0 else w.pid)  # noqa: E731
        elif isinstance(w, ev.Embed):
            call = lambda: w.set(self.inner)  # noqa: E731
        else:
            return
        if w.is_active:
            with pytest.raises(ev.Error):
                call()
        else:
            call()

    @rule(t=watchers, events=st.sampled_from([0, ev.READ, ev.WRITE, ev.READ | ev.WRITE]))
    def io_events(self, t: Tracked, events: int) -> None:
        if isinstance(t.watcher, ev.Io):
            t.watcher.events = events  # allowed while active: from the next poll
            assert t.watcher.events == events

    @rule(t=watchers)
    def async_send(self, t: Tracked) -> None:
        if isinstance(t.watcher, ev.Async):
            t.watcher.send()
            if t.watcher.is_active and not t.watcher.loop.closed:  # type: ignore[union-attr]
                assert t.watcher.sent

    @rule(t=watchers)
    def invoke_directly(self, t: Tracked) -> None:
        """``invoke()`` calls the callback now, whatever the watcher's state."""
        self.direct = t
        try:
            t.watcher.invoke(ev.CUSTOM)
        except Boom:
            assert t.action in ("raise", "nested")  # nested: another callback raised in the run
        else:
            assert t.action != "raise"
        finally:
            self.direct = None
        assert t.calls[-1] == ev.CUSTOM or t.action in ("nested", "feed_other")

    # -- the outside world ---------------------------------------------------

    @rule(signum=st.sampled_from(SIGNALS))
    def kill(self, signum: int) -> None:
        os.kill(os.getpid(), signum)  # _ignore takes it while nothing watches it

    @rule(how=st.sampled_from(["write", "utime", "chmod", "replace"]))
    def touch_file(self, how: str) -> None:
        if how == "write":
            with open(self.path, "a") as f:
                f.write("x")
        elif how == "utime":
            os.utime(self.path, ns=(os.stat(self.path).st_atime_ns, os.stat(self.path).st_mtime_ns + 1000))
        elif how == "chmod":
            os.chmod(self.path, 0o600 if os.stat(self.path).st_mode & 0o044 else 0o644)
        else:
            tmp = self.path + ".new"
            with open(tmp, "w") as f:
                f.write("new")
            os.replace(tmp, self.path)

    @rule(data=st.booleans())
    def pipe_fill_or_drain(self, data: bool) -> None:
        if data:
            os.write(self.pipe_w, b"y")
        else:
            try:
                os.read(self.pipe_r, 4096)
            except BlockingIOError:
                pass

    @rule()
    def inner_toggle(self) -> None:
        """Events on the embedded loop make the Embed watchers fire."""
        if self.inner_io.is_active:
            self.inner_io.stop()
        else:
            self.inner_io.start(self.inner)

    # -- loop operations -----------------------------------------------------

    def _run(self, flags: int) -> None:
        try:
            self.loop.run(flags)
        except Boom:
            pass  # a callback's exception comes out of run(); the loop stays usable
        assert self.loop.depth == 0

    @rule()
    def run_nowait(self) -> None:
        self._run(ev.RUN_NOWAIT)

    @rule()
    def run_once(self) -> None:
        # A short guard timer bounds the wait, whatever else is active. It
        # repeats: a nested run from a prepare callback may fire it before
        # this iteration polls, which would then wait for MAX_BLOCKTIME.
        guard = ev.Timer(0.002, lambda w, revents: None, repeat=0.002).start(self.loop)
        try:
            self._run(ev.RUN_ONCE)
        finally:
            guard.stop()

    @rule()
    def run_until_idle_or_break(self) -> None:
        """A plain run(): every referenced watcher must end or break it, so
        a guard timer breaks it after a moment, and keepalive=False watchers
        must not keep it alive past that."""
        def stop_all(w: ev.Timer, revents: int) -> None:
            self.ending = True
            self.loop.break_(ev.BREAK_ALL)

        guard = ev.Timer(0.005, stop_all, repeat=0.005).start(self.loop)
        try:
            self._run(0)
        finally:
            guard.stop()
            self.ending = False

    @rule()
    def invoke_pending(self) -> None:
        """Highest priority first; a callback that queues something (feed,
        a nested run) may make a higher one pending again."""
        self.invoke_log = log = []
        try:
            self.loop.invoke_pending()
        except Boom:
            pass
        finally:
            self.invoke_log = None
        for k in range(1, len(log)):
            if log[k - 1][1] in ("nested", "feed_other"):
                break
            assert log[k][0] <= log[k - 1][0], f"invoked out of priority order: {log}"

    @rule(revents=st.sampled_from([ev.READ, ev.WRITE, ev.READ | ev.WRITE]))
    def feed_fd_event(self, revents: int) -> None:
        self.loop.feed_fd_event(self.readable.fileno(), revents)
        for t in self.all:
            if isinstance(t.watcher, ev.Io) and t.watcher.is_pending:
                t.silenced = False

    @rule(signum=st.sampled_from(SIGNALS))
    def feed_signal_event(self, signum: int) -> None:
        self.loop.feed_signal_event(signum)
        for t in self.all:
            if isinstance(t.watcher, ev.Signal) and t.watcher.is_pending:
                t.silenced = False

    @rule(use_fd=st.booleans(), timeout=st.sampled_from([None, 0.0, 0.001, 5.0]))
    def once(self, use_fd: bool, timeout: float | None) -> None:
        if not use_fd and timeout is None:
            timeout = 0.0

        def fired(revents: int) -> None:
            self.once_outstanding -= 1

        self.loop.once(fired, fd=self.peer if use_fd else None, events=ev.WRITE, timeout=timeout)
        self.once_outstanding += 1

    @rule()
    def fork(self) -> None:
        self.loop.fork()

    @rule()
    def suspend_resume(self) -> None:
        self.loop.suspend()
        self.loop.resume()

    @rule()
    def now_update(self) -> None:
        before = self.loop.now()
        self.loop.now_update()
        assert self.loop.now() >= before - 1.0  # wall clock: only a jump goes back

    @rule(how=st.sampled_from([ev.BREAK_CANCEL, ev.BREAK_ONE, ev.BREAK_ALL]))
    def break_outside_run(self, how: int) -> None:
        self.loop.break_(how)  # forgotten: run() starts afresh

    @rule()
    def ref_unref(self) -> None:
        self.loop.ref()
        self.loop.unref()

    @precondition(lambda self: self.loops_made < 4)
    @rule(signalfd=st.booleans(), inotify=st.booleans())
    def close_and_reopen(self, signalfd: bool, inotify: bool) -> None:
        old = self.loop
        try:
            old.close()
        except Boom:
            pass  # a Cleanup callback raised: the close still completed
        assert old.closed
        for t in self.all:
            assert not (t.watcher.loop is old and (t.watcher.is_active or t.watcher.is_pending))
            t.silenced = t.silenced or t.watcher.loop is old
        with pytest.raises(ev.Error):
            old.run(ev.RUN_NOWAIT)
        self.once_outstanding = 0  # once() callbacks of a closed loop never run
        self.loop = ev.Loop(backend=self.backend, signalfd=signalfd, inotify=inotify)
        self.loops_made += 1

    # -- invariants ----------------------------------------------------------

    @invariant()
    def loops_are_consistent(self) -> None:
        self.loop.verify()
        self.inner.verify()
        assert self.loop.depth == 0
        assert self.inner.depth == 0
        pending = sum(1 for t in self.all if t.watcher.is_pending and t.watcher.loop is self.loop)
        # Embed and once() start watchers of their own, which may be pending
        # after a break or an exception.
        helpers = self.once_outstanding > 0 or any(
            isinstance(t.watcher, ev.Embed) and t.watcher.is_active for t in self.all
        )
        if helpers:
            assert self.loop.pending_count >= pending
        else:
            assert self.loop.pending_count == pending
        for t in self.all:
            if t.silenced:
                assert not t.watcher.is_active, f"{t.kind} active after stop"
                assert not t.watcher.is_pending, f"{t.kind} pending after stop"
        assert not self.late_calls, self.late_calls


SETTINGS = settings(
    max_examples=int(os.environ.get("PYEV_SM_EXAMPLES", "50")),
    stateful_step_count=int(os.environ.get("PYEV_SM_STEPS", "40")),
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
    # A failure is shrunk quickly: one bug at a time, and no explain phase
    # (its tracer slows every step tenfold on 3.11).
    report_multiple_bugs=False,
    phases=[Phase.explicit, Phase.reuse, Phase.generate, Phase.target, Phase.shrink],
)


class EpollApiMachine(ApiMachine):
    backend = ev.Backend.EPOLL


class PollApiMachine(ApiMachine):
    backend = ev.Backend.POLL


TestEpollApiMachine = EpollApiMachine.TestCase
TestEpollApiMachine.settings = SETTINGS
TestPollApiMachine = PollApiMachine.TestCase
TestPollApiMachine.settings = SETTINGS
