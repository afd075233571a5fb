"""Tree: when the kernel's limits bite. A queue overflow (real where this
process may shrink ``max_queued_events``, else simulated) rescans with a
warning; running out of watches or inotify instances makes the tree poll,
with a warning; a directory the process may not read is skipped with a
warning, never fatal; a filesystem inotify cannot see is polled.

The overflow is inotify's alone (polling has no queue), so its tests run on
inotify; the others run on both mechanisms where both apply."""

from __future__ import annotations

import errno
import os
import sys
import time
import warnings
from collections.abc import Callable, Iterator
from pathlib import Path
from types import FrameType
from typing import Any

import pytest

import pyev as ev
from pyev import _linux
from pyev._sources import treenative, trees

from .helpers import run_until
from .tree_helpers import expect, expect_at_least, make_tree, watch, write

MAX_QUEUED_EVENTS = "/proc/sys/fs/inotify/max_queued_events"


@pytest.fixture
def inotify_loop() -> Iterator[ev.Loop]:
    lp = ev.Loop(backend=ev.Backend.EPOLL, inotify=True)
    yield lp
    lp.close()


def _overflow_once(monkeypatch: pytest.MonkeyPatch) -> None:
    """The next read of the inotify fd finds only IN_Q_OVERFLOW: the kernel
    lost every event queued (the real ones are drained and dropped)."""
    real_read = _linux.inotify_read_events
    done: list[bool] = []

    def overflowing_read(fd: int) -> list[tuple[int, int, int, bytes]]:
        events = real_read(fd)
        if done or not events:
            return events
        done.append(True)
        while real_read(fd):
            pass
        return [(-1, _linux.IN_Q_OVERFLOW, 0, b"")]

    monkeypatch.setattr(_linux, "inotify_read_events", overflowing_read)


# -- queue overflow ------------------------------------------------------------------


