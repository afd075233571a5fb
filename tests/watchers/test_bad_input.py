"""Bad arguments to every watcher constructor and setter raise ValueError
(bad value) or TypeError (bad type) at once, change nothing, and leave the
loop working (API.md: Watchers, ev.Error)."""

# Wrong argument types are the point of this module.
# mypy: disable-error-code="arg-type"

from __future__ import annotations

import math
import socket
from collections.abc import Callable
from typing import Any

import pytest

import pyev as ev

from .helpers import assert_loop_runs_a_timer, noop

NAN, INF = math.nan, math.inf
FD = 0  # constructors and setters only check the number; no kernel call is made


class NoFileno:
    pass


class NegativeFileno:
    def fileno(self) -> int:
        return -1


class StrFileno:
    def fileno(self) -> str:
        return "3"


SIMPLE = [ev.Idle, ev.Prepare, ev.Check, ev.Async, ev.Fork, ev.Cleanup]

# (id, constructor call, expected exception)
CONSTRUCTORS: list[tuple[str, Callable[[], object], type[Exception]]] = [
    # Timer
    ("timer-after-nan", lambda: ev.Timer(NAN, noop), ValueError),
    ("timer-after-inf", lambda: ev.Timer(INF, noop), ValueError),
    ("timer-after--inf", lambda: ev.Timer(-INF, noop), ValueError),
    ("timer-after-str", lambda: ev.Timer("1", noop), TypeError),
    ("timer-after-none", lambda: ev.Timer(None, noop), TypeError),
    ("timer-repeat-nan", lambda: ev.Timer(1.0, noop, repeat=NAN), ValueError),
    ("timer-repeat-inf", lambda: ev.Timer(1.0, noop, repeat=INF), ValueError),
    ("timer-repeat-negative", lambda: ev.Timer(1.0, noop, repeat=-1.0), ValueError),
    ("timer-repeat-str", lambda: ev.Timer(1.0, noop, repeat="1"), TypeError),
    ("timer-callback-str", lambda: ev.Timer(1.0, "noop"), TypeError),
    ("timer-callback-none", lambda: ev.Timer(1.0, None), TypeError),
    ("timer-priority-high", lambda: ev.Timer(1.0, noop, priority=ev.MAXPRI + 1), ValueError),
    ("timer-priority-low", lambda: ev.Timer(1.0, noop, priority=ev.MINPRI - 1), ValueError),
    ("timer-priority-str", lambda: ev.Timer(1.0, noop, priority="0"), TypeError),
    # Periodic
    ("periodic-offset-nan", lambda: ev.Periodic(NAN, noop), ValueError),
    ("periodic-offset-inf", lambda: ev.Periodic(INF, noop), ValueError),
    ("periodic-offset--inf", lambda: ev.Periodic(-INF, noop), ValueError),
    ("periodic-offset-str", lambda: ev.Periodic("0", noop), TypeError),
    ("periodic-interval-nan", lambda: ev.Periodic(0.0, noop, interval=NAN), ValueError),
    ("periodic-interval-inf", lambda: ev.Periodic(0.0, noop, interval=INF), ValueError),
    ("periodic-interval-negative", lambda: ev.Periodic(0.0, noop, interval=-1.0), ValueError),
    ("periodic-interval-str", lambda: ev.Periodic(0.0, noop, interval="1"), TypeError),
    ("periodic-reschedule-str", lambda: ev.Periodic(0.0, noop, reschedule="later"), TypeError),
    ("periodic-reschedule-int", lambda: ev.Periodic(0.0, noop, reschedule=5), TypeError),
    ("periodic-callback-int", lambda: ev.Periodic(0.0, 5), TypeError),
    ("periodic-priority-high", lambda: ev.Periodic(0.0, noop, priority=ev.MAXPRI + 1), ValueError),
    # Io
    ("io-fd-negative", lambda: ev.Io(-1, ev.READ, noop), ValueError),
    ("io-fd-beyond-c-int", lambda: ev.Io(2**32 + FD, ev.READ, noop), ValueError),
    ("io-fd-str", lambda: ev.Io("0", ev.READ, noop), TypeError),
    ("io-fd-float", lambda: ev.Io(0.0, ev.READ, noop), TypeError),
    ("io-fd-none", lambda: ev.Io(None, ev.READ, noop), TypeError),
    ("io-fd-without-fileno", lambda: ev.Io(NoFileno(), ev.READ, noop), TypeError),
    ("io-fd-fileno-negative", lambda: ev.Io(NegativeFileno(), ev.READ, noop), ValueError),
    ("io-fd-fileno-str", lambda: ev.Io(StrFileno(), ev.READ, noop), TypeError),
    ("io-events-timer", lambda: ev.Io(FD, ev.TIMER, noop), ValueError),
    ("io-events-extra-bit", lambda: ev.Io(FD, ev.READ | 0x4, noop), ValueError),
    ("io-events-error", lambda: ev.Io(FD, ev.READ | ev.ERROR, noop), ValueError),
    ("io-events-negative", lambda: ev.Io(FD, -1, noop), ValueError),
    ("io-events-str", lambda: ev.Io(FD, "r", noop), TypeError),
    ("io-events-float", lambda: ev.Io(FD, 1.0, noop), TypeError),
    ("io-callback-str", lambda: ev.Io(FD, ev.READ, "noop"), TypeError),
    ("io-priority-low", lambda: ev.Io(FD, ev.READ, noop, priority=-3), ValueError),
]


