"""Io watchers (API.md Io; LIBEV_SEMANTICS 3.1)."""

from __future__ import annotations

import os
import socket
import time
from pathlib import Path

import pytest

import pyev as ev

from .helpers import PROMPTLY, close_quietly, noop, pipe_at

Pair = tuple[socket.socket, socket.socket]


class Log:
    """The revents of each call of one watcher."""

    def __init__(self) -> None:
        self.revents: list[int] = []

    def __call__(self, w: ev.Io, revents: int) -> None:
        self.revents.append(revents)


# -- readiness -----------------------------------------------------------------


def test_read_watcher_fires_when_data_arrives(loop: ev.Loop, socketpair: Pair) -> None:
    a, b = socketpair
    log = Log()
    ev.Io(a, ev.READ, log).start(loop)
    loop.run(ev.RUN_NOWAIT)
    assert log.revents == []
    b.send(b"x")
    loop.run(ev.RUN_NOWAIT)
    assert log.revents == [ev.READ]


def test_write_watcher_fires_when_the_socket_is_writable(loop: ev.Loop, socketpair: Pair) -> None:
    a, _ = socketpair
    log = Log()
    ev.Io(a, ev.WRITE, log).start(loop)
    loop.run(ev.RUN_NOWAIT)
    assert log.revents == [ev.WRITE]


def test_read_write_watcher_gets_both_bits_in_one_call(loop: ev.Loop, socketpair: Pair) -> None:
    a, b = socketpair
    b.send(b"x")
    log = Log()
    ev.Io(a, ev.READ | ev.WRITE, log).start(loop)
    loop.run(ev.RUN_NOWAIT)
    assert log.revents == [ev.READ | ev.WRITE]


def test_pipe_read_end_fires_read_and_write_end_fires_write(loop: ev.Loop, pipe: tuple[int, int]) -> None:
    r, w = pipe
    reads, writes = Log(), Log()
    ev.Io(r, ev.READ, reads).start(loop)
    ev.Io(w, ev.WRITE, writes).start(loop)
    loop.run(ev.RUN_NOWAIT)
    assert reads.revents == []
    assert writes.revents == [ev.WRITE]
    os.write(w, b"x")
    loop.run(ev.RUN_NOWAIT)
    assert reads.revents == [ev.READ]


def test_io_is_level_triggered_until_the_data_is_read(loop: ev.Loop, socketpair: Pair) -> None:
    a, b = socketpair
    b.send(b"abc")
    log = Log()
    ev.Io(a, ev.READ, log).start(loop)
    for _ in range(3):
        loop.run(ev.RUN_NOWAIT)
    assert log.revents == [ev.READ] * 3
    a.recv(10)
    loop.run(ev.RUN_NOWAIT)
    loop.run(ev.RUN_NOWAIT)
    assert log.revents == [ev.READ] * 3


def test_stopped_io_watcher_is_not_called_although_its_fd_is_ready(loop: ev.Loop, socketpair: Pair) -> None:
    a, b = socketpair
    b.send(b"x")
    log = Log()
    io = ev.Io(a, ev.READ | ev.WRITE, log).start(loop)
    loop.run(ev.RUN_NOWAIT)
    io.stop()
    loop.run(ev.RUN_NOWAIT)
    assert log.revents == [ev.READ | ev.WRITE]
    assert loop.run(ev.RUN_NOWAIT) is False


def test_stopped_and_restarted_io_watcher_fires_again(loop: ev.Loop, socketpair: Pair) -> None:
    a, _ = socketpair
    log = Log()
    io = ev.Io(a, ev.WRITE, log).start(loop)
    io.stop()
    io.start(loop)
    loop.run(ev.RUN_NOWAIT)
    io.stop()
    loop.run(ev.RUN_NOWAIT)
    io.start(loop)
    loop.run(ev.RUN_NOWAIT)
    assert log.revents == [ev.WRITE, ev.WRITE]


