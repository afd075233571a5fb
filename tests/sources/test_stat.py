"""Stat watchers: a path's attributes, on inotify and on polling, both backends.

Most tests use ``stat_loop`` (epoll/poll x inotify/polling). Edits are made
between ``run(RUN_ONCE)`` calls; ``run_until`` has a watchdog timer that fails
a test fast when the expected callback never comes. Watchers get
``interval=0.1`` so the polling variant notices changes quickly (inotify on a
local filesystem ignores the interval).

File contents change size at every edit: timestamps come from the kernel's
clock, and a size change keeps an edit visible however soon after the last
one it happens (an inode number may be reused by delete + re-create).
Tests that pin the inotify machinery itself (queue overflow, the watch
limit, network filesystems) use ``inotify_loop`` and fake the kernel's
answers through ``pyev._linux``.
"""

from __future__ import annotations

import errno
import math
import os
import stat as stat_mod
import time
import warnings
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

import pyev as ev
from pyev import _linux
from pyev._sources import files

INTERVAL = 0.1
# Long enough for a polling watcher (interval 0.1) to have looked twice.
QUIET = 0.25


@dataclass(frozen=True)
class Change:
    revents: int
    attr: os.stat_result | None
    prev: os.stat_result | None


class StatLog:
    """A Stat callback that keeps what the watcher showed at each call."""

    def __init__(self) -> None:
        self.changes: list[Change] = []

    def __call__(self, w: ev.Stat, revents: int) -> None:
        self.changes.append(Change(revents, w.attr, w.prev))

    def __len__(self) -> int:
        return len(self.changes)

    @property
    def last(self) -> Change:
        return self.changes[-1]


@pytest.fixture
def log() -> StatLog:
    return StatLog()


@pytest.fixture
def inotify_loop(backend: ev.Backend) -> Iterator[ev.Loop]:
    lp = ev.Loop(backend=backend, inotify=True)
    yield lp
    lp.close()


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


def run_for(loop: ev.Loop, seconds: float) -> None:
    """Runs the loop for at least ``seconds``."""
    timer = ev.Timer(seconds, lambda w, r: loop.break_()).start(loop)
    loop.run()
    timer.stop()


def write(path: Path, data: bytes) -> None:
    with open(path, "wb") as f:
        f.write(data)


def append(path: Path, data: bytes) -> None:
    with open(path, "ab") as f:
        f.write(data)


def backdate(path: Path) -> None:
    """Moves atime/mtime an hour back, so the next change of the path's
    timestamps is visible however soon it comes."""
    then = time.time_ns() - 3600 * 10**9
    os.utime(path, ns=(then, then))


def inotify_fds() -> int:
    count = 0
    for name in os.listdir("/proc/self/fd"):
        try:
            if os.readlink(f"/proc/self/fd/{name}") == "anon_inode:inotify":
                count += 1
        except OSError:
            pass  # the listing's own fd, already closed
    return count


# -- starting ---------------------------------------------------------------


def test_start_records_current_attributes_and_only_later_changes_fire(
    stat_loop: ev.Loop, tmp_path: Path, log: StatLog
) -> None:
    path = tmp_path / "f"
    write(path, b"one")
    w = ev.Stat(path, log, interval=INTERVAL).start(stat_loop)
    assert w.attr is not None
    assert w.attr.st_ino == os.stat(path).st_ino
    assert w.attr.st_size == 3
    run_for(stat_loop, QUIET)
    assert len(log) == 0

    append(path, b"two")
    run_until(stat_loop, lambda: len(log) == 1)
    assert log.last.revents == ev.STAT
    assert log.last.prev is not None and log.last.prev.st_size == 3
    assert log.last.attr is not None and log.last.attr.st_size == 6
    assert w.attr is log.last.attr


def test_restart_records_attributes_anew(stat_loop: ev.Loop, tmp_path: Path, log: StatLog) -> None:
    path = tmp_path / "f"
    write(path, b"one")
    w = ev.Stat(path, log, interval=INTERVAL).start(stat_loop)
    w.stop()
    append(path, b"two")
    w.start(stat_loop)
    assert w.attr is not None and w.attr.st_size == 6
    run_for(stat_loop, QUIET)
    assert len(log) == 0