def _construct(cls: type[ev.Watcher], *args: Any, **kw: Any) -> Callable[[], object]:
    return lambda: cls(*args, **kw)


for _cls in SIMPLE:
    _name = _cls.__name__.lower()
    CONSTRUCTORS += [
        (f"{_name}-callback-str", _construct(_cls, "noop"), TypeError),
        (f"{_name}-callback-none", _construct(_cls, None), TypeError),
        (f"{_name}-priority-high", _construct(_cls, noop, priority=ev.MAXPRI + 1), ValueError),
        (f"{_name}-priority-low", _construct(_cls, noop, priority=ev.MINPRI - 1), ValueError),
        (f"{_name}-priority-str", _construct(_cls, noop, priority="1"), TypeError),
    ]


@pytest.mark.parametrize(("make", "error"), [(m, e) for _, m, e in CONSTRUCTORS], ids=[i for i, _, _ in CONSTRUCTORS])
def test_bad_constructor_argument_raises_and_the_loop_still_works(
    loop: ev.Loop, make: Callable[[], object], error: type[Exception]
) -> None:
    with pytest.raises(error):
        make()
    assert_loop_runs_a_timer(loop)


def _periodic() -> ev.Periodic:
    return ev.Periodic(ev.time() + 1000.0, noop)


def _io() -> ev.Io:
    return ev.Io(FD, ev.READ, noop)


def _timer() -> ev.Timer:
    return ev.Timer(1000.0, noop, repeat=5.0)


def _assign(name: str, value: object) -> Callable[[Any], None]:
    return lambda w: setattr(w, name, value)


# (id, watcher factory, bad change, expected exception, attributes that must not change)
SETTERS: list[tuple[str, Callable[[], Any], Callable[[Any], None], type[Exception], tuple[str, ...]]] = [
    ("timer-set-after-nan", _timer, lambda w: w.set(NAN), ValueError, ("after", "repeat")),
    ("timer-set-after-inf", _timer, lambda w: w.set(INF), ValueError, ("after", "repeat")),
    ("timer-set-after-str", _timer, lambda w: w.set("1"), TypeError, ("after", "repeat")),
    ("timer-set-repeat-negative", _timer, lambda w: w.set(1.0, -1.0), ValueError, ("after", "repeat")),
    ("timer-set-repeat-nan", _timer, lambda w: w.set(1.0, NAN), ValueError, ("after", "repeat")),
    ("timer-repeat-negative", _timer, _assign("repeat", -1.0), ValueError, ("repeat",)),
    ("timer-repeat-nan", _timer, _assign("repeat", NAN), ValueError, ("repeat",)),
    ("timer-repeat-inf", _timer, _assign("repeat", INF), ValueError, ("repeat",)),
    ("timer-repeat-str", _timer, _assign("repeat", "1"), TypeError, ("repeat",)),
    ("periodic-set-offset-nan", _periodic, lambda w: w.set(NAN), ValueError, ("offset", "interval")),
    ("periodic-set-interval-negative", _periodic, lambda w: w.set(0.0, -1.0), ValueError, ("offset", "interval")),
    ("periodic-set-interval-inf", _periodic, lambda w: w.set(0.0, INF), ValueError, ("offset", "interval")),
    ("periodic-set-reschedule-str", _periodic, lambda w: w.set(0.0, 0.0, "x"), TypeError, ("offset", "reschedule")),
    ("periodic-offset-nan", _periodic, _assign("offset", NAN), ValueError, ("offset",)),
    ("periodic-offset-inf", _periodic, _assign("offset", INF), ValueError, ("offset",)),
    ("periodic-offset-str", _periodic, _assign("offset", "0"), TypeError, ("offset",)),
    ("periodic-interval-negative", _periodic, _assign("interval", -1.0), ValueError, ("interval",)),
    ("periodic-interval-nan", _periodic, _assign("interval", NAN), ValueError, ("interval",)),
    ("periodic-interval-inf", _periodic, _assign("interval", INF), ValueError, ("interval",)),
    ("periodic-interval-str", _periodic, _assign("interval", "1"), TypeError, ("interval",)),
    ("periodic-reschedule-int", _periodic, _assign("reschedule", 5), TypeError, ("reschedule",)),
    ("io-set-fd-negative", _io, lambda w: w.set(-1, ev.READ), ValueError, ("fd", "events")),
    ("io-set-fd-without-fileno", _io, lambda w: w.set(NoFileno(), ev.READ), TypeError, ("fd", "events")),
    ("io-set-fd-str", _io, lambda w: w.set("0", ev.READ), TypeError, ("fd", "events")),
    ("io-set-events-timer", _io, lambda w: w.set(FD, ev.TIMER), ValueError, ("fd", "events")),
    ("io-set-events-str", _io, lambda w: w.set(FD, "r"), TypeError, ("fd", "events")),
    ("io-events-extra-bit", _io, _assign("events", 0x4), ValueError, ("events",)),
    ("io-events-negative", _io, _assign("events", -1), ValueError, ("events",)),
    ("io-events-str", _io, _assign("events", "r"), TypeError, ("events",)),
    ("priority-high", _timer, _assign("priority", ev.MAXPRI + 1), ValueError, ("priority",)),
    ("priority-low", _io, _assign("priority", ev.MINPRI - 1), ValueError, ("priority",)),
    ("priority-str", _periodic, _assign("priority", "1"), TypeError, ("priority",)),
    ("priority-float", _timer, _assign("priority", 1.0), TypeError, ("priority",)),
    ("callback-int", _timer, _assign("callback", 5), TypeError, ("callback",)),
    ("callback-none", _io, _assign("callback", None), TypeError, ("callback",)),
    ("keepalive-str", _timer, _assign("keepalive", "yes"), TypeError, ("keepalive",)),
    ("feed-revents-str", _timer, lambda w: w.feed("x"), TypeError, ("is_pending",)),
]
for _cls in SIMPLE:
    _name = _cls.__name__.lower()
    SETTERS += [
        (f"{_name}-priority-high", _construct(_cls, noop), _assign("priority", 3), ValueError, ("priority",)),
        (f"{_name}-callback-str", _construct(_cls, noop), _assign("callback", "x"), TypeError, ("callback",)),
    ]