def test_io_watcher_with_no_events_never_fires_but_keeps_the_loop_alive(loop: ev.Loop, socketpair: Pair) -> None:
    a, b = socketpair
    b.send(b"x")
    log = Log()
    io = ev.Io(a, 0, log).start(loop)
    assert loop.run(ev.RUN_NOWAIT) is True
    assert log.revents == []
    io.stop()


# -- events changed while active -----------------------------------------------


def test_events_changed_while_active_take_effect_at_the_next_poll(loop: ev.Loop, socketpair: Pair) -> None:
    a, _ = socketpair
    log = Log()
    io = ev.Io(a, ev.READ, log).start(loop)
    loop.run(ev.RUN_NOWAIT)
    assert log.revents == []
    io.events = ev.WRITE
    assert io.events == ev.WRITE
    assert io.is_active
    loop.run(ev.RUN_NOWAIT)
    assert log.revents == [ev.WRITE]
    io.events = ev.READ
    loop.run(ev.RUN_NOWAIT)
    loop.run(ev.RUN_NOWAIT)
    assert log.revents == [ev.WRITE]
    loop.verify()


def test_events_changed_in_the_callback_apply_from_the_next_poll(loop: ev.Loop, socketpair: Pair) -> None:
    a, b = socketpair
    calls: list[int] = []

    def cb(w: ev.Io, revents: int) -> None:
        calls.append(revents)
        w.events = ev.READ

    ev.Io(a, ev.WRITE, cb).start(loop)
    for _ in range(3):
        loop.run(ev.RUN_NOWAIT)
    assert calls == [ev.WRITE]
    b.send(b"x")
    loop.run(ev.RUN_NOWAIT)
    assert calls == [ev.WRITE, ev.READ]


def test_events_cleared_while_active_silence_the_watcher(loop: ev.Loop, socketpair: Pair) -> None:
    a, _ = socketpair
    log = Log()
    io = ev.Io(a, ev.WRITE, log).start(loop)
    loop.run(ev.RUN_NOWAIT)
    io.events = 0
    loop.run(ev.RUN_NOWAIT)
    io.events = ev.WRITE
    loop.run(ev.RUN_NOWAIT)
    assert log.revents == [ev.WRITE, ev.WRITE]


# -- several watchers per fd ----------------------------------------------------


def test_several_watchers_on_one_fd_each_get_only_their_bits(loop: ev.Loop, socketpair: Pair) -> None:
    a, b = socketpair
    b.send(b"x")
    reader, writer, both = Log(), Log(), Log()
    ev.Io(a, ev.READ, reader).start(loop)
    ev.Io(a, ev.WRITE, writer).start(loop)
    ev.Io(a, ev.READ | ev.WRITE, both).start(loop)
    loop.run(ev.RUN_NOWAIT)
    assert reader.revents == [ev.READ]
    assert writer.revents == [ev.WRITE]
    assert both.revents == [ev.READ | ev.WRITE]


def test_stopping_one_watcher_on_an_fd_leaves_the_others_working(loop: ev.Loop, socketpair: Pair) -> None:
    a, b = socketpair
    reader, writer = Log(), Log()
    r = ev.Io(a, ev.READ, reader).start(loop)
    ev.Io(a, ev.WRITE, writer).start(loop)
    loop.run(ev.RUN_NOWAIT)
    r.stop()
    b.send(b"x")
    loop.run(ev.RUN_NOWAIT)
    assert reader.revents == []
    assert writer.revents == [ev.WRITE, ev.WRITE]
    r.start(loop)
    loop.run(ev.RUN_NOWAIT)
    assert reader.revents == [ev.READ]


def test_feed_passes_revents_to_an_io_watcher_unfiltered(loop: ev.Loop, socketpair: Pair) -> None:
    a, _ = socketpair
    log = Log()
    io = ev.Io(a, ev.READ, log)
    io.feed(ev.WRITE | ev.CUSTOM, loop)
    loop.run(ev.RUN_NOWAIT)
    assert log.revents == [ev.WRITE | ev.CUSTOM]