def test_stopped_watcher_does_not_fire(stat_loop: ev.Loop, tmp_path: Path, log: StatLog) -> None:
    path = tmp_path / "f"
    write(path, b"one")
    w = ev.Stat(path, log, interval=INTERVAL).start(stat_loop)
    w.stop()
    append(path, b"two")
    keep = ev.Timer(QUIET, lambda t, r: None).start(stat_loop)
    stat_loop.run()
    assert not keep.is_active
    assert len(log) == 0


def test_path_attribute_is_the_fspath_of_what_was_given(tmp_path: Path, log: StatLog) -> None:
    assert ev.Stat(tmp_path / "f", log).path == str(tmp_path / "f")
    assert ev.Stat(b"/x/y", log).path == b"/x/y"


# -- appearing and disappearing -----------------------------------------------


def test_attr_is_none_while_the_path_does_not_exist(stat_loop: ev.Loop, tmp_path: Path, log: StatLog) -> None:
    w = ev.Stat(tmp_path / "missing", log, interval=INTERVAL).start(stat_loop)
    assert w.attr is None
    assert w.prev is None
    run_for(stat_loop, QUIET)
    assert len(log) == 0
    assert w.attr is None


def test_path_appearing_fires_with_attr_set_and_prev_none(
    stat_loop: ev.Loop, tmp_path: Path, log: StatLog
) -> None:
    path = tmp_path / "f"
    w = ev.Stat(path, log, interval=INTERVAL).start(stat_loop)
    stat_loop.run(ev.RUN_NOWAIT)
    write(path, b"hello")
    run_until(stat_loop, lambda: len(log) == 1)
    assert log.last.revents == ev.STAT
    assert log.last.prev is None
    assert log.last.attr is not None
    assert log.last.attr.st_ino == os.stat(path).st_ino
    assert w.attr is not None and w.attr.st_size == 5


def test_path_removal_fires_with_attr_none_and_prev_set(
    stat_loop: ev.Loop, tmp_path: Path, log: StatLog
) -> None:
    path = tmp_path / "f"
    write(path, b"hello")
    ino = os.stat(path).st_ino
    w = ev.Stat(path, log, interval=INTERVAL).start(stat_loop)
    stat_loop.run(ev.RUN_NOWAIT)
    os.unlink(path)
    run_until(stat_loop, lambda: len(log) == 1)
    assert log.last.revents == ev.STAT
    assert log.last.attr is None
    assert log.last.prev is not None
    assert log.last.prev.st_ino == ino
    assert log.last.prev.st_size == 5
    assert w.attr is None
    assert w.stat() is None


def test_path_under_missing_directories_fires_when_created(
    stat_loop: ev.Loop, tmp_path: Path, log: StatLog
) -> None:
    path = tmp_path / "a" / "b" / "f"
    w = ev.Stat(path, log, interval=INTERVAL).start(stat_loop)
    stat_loop.run(ev.RUN_NOWAIT)
    (tmp_path / "a" / "b").mkdir(parents=True)
    write(path, b"x")
    run_until(stat_loop, lambda: len(log) >= 1 and log.last.attr is not None)
    assert log.changes[0].prev is None
    assert w.attr is not None and w.attr.st_ino == os.stat(path).st_ino


# -- what counts as a change --------------------------------------------------


