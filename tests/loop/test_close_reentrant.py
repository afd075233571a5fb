"""close() called again while the loop is closing (from a Cleanup callback)."""

from __future__ import annotations

import os

import pytest

import pyev as ev


def test_close_called_from_a_cleanup_callback_does_nothing_and_the_outer_close_completes(
    loop: ev.Loop, pipe: tuple[int, int]
) -> None:
    r, _ = pipe
    calls: list[str] = []

    def closing(w: ev.Cleanup, revents: int) -> None:
        calls.append("closing")
        loop.close()
        calls.append("returned")

    ev.Cleanup(closing).start(loop)
    ev.Cleanup(lambda w, revents: calls.append("other")).start(loop)
    io = ev.Io(r, ev.READ, lambda w, revents: None).start(loop)
    timer = ev.Timer(60.0, lambda w, revents: None).start(loop)

    loop.close()

    assert calls == ["closing", "returned", "other"]
    assert loop.closed
    assert not io.is_active
    assert not timer.is_active
    with pytest.raises(ev.Error):
        loop.run()
    loop.close()  # still idempotent afterwards
    assert calls == ["closing", "returned", "other"]


def test_closing_the_loop_from_a_cleanup_callback_twice_still_releases_its_fds(backend: ev.Backend) -> None:
    before = set(os.listdir("/proc/self/fd"))
    lp = ev.Loop(backend=backend)
    ev.Async(lambda w, revents: None).start(lp)

    def closing(w: ev.Cleanup, revents: int) -> None:
        lp.close()
        lp.close()

    ev.Cleanup(closing).start(lp)
    lp.run(ev.RUN_NOWAIT)
    lp.close()
    assert lp.closed
    assert set(os.listdir("/proc/self/fd")) == before
