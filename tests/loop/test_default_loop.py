"""ev.default_loop(): one per process, re-created after close."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

import pytest

import pyev as ev

if TYPE_CHECKING:
    from tests.conftest import Recorder

pytestmark = pytest.mark.usefixtures("clean_default_loop")


def test_default_loop_returns_the_same_loop_every_time() -> None:
    assert ev.default_loop() is ev.default_loop()


def test_default_loop_is_default_and_a_new_loop_is_not() -> None:
    assert ev.default_loop().is_default
    with ev.Loop() as other:
        assert not other.is_default
        assert other is not ev.default_loop()


def test_default_loop_is_open_and_uses_a_recommended_backend() -> None:
    lp = ev.default_loop()
    assert not lp.closed
    assert lp.backend in ev.recommended_backends()


def test_watcher_started_without_a_loop_runs_on_the_default_loop(rec: Recorder) -> None:
    timer = ev.Timer(0.001, rec.cb("timer")).start()
    assert timer.loop is ev.default_loop()
    assert ev.default_loop().run() is False
    assert rec.calls == [("timer", ev.TIMER)]


def test_default_loop_is_created_anew_after_it_was_closed(rec: Recorder) -> None:
    first = ev.default_loop()
    first.close()
    second = ev.default_loop()
    assert second is not first
    assert first.closed
    assert not second.closed
    assert second.is_default
    assert ev.default_loop() is second
    ev.Timer(0.001, rec.cb("timer")).start(second)
    assert second.run() is False
    assert rec.names == ["timer"]


def test_default_loop_survives_being_closed_and_recreated_several_times(
    rec: Recorder,
) -> None:
    def noting(n: int) -> Callable[[int], None]:
        return lambda revents: rec.calls.append((f"once {n}", revents))

    for round_ in range(3):
        lp = ev.default_loop()
        lp.once(noting(round_), timeout=0.0)
        assert lp.run() is False
        lp.close()
    assert rec.calls == [
        ("once 0", ev.TIMER),
        ("once 1", ev.TIMER),
        ("once 2", ev.TIMER),
    ]


def test_closing_a_stale_default_loop_again_does_not_touch_the_new_one() -> None:
    first = ev.default_loop()
    first.close()
    second = ev.default_loop()
    first.close()
    assert ev.default_loop() is second
    assert not second.closed
