"""User-visible behaviour carried by the C hot path (pyev/_c/).

The C extension now holds the timer heap (a binary heap ordered by
(deadline, arming order)), ``Timer.start`` / ``Timer.stop``, the pending
queue (``_queue``, ``_unpend``, ``invoke_pending``) and the iteration itself.
These tests pin down what users see of that code: which timers fire and in
what order, argument handling of ``Timer.start``, stopping pending timers,
exceptions out of ``run()`` (from callbacks and from Python signal
handlers interrupting the poll), and that loops and watchers are freed.
Every test runs on both backends.
"""

from __future__ import annotations

import gc
import math
import os
import random
import signal
import sys
import threading
import weakref
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, cast

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import pyev as ev

if TYPE_CHECKING:
    from tests.conftest import Recorder


class Boom(Exception):
    pass


class Sentinel:
    """Watchers do not support weak references; their ``data`` does, and
    it dies with the watcher that holds the only reference to it."""


def noop(w: Any, revents: int) -> None:
    pass


def _open_fds() -> set[str]:
    return set(os.listdir("/proc/self/fd"))


# -- 1. the firing order of a random sequence of timer operations -------------------

# Offsets from the loop's (fixed) cached time. Only values whose sums with a
# monotonic timestamp stay distinct and ordered, so that the order of the
# offsets is the order of the deadlines.
AFTERS = [0.0, 0.0, -0.25, -0.5, -0.5, -1.0, -2.0]
REPEATS = [0.0, 0.0, 0.0005, 0.001]
# Longer than any positive REPEAT: a timer re-armed by again() is then due.
SETTLE = 0.002

OPERATION = st.one_of(
    st.tuples(st.just("start"), st.integers(0, 29)),
    st.tuples(st.just("stop"), st.integers(0, 29)),
    st.tuples(st.just("again"), st.integers(0, 29)),
    st.tuples(st.just("set"), st.integers(0, 29), st.sampled_from(AFTERS), st.sampled_from(REPEATS)),
    st.tuples(st.just("repeat"), st.integers(0, 29), st.sampled_from(REPEATS)),
)


@dataclass
class TimerModel:
    after: float
    repeat: float
    priority: int
    active: bool = False
    offset: float = 0.0  # deadline - the loop's cached time, while active
    armed: int = 0  # when it was last armed, while active
    calls: list[int] = field(default_factory=list)


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    specs=st.lists(
        st.tuples(st.sampled_from(AFTERS), st.sampled_from(REPEATS), st.integers(ev.MINPRI, ev.MAXPRI)),
        min_size=1,
        max_size=30,
    ),
    operations=st.lists(OPERATION, max_size=80),
)
def test_random_timer_operations_fire_exactly_the_active_timers_by_priority_deadline_and_arming_order(
    backend: ev.Backend,
    specs: list[tuple[float, float, int]],
    operations: list[tuple[Any, ...]],
) -> None:
    loop = ev.Loop(backend=backend)
    try:
        order: list[int] = []
        models = [TimerModel(after, repeat, priority) for after, repeat, priority in specs]

        def callback(w: ev.Timer, revents: int) -> None:
            index = cast(int, w.data)
            assert revents == ev.TIMER
            order.append(index)

        timers = [
            ev.Timer(m.after, callback, repeat=m.repeat, priority=m.priority, data=i) for i, m in enumerate(models)
        ]
        clock = 0  # counts armings, as the heap's sequence numbers do

        def arm(m: TimerModel, offset: float) -> None:
            nonlocal clock
            clock += 1
            m.active, m.offset, m.armed = True, offset, clock

        # No run() until the end: the loop's cached time stays where it is.
        for op in operations:
            i = op[1] % len(timers)
            t, m = timers[i], models[i]
            if op[0] == "start":
                assert t.start(loop) is t
                if not m.active:
                    arm(m, m.after)
            elif op[0] == "stop":
                t.stop()
                m.active = False
            elif op[0] == "again":
                t.again(loop)
                if m.repeat:
                    arm(m, m.repeat)
                else:
                    m.active = False
            elif op[0] == "set":
                if m.active:
                    with pytest.raises(ev.Error):
                        t.set(op[2], op[3])
                else:
                    t.set(op[2], op[3])
                    m.after, m.repeat = op[2], op[3]
            else:
                t.repeat = op[2]
                m.repeat = op[2]
            loop.verify()
            for tt, mm in zip(timers, models):
                assert tt.is_active == mm.active
                assert not tt.is_pending
                assert (tt.after, tt.repeat) == (mm.after, mm.repeat)
                if mm.active:
                    assert tt.remaining == pytest.approx(mm.offset, abs=1e-6)
                else:
                    assert tt.remaining == mm.after

        if any(m.active and m.offset > 0 for m in models):
            ev.sleep(SETTLE)
        loop.run(ev.RUN_NOWAIT)

        expected = sorted(
            (i for i, m in enumerate(models) if m.active),
            key=lambda i: (-models[i].priority, models[i].offset, models[i].armed),
        )
        assert order == expected
        loop.verify()
        assert loop.pending_count == 0
        for i, (t, m) in enumerate(zip(timers, models)):
            # A repeating timer stays active after it fired, a one-shot one stops.
            assert t.is_active == (m.active and m.repeat > 0), i
            assert not t.is_pending
    finally:
        loop.close()