def test_two_same_size_writes_within_one_second_are_two_changes(
    stat_loop: ev.Loop, tmp_path: Path, log: StatLog
) -> None:
    path = tmp_path / "f"
    write(path, b"aaaa")
    backdate(path)
    w = ev.Stat(path, log, interval=INTERVAL).start(stat_loop)
    stat_loop.run(ev.RUN_NOWAIT)
    if time.time() % 1 > 0.6:  # start early in a second so both writes share it
        time.sleep(1 - time.time() % 1)

    write(path, b"bbbb")
    run_until(stat_loop, lambda: len(log) == 1)
    time.sleep(0.02)  # past the kernel's timestamp granularity (a tick at most)
    write(path, b"cccc")
    run_until(stat_loop, lambda: len(log) == 2)

    first, second = log.changes
    assert first.attr is not None and second.attr is not None and second.prev is not None
    assert second.prev.st_size == second.attr.st_size == 4
    assert second.prev.st_ino == second.attr.st_ino
    assert second.prev.st_mtime_ns == first.attr.st_mtime_ns
    assert second.attr.st_mtime_ns > second.prev.st_mtime_ns
    assert w.attr is second.attr


def test_attribute_only_change_fires(stat_loop: ev.Loop, tmp_path: Path, log: StatLog) -> None:
    path = tmp_path / "f"
    write(path, b"x")
    os.chmod(path, 0o644)
    ev.Stat(path, log, interval=INTERVAL).start(stat_loop)
    stat_loop.run(ev.RUN_NOWAIT)
    os.chmod(path, 0o600)
    run_until(stat_loop, lambda: len(log) == 1)
    assert log.last.attr is not None and stat_mod.S_IMODE(log.last.attr.st_mode) == 0o600
    assert log.last.prev is not None and stat_mod.S_IMODE(log.last.prev.st_mode) == 0o644


# -- editors -----------------------------------------------------------------


def test_atomic_save_by_replace_fires_and_the_next_edit_fires_too(
    stat_loop: ev.Loop, tmp_path: Path, log: StatLog
) -> None:
    path = tmp_path / "f"
    write(path, b"v1")
    old_ino = os.stat(path).st_ino
    w = ev.Stat(path, log, interval=INTERVAL).start(stat_loop)
    stat_loop.run(ev.RUN_NOWAIT)

    tmp = tmp_path / ".f.swp"
    write(tmp, b"version 2")
    os.replace(tmp, path)
    run_until(stat_loop, lambda: len(log) == 1)
    assert log.last.prev is not None and log.last.prev.st_ino == old_ino
    assert log.last.attr is not None and log.last.attr.st_ino == os.stat(path).st_ino
    assert log.last.attr.st_size == 9

    append(path, b" and 3")
    run_until(stat_loop, lambda: len(log) == 2)
    assert w.attr is not None and w.attr.st_size == 15


def test_delete_and_recreate_fires_and_the_next_edit_fires_too(
    stat_loop: ev.Loop, tmp_path: Path, log: StatLog
) -> None:
    path = tmp_path / "f"
    write(path, b"v1")
    w = ev.Stat(path, log, interval=INTERVAL).start(stat_loop)
    stat_loop.run(ev.RUN_NOWAIT)

    os.unlink(path)
    write(path, b"version 2")
    run_until(stat_loop, lambda: len(log) >= 1 and log.last.attr is not None)
    assert log.last.attr is not None and log.last.attr.st_size == 9
    settled = len(log)

    append(path, b" and 3")
    run_until(stat_loop, lambda: len(log) == settled + 1)
    assert w.attr is not None and w.attr.st_size == 15
    assert w.prev is not None and w.prev.st_size == 9


def test_rename_to_backup_then_new_file_fires_and_the_next_edit_fires_too(
    stat_loop: ev.Loop, tmp_path: Path, log: StatLog
) -> None:
    path = tmp_path / "f"
    backup = tmp_path / "f~"
    write(path, b"v1")
    old_ino = os.stat(path).st_ino
    w = ev.Stat(path, log, interval=INTERVAL).start(stat_loop)
    stat_loop.run(ev.RUN_NOWAIT)

    os.rename(path, backup)
    write(path, b"version 2")
    run_until(stat_loop, lambda: len(log) >= 1 and log.last.attr is not None)
    assert log.changes[0].prev is not None and log.changes[0].prev.st_ino == old_ino
    assert w.attr is not None and w.attr.st_ino == os.stat(path).st_ino != old_ino
    settled = len(log)

    append(path, b" and 3")
    run_until(stat_loop, lambda: len(log) == settled + 1)
    assert w.attr is not None and w.attr.st_size == 15

    # The watcher follows the path, not the inode it used to name.
    append(backup, b"backup edit")
    run_for(stat_loop, QUIET)
    assert len(log) == settled + 1


