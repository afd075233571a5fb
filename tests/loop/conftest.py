"""Helpers for the loop tests.

``pipe``: an (r, w) pipe, closed after the test.
``watchdog``: arms a Timer that does not keep the loop alive and fails the
test from inside ``run`` if the loop hangs, instead of waiting for pytest's
global timeout.
``still_runs_a_timer``: checks that a loop is still fully usable.
``in_child``: runs a function in a forked child (fork, signals and other
process-global state stay out of the test process) and returns its
JSON-able result; a failure in the child fails the test with its traceback.
"""

from __future__ import annotations

import json
import os
import signal
import traceback
from collections.abc import Callable, Iterator

import pytest

import pyev as ev

WATCHDOG_SECONDS = 5.0
CHILD_ALARM_SECONDS = 20


@pytest.fixture
def pipe() -> Iterator[tuple[int, int]]:
    r, w = os.pipe()
    yield r, w
    for fd in (r, w):
        try:
            os.close(fd)
        except OSError:
            pass


def _watchdog(loop: ev.Loop, seconds: float = WATCHDOG_SECONDS) -> ev.Timer:
    def expired(w: ev.Timer, revents: int) -> None:
        raise AssertionError(f"watchdog: the loop was still running after {seconds} s")

    timer = ev.Timer(seconds, expired)
    timer.keepalive = False
    return timer.start(loop)


@pytest.fixture
def watchdog() -> Callable[..., ev.Timer]:
    return _watchdog


def _still_runs_a_timer(loop: ev.Loop) -> None:
    fired: list[int] = []
    ev.Timer(0.001, lambda w, revents: fired.append(revents)).start(loop)
    assert loop.run() is False
    assert fired == [ev.TIMER]
    assert loop.depth == 0
    assert loop.pending_count == 0
    loop.verify()


@pytest.fixture
def still_runs_a_timer() -> Callable[[ev.Loop], None]:
    return _still_runs_a_timer


def _in_child(fn: Callable[[], object]) -> object:
    r, w = os.pipe()
    pid = os.fork()
    if pid == 0:  # pragma: no cover - runs in the child
        try:
            os.close(r)
            signal.signal(signal.SIGALRM, signal.SIG_DFL)
            signal.alarm(CHILD_ALARM_SECONDS)
            try:
                report: dict[str, object] = {"result": fn()}
            except BaseException:  # noqa: BLE001 - reported to the parent
                report = {"error": traceback.format_exc()}
            data = json.dumps(report).encode()
            while data:
                data = data[os.write(w, data) :]
        finally:
            os._exit(0)
    os.close(w)
    with os.fdopen(r, "rb") as f:
        data = f.read()
    _, status = os.waitpid(pid, 0)
    code = os.waitstatus_to_exitcode(status)
    if not data:
        pytest.fail(f"the child died without reporting (exit code {code})")
    report = json.loads(data)
    if "error" in report:
        pytest.fail(f"the child failed:\n{report['error']}")
    assert code == 0
    return report["result"]


@pytest.fixture
def in_child() -> Callable[[Callable[[], object]], object]:
    return _in_child
