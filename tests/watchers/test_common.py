"""Members every watcher type shares (API.md, Watchers: common members;
LIBEV_SEMANTICS 2.x). Each test runs for every watcher type on both backends."""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

import pyev as ev

from .helpers import noop

Make = Callable[..., ev.Watcher]

KINDS = ["io", "timer", "periodic", "idle", "prepare", "check", "async", "fork", "cleanup", "tree"]
# Cleanup never keeps run() alive, whatever its keepalive says.
KEEPALIVE_KINDS = [k for k in KINDS if k != "cleanup"]


def _builder(kind: str, fd: int, quiet_dir: str) -> Make:
    """Watchers that never fire by themselves within a test: an empty pipe,
    far-away times, a directory nobody changes; the loop-phase ones fire
    only when their phase comes."""

    def build(callback: Callable[[Any, int], object] = noop, **kw: Any) -> ev.Watcher:
        if kind == "io":
            return ev.Io(fd, ev.READ, callback, **kw)
        if kind == "timer":
            return ev.Timer(1000.0, callback, **kw)
        if kind == "periodic":
            return ev.Periodic(ev.time() + 1000.0, callback, **kw)
        if kind == "tree":
            return ev.Tree(quiet_dir, callback, **kw)
        cls = {
            "idle": ev.Idle,
            "prepare": ev.Prepare,
            "check": ev.Check,
            "async": ev.Async,
            "fork": ev.Fork,
            "cleanup": ev.Cleanup,
        }[kind]
        return cls(callback, **kw)

    return build


@pytest.fixture(params=KINDS)
def make(request: pytest.FixtureRequest, pipe: tuple[int, int], tmp_path: Path) -> Make:
    return _builder(request.param, pipe[0], str(tmp_path))


@pytest.fixture(params=KEEPALIVE_KINDS)
def make_counted(request: pytest.FixtureRequest, pipe: tuple[int, int], tmp_path: Path) -> Make:
    return _builder(request.param, pipe[0], str(tmp_path))


def _recorder() -> tuple[list[tuple[Any, int]], Callable[[Any, int], None]]:
    calls: list[tuple[Any, int]] = []

    def cb(w: Any, revents: int) -> None:
        calls.append((w, revents))

    return calls, cb


# -- start / stop ------------------------------------------------------------


def test_new_watcher_is_inactive_not_pending_and_unbound(make: Make) -> None:
    w = make()
    assert not w.is_active
    assert not w.is_pending
    assert w.loop is None


def test_start_returns_the_watcher_and_activates_it(loop: ev.Loop, make: Make) -> None:
    w = make()
    assert w.start(loop) is w
    assert w.is_active
    assert w.loop is loop
    loop.verify()


def test_start_on_the_same_loop_while_active_does_nothing(loop: ev.Loop, make: Make) -> None:
    w = make()
    w.start(loop)
    w.start(loop)
    assert w.is_active
    loop.verify()
    w.stop()  # one stop undoes the (single) start
    assert not w.is_active
    loop.verify()
    assert loop.run(ev.RUN_NOWAIT) is False


def test_start_on_another_loop_while_active_raises_error(loop: ev.Loop, make: Make) -> None:
    other = ev.Loop(backend=loop.backend)
    try:
        w = make().start(loop)
        with pytest.raises(ev.Error):
            w.start(other)
        assert w.is_active
        assert w.loop is loop
        loop.verify()
        other.verify()
        assert other.run(ev.RUN_NOWAIT) is False
    finally:
        other.close()


def test_start_on_a_closed_loop_raises_error(backend: ev.Backend, make: Make) -> None:
    closed = ev.Loop(backend=backend)
    closed.close()
    w = make()
    with pytest.raises(ev.Error):
        w.start(closed)
    assert not w.is_active


def test_watcher_stopped_on_one_loop_can_start_on_another(loop: ev.Loop, make: Make) -> None:
    other = ev.Loop(backend=loop.backend)
    try:
        w = make().start(loop)
        w.stop()
        w.start(other)
        assert w.loop is other
        assert w.is_active
        loop.verify()
        other.verify()
        w.stop()
    finally:
        other.close()


def test_stop_makes_the_watcher_inactive_and_keeps_its_loop(loop: ev.Loop, make: Make) -> None:
    w = make().start(loop)
    w.stop()
    assert not w.is_active
    assert w.loop is loop
    loop.verify()


