"""Shared fixtures: every behaviour runs on both backends.

``loop``: a fresh loop on each backend (epoll, poll), closed afterwards.
``clean_default_loop``: closes the default loop after a test that used it, so
no state leaks between tests.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

import pyev as ev

BACKENDS = [pytest.param(ev.Backend.EPOLL, id="epoll"), pytest.param(ev.Backend.POLL, id="poll")]


@pytest.fixture(params=BACKENDS)
def backend(request: pytest.FixtureRequest) -> ev.Backend:
    kind: ev.Backend = request.param
    return kind


@pytest.fixture
def loop(backend: ev.Backend) -> Iterator[ev.Loop]:
    lp = ev.Loop(backend=backend)
    yield lp
    lp.close()


@pytest.fixture
def clean_default_loop() -> Iterator[None]:
    yield
    ev.default_loop().close()


class Recorder:
    """Collects (name, revents) pairs from callbacks, in call order."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, int]] = []

    def cb(self, name: str):  # type: ignore[no-untyped-def]
        def callback(w: ev.Watcher, revents: int) -> None:
            self.calls.append((name, revents))

        return callback

    @property
    def names(self) -> list[str]:
        return [name for name, _ in self.calls]


@pytest.fixture
def rec() -> Recorder:
    return Recorder()
