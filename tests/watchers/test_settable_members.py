"""Every settable member of every watcher class goes through the same checks
as the constructor (API.md Watchers: "Constructors validate their
arguments"; "only those marked settable may be assigned").

A bad value assigned to a member raises what the constructor raises for it
(``ValueError`` for NaN, infinities and out-of-range values, ``TypeError``
for wrong types), on an inactive and on an active watcher, and leaves the
member unchanged.
"""

from __future__ import annotations

import math
import os
import signal
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

import pyev as ev

from .helpers import noop

Make = Callable[..., ev.Watcher]

COMMON = ["callback", "priority", "keepalive", "data"]

# class name -> its settable members (API.md)
SETTABLE = {
    "Io": COMMON + ["events"],
    "Timer": COMMON + ["repeat"],  # after: read-only, as libev's (set() changes it)
    "Periodic": COMMON + ["offset", "interval", "reschedule"],
    "Signal": COMMON,
    "Child": COMMON,
    "Stat": COMMON,
    "Idle": COMMON,
    "Prepare": COMMON,
    "Check": COMMON,
    "Fork": COMMON,
    "Cleanup": COMMON,
    "Async": COMMON,
    "Embed": COMMON,
    "Tree": COMMON,
}

# Classes whose watchers the test starts (Signal and Child would touch
# process-global state).
STARTABLE = {"Io", "Timer", "Periodic", "Stat", "Idle", "Prepare", "Check", "Fork", "Cleanup", "Async", "Embed", "Tree"}

NAN, INF = math.nan, math.inf
BAD: dict[str, list[object]] = {
    "repeat": [NAN, INF, -INF, -1.0, "1", None, True],
    "offset": [NAN, INF, -INF, "1", None, True],
    "interval": [NAN, INF, -INF, -1.0, "1", None, True],
    "reschedule": [3, "x"],
    "events": [4, 0x100, -1, 1.5, "1", None, True],
    "callback": [3, "x", None],
    "priority": [3, -3, 1.5, "1", None, True],
}
NOT_CONSTRUCTOR_ARGS: dict[str, list[object]] = {"keepalive": [1, 0, None, "yes"]}


@pytest.fixture
def inner() -> Iterator[ev.Loop]:
    lp = ev.Loop(backend=ev.Backend.EPOLL)
    yield lp
    lp.close()


@pytest.fixture
def makers(pipe: tuple[int, int], tmp_path: Path, inner: ev.Loop) -> dict[str, Make]:
    """class name -> a function building a watcher from keyword overrides of
    valid constructor arguments."""
    r, _ = pipe

    def maker(cls: type[ev.Watcher], positional: list[str], **defaults: Any) -> Make:
        def make(**overrides: Any) -> ev.Watcher:
            kw = {**defaults, **overrides}
            args = [kw.pop(name) for name in positional]
            return cls(*args, **kw)

        return make

    return {
        "Io": maker(ev.Io, ["fd", "events", "callback"], fd=r, events=ev.READ, callback=noop),
        "Timer": maker(ev.Timer, ["after", "callback"], after=60.0, callback=noop),
        "Periodic": maker(ev.Periodic, ["offset", "callback"], offset=0.0, callback=noop, interval=3600.0),
        "Signal": maker(ev.Signal, ["signum", "callback"], signum=signal.SIGUSR1, callback=noop),
        "Child": maker(ev.Child, ["pid", "callback"], pid=os.getpid(), callback=noop),
        "Stat": maker(ev.Stat, ["path", "callback"], path=tmp_path, callback=noop),
        "Idle": maker(ev.Idle, ["callback"], callback=noop),
        "Prepare": maker(ev.Prepare, ["callback"], callback=noop),
        "Check": maker(ev.Check, ["callback"], callback=noop),
        "Fork": maker(ev.Fork, ["callback"], callback=noop),
        "Cleanup": maker(ev.Cleanup, ["callback"], callback=noop),
        "Async": maker(ev.Async, ["callback"], callback=noop),
        "Embed": maker(ev.Embed, ["other"], other=inner, callback=noop),
        "Tree": maker(ev.Tree, ["path", "callback"], path=tmp_path, callback=noop),
    }


def _cases() -> list[Any]:
    cases = []
    for name, members in SETTABLE.items():
        for member in members:
            for value in BAD.get(member, []) + NOT_CONSTRUCTOR_ARGS.get(member, []):
                if name == "Embed" and member == "callback" and value is None:
                    continue  # an Embed's callback is optional
                cases.append(pytest.param(name, member, value, id=f"{name}.{member}={value!r}"))
    return cases


def _same_as(value: object) -> Callable[[object], bool]:
    return lambda got: got is value or got == value or (got != got and value != value)


@pytest.mark.parametrize(("name", "member", "value"), _cases())
def test_assigning_a_bad_value_raises_what_the_constructor_raises_and_changes_nothing(
    loop: ev.Loop, makers: dict[str, Make], name: str, member: str, value: object
) -> None:
    make = makers[name]
    if member in NOT_CONSTRUCTOR_ARGS:
        expected: type[Exception] = TypeError
    else:
        with pytest.raises((TypeError, ValueError)) as from_constructor:
            make(**{member: value})
        expected = type(from_constructor.value)

    w = make()
    states = [False, True] if name in STARTABLE else [False]
    for active in states:
        if active:
            w.start(loop)
        before = getattr(w, member)
        with pytest.raises(expected):
            setattr(w, member, value)
        assert _same_as(before)(getattr(w, member))
        assert w.is_active is active
    w.stop()
    loop.verify()


def _assignable(w: ev.Watcher) -> list[str]:
    """The public non-method members that accept their own value."""
    found = []
    for member in dir(w):
        if member.startswith("_"):
            continue
        value = getattr(w, member)
        if callable(value) and member not in ("callback", "reschedule"):
            continue  # a method
        try:
            setattr(w, member, value)
        except AttributeError:
            continue
        except ev.Error:
            pass  # settable, though not in this state (priority while active)
        found.append(member)
    return sorted(found)


@pytest.mark.parametrize("name", SETTABLE)
def test_exactly_the_documented_members_can_be_assigned(loop: ev.Loop, makers: dict[str, Make], name: str) -> None:
    w = makers[name]()
    assert _assignable(w) == sorted(SETTABLE[name])
    if name in STARTABLE:
        w.start(loop)
        assert _assignable(w) == sorted(SETTABLE[name])
        w.stop()
