"""Random sequences of watcher and loop operations keep the loop consistent.

A Hypothesis state machine creates watchers of every core type, starts,
stops, feeds, clears, re-prioritises and re-configures them, and runs the
loop without blocking (or for one short iteration), while callbacks break,
stop watchers or raise. After every step ``Loop.verify()`` must pass and the
user-visible state must agree with what the machine did: a watcher the
machine stopped is neither active nor pending and is not called again until
it is fed or started; ``pending_count`` counts exactly the pending watchers;
``depth`` is 0 outside ``run``; an exception raised by a callback comes out
of ``run`` and leaves the loop usable.
"""

from __future__ import annotations

import os
import socket
from dataclasses import dataclass, field

import pytest
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import Bundle, RuleBasedStateMachine, invariant, rule

import pyev as ev

KINDS = ["io", "timer", "periodic", "idle", "prepare", "check", "async", "fork", "cleanup"]
ACTIONS = ["none", "none", "none", "break_one", "break_all", "stop_self", "stop_other", "raise"]


class Boom(Exception):
    pass


@dataclass(eq=False)
class Tracked:
    kind: str
    watcher: ev.Watcher
    action: str
    silenced: bool = False  # stopped by the machine and not fed or started since
    calls: list[int] = field(default_factory=list)


class LoopMachine(RuleBasedStateMachine):
    backend: ev.Backend = ev.Backend.EPOLL
    watchers = Bundle("watchers")

    def __init__(self) -> None:
        super().__init__()
        self.loop = ev.Loop(backend=self.backend)
        self.readable, self.peer = socket.socketpair()
        self.peer.send(b"x")  # readable stays readable: the data is never read
        self.all: list[Tracked] = []
        self.late_calls: list[str] = []

    def teardown(self) -> None:
        try:
            self.loop.close()
        except Boom:
            pass  # a Cleanup callback raised: close() completed, then re-raised
        self.readable.close()
        self.peer.close()

    # -- creating ------------------------------------------------------------

    def _callback(self, tracked: list[Tracked]):  # type: ignore[no-untyped-def]
        def callback(w: ev.Watcher, revents: int) -> None:
            me = tracked[0]
            if me.silenced:
                self.late_calls.append(f"{me.kind} called with {revents:#x} after the machine stopped it")
            me.calls.append(revents)
            if me.action == "break_one":
                self.loop.break_(ev.BREAK_ONE)
            elif me.action == "break_all":
                self.loop.break_(ev.BREAK_ALL)
            elif me.action == "stop_self":
                w.stop()
            elif me.action == "stop_other" and self.all:
                self.all[len(me.calls) % len(self.all)].watcher.stop()
            elif me.action == "raise":
                raise Boom

        return callback

    @rule(
        target=watchers,
        kind=st.sampled_from(KINDS),
        action=st.sampled_from(ACTIONS),
        priority=st.integers(ev.MINPRI, ev.MAXPRI),
        variant=st.integers(0, 3),
    )
    def create(self, kind: str, action: str, priority: int, variant: int) -> Tracked:
        holder: list[Tracked] = []
        cb = self._callback(holder)
        now = self.loop.now()
        w: ev.Watcher
        if kind == "io":
            fd = self.readable if variant % 2 else self.peer
            w = ev.Io(fd, [ev.READ, ev.WRITE, ev.READ | ev.WRITE, 0][variant], cb, priority=priority)
        elif kind == "timer":
            w = ev.Timer([-1.0, 0.0, 0.001, 30.0][variant], cb, repeat=[0.0, 0.001][variant % 2], priority=priority)
        elif kind == "periodic":
            w = ev.Periodic([now - 1.0, now + 0.001, 0.0, now + 30.0][variant], cb,
                            interval=[0.0, 0.0, 0.01, 0.0][variant], priority=priority)
        else:
            cls = {"idle": ev.Idle, "prepare": ev.Prepare, "check": ev.Check, "async": ev.Async,
                   "fork": ev.Fork, "cleanup": ev.Cleanup}[kind]
            w = cls(cb, priority=priority)
        tracked = Tracked(kind, w, action)
        holder.append(tracked)
        self.all.append(tracked)
        return tracked

    # -- watcher operations --------------------------------------------------

    @rule(t=watchers)
    def start(self, t: Tracked) -> None:
        t.watcher.start(self.loop)
        t.silenced = False
        assert t.watcher.is_active
        assert t.watcher.loop is self.loop

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
        if isinstance(w, ev.Timer):
            w.repeat = repeat
            w.again(self.loop)
            assert not w.is_pending
            assert w.is_active == (repeat > 0)
            t.silenced = not w.is_active

    @rule(t=watchers, events=st.sampled_from([0, ev.READ, ev.WRITE, ev.READ | ev.WRITE]))
    def io_events(self, t: Tracked, events: int) -> None:
        if isinstance(t.watcher, ev.Io):
            t.watcher.events = events
            assert t.watcher.events == events

    @rule(t=watchers)
    def async_send(self, t: Tracked) -> None:
        if isinstance(t.watcher, ev.Async):
            t.watcher.send()

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
        # A short guard timer bounds the wait, whatever else is active.
        guard = ev.Timer(0.002, lambda w, revents: None).start(self.loop)
        try:
            self._run(ev.RUN_ONCE)
        finally:
            guard.stop()

    @rule(revents=st.sampled_from([ev.READ, ev.WRITE, ev.READ | ev.WRITE]))
    def feed_fd_event(self, revents: int) -> None:
        self.loop.feed_fd_event(self.readable.fileno(), revents)
        for t in self.all:
            if isinstance(t.watcher, ev.Io) and t.watcher.is_pending:
                t.silenced = False

    @rule()
    def fork(self) -> None:
        self.loop.fork()

    @rule(how=st.sampled_from([ev.BREAK_CANCEL, ev.BREAK_ONE, ev.BREAK_ALL]))
    def break_outside_run(self, how: int) -> None:
        self.loop.break_(how)  # forgotten: run() starts afresh

    @rule()
    def ref_unref(self) -> None:
        self.loop.ref()
        self.loop.unref()

    # -- invariants ----------------------------------------------------------

    @invariant()
    def loop_is_consistent(self) -> None:
        self.loop.verify()
        assert self.loop.depth == 0
        pending = sum(1 for t in self.all if t.watcher.is_pending)
        assert self.loop.pending_count == pending
        for t in self.all:
            if t.silenced:
                assert not t.watcher.is_active, f"{t.kind} active after stop"
                assert not t.watcher.is_pending, f"{t.kind} pending after stop"
        assert not self.late_calls, self.late_calls


SETTINGS = settings(
    # PYEV_SM_EXAMPLES: more for a soak (tools/soak_state_machines.sh).
    max_examples=int(os.environ.get("PYEV_SM_EXAMPLES", "60")),
    stateful_step_count=40,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
)


class EpollMachine(LoopMachine):
    backend = ev.Backend.EPOLL


class PollMachine(LoopMachine):
    backend = ev.Backend.POLL


TestEpollLoopMachine = EpollMachine.TestCase
TestEpollLoopMachine.settings = SETTINGS
TestPollLoopMachine = PollMachine.TestCase
TestPollLoopMachine.settings = SETTINGS
