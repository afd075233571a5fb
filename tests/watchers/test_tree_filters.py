"""Tree: which paths are watched and reported (the default ignores, the
user's ignore patterns and filter), on inotify and on polling."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

import pyev as ev

from .tree_helpers import expect, make_tree, watch, write


def test_what_tools_ignore_is_not_reported(tree_loop: ev.Loop, tmp_path: Path) -> None:
    make_tree(tmp_path, {".git/objects": None, "pkg/__pycache__": None, "node_modules/lib": None, "pkg/mod.py": "1"})
    _, log = watch(tree_loop, tmp_path)
    write(tmp_path / ".git/objects/ab12", "blob")
    write(tmp_path / ".git/index.lock", "lock")
    write(tmp_path / "pkg/__pycache__/mod.cpython-311.pyc", "code")
    write(tmp_path / "node_modules/lib/index.js", "js")
    write(tmp_path / "pkg/.mod.py.swp", "swap")
    write(tmp_path / "pkg/mod.py~", "backup")
    write(tmp_path / "pkg/.#mod.py", "lock")
    write(tmp_path / "pkg/4913", "probe")
    (tmp_path / ".mypy_cache").mkdir()
    write(tmp_path / ".mypy_cache/x.json", "{}")
    write(tmp_path / "pkg/mod.py", "2")
    expect(tree_loop, log, ["MODIFIED pkg/mod.py"])


def test_ignored_directories_are_not_looked_into(tree_loop: ev.Loop, tmp_path: Path, mechanism: str) -> None:
    make_tree(tmp_path, {"node_modules/a/b": None, "src/f": "1"})
    tree, _ = watch(tree_loop, tmp_path)
    assert tree_loop._trees is not None
    state = tree_loop._trees.trees[tree]
    if mechanism == "inotify":
        assert set(state.dirs.values()) == {f"{tmp_path}/", f"{tmp_path}/src/"}  # type: ignore[union-attr]
    else:
        snapshot = state.snapshot  # type: ignore[union-attr]
        assert set(snapshot) == {str(tmp_path), f"{tmp_path}/src", f"{tmp_path}/src/f"}


def test_ignore_adds_patterns_to_the_defaults(tree_loop: ev.Loop, tmp_path: Path) -> None:
    make_tree(tmp_path, {"build": None, "docs/_build": None, "src": None})
    _, log = watch(tree_loop, tmp_path, ignore=["build", "docs/_build", "*.log"])
    write(tmp_path / "build/out.o", "o")
    write(tmp_path / "docs/_build/index.html", "html")
    write(tmp_path / "src/run.log", "log")
    write(tmp_path / "src/x.pyc", "code")
    write(tmp_path / "src/main.c", "c")
    write(tmp_path / "docs/index.md", "md")
    expect(tree_loop, log, ["ADDED src/main.c", "ADDED docs/index.md"])


def test_default_ignore_false_reports_everything(tree_loop: ev.Loop, tmp_path: Path) -> None:
    make_tree(tmp_path, {".git": None})
    _, log = watch(tree_loop, tmp_path, default_ignore=False)
    write(tmp_path / ".git/HEAD", "ref")
    write(tmp_path / "x.pyc", "code")
    expect(tree_loop, log, ["ADDED .git/HEAD", "ADDED x.pyc"])


def test_filter_globs_report_only_matching_paths_anywhere_in_the_tree(tree_loop: ev.Loop, tmp_path: Path) -> None:
    make_tree(tmp_path, {"src/pkg": None})
    tree, log = watch(tree_loop, tmp_path, filter=["*.py", "*.toml"])
    assert tree.filter == ("*.py", "*.toml")
    make_tree(tmp_path, {"src/pkg/new/deep.py": "1", "src/pkg/notes.txt": "2", "pyproject.toml": "3"})
    write(tmp_path / "src/pkg/mod.py", "4")
    expect(tree_loop, log, ["ADDED src/pkg/new/deep.py", "ADDED pyproject.toml", "ADDED src/pkg/mod.py"])


def test_a_single_glob_string_is_one_pattern(tree_loop: ev.Loop, tmp_path: Path) -> None:
    tree, log = watch(tree_loop, tmp_path, filter="*.md")
    assert tree.filter == ("*.md",)
    write(tmp_path / "a.md")
    write(tmp_path / "b.txt")
    expect(tree_loop, log, ["ADDED a.md"])


def test_a_filter_glob_with_a_slash_matches_the_path_from_the_root(tree_loop: ev.Loop, tmp_path: Path) -> None:
    make_tree(tmp_path, {"src": None, "tests": None})
    _, log = watch(tree_loop, tmp_path, filter="src/*.py")
    write(tmp_path / "src/a.py")
    write(tmp_path / "tests/b.py")
    expect(tree_loop, log, ["ADDED src/a.py"])


def test_a_filter_callable_decides_and_prunes_directories(tree_loop: ev.Loop, tmp_path: Path) -> None:
    make_tree(tmp_path, {"keep": None, "skip": None})
    asked: list[tuple[str, bool]] = []

    def only_keep(path: str, is_dir: bool) -> bool:
        asked.append((path, is_dir))
        return "skip" not in path

    _, log = watch(tree_loop, tmp_path, filter=only_keep)
    write(tmp_path / "keep/a")
    write(tmp_path / "skip/b")
    (tmp_path / "skip2").mkdir()
    write(tmp_path / "skip2/c")
    expect(tree_loop, log, ["ADDED keep/a"])
    assert (str(tmp_path / "keep/a"), False) in asked
    assert all(not path.startswith(str(tmp_path / "skip") + "/") for path, _ in asked)


def test_a_file_renamed_from_an_ignored_name_counts_as_written(tree_loop: ev.Loop, tmp_path: Path) -> None:
    write(tmp_path / "notes.md", "1")
    _, log = watch(tree_loop, tmp_path)
    write(tmp_path / "notes.md~", "backup")
    tree_loop.run(ev.RUN_NOWAIT)
    expect(tree_loop, log, [])
    os.replace(tmp_path / "notes.md~", tmp_path / "notes.md")
    expect(tree_loop, log, ["MODIFIED notes.md"])


def test_renaming_to_an_ignored_name_deletes(tree_loop: ev.Loop, tmp_path: Path) -> None:
    write(tmp_path / "notes.md", "1")
    _, log = watch(tree_loop, tmp_path)
    os.replace(tmp_path / "notes.md", tmp_path / "notes.md~")
    expect(tree_loop, log, ["DELETED notes.md"])


@pytest.mark.parametrize("pattern", ["*.swp", "node_modules", "*~", "__pycache__", ".git"])
def test_the_default_patterns_are_public(pattern: str) -> None:
    assert pattern in ev.Tree.DEFAULT_IGNORE