def test_timers_with_equal_deadlines_keep_their_arming_order_across_repeats(
    loop: ev.Loop, watchdog: Callable[[ev.Loop], ev.Timer]
) -> None:
    log: list[str] = []

    def cb(w: ev.Timer, revents: int) -> None:
        log.append(cast(str, w.data))
        if len(log) == 10:
            b.stop()
            a.stop()

    b = ev.Timer(-1.0, cb, repeat=0.001, data="b").start(loop)
    a = ev.Timer(-1.0, cb, repeat=0.001, data="a").start(loop)
    watchdog(loop)
    assert loop.run() is False
    assert log == ["b", "a"] * 5


def test_a_restarted_timer_goes_behind_timers_armed_meanwhile_with_the_same_deadline(loop: ev.Loop) -> None:
    log: list[str] = []
    first = ev.Timer(-1.0, lambda w, revents: log.append("first")).start(loop)
    ev.Timer(-1.0, lambda w, revents: log.append("second")).start(loop)
    first.stop()
    first.start(loop)
    loop.run(ev.RUN_NOWAIT)
    assert log == ["second", "first"]


def test_a_repeated_start_on_the_same_loop_keeps_the_timers_place(loop: ev.Loop) -> None:
    log: list[str] = []
    first = ev.Timer(-1.0, lambda w, revents: log.append("first")).start(loop)
    ev.Timer(-1.0, lambda w, revents: log.append("second")).start(loop)
    assert first.start(loop) is first
    assert first.start(loop=loop) is first
    loop.verify()
    loop.run(ev.RUN_NOWAIT)
    assert log == ["first", "second"]  # a re-arm would have put it second


# -- 2. Timer.start's arguments ---------------------------------------------------------


def test_timer_start_accepts_the_loop_as_a_keyword(loop: ev.Loop, rec: Recorder) -> None:
    t = ev.Timer(-1.0, rec.cb("t"))
    assert t.start(loop=loop) is t
    assert t.is_active
    assert t.loop is loop
    loop.verify()
    assert loop.run() is False
    assert rec.calls == [("t", ev.TIMER)]


@pytest.mark.parametrize(
    "start",
    [
        pytest.param(lambda t: t.start(), id="no-argument"),
        pytest.param(lambda t: t.start(None), id="none"),
        pytest.param(lambda t: t.start(loop=None), id="keyword-none"),
    ],
)
def test_timer_start_without_a_loop_uses_the_current_default_loop(
    clean_default_loop: None, start: Callable[[ev.Timer], ev.Timer]
) -> None:
    first = ev.default_loop()
    t = ev.Timer(100.0, noop)
    assert start(t) is t
    assert t.loop is first
    assert t.is_active
    first.close()
    assert not t.is_active
    # The default loop is looked up on each call: a closed one is replaced.
    u = ev.Timer(100.0, noop)
    assert start(u) is u
    assert u.loop is ev.default_loop()
    assert u.loop is not first
    assert u.is_active
    u.loop.verify()


