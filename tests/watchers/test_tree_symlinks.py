"""Tree: symlinks are entries, not followed, unless follow_symlinks=True;
a symlink loop cannot trap the watcher. On inotify and on polling."""

from __future__ import annotations

import os
from pathlib import Path

import pyev as ev

from .tree_helpers import expect, expect_at_least, expect_nothing, make_tree, watch, write


def test_a_symlink_is_an_entry_and_is_not_followed_by_default(tree_loop: ev.Loop, tmp_path: Path) -> None:
    root = tmp_path / "root"
    make_tree(tmp_path, {"root": None, "elsewhere/f": "1"})
    _, log = watch(tree_loop, root)
    os.symlink(tmp_path / "elsewhere", root / "link")
    expect(tree_loop, log, ["ADDED link"])
    write(tmp_path / "elsewhere/f", "changed outside")
    write(tmp_path / "elsewhere/g", "new outside")
    expect_nothing(tree_loop, log)
    os.unlink(root / "link")
    expect(tree_loop, log, ["DELETED link"])


def test_follow_symlinks_watches_what_a_link_points_to_under_the_links_path(tree_loop: ev.Loop, tmp_path: Path) -> None:
    root = tmp_path / "root"
    make_tree(tmp_path, {"root": None, "elsewhere/sub/f": "1"})
    os.symlink(tmp_path / "elsewhere", root / "link")
    _, log = watch(tree_loop, root, follow_symlinks=True)
    write(tmp_path / "elsewhere/sub/f", "changed")
    write(tmp_path / "elsewhere/g", "new")
    expect(tree_loop, log, ["MODIFIED link/sub/f", "ADDED link/g"])


def test_a_symlink_loop_is_watched_once_when_following(tree_loop: ev.Loop, tmp_path: Path) -> None:
    make_tree(tmp_path, {"a/b": None})
    os.symlink(tmp_path, tmp_path / "a/b/up")  # a/b/up -> the root: a loop
    os.symlink(tmp_path / "a", tmp_path / "a/b/again")  # a/b/again -> a: another
    _, log = watch(tree_loop, tmp_path, follow_symlinks=True)
    write(tmp_path / "a/f", "1")
    expect(tree_loop, log, ["ADDED a/f"])


def test_a_new_directory_holding_a_symlink_loop_is_listed_once(tree_loop: ev.Loop, tmp_path: Path) -> None:
    _, log = watch(tree_loop, tmp_path, follow_symlinks=True)
    (tmp_path / "d").mkdir()
    os.symlink(tmp_path / "d", tmp_path / "d/self")
    write(tmp_path / "d/f", "1")
    expect(tree_loop, log, ["ADDED d/", "ADDED d/self/", "ADDED d/f"])


def test_a_symlink_to_a_directory_made_later_is_followed_when_following(tree_loop: ev.Loop, tmp_path: Path) -> None:
    root = tmp_path / "root"
    make_tree(tmp_path, {"root": None, "elsewhere/sub/f": "1"})
    _, log = watch(tree_loop, root, follow_symlinks=True)
    os.symlink(tmp_path / "elsewhere", root / "link")
    expect(tree_loop, log, ["ADDED link/", "ADDED link/sub/", "ADDED link/sub/f"])
    write(tmp_path / "elsewhere/sub/g", "new")
    expect(tree_loop, log, ["ADDED link/sub/g"])


def test_a_followed_symlink_removed_is_no_longer_watched_through(tree_loop: ev.Loop, tmp_path: Path) -> None:
    root = tmp_path / "root"
    make_tree(tmp_path, {"root": None, "elsewhere/sub/f": "1"})
    os.symlink(tmp_path / "elsewhere", root / "link")
    _, log = watch(tree_loop, root, follow_symlinks=True)
    os.unlink(root / "link")
    # Polling lists what was seen through it too.
    got = expect_at_least(tree_loop, log, ["DELETED link/"])
    assert set(got) <= {"DELETED link/", "DELETED link/sub/", "DELETED link/sub/f"}
    write(tmp_path / "elsewhere/sub/g", "new")
    expect_nothing(tree_loop, log)
