"""Calling ``__init__`` again on an active or pending watcher is refused: it
would change a priority or state the loop relies on."""

from __future__ import annotations

import pytest

import pyev as ev


def noop(w: ev.Watcher, revents: int) -> None:
    pass


@pytest.mark.parametrize("kind", ["timer", "idle", "io"])
def test_reinitialising_an_active_watcher_raises_and_leaves_it_working(
    loop: ev.Loop, pipe: tuple[int, int], kind: str
) -> None:
    got: list[int] = []

    def record(w: ev.Watcher, revents: int) -> None:
        got.append(revents)
        w.stop()

    make = {
        "timer": lambda: ev.Timer(0.0, record),
        "idle": lambda: ev.Idle(record),
        "io": lambda: ev.Io(pipe[1], ev.WRITE, record),
    }[kind]
    w = make().start(loop)
    with pytest.raises(ev.Error):
        w.__init__(*{"timer": (1.0, noop), "idle": (noop,), "io": (pipe[1], ev.WRITE, noop)}[kind], priority=2)  # type: ignore[misc]
    assert w.priority == 0
    loop.verify()
    loop.run()
    assert len(got) == 1
    loop.verify()


def test_reinitialising_a_pending_watcher_raises(loop: ev.Loop) -> None:
    w = ev.Idle(noop)
    w.feed(ev.IDLE, loop)
    with pytest.raises(ev.Error):
        w.__init__(noop, priority=2)  # type: ignore[misc]
    assert w.is_pending
    loop.verify()
    w.clear_pending()