# -- hang-up -----------------------------------------------------------------------


def test_hang_up_on_a_pipe_read_end_is_reported_as_read(loop: ev.Loop, pipe: tuple[int, int]) -> None:
    r, w = pipe
    log = Log()
    ev.Io(r, ev.READ, log).start(loop)
    loop.run(ev.RUN_NOWAIT)
    assert log.revents == []
    os.close(w)
    loop.run(ev.RUN_NOWAIT)
    assert log.revents == [ev.READ]
    assert os.read(r, 1) == b""


def test_closed_reader_is_reported_to_a_write_watcher_as_write(loop: ev.Loop, pipe: tuple[int, int]) -> None:
    r, w = pipe
    os.close(r)
    log = Log()
    ev.Io(w, ev.WRITE, log).start(loop)
    loop.run(ev.RUN_NOWAIT)
    assert log.revents == [ev.WRITE]


# -- fd close and reuse -------------------------------------------------------------


@pytest.mark.parametrize("iterate_between", [False, True], ids=["same-iteration", "after-an-iteration"])
def test_new_watcher_on_a_reused_fd_number_gets_no_stale_event(loop: ev.Loop, iterate_between: bool) -> None:
    r1, w1 = os.pipe()
    old, new = Log(), Log()
    r2 = w2 = -1
    try:
        os.write(w1, b"old")
        first = ev.Io(r1, ev.READ, old).start(loop)
        loop.run(ev.RUN_NOWAIT)
        assert old.revents == [ev.READ]
        first.stop()
        os.close(r1)
        os.close(w1)
        if iterate_between:
            loop.run(ev.RUN_NOWAIT)
        r2, w2 = pipe_at(r1)
        second = ev.Io(r2, ev.READ, new).start(loop)
        loop.run(ev.RUN_NOWAIT)
        loop.run(ev.RUN_NOWAIT)
        assert new.revents == []
        os.write(w2, b"new")
        loop.run(ev.RUN_NOWAIT)
        assert new.revents == [ev.READ]
        assert old.revents == [ev.READ]
        assert os.read(r2, 10) == b"new"
        second.stop()
        loop.verify()
    finally:
        close_quietly(r2, w2)


@pytest.mark.parametrize("iterate_between", [False, True], ids=["same-iteration", "after-an-iteration"])
def test_new_watcher_on_a_reused_fd_number_ignores_the_old_file_kept_open_by_dup(
    loop: ev.Loop, iterate_between: bool
) -> None:
    r1, w1 = os.pipe()
    keep = r2 = w2 = -1
    old, new = Log(), Log()
    try:
        os.write(w1, b"old")  # the old file stays readable for the whole test
        first = ev.Io(r1, ev.READ, old).start(loop)
        loop.run(ev.RUN_NOWAIT)  # registered with the kernel
        assert old.revents == [ev.READ]
        keep = os.dup(r1)
        first.stop()
        os.close(r1)
        if iterate_between:
            loop.run(ev.RUN_NOWAIT)
        r2, w2 = pipe_at(r1)
        second = ev.Io(r2, ev.READ, new).start(loop)
        for _ in range(3):
            loop.run(ev.RUN_NOWAIT)
        assert new.revents == []
        os.write(w2, b"new")
        loop.run(ev.RUN_NOWAIT)
        assert new.revents == [ev.READ]
        assert os.read(r2, 10) == b"new"
        for _ in range(3):
            loop.run(ev.RUN_NOWAIT)
        assert new.revents == [ev.READ]
        assert old.revents == [ev.READ]
        second.stop()
        loop.verify()
    finally:
        close_quietly(keep, r2, w2, w1)