@pytest.mark.parametrize("keyword", [False, True], ids=["positional", "keyword"])
def test_timer_start_on_a_closed_loop_raises_error_and_leaves_it_inactive(
    backend: ev.Backend, keyword: bool
) -> None:
    closed = ev.Loop(backend=backend)
    closed.close()
    t = ev.Timer(-1.0, noop)
    with pytest.raises(ev.Error):
        if keyword:
            t.start(loop=closed)
        else:
            t.start(closed)
    assert not t.is_active
    assert not t.is_pending


def test_timer_active_on_one_loop_started_on_another_by_keyword_raises_error(loop: ev.Loop) -> None:
    other = ev.Loop(backend=loop.backend)
    try:
        t = ev.Timer(100.0, noop).start(loop)
        with pytest.raises(ev.Error):
            t.start(loop=other)
        assert t.is_active and t.loop is loop
        loop.verify()
        other.verify()
        assert other.run(ev.RUN_NOWAIT) is False
    finally:
        other.close()


def test_expired_timer_pending_on_one_loop_cannot_be_started_on_another(loop: ev.Loop, rec: Recorder) -> None:
    other = ev.Loop(backend=loop.backend)
    try:
        victim = ev.Timer(-1.0, rec.cb("victim")).start(loop)
        errors: list[str] = []

        def first(w: ev.Timer, revents: int) -> None:
            # victim has expired in this pass: inactive, pending, not yet invoked.
            assert victim.is_pending and not victim.is_active
            try:
                victim.start(other)
            except ev.Error:
                errors.append("positional")
            try:
                victim.start(loop=other)
            except ev.Error:
                errors.append("keyword")

        ev.Timer(-1.0, first, priority=1).start(loop)
        loop.run(ev.RUN_NOWAIT)
        assert errors == ["positional", "keyword"]
        assert rec.calls == [("victim", ev.TIMER)]
        assert not victim.is_active
        assert victim.loop is loop
        loop.verify()
        other.verify()
        assert other.run(ev.RUN_NOWAIT) is False
    finally:
        other.close()


def test_expired_timer_restarted_on_its_own_loop_while_pending_is_invoked_then_fires_again(
    loop: ev.Loop, rec: Recorder
) -> None:
    victim = ev.Timer(-1.0, rec.cb("victim")).start(loop)

    def first(w: ev.Timer, revents: int) -> None:
        assert victim.start(loop) is victim
        assert victim.is_active and victim.is_pending

    ev.Timer(-1.0, first, priority=1).start(loop)
    loop.run(ev.RUN_NOWAIT)
    assert rec.names == ["victim"]
    assert victim.is_active
    loop.verify()
    loop.run(ev.RUN_NOWAIT)
    assert rec.names == ["victim", "victim"]
    assert not victim.is_active


@pytest.mark.parametrize("bad", [42, "loop", object(), ev.Timer(1.0, noop)], ids=["int", "str", "object", "timer"])
def test_timer_start_with_a_non_loop_argument_raises_type_error(loop: ev.Loop, bad: object) -> None:
    t = ev.Timer(1.0, noop)
    with pytest.raises(TypeError):
        t.start(bad)  # type: ignore[arg-type]
    with pytest.raises(TypeError):
        t.start(loop=bad)  # type: ignore[arg-type]
    assert not t.is_active
    assert t.loop is None


