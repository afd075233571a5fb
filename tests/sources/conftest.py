"""Fixtures for the OS-event watchers: each runs on its native mechanism and
on its portable fallback, on both backends."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

import pyev as ev
import pyev._sources.children as children


@pytest.fixture(params=[True, False], ids=["signalfd", "sighandler"])
def signal_loop(request: pytest.FixtureRequest, backend: ev.Backend) -> Iterator[ev.Loop]:
    lp = ev.Loop(backend=backend, signalfd=request.param)
    yield lp
    lp.close()


@pytest.fixture(params=[True, False], ids=["inotify", "polling"])
def stat_loop(request: pytest.FixtureRequest, backend: ev.Backend) -> Iterator[ev.Loop]:
    lp = ev.Loop(backend=backend, inotify=request.param)
    yield lp
    lp.close()


@pytest.fixture(params=[True, False], ids=["pidfd", "sigchld"])
def child_mechanism(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> bool:
    if request.param and not children.USE_PIDFD:
        pytest.skip("this kernel has no pidfd_open (Linux < 5.3)")
    monkeypatch.setattr(children, "USE_PIDFD", request.param)
    use: bool = request.param
    return use


@pytest.fixture
def child_loop(child_mechanism: bool, loop: ev.Loop) -> ev.Loop:
    return loop
