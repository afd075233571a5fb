"""An active Embed watcher is an active watcher like any other: it counts in
``verify()``'s L1 (it keeps the loop alive unless ``keepalive`` is False),
and ``close()`` stops it.

Found by the API state machine (tests/test_api_state_machine.py).
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


@pytest.mark.parametrize("keepalive", [True, False])
def test_an_active_embed_passes_verify(loop: ev.Loop, inner: ev.Loop, keepalive: bool) -> None:
    e = ev.Embed(inner)
    e.keepalive = keepalive
    e.start(loop)
    loop.verify()
    e.stop()
    loop.verify()


def test_close_stops_an_active_embed(loop: ev.Loop, inner: ev.Loop) -> None:
    e = ev.Embed(inner).start(loop)
    loop.close()
    assert not e.is_active
    assert not e.is_pending