@pytest.mark.parametrize(
    "call",
    [
        pytest.param(lambda t, lp, other: t.start(lp, other), id="two-positional"),
        pytest.param(lambda t, lp, other: t.start(lp, loop=other), id="loop-twice"),
        pytest.param(lambda t, lp, other: t.start(lp, foo=1), id="positional-and-unknown-keyword"),
        pytest.param(lambda t, lp, other: t.start(foo=lp), id="unknown-keyword"),
        pytest.param(lambda t, lp, other: t.start(loop=lp, foo=1), id="loop-and-unknown-keyword"),
    ],
)
def test_timer_start_rejects_extra_or_unknown_arguments_with_type_error_and_starts_nothing(
    loop: ev.Loop, call: Callable[[ev.Timer, ev.Loop, ev.Loop], object]
) -> None:
    other = ev.Loop(backend=loop.backend)
    try:
        t = ev.Timer(1.0, noop)
        with pytest.raises(TypeError):
            call(t, loop, other)
        assert not t.is_active
        loop.verify()
        other.verify()
    finally:
        other.close()


# -- 3. stop() and pending timers ----------------------------------------------------------


@pytest.mark.parametrize("repeat", [0.0, 5.0], ids=["one-shot", "repeating"])
def test_stop_of_an_expired_timer_not_yet_invoked_clears_its_pending_state(
    loop: ev.Loop, rec: Recorder, repeat: float
) -> None:
    victim = ev.Timer(-1.0, rec.cb("victim"), repeat=repeat).start(loop)
    seen: list[tuple[bool, bool, int]] = []

    def first(w: ev.Timer, revents: int) -> None:
        seen.append((victim.is_active, victim.is_pending, loop.pending_count))
        victim.stop()
        seen.append((victim.is_active, victim.is_pending, loop.pending_count))
        victim.stop()  # a second stop does nothing
        loop.verify()

    ev.Timer(-1.0, first, priority=2).start(loop)
    assert loop.run(ev.RUN_NOWAIT) is False
    # A one-shot timer leaves the heap when it expires, a repeating one is re-armed.
    assert seen == [(repeat > 0, True, 1), (False, False, 0)]
    assert rec.calls == []
    loop.verify()


def test_stop_of_an_expired_timer_left_pending_by_an_exception_clears_it(loop: ev.Loop, rec: Recorder) -> None:
    def boom(w: ev.Timer, revents: int) -> None:
        raise Boom

    victim = ev.Timer(-1.0, rec.cb("victim")).start(loop)
    ev.Timer(-1.0, boom, priority=1).start(loop)
    with pytest.raises(Boom):
        loop.run()
    assert victim.is_pending and not victim.is_active
    assert loop.pending_count == 1
    victim.stop()
    assert not victim.is_pending
    assert loop.pending_count == 0
    loop.verify()
    assert loop.run() is False
    assert rec.calls == []


def test_stop_of_a_never_started_timer_does_nothing(loop: ev.Loop) -> None:
    t = ev.Timer(1.0, noop)
    t.stop()
    t.stop()
    assert not t.is_active and not t.is_pending
    assert t.loop is None
    assert t.remaining == 1.0
    loop.verify()


@pytest.mark.parametrize("repeat", [0.0, 0.001], ids=["one-shot", "repeating"])
def test_timer_stopping_itself_in_its_callback_is_not_called_again(loop: ev.Loop, repeat: float) -> None:
    calls: list[tuple[bool, bool]] = []

    def cb(w: ev.Timer, revents: int) -> None:
        w.stop()
        calls.append((w.is_active, w.is_pending))
        loop.verify()

    t = ev.Timer(-1.0, cb, repeat=repeat).start(loop)
    assert loop.run() is False
    assert calls == [(False, False)]
    assert not t.is_active
    loop.verify()


def test_timers_stopped_by_a_callback_are_not_invoked_in_the_same_pass(loop: ev.Loop) -> None:
    fired: list[int] = []

    def cb(w: ev.Timer, revents: int) -> None:
        fired.append(cast(int, w.data))

    # Twenty expired timers, earliest first; the first one stops every odd one.
    timers = [ev.Timer(-2.0 + k / 100, cb, repeat=0.5 if k % 3 == 0 else 0.0, data=k) for k in range(20)]

    def killer(w: ev.Timer, revents: int) -> None:
        fired.append(-1)
        for k in range(1, 20, 2):
            timers[k].stop()
        assert loop.pending_count == 10
        loop.verify()

    ev.Timer(-3.0, killer).start(loop)
    for t in timers:
        t.start(loop)
    loop.run(ev.RUN_NOWAIT)
    assert fired == [-1, *range(0, 20, 2)]
    assert loop.pending_count == 0
    for k, t in enumerate(timers):
        assert t.is_active == (k % 2 == 0 and k % 3 == 0)
    loop.verify()