# -- stat() --------------------------------------------------------------------


def test_stat_refreshes_attr_without_callback_and_later_changes_are_judged_against_it(
    stat_loop: ev.Loop, tmp_path: Path, log: StatLog
) -> None:
    path = tmp_path / "f"
    write(path, b"one")
    w = ev.Stat(path, log, interval=INTERVAL).start(stat_loop)
    stat_loop.run(ev.RUN_NOWAIT)

    append(path, b"two")
    refreshed = w.stat()
    assert refreshed is w.attr
    assert refreshed is not None and refreshed.st_size == 6
    run_for(stat_loop, QUIET)
    assert len(log) == 0

    append(path, b"three")
    run_until(stat_loop, lambda: len(log) == 1)
    assert log.last.prev is refreshed
    assert log.last.attr is not None and log.last.attr.st_size == 11


def test_stat_on_an_inactive_watcher_reads_the_path(tmp_path: Path, log: StatLog) -> None:
    path = tmp_path / "f"
    w = ev.Stat(path, log)
    assert w.attr is None
    write(path, b"abc")
    st = w.stat()
    assert st is not None and st.st_size == 3
    assert w.attr is st
    assert len(log) == 0


# -- keeping the loop alive ----------------------------------------------------


def test_active_stat_watcher_keeps_run_alive(stat_loop: ev.Loop, tmp_path: Path, log: StatLog) -> None:
    w = ev.Stat(tmp_path / "f", log, interval=INTERVAL).start(stat_loop)

    def stop_it(t: ev.Timer, revents: int) -> None:
        w.stop()

    stopper = ev.Timer(0.05, stop_it)
    stopper.keepalive = False
    stopper.start(stat_loop)
    assert stat_loop.run() is False
    assert not stopper.is_active  # run() lasted until the stat watcher stopped
    assert not w.is_active


def test_internal_poll_timer_does_not_keep_run_alive(stat_loop: ev.Loop, tmp_path: Path, log: StatLog) -> None:
    w = ev.Stat(tmp_path / "f", log, interval=INTERVAL)
    w.keepalive = False
    w.start(stat_loop)
    watchdog = ev.Timer(2.0, lambda t, r: stat_loop.break_())
    watchdog.keepalive = False
    watchdog.start(stat_loop)
    assert stat_loop.run() is False
    assert watchdog.is_active  # returned at once, not broken by the watchdog
    assert w.is_active
    watchdog.stop()


# -- symlinks: followed ----------------------------------------------------------


@pytest.fixture
def linked(tmp_path: Path) -> tuple[Path, Path, Path]:
    """(link, target, other): link -> target; targets live in another directory."""
    targets = tmp_path / "targets"
    targets.mkdir()
    target = targets / "target"
    other = targets / "other"
    write(target, b"target")
    write(other, b"the other file")
    link = tmp_path / "link"
    os.symlink(target, link)
    return link, target, other


def test_symlink_attr_describes_the_target(
    stat_loop: ev.Loop, linked: tuple[Path, Path, Path], log: StatLog
) -> None:
    link, target, _ = linked
    w = ev.Stat(link, log, interval=INTERVAL).start(stat_loop)
    assert w.attr is not None
    assert stat_mod.S_ISREG(w.attr.st_mode)
    assert w.attr.st_ino == os.stat(target).st_ino
    assert w.attr.st_size == len(b"target")


def test_writing_the_symlink_target_fires(
    stat_loop: ev.Loop, linked: tuple[Path, Path, Path], log: StatLog
) -> None:
    link, target, _ = linked
    ev.Stat(link, log, interval=INTERVAL).start(stat_loop)
    stat_loop.run(ev.RUN_NOWAIT)
    append(target, b" grew")
    run_until(stat_loop, lambda: len(log) == 1)
    assert log.last.attr is not None and log.last.attr.st_size == len(b"target grew")


