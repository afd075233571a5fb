"""Bad arguments raise ValueError / TypeError, a closed loop raises ev.Error,
and after every refused call the loop still works."""

from __future__ import annotations

import math
import signal
from collections.abc import Callable
from typing import Any

import pytest

import pyev as ev

StillRuns = Callable[[ev.Loop], None]


@pytest.mark.parametrize(
    ("kwargs", "error"),
    [
        pytest.param({"backend": "epoll"}, TypeError, id="backend-str"),
        pytest.param({"backend": 4}, TypeError, id="backend-int"),
        pytest.param(
            {"backend": ev.Backend.EPOLL | ev.Backend.POLL},
            ValueError,
            id="backend-two-members",
        ),
        pytest.param({"forkcheck": "yes"}, TypeError, id="forkcheck-str"),
        pytest.param({"signalfd": "no"}, TypeError, id="signalfd-str"),
        pytest.param({"inotify": "no"}, TypeError, id="inotify-str"),
        pytest.param({"flags": 0}, TypeError, id="unknown-keyword"),
    ],
)
def test_loop_constructor_rejects_bad_arguments(
    kwargs: dict[str, Any],
    error: type[Exception],
    loop: ev.Loop,
    still_runs_a_timer: StillRuns,
) -> None:
    with pytest.raises(error):
        ev.Loop(**kwargs)
    still_runs_a_timer(loop)


def test_loop_constructor_arguments_are_keyword_only(
    loop: ev.Loop, still_runs_a_timer: StillRuns
) -> None:
    with pytest.raises(TypeError):
        ev.Loop(ev.Backend.POLL)  # type: ignore[call-arg]
    still_runs_a_timer(loop)


COLLECT_INTERVALS = ["io_collect_interval", "timeout_collect_interval"]


@pytest.mark.parametrize("name", COLLECT_INTERVALS)
@pytest.mark.parametrize(
    ("value", "error"),
    [
        pytest.param(-0.1, ValueError, id="negative"),
        pytest.param(-1, ValueError, id="negative-int"),
        pytest.param(math.nan, ValueError, id="nan"),
        pytest.param(math.inf, ValueError, id="inf"),
        pytest.param("0.1", TypeError, id="str"),
        pytest.param(None, TypeError, id="none"),
    ],
)
def test_collect_interval_setter_rejects_bad_values_and_keeps_the_old_one(
    loop: ev.Loop,
    name: str,
    value: object,
    error: type[Exception],
    still_runs_a_timer: StillRuns,
) -> None:
    setattr(loop, name, 0.001)
    with pytest.raises(error):
        setattr(loop, name, value)
    assert getattr(loop, name) == 0.001
    still_runs_a_timer(loop)


@pytest.mark.parametrize(
    ("flags", "error"),
    [
        pytest.param("1", TypeError, id="str"),
        pytest.param(None, TypeError, id="none"),
        pytest.param(1.0, TypeError, id="float"),
        pytest.param(4, ValueError, id="unknown-bit"),
        pytest.param(0x100, ValueError, id="unknown-high-bit"),
        pytest.param(-1, ValueError, id="negative"),
    ],
)
def test_run_rejects_bad_flags(
    loop: ev.Loop, flags: object, error: type[Exception], still_runs_a_timer: StillRuns
) -> None:
    with pytest.raises(error):
        loop.run(flags)  # type: ignore[arg-type]
    assert loop.depth == 0
    assert loop.iteration == 0
    still_runs_a_timer(loop)


@pytest.mark.parametrize(
    ("how", "error"),
    [
        pytest.param("1", TypeError, id="str"),
        pytest.param(None, TypeError, id="none"),
        pytest.param(1.0, TypeError, id="float"),
        pytest.param(3, ValueError, id="too-big"),
        pytest.param(-1, ValueError, id="negative"),
    ],
)
def test_break_rejects_bad_values_and_leaves_no_break_behind(
    loop: ev.Loop, how: object, error: type[Exception], still_runs_a_timer: StillRuns
) -> None:
    def bad_break(w: ev.Timer, revents: int) -> None:
        with pytest.raises(error):
            loop.break_(how)  # type: ignore[arg-type]

    fired: list[str] = []
    ev.Timer(0.001, bad_break).start(loop)
    ev.Timer(0.01, lambda w, revents: fired.append("later")).start(loop)
    assert loop.run() is False
    assert fired == ["later"]
    still_runs_a_timer(loop)


@pytest.mark.parametrize(
    ("fd", "revents", "error"),
    [
        pytest.param(-1, ev.READ, ValueError, id="negative-fd"),
        pytest.param("0", ev.READ, TypeError, id="str-fd"),
        pytest.param(None, ev.READ, TypeError, id="none-fd"),
        pytest.param(0.0, ev.READ, TypeError, id="float-fd"),
        pytest.param(0, "1", TypeError, id="str-revents"),
        pytest.param(0, None, TypeError, id="none-revents"),
    ],
)
def test_feed_fd_event_rejects_bad_arguments(
    loop: ev.Loop,
    fd: object,
    revents: object,
    error: type[Exception],
    still_runs_a_timer: StillRuns,
) -> None:
    with pytest.raises(error):
        loop.feed_fd_event(fd, revents)  # type: ignore[arg-type]
    assert loop.pending_count == 0
    still_runs_a_timer(loop)