# -- 4. garbage -------------------------------------------------------------------------------


def test_an_unreferenced_loop_with_active_and_pending_watchers_is_collected(backend: ev.Backend) -> None:
    r, w = os.pipe()
    gc.collect()
    fds_before = _open_fds()
    try:
        sentinels = [Sentinel() for _ in range(8)]

        def build() -> weakref.ref[ev.Loop]:
            loop = ev.Loop(backend=backend)

            def on_timer(t: ev.Timer, revents: int) -> None:
                loop.now()  # a cycle through the callback as well

            for k in range(4):
                ev.Timer(10.0 + k, on_timer, data=sentinels[k]).start(loop)
            ev.Timer(5.0, on_timer, repeat=1.0, data=sentinels[4]).start(loop)
            ev.Io(r, ev.READ, noop, data=sentinels[5]).start(loop)
            ev.Idle(noop, data=sentinels[6]).start(loop)
            pending = ev.Timer(-1.0, on_timer, data=sentinels[7]).start(loop)
            pending.feed(ev.CUSTOM)
            loop.run(ev.RUN_NOWAIT)  # the fd table and backend hold the Io now
            pending.feed(ev.CUSTOM)
            assert loop.pending_count == 1
            return weakref.ref(loop)

        ref = build()
        watched = [weakref.ref(s) for s in sentinels]
        del sentinels
        gc.collect()
        assert ref() is None
        assert [x() for x in watched] == [None] * 8
        # The loop's kernel objects went with it.
        assert _open_fds() == fds_before
    finally:
        os.close(r)
        os.close(w)


def test_timers_the_user_drops_are_freed_without_the_cycle_collector(loop: ev.Loop) -> None:
    def fresh(after: float, **kw: Any) -> tuple[ev.Timer, weakref.ref[Sentinel]]:
        s = Sentinel()
        return ev.Timer(after, noop, data=s, **kw), weakref.ref(s)

    gc.disable()
    try:
        t, ref = fresh(1.0)
        t.start(loop)
        t.stop()
        del t
        assert ref() is None, "stopped timer"

        t, ref = fresh(-1.0)
        t.start(loop)
        loop.run(ev.RUN_NOWAIT)
        del t
        assert ref() is None, "expired one-shot timer"

        t, ref = fresh(-1.0, repeat=1.0)
        t.start(loop)
        loop.run(ev.RUN_NOWAIT)
        assert t.is_active
        t.stop()
        del t
        assert ref() is None, "fired then stopped repeating timer"

        t, ref = fresh(1.0)
        t.start(loop)
        t.feed(ev.CUSTOM)
        t.stop()
        del t
        assert ref() is None, "timer stopped while pending"

        t, ref = fresh(-1.0)
        t.start(loop)
        t.again()  # repeat 0: stops it
        del t
        assert ref() is None, "timer stopped by again()"
    finally:
        gc.enable()
    loop.verify()