def test_repointing_the_symlink_fires_and_the_new_target_is_watched(
    stat_loop: ev.Loop, linked: tuple[Path, Path, Path], log: StatLog
) -> None:
    link, target, other = linked
    w = ev.Stat(link, log, interval=INTERVAL).start(stat_loop)
    stat_loop.run(ev.RUN_NOWAIT)

    tmp_link = link.parent / "link.new"
    os.symlink(other, tmp_link)
    os.replace(tmp_link, link)
    run_until(stat_loop, lambda: len(log) == 1)
    assert log.last.prev is not None and log.last.prev.st_ino == os.stat(target).st_ino
    assert log.last.attr is not None and log.last.attr.st_ino == os.stat(other).st_ino

    append(other, b" grew")
    run_until(stat_loop, lambda: len(log) == 2)
    assert w.attr is not None and w.attr.st_size == len(b"the other file grew")


def test_dangling_symlink_counts_as_missing_until_its_target_appears(
    stat_loop: ev.Loop, tmp_path: Path, log: StatLog
) -> None:
    targets = tmp_path / "targets"
    targets.mkdir()
    target = targets / "target"
    link = tmp_path / "link"
    os.symlink(target, link)
    w = ev.Stat(link, log, interval=INTERVAL).start(stat_loop)
    assert w.attr is None
    stat_loop.run(ev.RUN_NOWAIT)

    write(target, b"here now")
    run_until(stat_loop, lambda: len(log) == 1)
    assert log.last.prev is None
    assert log.last.attr is not None and log.last.attr.st_ino == os.stat(target).st_ino


def test_symlink_target_deleted_and_recreated_fires_both_times(
    stat_loop: ev.Loop, linked: tuple[Path, Path, Path], log: StatLog
) -> None:
    link, target, _ = linked
    w = ev.Stat(link, log, interval=INTERVAL).start(stat_loop)
    stat_loop.run(ev.RUN_NOWAIT)

    os.unlink(target)
    run_until(stat_loop, lambda: len(log) == 1)
    assert log.last.attr is None

    write(target, b"back again")
    run_until(stat_loop, lambda: len(log) == 2)
    assert log.last.prev is None
    assert w.attr is not None and w.attr.st_size == len(b"back again")


# -- directories ------------------------------------------------------------------


def test_directory_fires_when_an_entry_is_created_in_it(
    stat_loop: ev.Loop, tmp_path: Path, log: StatLog
) -> None:
    d = tmp_path / "d"
    d.mkdir()
    backdate(d)
    w = ev.Stat(d, log, interval=INTERVAL).start(stat_loop)
    assert w.attr is not None and stat_mod.S_ISDIR(w.attr.st_mode)
    stat_loop.run(ev.RUN_NOWAIT)
    write(d / "entry", b"x")
    run_until(stat_loop, lambda: len(log) == 1)
    assert log.last.attr is not None and log.last.prev is not None
    assert log.last.attr.st_mtime_ns > log.last.prev.st_mtime_ns


# -- closing ---------------------------------------------------------------------


@pytest.mark.parametrize("inotify", [True, False], ids=["inotify", "polling"])
def test_close_stops_stat_watchers_and_releases_the_inotify_fd(
    backend: ev.Backend, inotify: bool, tmp_path: Path, log: StatLog
) -> None:
    before = inotify_fds()
    loop = ev.Loop(backend=backend, inotify=inotify)
    try:
        a = ev.Stat(tmp_path / "a", log, interval=INTERVAL).start(loop)
        b = ev.Stat(tmp_path / "b", log, interval=INTERVAL).start(loop)
        assert inotify_fds() == before + (1 if inotify else 0)
        loop.close()
        assert not a.is_active
        assert not b.is_active
        assert inotify_fds() == before
    finally:
        loop.close()
    with pytest.raises(ev.Error):
        a.start(loop)


