"""Timer.start's arguments, Timer.stop on expired timers not yet invoked, and
the references they take and release (API.md Timer, Watchers: start/stop).

Every test runs on both backends.
"""

from __future__ import annotations

import gc
import sys
import weakref
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, cast

import pytest

import pyev as ev

from .helpers import noop

if TYPE_CHECKING:
    from tests.conftest import Recorder


class Boom(Exception):
    pass


class Sentinel:
    """Watchers do not support weak references; their ``data`` does, and
    it dies with the watcher that holds the only reference to it."""


# -- Timer.start's arguments ----------------------------------------------------------------


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


# -- stop() and pending timers ---------------------------------------------------------------


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


# -- references ------------------------------------------------------------------------------


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
