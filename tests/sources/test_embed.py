"""Embed watchers: another loop's events handled from inside this one.

The embedding (outer) loop is the ``loop`` fixture, on either backend; the
embedded (inner) loop is always EPOLL, the embeddable backend. The test
never runs the inner loop itself: whatever fires there was swept by the
outer loop. ``run_until`` has a watchdog timer that fails a test fast when
the expected event never comes.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING

import pytest

import pyev as ev

if TYPE_CHECKING:
    from tests.conftest import Recorder


@pytest.fixture
def inner() -> Iterator[ev.Loop]:
    lp = ev.Loop(backend=ev.Backend.EPOLL)
    yield lp
    lp.close()


@pytest.fixture
def pipe() -> Iterator[tuple[int, int]]:
    r, w = os.pipe()
    yield r, w
    os.close(r)
    os.close(w)


def run_until(loop: ev.Loop, done: Callable[[], bool], *, limit: float = 3.0) -> None:
    """Runs single iterations until ``done()``; fails after ``limit`` seconds."""
    expired: list[bool] = []
    watchdog = ev.Timer(limit, lambda w, r: expired.append(True)).start(loop)
    try:
        while not done():
            if expired:
                pytest.fail(f"nothing happened within {limit} s")
            loop.run(ev.RUN_ONCE)
    finally:
        watchdog.stop()


def draining_reader(rec: Recorder, name: str = "io") -> Callable[[ev.Io, int], None]:
    """An Io callback that records and empties the pipe, so it fires once per write."""

    def callback(w: ev.Io, revents: int) -> None:
        os.read(w.fd, 4096)
        rec.calls.append((name, revents))

    return callback


# -- handling the embedded loop's events -------------------------------------------


def test_embed_without_callback_handles_the_inner_loops_io_when_the_outer_loop_runs(
    loop: ev.Loop, inner: ev.Loop, pipe: tuple[int, int], rec: Recorder
) -> None:
    r, w = pipe
    ev.Io(r, ev.READ, draining_reader(rec)).start(inner)
    embed = ev.Embed(inner).start(loop)
    assert embed.callback is None
    loop.run(ev.RUN_NOWAIT)
    assert rec.calls == []

    os.write(w, b"x")
    run_until(loop, lambda: len(rec.calls) == 1)
    assert rec.calls == [("io", ev.READ)]
    assert inner.depth == 0

    os.write(w, b"y")
    run_until(loop, lambda: len(rec.calls) == 2)
    assert rec.calls == [("io", ev.READ), ("io", ev.READ)]


def test_embed_callback_gets_embed_and_the_inner_io_fires_only_after_sweep(
    loop: ev.Loop, inner: ev.Loop, pipe: tuple[int, int], rec: Recorder
) -> None:
    r, w = pipe
    ev.Io(r, ev.READ, draining_reader(rec)).start(inner)
    seen_before_sweep: list[list[str]] = []

    def on_embed(e: ev.Embed, revents: int) -> None:
        rec.calls.append(("embed", revents))
        seen_before_sweep.append(list(rec.names))
        e.sweep()

    ev.Embed(inner, on_embed).start(loop)
    loop.run(ev.RUN_NOWAIT)  # the prepare sweep registers the inner Io
    assert rec.calls == []

    os.write(w, b"x")
    run_until(loop, lambda: "io" in rec.names)
    assert rec.calls == [("embed", ev.EMBED), ("io", ev.READ)]
    assert seen_before_sweep == [["embed"]]


def test_embed_callback_is_called_again_until_it_sweeps(
    loop: ev.Loop, inner: ev.Loop, pipe: tuple[int, int], rec: Recorder
) -> None:
    r, w = pipe
    ev.Io(r, ev.READ, draining_reader(rec)).start(inner)

    def on_embed(e: ev.Embed, revents: int) -> None:
        rec.calls.append(("embed", revents))
        if rec.names.count("embed") == 2:
            e.sweep()

    ev.Embed(inner, on_embed).start(loop)
    loop.run(ev.RUN_NOWAIT)

    os.write(w, b"x")
    run_until(loop, lambda: "embed" in rec.names)
    assert rec.names == ["embed"]  # not swept: the inner Io has not run
    run_until(loop, lambda: "io" in rec.names)
    assert rec.calls == [("embed", ev.EMBED), ("embed", ev.EMBED), ("io", ev.READ)]


def test_watcher_just_started_on_the_embedded_loop_is_registered_by_the_prepare_sweep(
    loop: ev.Loop, inner: ev.Loop, pipe: tuple[int, int], rec: Recorder
) -> None:
    r, w = pipe
    ev.Embed(inner).start(loop)
    loop.run(ev.RUN_NOWAIT)

    ev.Io(r, ev.READ, draining_reader(rec)).start(inner)  # not yet known to inner's kernel set
    writer = ev.Timer(0.01, lambda t, revents: os.write(w, b"x")).start(loop)
    run_until(loop, lambda: len(rec.calls) == 1)
    assert not writer.is_active
    assert rec.calls == [("io", ev.READ)]


def test_prepare_sweep_runs_a_just_started_ready_watcher_without_the_embed_callback(
    loop: ev.Loop, inner: ev.Loop, pipe: tuple[int, int], rec: Recorder
) -> None:
    r, w = pipe
    ev.Embed(inner, rec.cb("embed")).start(loop)  # never sweeps
    loop.run(ev.RUN_NOWAIT)

    os.write(w, b"x")
    ev.Io(r, ev.READ, draining_reader(rec)).start(inner)
    loop.run(ev.RUN_NOWAIT)
    assert rec.calls == [("io", ev.READ)]


def test_sweep_runs_one_non_blocking_iteration_of_the_embedded_loop(
    loop: ev.Loop, inner: ev.Loop, pipe: tuple[int, int], rec: Recorder
) -> None:
    r, w = pipe
    ev.Io(r, ev.READ, draining_reader(rec)).start(inner)
    embed = ev.Embed(inner, rec.cb("embed"))
    before = inner.iteration
    embed.sweep()  # nothing ready: returns at once
    assert inner.iteration == before + 1
    os.write(w, b"x")
    embed.sweep()
    assert rec.calls == [("io", ev.READ)]


# -- misuse -----------------------------------------------------------------------------


def test_embedding_a_poll_loop_raises_value_error() -> None:
    with ev.Loop(backend=ev.Backend.POLL) as other:
        with pytest.raises(ValueError):
            ev.Embed(other)
        with pytest.raises(ValueError):
            ev.Embed(other, lambda e, revents: None)


def test_embedding_a_closed_loop_raises_error_at_start(loop: ev.Loop) -> None:
    other = ev.Loop(backend=ev.Backend.EPOLL)
    other.close()
    embed = ev.Embed(other)
    with pytest.raises(ev.Error):
        embed.start(loop)
    assert not embed.is_active


def test_embedding_a_loop_that_closes_later_raises_error_at_start(loop: ev.Loop) -> None:
    other = ev.Loop(backend=ev.Backend.EPOLL)
    embed = ev.Embed(other)
    other.close()
    with pytest.raises(ev.Error):
        embed.start(loop)
    assert not embed.is_active


def test_embedding_a_loop_in_itself_raises_error() -> None:
    with ev.Loop(backend=ev.Backend.EPOLL) as lp:
        embed = ev.Embed(lp)
        with pytest.raises(ev.Error):
            embed.start(lp)
        assert not embed.is_active


def test_embedding_a_non_loop_raises_type_error() -> None:
    with pytest.raises(TypeError):
        ev.Embed(3)  # type: ignore[arg-type]


def test_set_while_active_raises_error(loop: ev.Loop, inner: ev.Loop) -> None:
    embed = ev.Embed(inner).start(loop)
    with ev.Loop(backend=ev.Backend.EPOLL) as another, pytest.raises(ev.Error):
        embed.set(another)
    assert embed.other is inner


# -- keeping the loop alive ----------------------------------------------------------------


def test_active_embed_keeps_the_outer_loop_alive_and_stopping_it_lets_run_return(
    loop: ev.Loop, inner: ev.Loop
) -> None:
    embed = ev.Embed(inner).start(loop)

    def stop_embed(t: ev.Timer, revents: int) -> None:
        embed.stop()

    stopper = ev.Timer(0.05, stop_embed)
    stopper.keepalive = False
    stopper.start(loop)
    assert loop.run() is False
    assert not stopper.is_active  # run() lasted until the embed stopped
    assert not embed.is_active


def test_embed_with_keepalive_off_lets_run_return_at_once(loop: ev.Loop, inner: ev.Loop) -> None:
    embed = ev.Embed(inner)
    embed.keepalive = False
    embed.start(loop)
    watchdog = ev.Timer(2.0, lambda t, r: loop.break_())
    watchdog.keepalive = False
    watchdog.start(loop)
    assert loop.run() is False
    assert watchdog.is_active  # returned at once: the embed's own watchers do not hold the loop
    assert embed.is_active
    watchdog.stop()


def test_stopped_embed_no_longer_handles_the_inner_loop(
    loop: ev.Loop, inner: ev.Loop, pipe: tuple[int, int], rec: Recorder
) -> None:
    r, w = pipe
    ev.Io(r, ev.READ, draining_reader(rec)).start(inner)
    embed = ev.Embed(inner).start(loop)
    loop.run(ev.RUN_NOWAIT)
    embed.stop()
    os.write(w, b"x")
    loop.run(ev.RUN_NOWAIT)
    assert rec.calls == []
    inner.run(ev.RUN_NOWAIT)
    assert rec.calls == [("io", ev.READ)]


def test_async_sent_by_an_embedded_loops_own_callback_wakes_the_embedding_loop(
    loop: ev.Loop, inner: ev.Loop, pipe: tuple[int, int]
) -> None:
    # A send made while the inner loop runs (inside the outer loop's sweep)
    # skips the eventfd write, since the running loop looks at the flag
    # itself; once that sweep's run() returns, the write must still happen,
    # or the outer loop, which only polls the inner loop's fd, never wakes.
    r, w = pipe
    got: list[str] = []
    async_w = ev.Async(lambda aw, revents: got.append("async")).start(inner)

    def on_readable(io: ev.Io, revents: int) -> None:
        os.read(r, 4096)
        got.append("io")
        async_w.send()

    ev.Io(r, ev.READ, on_readable).start(inner)
    embed = ev.Embed(inner).start(loop)
    try:
        run_until(loop, lambda: True)  # registers the inner watchers
        os.write(w, b"x")
        run_until(loop, lambda: "async" in got)
        assert got == ["io", "async"]
    finally:
        embed.stop()