@pytest.mark.parametrize(
    ("make", "change", "error", "kept"),
    [(m, c, e, k) for _, m, c, e, k in SETTERS],
    ids=[i for i, *_ in SETTERS],
)
def test_bad_setter_argument_raises_changes_nothing_and_the_loop_still_works(
    loop: ev.Loop,
    make: Callable[[], Any],
    change: Callable[[Any], None],
    error: type[Exception],
    kept: tuple[str, ...],
) -> None:
    w = make()
    before = {name: getattr(w, name) for name in kept}
    with pytest.raises(error):
        change(w)
    assert {name: getattr(w, name) for name in kept} == before
    assert_loop_runs_a_timer(loop)


def _fine_while_active(case_id: str) -> bool:
    """Setters allowed on an active watcher: not set(), and not priority,
    where ev.Error (active) and ValueError (bad value) would both be fair."""
    return not case_id.startswith(("io-", "feed-")) and "-set-" not in case_id and "priority" not in case_id


ACTIVE_SETTERS = [case for case in SETTERS if _fine_while_active(case[0])]


@pytest.mark.parametrize(
    ("make", "change", "error", "kept"),
    [(m, c, e, k) for _, m, c, e, k in ACTIVE_SETTERS],
    ids=[i for i, *_ in ACTIVE_SETTERS],
)
def test_bad_setter_argument_on_an_active_watcher_leaves_it_running(
    loop: ev.Loop,
    make: Callable[[], Any],
    change: Callable[[Any], None],
    error: type[Exception],
    kept: tuple[str, ...],
) -> None:
    w = make()
    w.keepalive = False
    w.start(loop)
    before = {name: getattr(w, name) for name in kept}
    with pytest.raises(error):
        change(w)
    assert {name: getattr(w, name) for name in kept} == before
    assert w.is_active
    assert_loop_runs_a_timer(loop)
    w.stop()
    loop.verify()


def test_bad_io_events_on_an_active_watcher_leave_it_watching(loop: ev.Loop) -> None:
    a, b = socket.socketpair()
    try:
        calls: list[int] = []
        io = ev.Io(a, ev.WRITE, lambda w, revents: calls.append(revents)).start(loop)
        with pytest.raises(ValueError):
            io.events = ev.TIMER
        with pytest.raises(TypeError):
            io.events = "w"  # type: ignore[assignment]
        loop.run(ev.RUN_NOWAIT)
        assert calls == [ev.WRITE]
        io.stop()
        assert_loop_runs_a_timer(loop)
    finally:
        a.close()
        b.close()