def test_timer_start_stop_and_run_do_not_leak_references(loop: ev.Loop, clean_default_loop: None) -> None:
    other = ev.Loop(backend=loop.backend)
    closed = ev.Loop(backend=loop.backend)
    closed.close()
    default = ev.default_loop()

    def cb(w: ev.Timer, revents: int) -> None:
        pass

    def boom(w: ev.Timer, revents: int) -> None:
        raise Boom

    one_shot = ev.Timer(-1.0, cb)
    repeating = ev.Timer(-1.0, cb, repeat=0.0001)
    raising = ev.Timer(-1.0, boom)

    def cycle() -> None:
        one_shot.start(loop)
        one_shot.start(loop)
        one_shot.start(loop=loop)
        with pytest.raises(ev.Error):
            one_shot.start(other)
        one_shot.stop()
        one_shot.stop()
        with pytest.raises(ev.Error):
            one_shot.start(closed)
        one_shot.start()
        one_shot.start(None)
        one_shot.stop()
        one_shot.start(loop)
        loop.run(ev.RUN_NOWAIT)
        repeating.start(loop)
        loop.run(ev.RUN_NOWAIT)
        repeating.stop()
        raising.start(loop)
        with pytest.raises(Boom):
            loop.run(ev.RUN_NOWAIT)
        one_shot.feed(ev.CUSTOM, loop)
        one_shot.stop()
        one_shot.start(loop)
        one_shot.feed(ev.CUSTOM)
        loop.invoke_pending()
        one_shot.stop()

    watched: list[object] = [loop, other, closed, default, one_shot, repeating, raising, cb, boom]
    for _ in range(5):
        cycle()
    gc.collect()
    before = [sys.getrefcount(x) for x in watched]
    for _ in range(300):
        cycle()
    gc.collect()
    assert [sys.getrefcount(x) for x in watched] == before
    other.close()


# -- 5. exceptions from callbacks ---------------------------------------------------------------


@pytest.mark.parametrize("kind", [Boom, KeyboardInterrupt], ids=["exception", "keyboardinterrupt"])
def test_timers_expired_with_a_raising_one_stay_pending_and_fire_in_order_at_the_next_run(
    loop: ev.Loop, kind: type[BaseException]
) -> None:
    fired: list[int] = []

    def cb(w: ev.Timer, revents: int) -> None:
        fired.append(cast(int, w.data))
        if w.data == 1:
            raise kind

    timers = [ev.Timer(-5.0 + k, cb, data=k).start(loop) for k in range(5)]
    with pytest.raises(kind):
        loop.run()
    assert fired == [0, 1]
    assert loop.depth == 0
    assert loop.pending_count == 3
    assert [t.is_pending for t in timers] == [False, False, True, True, True]
    loop.verify()
    assert loop.run() is False
    assert fired == [0, 1, 2, 3, 4]
    assert loop.pending_count == 0
    loop.verify()


def test_exception_from_invoke_pending_leaves_expired_timers_pending(loop: ev.Loop) -> None:
    fired: list[int] = []

    def cb(w: ev.Timer, revents: int) -> None:
        fired.append(cast(int, w.data))
        if w.data == 0:
            raise Boom

    for k in range(3):
        ev.Timer(-3.0 + k, cb, data=k).start(loop)
    with pytest.raises(Boom):
        loop.run(ev.RUN_NOWAIT)
    assert fired == [0]
    loop.invoke_pending()
    assert fired == [0, 1, 2]
    assert loop.pending_count == 0
    assert loop.run(ev.RUN_NOWAIT) is False


# -- 6. repeating timers and remaining ------------------------------------------------------------


def test_repeating_timer_with_a_tiny_interval_keeps_firing_until_stopped(
    loop: ev.Loop, watchdog: Callable[[ev.Loop], ev.Timer]
) -> None:
    calls: list[int] = []
    remaining: list[float] = []

    def cb(w: ev.Timer, revents: int) -> None:
        assert w.is_active and not w.is_pending
        calls.append(revents)
        remaining.append(w.remaining)
        if len(calls) == 30:
            w.stop()

    t = ev.Timer(0.001, cb, repeat=0.001).start(loop)
    watchdog(loop)
    assert loop.run() is False
    assert calls == [ev.TIMER] * 30
    assert not t.is_active
    # Re-armed before the callback: at most one interval ahead, never behind.
    assert all(0.0 <= r <= 0.001 + 1e-9 for r in remaining), remaining