def test_a_queue_overflow_rescans_with_a_warning(
    inotify_loop: ev.Loop, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    make_tree(tmp_path, {"keep/f": "1", "keep/same": "1", "gone": None, "moving/inner": None})
    # The rescan reports files whose inode changed shortly before the last
    # complete read too (timestamps lag); "same" is older than that.
    time.sleep(2 * trees.TIMESTAMP_SLACK_NS / 1e9)
    _, log = watch(inotify_loop, tmp_path)
    _overflow_once(monkeypatch)
    write(tmp_path / "keep/f", "22")
    make_tree(tmp_path, {"new/g": "1", "new/sub/h": "2"})
    (tmp_path / "gone").rmdir()
    os.rename(tmp_path / "moving", tmp_path / "moved")
    with pytest.warns(RuntimeWarning, match="fs.inotify.max_queued_events"):
        expect(
            inotify_loop,
            log,
            [
                "MODIFIED keep/f",
                "ADDED new/",
                "ADDED new/g",
                "ADDED new/sub/",
                "ADDED new/sub/h",
                "DELETED gone/",
                "MOVED moving/ -> moved/",
            ],
        )
    write(tmp_path / "moved/inner/x", "watched at its new path")
    expect(inotify_loop, log, ["ADDED moved/inner/x"])


def test_a_real_queue_overflow_loses_no_created_file(tmp_path: Path) -> None:
    """Shrinks the system's max_queued_events (root only) for the moment the
    loop makes its inotify fd, which keeps the limit it was made with."""
    if not os.access(MAX_QUEUED_EVENTS, os.W_OK):
        pytest.skip("fs.inotify.max_queued_events is not writable here (needs root)")
    make_tree(tmp_path, {"old": None})
    with ev.Loop(inotify=True) as loop:
        with open(MAX_QUEUED_EVENTS) as f:
            original = f.read()
        try:
            with open(MAX_QUEUED_EVENTS, "w") as f:
                f.write("16\n")
            _, log = watch(loop, tmp_path)
        finally:
            with open(MAX_QUEUED_EVENTS, "w") as f:
                f.write(original)
        made = [f"old/f{n}" for n in range(300)] + ["new/"] + [f"new/g{n}" for n in range(100)]
        for rel in made:
            if rel.endswith("/"):
                (tmp_path / rel).mkdir()
            else:
                write(tmp_path / rel, "x")
        with pytest.warns(RuntimeWarning, match="max_queued_events"):
            run_until(loop, lambda: {c.split(" ", 1)[1] for c in log.described()} >= set(made), limit=10.0)
        assert {c.split(" ", 1)[0] for c in log.described()} <= {"ADDED", "MODIFIED"}


# -- out of watches, out of instances -----------------------------------------------


def _watches_run_out_after(monkeypatch: pytest.MonkeyPatch, allowed: int) -> None:
    real_add = _linux.inotify_add_watch
    calls: list[bytes] = []

    def limited(fd: int, path: bytes, mask: int) -> int:
        calls.append(path)
        if len(calls) > allowed:
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
        return real_add(fd, path, mask)

    monkeypatch.setattr(_linux, "inotify_add_watch", limited)


def test_running_out_of_watches_at_the_start_polls_with_a_warning(
    inotify_loop: ev.Loop, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    make_tree(tmp_path, {"a/b/c": None})
    _watches_run_out_after(monkeypatch, 2)
    with pytest.warns(RuntimeWarning, match="fs.inotify.max_user_watches"):
        tree, log = watch(inotify_loop, tmp_path)
    assert tree.mechanism == "polling"
    assert inotify_loop._trees is not None and inotify_loop._trees.owners == {}
    write(tmp_path / "a/b/c/f")
    expect(inotify_loop, log, ["ADDED a/b/c/f"])


def test_running_out_of_watches_later_loses_nothing_and_polls_with_a_warning(
    inotify_loop: ev.Loop, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    tree, log = watch(inotify_loop, tmp_path)
    assert tree.mechanism == "inotify"
    _watches_run_out_after(monkeypatch, 1)
    make_tree(tmp_path, {"n1/f": "1", "n1/sub/g": "2", "n2/h": "3"})
    with pytest.warns(RuntimeWarning, match="fs.inotify.max_user_watches"):
        expect(
            inotify_loop, log, ["ADDED n1/", "ADDED n1/f", "ADDED n1/sub/", "ADDED n1/sub/g", "ADDED n2/", "ADDED n2/h"]
        )
    assert tree.mechanism == "polling"
    write(tmp_path / "n1/sub/g", "changed")
    expect(inotify_loop, log, ["MODIFIED n1/sub/g"])


def test_no_inotify_instance_left_polls_with_a_warning(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    def none_left() -> int:
        raise OSError(errno.EMFILE, os.strerror(errno.EMFILE))

    monkeypatch.setattr(_linux, "inotify_init", none_left)
    with ev.Loop(inotify=True) as loop:
        with pytest.warns(RuntimeWarning, match="max_user_instances"):
            tree, log = watch(loop, tmp_path)
        assert tree.mechanism == "polling"
        write(tmp_path / "f")
        expect(loop, log, ["ADDED f"])


def test_a_filesystem_inotify_cannot_see_is_polled(
    inotify_loop: ev.Loop, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(trees, "_is_local", lambda path: False)
    tree, log = watch(inotify_loop, tmp_path)
    assert tree.mechanism == "polling"
    write(tmp_path / "f")
    expect(inotify_loop, log, ["ADDED f"])


def test_the_portable_profile_polls(tmp_path: Path) -> None:
    with ev.Loop(inotify=False) as loop:
        tree, _ = watch(loop, tmp_path)
        assert tree.mechanism == "polling"
        assert loop._trees is not None and loop._trees.ifd == -1


# -- directories the process may not read ----------------------------------------------


@pytest.fixture
def make_unreadable(monkeypatch: pytest.MonkeyPatch) -> Iterator[object]:
    """Makes directories unreadable: chmod 000, or, where permissions do not
    apply (root), a scandir and an inotify_add_watch that refuse them."""
    refused: set[str] = set()
    chmodded: list[Path] = []
    if os.geteuid() == 0:
        real_scandir = os.scandir
        real_add = _linux.inotify_add_watch

        def scandir(path: object = ".") -> object:
            name = os.fspath(path)  # type: ignore[call-overload]
            if name in refused:
                raise PermissionError(errno.EACCES, os.strerror(errno.EACCES), name)
            return real_scandir(path)  # type: ignore[call-overload]

        def add_watch(fd: int, path: bytes, mask: int) -> int:
            if os.fsdecode(path) in refused:
                raise OSError(errno.EACCES, os.strerror(errno.EACCES))
            return real_add(fd, path, mask)

        monkeypatch.setattr(os, "scandir", scandir)
        monkeypatch.setattr(_linux, "inotify_add_watch", add_watch)

    def make(path: Path) -> None:
        if os.geteuid() == 0:
            refused.add(str(path))
        else:
            path.chmod(0)
            chmodded.append(path)

    yield make
    for path in chmodded:
        path.chmod(0o755)


def test_an_unreadable_directory_is_skipped_with_a_warning(
    tree_loop: ev.Loop, tmp_path: Path, make_unreadable: object
) -> None:
    make_tree(tmp_path, {"locked/f": "1", "open": None})
    make_unreadable(tmp_path / "locked")  # type: ignore[operator]
    with pytest.warns(RuntimeWarning, match="locked"):
        tree, log = watch(tree_loop, tmp_path)
        write(tmp_path / "open/g")
        got = expect_at_least(tree_loop, log, ["ADDED open/g"])
    assert got == ["ADDED open/g"]
    assert tree.is_active


def test_an_unreadable_new_directory_is_added_skipped_with_a_warning_and_the_rest_goes_on(
    tree_loop: ev.Loop, tmp_path: Path, make_unreadable: object
) -> None:
    _, log = watch(tree_loop, tmp_path)
    (tmp_path / "locked").mkdir()
    write(tmp_path / "locked/f")
    make_unreadable(tmp_path / "locked")  # type: ignore[operator]
    write(tmp_path / "other")
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        got = expect_at_least(tree_loop, log, ["ADDED locked/", "ADDED other"])
        write(tmp_path / "other", "changed")
        expect(tree_loop, log, ["MODIFIED other"])
    assert sorted(got) == ["ADDED locked/", "ADDED other"]
    messages = [str(w.message) for w in caught if issubclass(w.category, RuntimeWarning)]
    assert messages and all("locked" in m for m in messages)
    assert len(messages) == 1  # once, not at every poll


def test_a_directory_that_becomes_unreadable_is_not_reported_emptied(
    tree_loop: ev.Loop, tmp_path: Path, make_unreadable: object, mechanism: str
) -> None:
    make_tree(tmp_path, {"locked/f": "1", "locked/sub/g": "2"})
    _, log = watch(tree_loop, tmp_path)
    make_unreadable(tmp_path / "locked")  # type: ignore[operator]
    write(tmp_path / "other")
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        expect(tree_loop, log, ["ADDED other"])
    # Polling cannot list it any more, and says so; inotify's watch stays.
    messages = [str(w.message) for w in caught if issubclass(w.category, RuntimeWarning)]
    assert all("locked" in m for m in messages)
    assert len(messages) == (1 if mechanism == "polling" else 0)


def _lines_run_to_rescan(loop: ev.Loop, root: Path, new_directories: int) -> int:
    """How many lines of treenative.py a rescan runs after ``new_directories``
    were made unseen: the work done, counted without a clock."""
    root.mkdir()
    tree, _ = watch(loop, root)
    for n in range(new_directories):
        (root / f"d{n}").mkdir()
    assert loop._trees is not None
    state = loop._trees.trees[tree]
    assert isinstance(state, treenative.NativeTree)
    count = 0

    def line(frame: FrameType, event: str, arg: Any) -> Callable[..., Any]:
        nonlocal count
        if event == "line":
            count += 1
        return line

    def call(frame: FrameType, event: str, arg: Any) -> Callable[..., Any] | None:
        return line if frame.f_code.co_filename == treenative.__file__ else None

    previous = sys.gettrace()
    sys.settrace(call)
    try:
        state.rescan(0)
    finally:
        sys.settrace(previous)
    assert len(state.out) == new_directories
    tree.stop()
    return count


def test_a_rescan_takes_time_in_proportion_to_the_new_directories(inotify_loop: ev.Loop, tmp_path: Path) -> None:
    # The overflow of a burst that made thousands of directories: four times
    # the directories, about four times the work, not sixteen.
    small = _lines_run_to_rescan(inotify_loop, tmp_path / "small", 100)
    large = _lines_run_to_rescan(inotify_loop, tmp_path / "large", 400)
    assert large < 5 * small, (small, large)


def test_a_rename_read_over_two_wake_ups_is_one_move(
    inotify_loop: ev.Loop, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A busy queue: a wake-up reads MAX_READS times and leaves the rest
    # queued, here right after a rename's MOVED_FROM.
    make_tree(tmp_path, {"a/f": "1", "b": None})
    _, log = watch(inotify_loop, tmp_path)
    os.rename(tmp_path / "a/f", tmp_path / "b/f")
    source = inotify_loop._trees
    assert source is not None
    events = _linux.inotify_read_events(source.ifd)
    cut = next(i for i, (_, mask, _, _) in enumerate(events) if mask & _linux.IN_MOVED_FROM) + 1
    reads = [events[:cut], events[cut:], []]
    monkeypatch.setattr(_linux, "inotify_read_events", lambda fd: reads.pop(0) if reads else [])
    monkeypatch.setattr(trees, "MAX_READS", 1)
    while reads:
        source._on_inotify()  # one wake-up each (called here: the fd is read already)
    inotify_loop.run(ev.RUN_NOWAIT)  # the callback
    assert log.described() == ["MOVED a/f -> b/f"]