# -- interval ---------------------------------------------------------------------


def test_zero_interval_means_the_documented_default(log: StatLog) -> None:
    w = ev.Stat("/tmp/x", log, interval=0)
    assert w.interval == 0
    assert w.effective_interval == 5.0074891
    assert ev.Stat("/tmp/x", log).effective_interval == 5.0074891


@pytest.mark.parametrize("given", [0.001, 0.05, 0.0999])
def test_small_interval_is_raised_to_a_tenth_of_a_second(given: float, log: StatLog) -> None:
    w = ev.Stat("/tmp/x", log, interval=given)
    assert w.interval == given
    assert w.effective_interval == 0.1


def test_interval_attribute_returns_what_was_given(log: StatLog) -> None:
    w = ev.Stat("/tmp/x", log, interval=2.5)
    assert w.interval == 2.5
    assert w.effective_interval == 2.5


def test_polling_with_a_tiny_interval_does_not_spin(backend: ev.Backend, tmp_path: Path, log: StatLog) -> None:
    with ev.Loop(backend=backend, inotify=False) as loop:
        ev.Stat(tmp_path / "f", log, interval=0.001).start(loop)
        start = loop.iteration
        run_for(loop, 0.35)
        # At 0.1 s a poll, about four wake-ups; at 0.001 s, hundreds.
        assert loop.iteration - start < 20


# -- bad input --------------------------------------------------------------------


@pytest.mark.parametrize("path", [123, None, 1.5, ["a"]])
def test_non_path_path_raises_type_error(path: object, log: StatLog) -> None:
    with pytest.raises(TypeError):
        ev.Stat(path, log)  # type: ignore[arg-type]


@pytest.mark.parametrize("path", ["/tmp/a\0b", b"/tmp/a\0b"])
def test_nul_in_path_raises_value_error(path: str | bytes, log: StatLog) -> None:
    with pytest.raises(ValueError):
        ev.Stat(path, log)


@pytest.mark.parametrize("interval", [-1.0, -0.001, math.nan, math.inf, -math.inf])
def test_negative_or_non_finite_interval_raises_value_error(interval: float, log: StatLog) -> None:
    with pytest.raises(ValueError):
        ev.Stat("/tmp/x", log, interval=interval)


@pytest.mark.parametrize("interval", [-1.0, math.nan, math.inf])
def test_set_with_bad_interval_raises_value_error(interval: float, log: StatLog) -> None:
    w = ev.Stat("/tmp/x", log)
    with pytest.raises(ValueError):
        w.set("/tmp/y", interval)
    assert w.path == "/tmp/x"


def test_set_with_bad_path_raises(log: StatLog) -> None:
    w = ev.Stat("/tmp/x", log)
    with pytest.raises(TypeError):
        w.set(None)  # type: ignore[arg-type]
    with pytest.raises(ValueError):
        w.set("/tmp/\0")
    assert w.path == "/tmp/x"


# -- set() ---------------------------------------------------------------------------


def test_set_while_active_raises_error(stat_loop: ev.Loop, tmp_path: Path, log: StatLog) -> None:
    w = ev.Stat(tmp_path / "a", log, interval=INTERVAL).start(stat_loop)
    with pytest.raises(ev.Error):
        w.set(tmp_path / "b", 1.0)
    assert w.path == str(tmp_path / "a")
    assert w.interval == INTERVAL


def test_set_while_inactive_watches_the_new_path(stat_loop: ev.Loop, tmp_path: Path, log: StatLog) -> None:
    a, b = tmp_path / "a", tmp_path / "b"
    write(a, b"a")
    write(b, b"b")
    w = ev.Stat(a, log, interval=1.0).start(stat_loop)
    w.stop()
    w.set(b, INTERVAL)
    assert w.path == str(b)
    assert w.interval == INTERVAL
    w.start(stat_loop)
    assert w.attr is not None and w.attr.st_ino == os.stat(b).st_ino
    stat_loop.run(ev.RUN_NOWAIT)
    append(b, b"bb")
    run_until(stat_loop, lambda: len(log) == 1)
    assert log.last.attr is not None and log.last.attr.st_size == 3