def test_remaining_is_at_most_after_when_started_and_after_whenever_inactive(loop: ev.Loop) -> None:
    inside: list[float] = []
    t = ev.Timer(0.25, lambda w, revents: inside.append(w.remaining))
    assert t.remaining == 0.25
    t.start(loop)
    # Computed as deadline - now, so equal to after up to the rounding of now.
    assert 0.0 < t.remaining <= 0.25 + 1e-9
    t.stop()
    assert t.remaining == 0.25
    t.set(-1.0)
    assert t.remaining == -1.0
    t.start(loop)
    assert -1.0 - 1e-9 <= t.remaining <= -1.0 + 1e-9
    loop.run(ev.RUN_NOWAIT)
    assert inside == [-1.0]  # an expired one-shot timer is inactive in its callback
    assert t.remaining == -1.0


# -- 7. many timers -------------------------------------------------------------------------------


@pytest.mark.parametrize("seed", [1, 2])
def test_ten_thousand_timers_with_a_random_half_stopped_fire_in_deadline_then_arming_order(
    loop: ev.Loop, seed: int
) -> None:
    rng = random.Random(seed)
    n = 10_000
    fired: list[int] = []

    def cb(w: ev.Timer, revents: int) -> None:
        fired.append(cast(int, w.data))

    # Deadlines in the past, with many ties (multiples of 1/8 s).
    timers = [ev.Timer(-rng.randrange(2000) / 8.0, cb, data=i) for i in range(n)]
    armed: dict[int, int] = {}
    for i, t in enumerate(timers):
        t.start(loop)
        armed[i] = len(armed)
    loop.verify()
    for i in rng.sample(range(n), n // 2):
        timers[i].stop()
        del armed[i]
    loop.verify()
    stopped = [i for i in range(n) if i not in armed]
    for i in rng.sample(stopped, 500):  # restarted ones go behind their ties
        timers[i].start(loop)
        armed[i] = n + len(armed)
    loop.verify()
    assert fired == []
    loop.run(ev.RUN_NOWAIT)
    assert fired == sorted(armed, key=lambda i: (timers[i].after, armed[i]))
    assert loop.pending_count == 0
    assert not any(t.is_active for t in timers)
    loop.verify()


# -- 8. Python signal handlers interrupting the poll -------------------------------------------------


@pytest.fixture
def usr1_handler() -> Iterator[Callable[[Callable[[int, Any], Any]], None]]:
    """Installs a Python handler for SIGUSR1; the old one is restored after."""
    old = signal.getsignal(signal.SIGUSR1)

    def install(handler: Callable[[int, Any], Any]) -> None:
        signal.signal(signal.SIGUSR1, handler)

    try:
        yield install
    finally:
        signal.signal(signal.SIGUSR1, old)


def _signal_main_thread_once_polling(loop: ev.Loop, signum: int) -> None:
    """Right before the first poll, have a thread send ``signum`` to the
    main thread (the loop's) shortly after, while it blocks."""
    main = threading.main_thread().ident
    assert main is not None and threading.get_ident() == main

    def prepare(w: ev.Prepare, revents: int) -> None:
        w.stop()
        threading.Timer(0.02, signal.pthread_kill, (main, signum)).start()

    ev.Prepare(prepare).start(loop)


SIGNAL_SETUPS = [
    pytest.param(True, False, id="signalfd"),
    pytest.param(False, False, id="no-signalfd"),
    pytest.param(True, True, id="signalfd-with-signal-watcher"),
    pytest.param(False, True, id="handler-mode-with-signal-watcher"),
]


@pytest.mark.parametrize(("use_signalfd", "with_watcher"), SIGNAL_SETUPS)
def test_exception_from_a_python_signal_handler_during_the_poll_propagates_out_of_run(
    backend: ev.Backend,
    usr1_handler: Callable[[Callable[[int, Any], Any]], None],
    use_signalfd: bool,
    with_watcher: bool,
) -> None:
    def handler(signum: int, frame: Any) -> None:
        raise Boom

    usr1_handler(handler)
    with ev.Loop(backend=backend, signalfd=use_signalfd) as loop:
        fired: list[int] = []
        # The only keepalive watcher: run() would block for 5 s without the signal.
        long = ev.Timer(5.0, lambda w, revents: fired.append(revents)).start(loop)
        if with_watcher:
            ev.Signal(signal.SIGUSR2, noop).start(loop).keepalive = False
        _signal_main_thread_once_polling(loop, signal.SIGUSR1)
        with pytest.raises(Boom):
            loop.run()
        assert fired == []
        assert loop.depth == 0
        assert long.is_active
        loop.verify()
        # Still usable.
        long.stop()
        ev.Timer(0.001, lambda w, revents: fired.append(revents)).start(loop)
        assert loop.run() is False
        assert fired == [ev.TIMER]


@pytest.mark.parametrize(("use_signalfd", "with_watcher"), SIGNAL_SETUPS)
def test_async_sent_from_a_python_signal_handler_during_the_poll_wakes_the_loop(
    backend: ev.Backend,
    usr1_handler: Callable[[Callable[[int, Any], Any]], None],
    use_signalfd: bool,
    with_watcher: bool,
) -> None:
    log: list[str] = []
    with ev.Loop(backend=backend, signalfd=use_signalfd) as loop:
        long = ev.Timer(5.0, lambda w, revents: log.append("timer")).start(loop)

        def on_async(w: ev.Async, revents: int) -> None:
            log.append("async")
            w.stop()
            long.stop()

        wake = ev.Async(on_async).start(loop)

        def handler(signum: int, frame: Any) -> None:
            log.append("handler")
            wake.send()

        usr1_handler(handler)
        if with_watcher:
            ev.Signal(signal.SIGUSR2, noop).start(loop).keepalive = False
        _signal_main_thread_once_polling(loop, signal.SIGUSR1)
        assert loop.run() is False
        assert log == ["handler", "async"]
        loop.verify()


# -- found by review of the C core -------------------------------------------


def test_async_wakes_the_loop_when_its_eventfd_reuses_a_just_stopped_io_fd(loop: ev.Loop) -> None:
    # The Io's stale slot (stopped, not yet flushed) must not unregister the
    # wake-up eventfd that was given the same fd number meanwhile.
    r, w = os.pipe()
    io = ev.Io(r, ev.READ, lambda w_, e: None).start(loop)
    loop.run(ev.RUN_NOWAIT)
    io.stop()
    os.close(r)
    os.close(w)
    got: list[str] = []
    sender = ev.Async(lambda w_, e: got.append("async")).start(loop)
    fallback = ev.Timer(30.0, lambda w_, e: got.append("timeout")).start(loop)
    try:
        for _ in range(2):
            got.clear()
            # sent once the loop is blocked in its poll: only the eventfd can wake it
            threading.Timer(0.05, sender.send).start()
            loop.run(ev.RUN_ONCE)
            assert got == ["async"]
    finally:
        fallback.stop()
        sender.stop()


def test_revents_fed_as_int_flags_reach_the_callback_merged_as_a_plain_int(loop: ev.Loop) -> None:
    seen: list[object] = []
    chk = ev.Check(lambda w_, revents: seen.append(revents))
    chk.feed(ev.Events.READ, loop)
    chk.feed(ev.Events.WRITE, loop)
    loop.invoke_pending()
    assert seen == [ev.READ | ev.WRITE]
    assert type(seen[0]) is int


def test_timer_heap_stays_ordered_when_resume_shifts_near_equal_deadlines(loop: ev.Loop) -> None:
    # resume() adds the suspended time to every deadline; rounding can make
    # two deadlines 1 ulp apart equal, and the heap must then still be a heap.
    loop._mn_now = 0.0  # so that the two deadlines below are 1 ulp apart
    later = ev.Timer(math.nextafter(1.0, 2.0), lambda w_, e: None).start(loop)
    sooner = ev.Timer(1.0, lambda w_, e: None).start(loop)
    loop._timers.shift(1e6)  # what resume() does after a long suspension
    loop.verify()
    later.stop()
    sooner.stop()
    loop.verify()