@pytest.mark.parametrize(
    ("signum", "error"),
    [
        pytest.param(0, ValueError, id="zero"),
        pytest.param(-1, ValueError, id="negative"),
        pytest.param(signal.NSIG, ValueError, id="nsig"),
        pytest.param(10**6, ValueError, id="huge"),
        pytest.param("2", TypeError, id="str"),
        pytest.param(None, TypeError, id="none"),
        pytest.param(2.0, TypeError, id="float"),
    ],
)
def test_feed_signal_event_rejects_bad_signal_numbers(
    loop: ev.Loop, signum: object, error: type[Exception], still_runs_a_timer: StillRuns
) -> None:
    with pytest.raises(error):
        loop.feed_signal_event(signum)  # type: ignore[arg-type]
    assert loop.pending_count == 0
    still_runs_a_timer(loop)


@pytest.mark.parametrize(
    ("kwargs", "error"),
    [
        pytest.param({}, ValueError, id="neither-fd-nor-timeout"),
        pytest.param(
            {"callback": "not callable", "timeout": 0.0},
            TypeError,
            id="callback-not-callable",
        ),
        pytest.param({"timeout": math.nan}, ValueError, id="timeout-nan"),
        pytest.param({"timeout": math.inf}, ValueError, id="timeout-inf"),
        pytest.param({"timeout": "1"}, TypeError, id="timeout-str"),
        pytest.param({"fd": -1}, ValueError, id="fd-negative"),
        pytest.param({"fd": "0"}, TypeError, id="fd-str"),
        pytest.param({"fd": 0, "events": "1"}, TypeError, id="events-str"),
        pytest.param({"fd": 0, "events": ev.TIMER}, ValueError, id="events-not-io"),
    ],
)
def test_once_rejects_bad_arguments_without_starting_anything(
    loop: ev.Loop,
    kwargs: dict[str, Any],
    error: type[Exception],
    still_runs_a_timer: StillRuns,
) -> None:
    kwargs = dict(kwargs)
    callback = kwargs.pop("callback", lambda revents: None)
    with pytest.raises(error):
        loop.once(callback, **kwargs)
    assert loop.run(ev.RUN_NOWAIT) is False
    still_runs_a_timer(loop)


def test_once_with_a_good_fd_and_a_bad_timeout_leaves_no_fd_watcher_behind(
    loop: ev.Loop, pipe: tuple[int, int], still_runs_a_timer: StillRuns
) -> None:
    r, _ = pipe
    with pytest.raises(ValueError):
        loop.once(lambda revents: None, fd=r, timeout=math.nan)
    assert loop.run(ev.RUN_NOWAIT) is False
    still_runs_a_timer(loop)


def _closed(backend: ev.Backend) -> ev.Loop:
    lp = ev.Loop(backend=backend)
    lp.close()
    return lp


@pytest.mark.parametrize(
    "call",
    [
        pytest.param(lambda lp: lp.run(), id="run"),
        pytest.param(lambda lp: lp.run(ev.RUN_ONCE), id="run-once"),
        pytest.param(lambda lp: lp.feed_fd_event(0, ev.READ), id="feed_fd_event"),
        pytest.param(
            lambda lp: lp.feed_signal_event(signal.SIGUSR1), id="feed_signal_event"
        ),
        pytest.param(lambda lp: lp.once(lambda revents: None, timeout=0.0), id="once"),
        pytest.param(
            lambda lp: ev.Timer(0.0, lambda w, r: None).start(lp), id="watcher-start"
        ),
        pytest.param(
            lambda lp: ev.Idle(lambda w, r: None).feed(ev.CUSTOM, lp), id="watcher-feed"
        ),
    ],
)
def test_closed_loop_refuses_work_with_ev_error(
    backend: ev.Backend,
    call: Callable[[ev.Loop], object],
    still_runs_a_timer: StillRuns,
) -> None:
    lp = _closed(backend)
    with pytest.raises(ev.Error):
        call(lp)
    assert lp.closed
    with ev.Loop(backend=backend) as fresh:
        still_runs_a_timer(fresh)


def test_bad_calls_from_inside_callbacks_leave_the_running_loop_intact(
    loop: ev.Loop, still_runs_a_timer: StillRuns
) -> None:
    log: list[str] = []

    def misuse(w: ev.Timer, revents: int) -> None:
        for call in (
            lambda: loop.run(99),
            lambda: loop.break_(7),
            lambda: loop.feed_fd_event(-5, ev.READ),
            lambda: loop.feed_signal_event(0),
            lambda: loop.once(lambda revents: None),
            lambda: setattr(loop, "io_collect_interval", -1.0),
        ):
            try:
                call()
            except (ValueError, TypeError) as exc:
                log.append(type(exc).__name__)

    ev.Timer(0.0, misuse).start(loop)
    ev.Timer(0.01, lambda w, revents: log.append("later timer")).start(loop)
    assert loop.run() is False
    assert log == ["ValueError"] * 6 + ["later timer"]
    assert loop.depth == 0
    still_runs_a_timer(loop)