def test_stop_on_an_inactive_watcher_does_nothing(loop: ev.Loop, make: Make) -> None:
    w = make()
    w.stop()
    w.start(loop)
    w.stop()
    w.stop()
    assert not w.is_active
    loop.verify()
    assert loop.run(ev.RUN_NOWAIT) is False


def test_stop_clears_the_pending_state(loop: ev.Loop, make: Make) -> None:
    calls, cb = _recorder()
    w = make(cb).start(loop)
    w.feed(ev.CUSTOM)
    assert w.is_pending
    assert loop.pending_count == 1
    w.stop()
    assert not w.is_pending
    assert loop.pending_count == 0
    loop.run(ev.RUN_NOWAIT)
    assert calls == []


def test_stop_clears_the_pending_state_of_a_fed_inactive_watcher(loop: ev.Loop, make: Make) -> None:
    calls, cb = _recorder()
    w = make(cb)
    w.feed(ev.CUSTOM, loop)
    w.stop()
    assert not w.is_pending
    assert loop.pending_count == 0
    loop.run(ev.RUN_NOWAIT)
    assert calls == []


def test_watcher_stopped_while_pending_by_an_earlier_callback_is_not_invoked(loop: ev.Loop, make: Make) -> None:
    calls, cb = _recorder()
    victim = make(cb).start(loop)
    killer = ev.Idle(lambda w, revents: victim.stop(), priority=1)
    victim.feed(ev.CUSTOM)
    killer.feed(ev.CUSTOM, loop)
    loop.run(ev.RUN_NOWAIT)
    assert calls == []
    assert not victim.is_active
    loop.verify()


# -- callback ------------------------------------------------------------------


def test_callback_receives_the_watcher_and_the_revents(loop: ev.Loop, make: Make) -> None:
    calls, cb = _recorder()
    w = make(cb).start(loop)
    assert w.callback is cb
    w.feed(ev.CUSTOM)
    loop.run(ev.RUN_NOWAIT)
    assert (w, ev.CUSTOM) in calls


def test_callback_replaced_while_pending_is_the_one_called(loop: ev.Loop, make: Make) -> None:
    first, first_cb = _recorder()
    second, second_cb = _recorder()
    w = make(first_cb).start(loop)
    w.feed(ev.CUSTOM)
    w.callback = second_cb
    assert w.callback is second_cb
    loop.run(ev.RUN_NOWAIT)
    assert first == []
    assert (w, ev.CUSTOM) in second


def test_callback_replaced_inside_the_callback_is_used_next_time(loop: ev.Loop, make: Make) -> None:
    names: list[str] = []

    def second(w: Any, revents: int) -> None:
        names.append("second")

    def first(w: Any, revents: int) -> None:
        names.append("first")
        w.callback = second

    w = make(first)
    w.feed(ev.CUSTOM, loop)
    loop.run(ev.RUN_NOWAIT)
    w.feed(ev.CUSTOM)
    loop.run(ev.RUN_NOWAIT)
    assert names == ["first", "second"]


# -- pending, feed, clear_pending, invoke --------------------------------------


def test_feeding_twice_ors_the_bits_into_one_call(loop: ev.Loop, make: Make) -> None:
    calls, cb = _recorder()
    w = make(cb)
    w.feed(ev.CUSTOM, loop)
    w.feed(ev.READ, loop)
    assert loop.pending_count == 1
    loop.run(ev.RUN_NOWAIT)
    assert calls == [(w, ev.CUSTOM | ev.READ)]


def test_revents_fed_as_int_flags_reach_the_callback_merged_as_a_plain_int(loop: ev.Loop) -> None:
    seen: list[object] = []
    chk = ev.Check(lambda w_, revents: seen.append(revents))
    chk.feed(ev.Events.READ, loop)
    chk.feed(ev.Events.WRITE, loop)
    loop.invoke_pending()
    assert seen == [ev.READ | ev.WRITE]
    assert type(seen[0]) is int


