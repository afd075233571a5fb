"""Tree: the root. A file root, the root deleted or moved away (reported,
then waited for), a symlink or relative root, on inotify and on polling."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

import pyev as ev

from .helpers import run_until
from .tree_helpers import expect, expect_at_least, expect_nothing, make_tree, watch, write


def test_a_file_root_watches_that_file(tree_loop: ev.Loop, tmp_path: Path) -> None:
    path = tmp_path / "settings.ini"
    write(path, "a = 1")
    tree, log = watch(tree_loop, path)
    assert tree.path == str(path)
    write(tmp_path / "sibling", "not watched")
    with open(path, "a") as f:
        f.write("\nb = 2")
    expect(tree_loop, log, ["MODIFIED ."])


def test_an_atomic_save_of_a_file_root_is_a_modification(tree_loop: ev.Loop, tmp_path: Path) -> None:
    path = tmp_path / "settings.ini"
    write(path, "a = 1")
    _, log = watch(tree_loop, path)
    write(tmp_path / "settings.ini.tmp", "a = 2, longer")
    os.replace(tmp_path / "settings.ini.tmp", path)
    expect(tree_loop, log, ["MODIFIED ."])
    write(path, "a = 3, and in place")
    expect(tree_loop, log, ["MODIFIED ."])


def test_a_file_root_deleted_and_created_again_is_deleted_then_added(tree_loop: ev.Loop, tmp_path: Path) -> None:
    path = tmp_path / "settings.ini"
    write(path, "a = 1")
    tree, log = watch(tree_loop, path)
    os.unlink(path)
    expect(tree_loop, log, ["DELETED ."])
    assert tree.is_active
    write(path, "a = 2")
    expect(tree_loop, log, ["ADDED ."])
    write(path, "a = 3, longer")
    expect(tree_loop, log, ["MODIFIED ."])


def test_a_deleted_root_is_reported_and_its_return_with_everything_in_it(tree_loop: ev.Loop, tmp_path: Path) -> None:
    root = tmp_path / "project"
    make_tree(root, {"src/a.py": "1"})
    tree, log = watch(tree_loop, root)
    shutil.rmtree(root)
    expect(tree_loop, log, ["DELETED ./", "DELETED src/", "DELETED src/a.py"])
    assert tree.is_active
    make_tree(root, {"src/b.py": "2", "docs": None})
    expect(tree_loop, log, ["ADDED ./", "ADDED src/", "ADDED src/b.py", "ADDED docs/"])
    write(root / "docs/index.md", "3")
    expect(tree_loop, log, ["ADDED docs/index.md"])


def test_a_root_moved_away_is_deleted_and_its_return_added(tree_loop: ev.Loop, tmp_path: Path) -> None:
    root = tmp_path / "project"
    make_tree(root, {"src/a.py": "1"})
    _, log = watch(tree_loop, root)
    os.rename(root, tmp_path / "elsewhere")
    got = expect_at_least(tree_loop, log, ["DELETED ./"])
    assert set(got) <= {"DELETED ./", "DELETED src/", "DELETED src/a.py"}
    write(tmp_path / "elsewhere/src/a.py", "not watched any more")
    expect_nothing(tree_loop, log)
    os.rename(tmp_path / "elsewhere", root)
    expect(tree_loop, log, ["ADDED ./", "ADDED src/", "ADDED src/a.py"])
    write(root / "src/a.py", "watched again")
    expect(tree_loop, log, ["MODIFIED src/a.py"])


def test_a_root_whose_parent_goes_away_and_comes_back_is_watched_again(tree_loop: ev.Loop, tmp_path: Path) -> None:
    root = tmp_path / "outer" / "project"
    make_tree(root, {"f": "1"})
    _, log = watch(tree_loop, root)
    shutil.rmtree(tmp_path / "outer")
    expect(tree_loop, log, ["DELETED ./", "DELETED f"])
    make_tree(root, {"g": "2"})
    expect(tree_loop, log, ["ADDED ./", "ADDED g"])
    write(root / "g", "changed")
    expect(tree_loop, log, ["MODIFIED g"])


def test_a_watcher_may_stop_itself_when_its_root_goes_away(tree_loop: ev.Loop, tmp_path: Path) -> None:
    root = tmp_path / "project"
    root.mkdir()

    def stop_when_gone(w: ev.Tree, revents: int) -> None:
        if any(c.change == ev.Change.DELETED and c.path == w.path for c in w.changes):
            w.stop()

    tree = ev.Tree(root, stop_when_gone, interval=0.1).start(tree_loop)
    root.rmdir()
    run_until(tree_loop, lambda: not tree.is_active)
    tree_loop.verify()
    assert tree_loop.run() is False  # nothing else keeps the loop alive


def test_a_symlink_root_is_followed(tree_loop: ev.Loop, tmp_path: Path) -> None:
    make_tree(tmp_path, {"real/sub": None})
    os.symlink(tmp_path / "real", tmp_path / "link")
    tree, log = watch(tree_loop, tmp_path / "link")
    write(tmp_path / "real/sub/f", "1")
    run_until(tree_loop, lambda: bool(log.batches))
    assert log.changes[0].path == str(tmp_path / "link/sub/f")
    expect(tree_loop, log, ["ADDED sub/f"])


def test_a_relative_root_is_made_absolute(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    assert ev.Tree("some/dir", lambda w, r: None).path == str(tmp_path / "some/dir")
    assert ev.Tree("some/dir/", lambda w, r: None).path == str(tmp_path / "some/dir")
    assert ev.Tree(Path("x"), lambda w, r: None).path == str(tmp_path / "x")


def test_a_missing_root_fails_to_start_with_a_clear_error(tree_loop: ev.Loop, tmp_path: Path) -> None:
    tree = ev.Tree(tmp_path / "missing", lambda w, r: None)
    with pytest.raises(FileNotFoundError, match="root does not exist") as info:
        tree.start(tree_loop)
    assert info.value.filename == str(tmp_path / "missing")
    assert not tree.is_active
    assert tree.mechanism is None
    tree_loop.verify()
    assert tree_loop.run(ev.RUN_NOWAIT) is False
    (tmp_path / "missing").mkdir()
    tree.start(tree_loop)
    assert tree.is_active


def test_an_unreadable_root_fails_to_start(tree_loop: ev.Loop, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    root = tmp_path / "locked"
    root.mkdir()
    real_scandir = os.scandir

    def refusing(path: object = ".") -> object:
        if os.fspath(path) == str(root):  # type: ignore[call-overload]
            raise PermissionError(13, "Permission denied", str(root))
        return real_scandir(path)  # type: ignore[call-overload]

    monkeypatch.setattr(os, "scandir", refusing)
    tree = ev.Tree(root, lambda w, r: None)
    with pytest.raises(PermissionError):
        tree.start(tree_loop)
    assert not tree.is_active
    tree_loop.verify()
