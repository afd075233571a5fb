"""Which expired timers fire, and in what order (API.md Timer; LIBEV_SEMANTICS 3.2).

Expired timers are invoked by priority, then deadline, then arming order:
a restarted timer goes behind the timers armed meanwhile with the same
deadline, a repeated start keeps its place, and the order holds under random
sequences of start/stop/again/set, for ten thousand timers, and across a
resume() that shifts every deadline. Every test runs on both backends.
"""

from __future__ import annotations

import math
import random
from dataclasses import dataclass, field
from typing import Any, cast

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import pyev as ev


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
    loop: ev.Loop, watchdog: ev.Timer
) -> None:
    log: list[str] = []

    def cb(w: ev.Timer, revents: int) -> None:
        log.append(cast(str, w.data))
        if len(log) == 10:
            b.stop()
            a.stop()

    b = ev.Timer(-1.0, cb, repeat=0.001, data="b").start(loop)
    a = ev.Timer(-1.0, cb, repeat=0.001, data="a").start(loop)
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


def test_timers_stay_ordered_when_resume_shifts_near_equal_deadlines(loop: ev.Loop) -> None:
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