def test_fed_inactive_watcher_is_invoked_once_and_stays_inactive(loop: ev.Loop, make: Make) -> None:
    calls, cb = _recorder()
    w = make(cb)
    w.feed(ev.CUSTOM, loop)
    assert w.is_pending
    assert not w.is_active
    assert w.loop is loop
    loop.run(ev.RUN_NOWAIT)
    loop.run(ev.RUN_NOWAIT)
    assert calls == [(w, ev.CUSTOM)]
    assert not w.is_active
    assert not w.is_pending


def test_feed_with_zero_revents_still_invokes_the_callback(loop: ev.Loop, make: Make) -> None:
    calls, cb = _recorder()
    w = make(cb)
    w.feed(0, loop)
    assert w.is_pending
    loop.run(ev.RUN_NOWAIT)
    assert calls == [(w, 0)]


def test_feed_without_a_loop_uses_the_loop_last_started_on(loop: ev.Loop, make: Make) -> None:
    calls, cb = _recorder()
    w = make(cb).start(loop)
    w.stop()
    w.feed(ev.CUSTOM)
    assert w.loop is loop
    assert loop.pending_count == 1
    loop.run(ev.RUN_NOWAIT)
    assert calls == [(w, ev.CUSTOM)]


def test_feed_without_a_loop_on_a_never_started_watcher_uses_the_default_loop(
    make: Make, clean_default_loop: None
) -> None:
    calls, cb = _recorder()
    w = make(cb)
    w.feed(ev.CUSTOM)
    default = ev.default_loop()
    assert w.loop is default
    assert default.pending_count == 1
    default.run(ev.RUN_NOWAIT)
    assert calls == [(w, ev.CUSTOM)]


def test_watcher_is_not_pending_inside_its_callback_and_can_feed_itself_again(loop: ev.Loop, make: Make) -> None:
    seen: list[tuple[int, bool]] = []

    def cb(w: Any, revents: int) -> None:
        seen.append((revents, w.is_pending))
        if revents == ev.CUSTOM:
            w.feed(ev.CUSTOM | ev.READ)

    w = make(cb)
    w.feed(ev.CUSTOM, loop)
    loop.run(ev.RUN_NOWAIT)
    # The event fed from the callback is invoked in the same pass.
    assert seen == [(ev.CUSTOM, False), (ev.CUSTOM | ev.READ, False)]


def test_clear_pending_returns_the_revents_then_zero(loop: ev.Loop, make: Make) -> None:
    calls, cb = _recorder()
    w = make(cb)
    w.feed(ev.CUSTOM, loop)
    w.feed(ev.READ, loop)
    assert w.clear_pending() == ev.CUSTOM | ev.READ
    assert not w.is_pending
    assert loop.pending_count == 0
    assert w.clear_pending() == 0
    loop.run(ev.RUN_NOWAIT)
    assert calls == []


def test_clear_pending_on_a_watcher_that_was_never_pending_returns_zero(make: Make) -> None:
    assert make().clear_pending() == 0


def test_clear_pending_leaves_an_active_watcher_active(loop: ev.Loop, make: Make) -> None:
    w = make().start(loop)
    w.feed(ev.CUSTOM)
    assert w.clear_pending() == ev.CUSTOM
    assert w.is_active
    loop.verify()


def test_invoke_calls_the_callback_now_and_changes_no_state(loop: ev.Loop, make: Make) -> None:
    calls, cb = _recorder()
    w = make(cb)
    w.invoke(ev.CUSTOM)
    assert calls == [(w, ev.CUSTOM)]
    assert not w.is_active and not w.is_pending
    w.start(loop)
    w.feed(ev.READ)
    w.invoke(ev.WRITE)
    assert calls == [(w, ev.CUSTOM), (w, ev.WRITE)]
    assert w.is_active and w.is_pending


# -- priority --------------------------------------------------------------------


def test_priority_defaults_to_zero(make: Make) -> None:
    assert make().priority == 0


@pytest.mark.parametrize("priority", [ev.MINPRI, -1, 1, ev.MAXPRI])
def test_priority_from_the_constructor_is_kept(make: Make, priority: int) -> None:
    assert make(priority=priority).priority == priority


def test_priority_can_be_set_while_inactive(make: Make) -> None:
    w = make()
    w.priority = ev.MAXPRI
    assert w.priority == ev.MAXPRI
    w.priority = ev.MINPRI
    assert w.priority == ev.MINPRI


