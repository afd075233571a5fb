"""Tree: files and directories added, modified, deleted and moved anywhere
under the root, on inotify and on polling (``tree_loop``)."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import pytest

import pyev as ev

from .helpers import run_until
from .tree_helpers import expect, expect_at_least, expect_nothing, listing, make_tree, replay, run_for, watch, write


def test_a_new_file_deep_in_the_tree_is_added(tree_loop: ev.Loop, tmp_path: Path) -> None:
    make_tree(tmp_path, {"src/pkg/sub": None})
    _, log = watch(tree_loop, tmp_path)
    write(tmp_path / "src/pkg/sub/mod.py", "x = 1\n")
    expect(tree_loop, log, ["ADDED src/pkg/sub/mod.py"])


def test_writing_a_file_deep_in_the_tree_modifies_it(tree_loop: ev.Loop, tmp_path: Path) -> None:
    make_tree(tmp_path, {"src/pkg/mod.py": "x = 1\n"})
    _, log = watch(tree_loop, tmp_path)
    with open(tmp_path / "src/pkg/mod.py", "a") as f:
        f.write("y = 2\n")
    expect(tree_loop, log, ["MODIFIED src/pkg/mod.py"])


def test_the_callback_gets_stat_and_reads_the_batch_as_changes(tree_loop: ev.Loop, tmp_path: Path) -> None:
    tree, log = watch(tree_loop, tmp_path)
    assert tree.changes == []
    write(tmp_path / "g")
    run_until(tree_loop, lambda: bool(log.batches))
    assert log.revents == [ev.STAT]
    assert log.batches == [[ev.FileChange(ev.Change.ADDED, str(tmp_path / "g"), False, None)]]
    assert tree.changes == log.batches[0]
    assert isinstance(tree.changes[0].change, ev.Change)


def test_a_deleted_file_is_deleted(tree_loop: ev.Loop, tmp_path: Path) -> None:
    make_tree(tmp_path, {"a/b/f": "x"})
    _, log = watch(tree_loop, tmp_path)
    os.unlink(tmp_path / "a/b/f")
    expect(tree_loop, log, ["DELETED a/b/f"])


def test_a_file_renamed_within_the_tree_is_moved_with_both_ends(tree_loop: ev.Loop, tmp_path: Path) -> None:
    make_tree(tmp_path, {"a/f": "x", "b": None})
    _, log = watch(tree_loop, tmp_path)
    os.rename(tmp_path / "a/f", tmp_path / "b/g")
    run_until(tree_loop, lambda: bool(log.batches))
    assert log.changes == [ev.FileChange(ev.Change.MOVED, str(tmp_path / "b/g"), False, str(tmp_path / "a/f"))]
    expect(tree_loop, log, ["MOVED a/f -> b/g"])


def test_a_file_moved_out_of_the_tree_is_deleted_and_one_moved_in_is_added(
    tree_loop: ev.Loop, tmp_path: Path
) -> None:
    root, outside = tmp_path / "root", tmp_path / "outside"
    make_tree(tmp_path, {"root/a/f": "x", "outside/g": "y"})
    _, log = watch(tree_loop, root)
    os.rename(root / "a/f", outside / "f")
    expect(tree_loop, log, ["DELETED a/f"])
    os.rename(outside / "g", root / "a/g")
    expect(tree_loop, log, ["ADDED a/g"])


def test_a_created_and_deleted_directory_is_added_and_deleted(tree_loop: ev.Loop, tmp_path: Path) -> None:
    _, log = watch(tree_loop, tmp_path)
    (tmp_path / "d").mkdir()
    expect(tree_loop, log, ["ADDED d/"])
    (tmp_path / "d").rmdir()
    expect(tree_loop, log, ["DELETED d/"])


def test_files_in_a_directory_created_after_the_start_are_watched(tree_loop: ev.Loop, tmp_path: Path) -> None:
    _, log = watch(tree_loop, tmp_path)
    (tmp_path / "new").mkdir()
    expect(tree_loop, log, ["ADDED new/"])
    write(tmp_path / "new/f", "1")
    expect(tree_loop, log, ["ADDED new/f"])
    write(tmp_path / "new/f", "22")
    expect(tree_loop, log, ["MODIFIED new/f"])


def test_a_nested_directory_created_with_files_already_in_it_reports_every_file(
    tree_loop: ev.Loop, tmp_path: Path
) -> None:
    # Everything exists before the loop reads the first event: inotify says
    # only that "a" was created, and the rest was there before a watch on
    # "a" could be placed (the race every inotify watcher must close).
    _, log = watch(tree_loop, tmp_path)
    make_tree(tmp_path, {"a/b/c/f1": "1", "a/b/c/f2": "2", "a/b/g": "3", "a/h": "4", "a/b/d": None})
    expect(
        tree_loop,
        log,
        ["ADDED a/", "ADDED a/b/", "ADDED a/b/c/", "ADDED a/b/d/"]
        + ["ADDED a/b/c/f1", "ADDED a/b/c/f2", "ADDED a/b/g", "ADDED a/h"],
    )
    write(tmp_path / "a/b/d/later", "5")
    expect(tree_loop, log, ["ADDED a/b/d/later"])


def test_a_directory_with_contents_moved_into_the_tree_reports_every_entry(tree_loop: ev.Loop, tmp_path: Path) -> None:
    root = tmp_path / "root"
    make_tree(tmp_path, {"root": None, "outside/x/f": "1", "outside/x/y/g": "2"})
    _, log = watch(tree_loop, root)
    os.rename(tmp_path / "outside/x", root / "x")
    expect(tree_loop, log, ["ADDED x/", "ADDED x/f", "ADDED x/y/", "ADDED x/y/g"])
    write(root / "x/y/g", "changed")
    expect(tree_loop, log, ["MODIFIED x/y/g"])


def test_a_directory_renamed_within_the_tree_is_one_move_and_its_files_stay_watched(
    tree_loop: ev.Loop, tmp_path: Path
) -> None:
    make_tree(tmp_path, {"a/sub/f": "1", "a/g": "2"})
    _, log = watch(tree_loop, tmp_path)
    os.rename(tmp_path / "a", tmp_path / "b")
    expect(tree_loop, log, ["MOVED a/ -> b/"])
    write(tmp_path / "b/sub/f", "changed")
    expect(tree_loop, log, ["MODIFIED b/sub/f"])
    write(tmp_path / "b/sub/new", "3")
    expect(tree_loop, log, ["ADDED b/sub/new"])


def test_a_directory_moved_out_of_the_tree_is_deleted_and_no_longer_watched(
    tree_loop: ev.Loop, tmp_path: Path, mechanism: str
) -> None:
    root = tmp_path / "root"
    make_tree(tmp_path, {"root/d/f": "1", "outside": None})
    _, log = watch(tree_loop, root)
    os.rename(root / "d", tmp_path / "outside/d")
    # Polling compares snapshots, so it lists the directory's contents too;
    # inotify reports the directory only (its entries did not change).
    got = expect_at_least(tree_loop, log, ["DELETED d/"])
    assert sorted(got) == (["DELETED d/", "DELETED d/f"] if mechanism == "polling" else ["DELETED d/"])
    write(tmp_path / "outside/d/f", "changed")
    write(tmp_path / "outside/d/g", "new")
    expect_nothing(tree_loop, log)


def test_a_removed_tree_reports_every_path(tree_loop: ev.Loop, tmp_path: Path) -> None:
    make_tree(tmp_path, {"a/b/f": "1", "a/g": "2"})
    _, log = watch(tree_loop, tmp_path)
    shutil.rmtree(tmp_path / "a")
    expect(tree_loop, log, ["DELETED a/", "DELETED a/b/", "DELETED a/b/f", "DELETED a/g"])


def test_a_file_created_and_deleted_before_the_loop_looks_is_not_reported(tree_loop: ev.Loop, tmp_path: Path) -> None:
    _, log = watch(tree_loop, tmp_path)
    write(tmp_path / "brief")
    os.unlink(tmp_path / "brief")
    write(tmp_path / "stays")
    expect(tree_loop, log, ["ADDED stays"])


def test_touching_a_file_modifies_it(tree_loop: ev.Loop, tmp_path: Path) -> None:
    make_tree(tmp_path, {"f": "1"})
    hour_ago = time.time_ns() - 3600 * 10**9
    os.utime(tmp_path / "f", ns=(hour_ago, hour_ago))  # so that now is another time, however coarse the clock
    _, log = watch(tree_loop, tmp_path)
    os.utime(tmp_path / "f")  # what touch does: the times set to now
    expect(tree_loop, log, ["MODIFIED f"])


def test_nothing_is_reported_while_nothing_changes(tree_loop: ev.Loop, tmp_path: Path) -> None:
    make_tree(tmp_path, {"a/f": "1", "b/g": "2"})
    _, log = watch(tree_loop, tmp_path)
    with open(tmp_path / "a/f") as f:
        f.read()
    expect_nothing(tree_loop, log)


def test_non_recursive_watches_the_roots_own_entries_only(tree_loop: ev.Loop, tmp_path: Path) -> None:
    make_tree(tmp_path, {"sub/f": "1"})
    _, log = watch(tree_loop, tmp_path, recursive=False)
    write(tmp_path / "sub/f", "changed")
    write(tmp_path / "sub/g", "new")
    (tmp_path / "new").mkdir()
    write(tmp_path / "top", "1")
    expect(tree_loop, log, ["ADDED new/", "ADDED top"])
    write(tmp_path / "new/inner", "1")
    expect_nothing(tree_loop, log)


def test_a_burst_of_files_in_new_directories_reports_each_file_once(tree_loop: ev.Loop, tmp_path: Path) -> None:
    # Another process creates them while the loop runs: new directories get
    # their watches while files keep appearing in them.
    _, log = watch(tree_loop, tmp_path)
    writer = (
        "import os, sys\n"
        "root = sys.argv[1]\n"
        "for d in range(20):\n"
        "    os.mkdir(os.path.join(root, f'd{d}'))\n"
        "    for f in range(100):\n"
        "        open(os.path.join(root, f'd{d}', f'f{f}'), 'w').close()\n"
    )
    proc = subprocess.Popen([sys.executable, "-c", writer, str(tmp_path)])
    wanted = [f"ADDED d{d}/" for d in range(20)] + [f"ADDED d{d}/f{f}" for d in range(20) for f in range(100)]
    try:
        expect(tree_loop, log, wanted, limit=20.0)
    finally:
        assert proc.wait(30) == 0


def test_permission_owner_and_access_time_changes_are_not_modifications(tree_loop: ev.Loop, tmp_path: Path) -> None:
    make_tree(tmp_path, {"f": "1"})
    _, log = watch(tree_loop, tmp_path)
    st = os.stat(tmp_path / "f")
    os.chmod(tmp_path / "f", 0o600)
    os.chown(tmp_path / "f", st.st_uid, st.st_gid)
    os.utime(tmp_path / "f", ns=(st.st_atime_ns + 10**9, st.st_mtime_ns))
    os.link(tmp_path / "f", tmp_path / "hard")
    expect(tree_loop, log, ["ADDED hard"])


def test_a_file_replaced_by_a_directory_of_the_same_name_is_deleted_and_added(
    tree_loop: ev.Loop, tmp_path: Path
) -> None:
    make_tree(tmp_path, {"f": "1"})
    _, log = watch(tree_loop, tmp_path)
    os.unlink(tmp_path / "f")
    (tmp_path / "f").mkdir()
    expect(tree_loop, log, ["DELETED f", "ADDED f/"])
    write(tmp_path / "f/inside", "2")
    expect(tree_loop, log, ["ADDED f/inside"])


def test_a_directory_replaced_by_a_file_of_the_same_name_is_deleted_and_added(
    tree_loop: ev.Loop, tmp_path: Path
) -> None:
    make_tree(tmp_path, {"d/f": "1"})
    _, log = watch(tree_loop, tmp_path)
    shutil.rmtree(tmp_path / "d")
    write(tmp_path / "d", "now a file")
    expect(tree_loop, log, ["DELETED d/f", "DELETED d/", "ADDED d"])


def test_a_file_moved_out_of_the_tree_and_replaced_at_once_is_modified(tree_loop: ev.Loop, tmp_path: Path) -> None:
    # What an editor does that keeps its backups outside the tree.
    root, outside = tmp_path / "root", tmp_path / "outside"
    make_tree(tmp_path, {"root/f": "old", "outside": None})
    _, log = watch(tree_loop, root)
    os.rename(root / "f", outside / "f~")
    write(root / "f", "new")
    expect(tree_loop, log, ["MODIFIED f"])


def test_a_directory_moved_out_of_the_tree_and_replaced_at_once_is_watched(
    tree_loop: ev.Loop, tmp_path: Path, mechanism: str
) -> None:
    root, outside = tmp_path / "root", tmp_path / "outside"
    make_tree(tmp_path, {"root/d/f": "1", "outside": None})
    _, log = watch(tree_loop, root)
    os.rename(root / "d", outside / "d")
    (root / "d").mkdir()
    # Polling compares snapshots and lists d/f too; inotify cannot list what
    # left: the DELETED d/ says it all.
    got = expect_at_least(tree_loop, log, ["DELETED d/", "ADDED d/"])
    assert got == (["DELETED d/f", "DELETED d/", "ADDED d/"] if mechanism == "polling" else ["DELETED d/", "ADDED d/"])
    write(root / "d/later", "2")
    expect(tree_loop, log, ["ADDED d/later"])
    write(outside / "d/f", "changed outside")
    expect_nothing(tree_loop, log)


def test_a_directory_moved_out_of_the_tree_and_back_at_once_is_still_watched(
    tree_loop: ev.Loop, tmp_path: Path, mechanism: str
) -> None:
    root, outside = tmp_path / "root", tmp_path / "outside"
    make_tree(tmp_path, {"root/d/f": "1", "outside": None})
    _, log = watch(tree_loop, root)
    os.rename(root / "d", outside / "d")
    os.rename(outside / "d", root / "d")
    # inotify cannot tell it is the same directory back: it went, and came
    # back with what is in it.
    got = expect_at_least(tree_loop, log, [])
    assert got == ([] if mechanism == "polling" else ["DELETED d/", "ADDED d/", "ADDED d/f"])
    write(root / "d/later", "2")
    expect(tree_loop, log, ["ADDED d/later"])


def test_a_directory_filled_under_a_temporary_name_and_renamed_reports_every_entry_and_stays_watched(
    tree_loop: ev.Loop, tmp_path: Path
) -> None:
    # How unpackers and package managers install a directory; all of it is
    # done before the watcher reads the first event.
    _, log = watch(tree_loop, tmp_path)
    make_tree(tmp_path, {"pkg.tmp/f": "1", "pkg.tmp/sub/g": "2"})
    os.rename(tmp_path / "pkg.tmp", tmp_path / "pkg")
    expect(tree_loop, log, ["ADDED pkg/", "ADDED pkg/f", "ADDED pkg/sub/", "ADDED pkg/sub/g"])
    write(tmp_path / "pkg/sub/later", "3")
    expect(tree_loop, log, ["ADDED pkg/sub/later"])


def test_a_directory_moved_into_a_new_directory_is_moved_and_stays_watched(tree_loop: ev.Loop, tmp_path: Path) -> None:
    make_tree(tmp_path, {"old/f": "1", "old/sub/g": "2"})
    _, log = watch(tree_loop, tmp_path)
    (tmp_path / "new").mkdir()
    os.rename(tmp_path / "old", tmp_path / "new/old")
    expect(tree_loop, log, ["ADDED new/", "MOVED old/ -> new/old/"])
    write(tmp_path / "new/old/sub/later", "3")
    write(tmp_path / "new/old/f", "changed")
    expect(tree_loop, log, ["ADDED new/old/sub/later", "MODIFIED new/old/f"])


def test_a_new_directory_whose_parent_is_renamed_at_once_is_watched(tree_loop: ev.Loop, tmp_path: Path) -> None:
    make_tree(tmp_path, {"a": None})
    _, log = watch(tree_loop, tmp_path)
    (tmp_path / "a/sub").mkdir()
    os.rename(tmp_path / "a", tmp_path / "b")
    write(tmp_path / "b/sub/f", "1")
    expect(tree_loop, log, ["MOVED a/ -> b/", "ADDED b/sub/", "ADDED b/sub/f"])
    write(tmp_path / "b/sub/later", "2")
    expect(tree_loop, log, ["ADDED b/sub/later"])


def test_a_file_deleted_and_another_created_is_no_move(tree_loop: ev.Loop, tmp_path: Path) -> None:
    # ext4 gives the new file the inode just freed: the identity alone does
    # not tell a rename.
    make_tree(tmp_path, {"f": "old"})
    hour_ago = time.time_ns() - 3600 * 10**9
    os.utime(tmp_path / "f", ns=(hour_ago, hour_ago))
    _, log = watch(tree_loop, tmp_path)
    os.unlink(tmp_path / "f")
    write(tmp_path / "g", "new contents")
    expect(tree_loop, log, ["DELETED f", "ADDED g"])


def test_a_directory_renamed_and_written_into_at_once_is_one_move(tree_loop: ev.Loop, tmp_path: Path) -> None:
    make_tree(tmp_path, {"a/f": "1", "a/sub/g": "2"})
    hour_ago = time.time_ns() - 3600 * 10**9
    os.utime(tmp_path / "a", ns=(hour_ago, hour_ago))
    _, log = watch(tree_loop, tmp_path)
    os.rename(tmp_path / "a", tmp_path / "b")
    write(tmp_path / "b/new", "3")
    expect(tree_loop, log, ["MOVED a/ -> b/", "ADDED b/new"])


def _moved_out_and_made_again(root: Path, outside: Path) -> None:
    os.rename(root / "d", outside / "d")
    make_tree(root, {"d/new": "2"})


def _moved_aside_and_made_again(root: Path, outside: Path) -> None:
    os.rename(root / "d", root / "aside")
    make_tree(root, {"d/new": "2"})


def _moved_out_of_a_directory_then_removed(root: Path, outside: Path) -> None:
    os.rename(root / "d/sub", root / "sub")
    shutil.rmtree(root / "d")


def _removed_and_made_again(root: Path, outside: Path) -> None:
    shutil.rmtree(root / "d")
    make_tree(root, {"d/sub/f": "2"})


def _moved_over_an_emptied_directory(root: Path, outside: Path) -> None:
    shutil.rmtree(root / "e")
    os.rename(root / "d", root / "e")


def _moved_into_a_moved_directory(root: Path, outside: Path) -> None:
    os.rename(root / "d", root / "x")
    os.rename(root / "e/g", root / "x/g")


def _moved_where_a_file_was(root: Path, outside: Path) -> None:
    os.unlink(root / "e/g")
    os.rename(root / "d", root / "e/g")


@pytest.mark.parametrize(
    "change",
    [
        _moved_out_and_made_again,
        _moved_aside_and_made_again,
        _moved_out_of_a_directory_then_removed,
        _removed_and_made_again,
        _moved_over_an_emptied_directory,
        _moved_into_a_moved_directory,
        _moved_where_a_file_was,
    ],
)
def test_replaying_the_changes_in_order_gives_the_tree_as_it_is(
    tree_loop: ev.Loop, tmp_path: Path, change: Callable[[Path, Path], None]
) -> None:
    root, outside = tmp_path / "root", tmp_path / "outside"
    make_tree(tmp_path, {"root/d/f": "1", "root/d/sub/f": "1", "root/e/g": "1", "outside": None})
    tree = listing(root)
    _, log = watch(tree_loop, root)
    change(root, outside)
    expected = listing(root)
    run_until(tree_loop, lambda: bool(log.batches))
    run_for(tree_loop, log.quiet)
    replay(tree, log.changes, root)
    assert tree == expected, log.described()


def test_a_directory_made_and_renamed_while_another_of_its_name_is_made_is_watched(
    tree_loop: ev.Loop, tmp_path: Path
) -> None:
    # Both made before the watcher reads the first event: when it places the
    # watch for the first c.tmp, the path is the second one's already.
    _, log = watch(tree_loop, tmp_path)
    make_tree(tmp_path, {"c.tmp/f1": "1"})
    os.rename(tmp_path / "c.tmp", tmp_path / "c")
    make_tree(tmp_path, {"c.tmp/f2": "2"})
    got = expect_at_least(tree_loop, log, ["ADDED c/", "ADDED c/f1", "ADDED c.tmp/", "ADDED c.tmp/f2"])
    # (inotify lists the second one's f2 under c too: it was listed under
    # c.tmp before the rename was read)
    assert set(got) <= {"ADDED c/", "ADDED c/f1", "ADDED c.tmp/", "ADDED c.tmp/f2", "ADDED c/f2"}
    write(tmp_path / "c/later", "3")
    write(tmp_path / "c.tmp/later", "4")
    expect(tree_loop, log, ["ADDED c/later", "ADDED c.tmp/later"])
