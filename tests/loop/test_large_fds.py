"""Io watchers on large fd numbers: memory follows the fds actually watched.

Any int up to 2**31-1 is a valid argument to ``Io``. The loop keeps small
fds in arrays indexed by fd and large ones in hash tables, so an Io on a
huge number costs an entry, not gigabytes, and an fd the process cannot
have gets its ERROR at the next iteration.
"""

from __future__ import annotations

import os
import resource
from collections.abc import Iterator

import pytest

import pyev as ev

# Memory the loop may use for one watcher on any fd number: far below the
# gigabytes a table indexed up to such a number would take.
GROWTH_LIMIT = 64 * 1024 * 1024


def resident_bytes() -> int:
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGESIZE")


@pytest.mark.parametrize("fd", [2**27, 2**31 - 1], ids=["2**27", "2**31-1"])
def test_io_on_an_fd_the_process_cannot_have_gets_error_at_the_next_iteration(loop: ev.Loop, fd: int) -> None:
    got: list[int] = []
    before = resident_bytes()
    w = ev.Io(fd, ev.READ, lambda w_, revents: got.append(revents)).start(loop)
    loop.run(ev.RUN_NOWAIT)
    assert resident_bytes() - before < GROWTH_LIMIT
    assert got == [ev.ERROR | ev.READ]
    assert not w.is_active
    loop.verify()
    # and the loop goes on
    ev.Timer(0.0, lambda w_, revents: got.append(revents)).start(loop)
    loop.run()
    assert got[-1] == ev.TIMER


@pytest.fixture
def fd_limit() -> Iterator[int]:
    """The soft RLIMIT_NOFILE raised to the hard one, put back afterwards."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    yield hard
    resource.setrlimit(resource.RLIMIT_NOFILE, (soft, hard))


@pytest.fixture
def far_pipes(fd_limit: int) -> Iterator[list[tuple[int, int]]]:
    """Pipes whose read ends have numbers above every table indexed by fd
    (1024), spread up to the fd limit."""
    top = fd_limit - 1
    numbers = sorted({1500, 4000, top // 2, top - 1, top})
    pipes = []
    for number in numbers:
        r, w = os.pipe()
        os.dup2(r, number)
        os.close(r)
        pipes.append((number, w))
    yield pipes
    for r, w in pipes:
        os.close(r)
        os.close(w)


def test_io_watchers_on_large_open_fds_get_their_events(loop: ev.Loop, far_pipes: list[tuple[int, int]]) -> None:
    got: list[int] = []
    watchers = [ev.Io(r, ev.READ, lambda w_, revents: got.append(w_.fd)).start(loop) for r, _ in far_pipes]
    loop.run(ev.RUN_NOWAIT)
    assert got == []
    for r, w in far_pipes[::2]:
        os.write(w, b"x")
    loop.run(ev.RUN_ONCE)
    assert sorted(got) == [r for r, _ in far_pipes[::2]]
    loop.verify()
    # stop and start again: the entries are dropped and made afresh
    for x in watchers:
        x.stop()
    loop.run(ev.RUN_NOWAIT)
    got.clear()
    for x in watchers[1:]:
        x.start(loop)
    loop.run(ev.RUN_ONCE)
    assert sorted(got) == [r for r, _ in far_pipes[2::2]]
    loop.verify()


def test_a_large_fd_closed_and_reopened_between_polls_reports_the_new_file(
    loop: ev.Loop, fd_limit: int
) -> None:
    number = fd_limit - 1
    got: list[str] = []
    r1, w1 = os.pipe()
    os.dup2(r1, number)
    os.write(w1, b"x")  # the first file stays readable
    kept = os.dup(number)  # and open elsewhere, so its registration outlives the number
    first = ev.Io(number, ev.READ, lambda w_, revents: got.append("first")).start(loop)
    loop.run(ev.RUN_NOWAIT)
    assert got == ["first"]
    first.stop()
    os.close(number)
    r2, w2 = os.pipe()
    os.dup2(r2, number)  # the same number, a new, empty file
    second = ev.Io(number, ev.READ, lambda w_, revents: got.append("second")).start(loop)
    got.clear()
    for _ in range(3):
        loop.run(ev.RUN_NOWAIT)
    assert got == []  # the old file's readiness does not leak into the new watcher
    os.write(w2, b"y")
    loop.run(ev.RUN_ONCE)
    assert got == ["second"]
    second.stop()
    for fd in (number, kept, r1, w1, r2, w2):
        os.close(fd)