def test_setting_priority_while_active_raises_error(loop: ev.Loop, make: Make) -> None:
    w = make(priority=1).start(loop)
    with pytest.raises(ev.Error):
        w.priority = 2
    assert w.priority == 1
    w.stop()
    w.priority = 2
    assert w.priority == 2


def test_setting_priority_while_pending_raises_error(loop: ev.Loop, make: Make) -> None:
    w = make()
    w.feed(ev.CUSTOM, loop)
    with pytest.raises(ev.Error):
        w.priority = 1
    assert w.priority == 0
    loop.run(ev.RUN_NOWAIT)
    w.priority = 1
    assert w.priority == 1


@pytest.mark.parametrize("value", [ev.MAXPRI + 1, ev.MINPRI - 1, 100])
def test_priority_out_of_range_raises_value_error(make: Make, value: int) -> None:
    w = make(priority=1)
    with pytest.raises(ValueError):
        w.priority = value
    assert w.priority == 1
    with pytest.raises(ValueError):
        make(priority=value)


@pytest.mark.parametrize("value", ["1", 1.0, None])
def test_priority_of_the_wrong_type_raises_type_error(make: Make, value: object) -> None:
    w = make()
    with pytest.raises(TypeError):
        w.priority = value  # type: ignore[assignment]
    assert w.priority == 0
    with pytest.raises(TypeError):
        make(priority=value)


def test_higher_priority_callbacks_run_first_in_one_pass(loop: ev.Loop) -> None:
    order: list[int] = []
    for priority in (0, -2, 2, -1, 1):
        w = ev.Idle(lambda w, revents: order.append(w.priority), priority=priority)
        w.feed(ev.CUSTOM, loop)
    loop.run(ev.RUN_NOWAIT)
    assert order == [2, 1, 0, -1, -2]


# -- data --------------------------------------------------------------------------


def test_data_defaults_to_none_comes_from_the_constructor_and_is_settable(make: Make) -> None:
    assert make().data is None
    payload = object()
    w = make(data=payload)
    assert w.data is payload
    w.data = "other"
    assert w.data == "other"


# -- keepalive ---------------------------------------------------------------------


def test_keepalive_defaults_to_true(make: Make) -> None:
    assert make().keepalive is True


def test_watcher_without_keepalive_does_not_keep_run_alive(
    loop: ev.Loop, make_counted: Make, watchdog: ev.Timer
) -> None:
    w = make_counted()
    w.keepalive = False
    w.start(loop)
    assert loop.run() is False
    assert w.is_active
    loop.verify()


def test_clearing_keepalive_on_an_active_watcher_lets_run_return(
    loop: ev.Loop, make_counted: Make, watchdog: ev.Timer
) -> None:
    w = make_counted().start(loop)
    assert loop.run(ev.RUN_NOWAIT) is True
    w.keepalive = False
    assert loop.run() is False
    w.keepalive = True
    assert loop.run(ev.RUN_NOWAIT) is True
    w.stop()
    assert loop.run(ev.RUN_NOWAIT) is False
    loop.verify()


def test_keepalive_bookkeeping_is_right_across_start_and_stop(loop: ev.Loop, make_counted: Make) -> None:
    w = make_counted()
    steps: list[Callable[[], object]] = [
        lambda: setattr(w, "keepalive", False),
        lambda: w.start(loop),
        w.stop,
        lambda: w.start(loop),
        lambda: setattr(w, "keepalive", True),
        lambda: setattr(w, "keepalive", True),
        w.stop,
        w.stop,
        lambda: setattr(w, "keepalive", False),
        lambda: setattr(w, "keepalive", False),
        lambda: w.start(loop),
        lambda: w.start(loop),
        lambda: setattr(w, "keepalive", True),
        w.stop,
        lambda: w.start(loop),
        lambda: setattr(w, "keepalive", False),
        w.stop,
    ]
    for step in steps:
        step()
        loop.verify()
        assert loop.run(ev.RUN_NOWAIT) is (w.is_active and w.keepalive)


