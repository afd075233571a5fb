"""Every Events member is also a module constant, the member itself
(API.md Module: ``ev.READ``, ``ev.WRITE``, ... ``ev.ERROR``)."""

from __future__ import annotations

import os

import pytest

import pyev as ev

MEMBERS = list(ev.Events.__members__.items())


@pytest.mark.parametrize(("name", "member"), MEMBERS, ids=[name for name, _ in MEMBERS])
def test_module_constant_is_the_events_member_of_the_same_name(name: str, member: ev.Events) -> None:
    assert getattr(ev, name) is member
    assert name in ev.__all__


def test_none_is_the_events_member_none() -> None:
    assert ev.NONE is ev.Events.NONE
    assert isinstance(ev.NONE, ev.Events)
    assert int(ev.NONE) == 0


def test_events_constants_as_watcher_arguments_give_plain_int_members_and_matching_revents(
    loop: ev.Loop, pipe: tuple[int, int]
) -> None:
    r, w = pipe
    got: list[int] = []
    io = ev.Io(r, ev.READ | ev.WRITE, lambda w, revents: got.append(revents)).start(loop)
    assert io.events == ev.READ | ev.WRITE
    assert type(io.events) is int
    io.events = ev.READ
    assert io.events == ev.READ
    os.write(w, b"x")
    loop.run(ev.RUN_ONCE)
    assert got == [ev.READ]
    io.stop()
    io.feed(ev.CUSTOM, loop)
    loop.invoke_pending()
    assert got[-1] == ev.CUSTOM