# -- the inotify machinery ------------------------------------------------------------


def test_inotify_queue_overflow_rechecks_every_stat_watcher(
    inotify_loop: ev.Loop, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    changed, untouched = tmp_path / "changed", tmp_path / "untouched"
    write(changed, b"1")
    write(untouched, b"1")
    log_changed, log_untouched = StatLog(), StatLog()
    ev.Stat(changed, log_changed, interval=INTERVAL).start(inotify_loop)
    ev.Stat(untouched, log_untouched, interval=INTERVAL).start(inotify_loop)
    inotify_loop.run(ev.RUN_NOWAIT)

    real_read = _linux.inotify_read
    reads: list[int] = []

    def overflowing_read(fd: int) -> list[tuple[int, int]]:
        events = real_read(fd)
        reads.append(fd)
        if len(reads) == 1:
            return [(-1, _linux.IN_Q_OVERFLOW)]  # the kernel lost every event
        return events

    monkeypatch.setattr(_linux, "inotify_read", overflowing_read)
    append(changed, b"22")
    run_until(inotify_loop, lambda: len(log_changed) == 1)
    assert len(reads) == 1  # found by the overflow's re-check
    assert log_changed.last.attr is not None and log_changed.last.attr.st_size == 3
    assert len(log_untouched) == 0


def test_inotify_watch_limit_makes_the_watcher_poll_and_warns_once(
    inotify_loop: ev.Loop, tmp_path: Path, log: StatLog, monkeypatch: pytest.MonkeyPatch
) -> None:
    def no_space(fd: int, path: bytes, mask: int) -> int:
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    monkeypatch.setattr(_linux, "inotify_add_watch", no_space)
    monkeypatch.setattr(files, "_warned_watch_limit", False)
    a, b = tmp_path / "a", tmp_path / "b"
    write(a, b"a")
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        ev.Stat(a, log, interval=INTERVAL).start(inotify_loop)
        ev.Stat(b, StatLog(), interval=INTERVAL).start(inotify_loop)
        inotify_loop.run(ev.RUN_NOWAIT)
    assert [w.category for w in caught] == [RuntimeWarning]
    assert "fs.inotify.max_user_watches" in str(caught[0].message)

    append(a, b"aa")
    run_until(inotify_loop, lambda: len(log) == 1)
    assert log.last.attr is not None and log.last.attr.st_size == 3


def _drop_inotify_events(monkeypatch: pytest.MonkeyPatch) -> None:
    real_read = _linux.inotify_read

    def blind_read(fd: int) -> list[tuple[int, int]]:
        real_read(fd)  # drain, so the fd does not stay readable
        return []

    monkeypatch.setattr(_linux, "inotify_read", blind_read)


def test_non_local_filesystem_is_polled_in_inotify_mode(
    inotify_loop: ev.Loop, tmp_path: Path, log: StatLog, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(files, "_is_local", lambda path: False)
    _drop_inotify_events(monkeypatch)
    path = tmp_path / "f"
    write(path, b"x")
    ev.Stat(path, log, interval=INTERVAL).start(inotify_loop)
    inotify_loop.run(ev.RUN_NOWAIT)
    append(path, b"yy")
    run_until(inotify_loop, lambda: len(log) == 1)
    assert log.last.attr is not None and log.last.attr.st_size == 3


def test_local_filesystem_is_not_polled_in_inotify_mode(
    inotify_loop: ev.Loop, tmp_path: Path, log: StatLog, monkeypatch: pytest.MonkeyPatch
) -> None:
    _drop_inotify_events(monkeypatch)
    path = tmp_path / "f"
    write(path, b"x")
    ev.Stat(path, log, interval=INTERVAL).start(inotify_loop)
    inotify_loop.run(ev.RUN_NOWAIT)
    append(path, b"yy")
    run_for(inotify_loop, QUIET + 0.1)
    assert len(log) == 0