@pytest.mark.parametrize("events", [ev.READ, ev.WRITE, ev.READ | ev.WRITE], ids=["read", "write", "both"])
def test_starting_on_a_closed_fd_reports_error_promptly_and_stops_the_watcher(loop: ev.Loop, events: int) -> None:
    r, w = os.pipe()
    os.close(r)
    os.close(w)
    log = Log()
    io = ev.Io(r, events, log).start(loop)
    timer = ev.Timer(5.0, noop).start(loop)
    started = time.monotonic()
    loop.run(ev.RUN_ONCE)
    assert time.monotonic() - started < PROMPTLY
    assert log.revents == [ev.ERROR | events]
    assert not io.is_active
    assert timer.is_active
    loop.verify()
    timer.stop()
    assert loop.run(ev.RUN_NOWAIT) is False


def test_fd_number_can_be_watched_again_after_an_error(loop: ev.Loop) -> None:
    r, w = os.pipe()
    os.close(r)
    os.close(w)
    failed, fine = Log(), Log()
    ev.Io(r, ev.READ, failed).start(loop)
    loop.run(ev.RUN_NOWAIT)
    assert failed.revents == [ev.ERROR | ev.READ]
    r2, w2 = pipe_at(r)
    try:
        io = ev.Io(r2, ev.READ, fine).start(loop)
        loop.run(ev.RUN_NOWAIT)
        assert fine.revents == []
        os.write(w2, b"x")
        loop.run(ev.RUN_NOWAIT)
        assert fine.revents == [ev.READ]
        io.stop()
    finally:
        close_quietly(r2, w2)


# -- fd forms -------------------------------------------------------------------------


def test_object_with_fileno_is_accepted_as_fd(loop: ev.Loop, socketpair: Pair) -> None:
    a, _ = socketpair
    log = Log()
    io = ev.Io(a, ev.WRITE, log)
    assert io.fd == a.fileno()
    io.start(loop)
    loop.run(ev.RUN_NOWAIT)
    assert log.revents == [ev.WRITE]


def test_set_moves_an_inactive_watcher_to_another_fd(loop: ev.Loop, pipe: tuple[int, int]) -> None:
    r, w = pipe
    log = Log()
    io = ev.Io(r, ev.READ, log).start(loop)
    loop.run(ev.RUN_NOWAIT)
    io.stop()
    io.set(w, ev.WRITE)
    assert (io.fd, io.events) == (w, ev.WRITE)
    io.start(loop)
    loop.run(ev.RUN_NOWAIT)
    assert log.revents == [ev.WRITE]


def test_regular_file_is_always_ready_and_the_loop_does_not_block(loop: ev.Loop, tmp_path: Path) -> None:
    path = tmp_path / "data"
    path.write_bytes(b"content")
    fd = os.open(path, os.O_RDWR)
    try:
        reads, both = Log(), Log()
        ev.Io(fd, ev.READ, reads).start(loop)
        ev.Io(fd, ev.READ | ev.WRITE, both).start(loop)
        timer = ev.Timer(5.0, noop).start(loop)
        started = time.monotonic()
        for _ in range(3):
            loop.run(ev.RUN_ONCE)
        assert time.monotonic() - started < PROMPTLY
        assert reads.revents == [ev.READ] * 3
        assert both.revents == [ev.READ | ev.WRITE] * 3
        timer.stop()
    finally:
        loop.close()
        os.close(fd)


# -- attributes ---------------------------------------------------------------------


def test_io_constructor_arguments_are_readable(pipe: tuple[int, int]) -> None:
    r, _ = pipe
    data = object()
    io = ev.Io(r, ev.READ | ev.WRITE, noop, priority=-1, data=data)
    assert io.fd == r
    assert io.events == ev.READ | ev.WRITE
    assert io.callback is noop
    assert io.priority == -1
    assert io.data is data


def test_io_fd_is_read_only(pipe: tuple[int, int]) -> None:
    io = ev.Io(pipe[0], ev.READ, noop)
    with pytest.raises(AttributeError):
        io.fd = pipe[1]  # type: ignore[misc]
    assert io.fd == pipe[0]