def _stopped_by_the_loop(loop: ev.Loop) -> list[tuple[ev.Watcher, Callable[[], object]]]:
    """(watcher, what makes the loop stop it) for each way a watcher ends
    without the user calling stop()."""
    r, w = os.pipe()
    os.close(r)
    os.close(w)
    timer = ev.Timer(-1.0, noop)
    periodic = ev.Periodic(ev.time() - 1.0, noop)
    io = ev.Io(r, ev.READ, noop)  # a closed fd: the loop stops it with ERROR
    again = ev.Timer(100.0, noop)
    return [
        (timer, lambda: loop.run(ev.RUN_NOWAIT)),
        (periodic, lambda: loop.run(ev.RUN_NOWAIT)),
        (io, lambda: loop.run(ev.RUN_NOWAIT)),
        (again, again.again),
    ]


@pytest.mark.parametrize(
    "which", [0, 1, 2, 3], ids=["one-shot-timer", "absolute-periodic", "io-on-closed-fd", "timer-again"]
)
@pytest.mark.parametrize("keepalive", [False, True], ids=["unreferenced", "referenced"])
def test_watcher_ended_by_the_loop_leaves_the_reference_count_right(
    loop: ev.Loop, watchdog: ev.Timer, which: int, keepalive: bool
) -> None:
    w, end_it = _stopped_by_the_loop(loop)[which]
    w.keepalive = keepalive
    w.start(loop)
    end_it()
    assert not w.is_active
    loop.verify()
    assert loop.run(ev.RUN_NOWAIT) is False
    # A count gone negative would make run() return before this timer fires.
    fired: list[int] = []
    ev.Timer(0.01, lambda t, revents: fired.append(revents)).start(loop)
    assert loop.run() is False
    assert fired == [ev.TIMER]
    loop.verify()


def test_cleanup_never_keeps_run_alive_even_with_keepalive(loop: ev.Loop, watchdog: ev.Timer) -> None:
    c = ev.Cleanup(noop).start(loop)
    assert c.keepalive is True
    assert loop.run() is False
    assert c.is_active


# -- attributes --------------------------------------------------------------------


@pytest.mark.parametrize("name", ["is_active", "is_pending", "loop"])
def test_state_attributes_are_read_only(make: Make, name: str) -> None:
    w = make()
    with pytest.raises(AttributeError):
        setattr(w, name, None)


# -- set() --------------------------------------------------------------------------


def _settables(fd: int) -> list[tuple[ev.Watcher, Callable[[], None], dict[str, object]]]:
    """(watcher, a set() call, the attributes it should produce)."""
    io = ev.Io(fd, ev.READ, noop)
    timer = ev.Timer(1000.0, noop)
    periodic = ev.Periodic(ev.time() + 1000.0, noop)
    far = ev.time() + 2000.0
    return [
        (io, lambda: io.set(fd, ev.READ | ev.WRITE), {"fd": fd, "events": ev.READ | ev.WRITE}),
        (timer, lambda: timer.set(500.0, 2.0), {"after": 500.0, "repeat": 2.0}),
        (periodic, lambda: periodic.set(far, 3.0), {"offset": far, "interval": 3.0, "reschedule": None}),
    ]


@pytest.mark.parametrize("which", [0, 1, 2], ids=["io", "timer", "periodic"])
def test_set_while_active_raises_error_and_changes_nothing(loop: ev.Loop, pipe: tuple[int, int], which: int) -> None:
    w, do_set, wanted = _settables(pipe[0])[which]
    before = {name: getattr(w, name) for name in wanted}
    w.start(loop)
    with pytest.raises(ev.Error):
        do_set()
    assert {name: getattr(w, name) for name in wanted} == before
    assert w.is_active
    loop.verify()


@pytest.mark.parametrize("which", [0, 1, 2], ids=["io", "timer", "periodic"])
def test_set_while_inactive_changes_the_arguments(loop: ev.Loop, pipe: tuple[int, int], which: int) -> None:
    w, do_set, wanted = _settables(pipe[0])[which]
    w.start(loop)
    w.stop()
    do_set()
    assert {name: getattr(w, name) for name in wanted} == wanted


@pytest.mark.parametrize("which", [0, 1, 2], ids=["io", "timer", "periodic"])
def test_set_is_allowed_on_a_pending_inactive_watcher(loop: ev.Loop, pipe: tuple[int, int], which: int) -> None:
    w, do_set, wanted = _settables(pipe[0])[which]
    w.feed(ev.CUSTOM, loop)
    do_set()
    assert {name: getattr(w, name) for name in wanted} == wanted
    assert w.is_pending
