"""An Embed watcher without a callback that is fed or invoked sweeps the
embedded loop, as its automatic handling does (libev: an embed without
callback runs ``ev_embed_sweep``), instead of failing in ``run()``.

The embedding loop is the ``loop`` fixture (either backend); the embedded
one is EPOLL. The embedded loop's Idle watcher only runs when that loop is
swept, and nothing else sweeps it here (it has no fd changes or events).
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

import pyev as ev


@pytest.fixture
def inner() -> Iterator[ev.Loop]:
    lp = ev.Loop(backend=ev.Backend.EPOLL)
    yield lp
    lp.close()


def _idle_on(inner: ev.Loop, swept: list[int]) -> ev.Idle:
    return ev.Idle(lambda w, revents: swept.append(revents)).start(inner)


def test_feeding_an_embed_without_callback_sweeps_the_embedded_loop_when_the_loop_runs(
    loop: ev.Loop, inner: ev.Loop
) -> None:
    swept: list[int] = []
    idle = _idle_on(inner, swept)
    embed = ev.Embed(inner).start(loop)
    loop.run(ev.RUN_NOWAIT)
    assert swept == []

    embed.feed(ev.EMBED)
    loop.run(ev.RUN_NOWAIT)
    assert swept == [ev.IDLE]
    assert embed.callback is None
    assert not embed.is_pending
    embed.stop()
    idle.stop()


def test_feeding_an_inactive_embed_without_callback_sweeps_the_embedded_loop(
    loop: ev.Loop, inner: ev.Loop
) -> None:
    swept: list[int] = []
    idle = _idle_on(inner, swept)
    embed = ev.Embed(inner)
    embed.feed(ev.EMBED, loop)
    loop.invoke_pending()
    assert swept == [ev.IDLE]
    idle.stop()


def test_invoking_an_embed_without_callback_sweeps_the_embedded_loop(loop: ev.Loop, inner: ev.Loop) -> None:
    swept: list[int] = []
    idle = _idle_on(inner, swept)
    embed = ev.Embed(inner).start(loop)
    embed.invoke(ev.EMBED)
    assert swept == [ev.IDLE]
    embed.stop()
    idle.stop()


def test_embed_callback_set_back_to_none_sweeps_again_when_fed(loop: ev.Loop, inner: ev.Loop) -> None:
    swept: list[int] = []
    called: list[int] = []
    idle = _idle_on(inner, swept)
    embed = ev.Embed(inner, lambda w, revents: called.append(revents)).start(loop)
    embed.feed(ev.EMBED)
    loop.run(ev.RUN_NOWAIT)
    assert (called, swept) == ([ev.EMBED], [])

    embed.callback = None
    assert embed.callback is None
    embed.feed(ev.EMBED)
    loop.run(ev.RUN_NOWAIT)
    assert (called, swept) == ([ev.EMBED], [ev.IDLE])
    embed.stop()
    idle.stop()
