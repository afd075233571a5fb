"""Tree: how the changes seen within one batch fold into what is reported
(pyev/_sources/treechanges.py), whichever mechanism saw them: each path's
net effect, moves kept when both ends are real, an editor's save as one
modification."""

from __future__ import annotations

import sys
from collections.abc import Callable
from types import FrameType
from typing import Any

import pytest

from pyev import Change, FileChange
from pyev._sources import treechanges
from pyev._sources.treechanges import fold


def parse(text: str) -> FileChange:
    """"ADDED a", "ADDED d/" (a directory), "MOVED a -> b"."""
    change, rest = text.split(" ", 1)
    is_dir = rest.endswith("/")
    if " -> " in rest:
        old, new = rest.split(" -> ")
        return FileChange(Change[change], new.rstrip("/"), is_dir, old.rstrip("/"))
    return FileChange(Change[change], rest.rstrip("/"), is_dir)


def folded(*seen: str) -> list[str]:
    out = []
    for c in fold([parse(s) for s in seen]):
        text = f"{c.change.name} {c.path}{'/' if c.is_dir else ''}"
        if c.old_path is not None:
            text = f"{c.change.name} {c.old_path}{'/' if c.is_dir else ''} -> {c.path}{'/' if c.is_dir else ''}"
        out.append(text)
    return out


CASES = [
    # (seen, reported)
    (["ADDED a"], ["ADDED a"]),
    (["ADDED a", "MODIFIED a", "MODIFIED a"], ["ADDED a"]),
    (["MODIFIED a", "MODIFIED a"], ["MODIFIED a"]),
    (["ADDED a", "DELETED a"], []),
    (["MODIFIED a", "DELETED a"], ["DELETED a"]),
    (["DELETED a", "ADDED a"], ["MODIFIED a"]),
    (["MOVED a -> b"], ["MOVED a -> b"]),
    (["MOVED a -> b", "MODIFIED b"], ["MOVED a -> b", "MODIFIED b"]),
    (["MOVED a -> b", "MOVED b -> c"], ["MOVED a -> c"]),
    (["MOVED a -> b", "DELETED b"], ["DELETED a"]),
    (["MOVED a -> b", "MOVED b -> a"], []),
    # editors' saves
    (["ADDED a.tmp", "MODIFIED a.tmp", "MOVED a.tmp -> a"], ["MODIFIED a"]),
    (["MOVED a -> a.bak", "ADDED a", "MODIFIED a", "DELETED a.bak"], ["MODIFIED a"]),
    (["DELETED a", "ADDED a", "MODIFIED a"], ["MODIFIED a"]),
    # directories
    (["ADDED d/", "ADDED d/f", "DELETED d/f", "DELETED d/"], []),
    (["ADDED d/", "ADDED d/f", "DELETED d/"], []),
    (["ADDED d/", "ADDED d/f", "MOVED d/ -> e/"], ["ADDED e/", "ADDED e/f"]),
    (["MOVED d/ -> e/", "ADDED e/f"], ["MOVED d/ -> e/", "ADDED e/f"]),
    # a directory replaced, or moved away with a new one made in its place:
    # what was in it is gone (inotify reports a directory moved away as one
    # DELETED, its entries unlisted)
    (["DELETED d/", "ADDED d/"], ["DELETED d/", "ADDED d/"]),
    (["MOVED d/ -> e/", "ADDED d/", "ADDED d/f"], ["MOVED d/ -> e/", "ADDED d/", "ADDED d/f"]),
    (["DELETED e/", "MOVED d/ -> e/"], ["DELETED e/", "MOVED d/ -> e/"]),
    (["MOVED d/ -> e/", "ADDED d/", "DELETED e/"], ["MOVED d/ -> e/", "ADDED d/", "DELETED e/"]),
    (
        ["DELETED a/b/f", "DELETED a/b/", "DELETED a/", "ADDED a/", "ADDED a/b/", "ADDED a/b/f"],
        ["DELETED a/b/f", "DELETED a/b/", "DELETED a/", "ADDED a/", "ADDED a/b/", "ADDED a/b/f"],
    ),
    (["MOVED d/ -> e/", "MOVED e/ -> d/"], []),
    # a directory moved where a file was: the move stands
    (["DELETED d", "MOVED a/ -> d/"], ["DELETED d", "MOVED a/ -> d/"]),
    # a directory moved over an emptied one: what it holds comes after it
    (["ADDED d/b/", "DELETED c/b/", "MOVED d/ -> c/"], ["MOVED d/ -> c/", "ADDED c/b/"]),
    # a file moved away and another made in its place: its changes say it all
    (["MOVED a -> a.bak", "ADDED a"], ["MODIFIED a", "ADDED a.bak"]),
    # a file replaced by a directory of the same name, and the other way round
    (["DELETED a", "ADDED a/"], ["DELETED a", "ADDED a/"]),
    (["DELETED d/f", "DELETED d/", "ADDED d", "MODIFIED d"], ["DELETED d/f", "DELETED d/", "ADDED d"]),
    (["DELETED a", "ADDED a/", "DELETED a/"], ["DELETED a"]),
]


@pytest.mark.parametrize(("seen", "reported"), CASES, ids=[" ; ".join(seen) for seen, _ in CASES])
def test_a_batch_folds_to_its_net_effect(seen: list[str], reported: list[str]) -> None:
    assert folded(*seen) == reported


def test_unrelated_paths_keep_the_order_they_were_first_seen_in() -> None:
    assert folded("ADDED b", "MODIFIED a", "ADDED c", "MODIFIED b") == ["ADDED b", "MODIFIED a", "ADDED c"]


def test_a_single_change_is_passed_through_as_is() -> None:
    one = [FileChange(Change.MODIFIED, "/r/a")]
    assert fold(one) is one


def lines_run_to_fold(changes: list[FileChange]) -> int:
    """How many lines of treechanges.py folding ``changes`` runs: the work
    done, counted without a clock."""
    count = 0

    def line(frame: FrameType, event: str, arg: Any) -> Callable[..., Any]:
        nonlocal count
        if event == "line":
            count += 1
        return line

    def call(frame: FrameType, event: str, arg: Any) -> Callable[..., Any] | None:
        return line if frame.f_code.co_filename == treechanges.__file__ else None

    previous = sys.gettrace()
    sys.settrace(call)
    try:
        fold(changes)
    finally:
        sys.settrace(previous)
    return count


def tree_created_then_removed(dirs: int) -> list[FileChange]:
    made = [FileChange(Change.ADDED, "/r/keep")]
    removed = []
    for d in range(dirs):
        made.append(FileChange(Change.ADDED, f"/r/d{d}", True))
        made += [FileChange(Change.ADDED, f"/r/d{d}/f{f}") for f in range(5)]
        removed += [FileChange(Change.DELETED, f"/r/d{d}/f{f}") for f in range(5)]
        removed.append(FileChange(Change.DELETED, f"/r/d{d}", True))
    return made + removed


def trees_created_then_renamed(dirs: int) -> list[FileChange]:
    made = []
    renamed = []
    for d in range(dirs):
        made.append(FileChange(Change.ADDED, f"/r/d{d}.tmp", True))
        made += [FileChange(Change.ADDED, f"/r/d{d}.tmp/f{f}") for f in range(5)]
        renamed.append(FileChange(Change.MOVED, f"/r/d{d}", True, f"/r/d{d}.tmp"))
    return made + renamed


@pytest.mark.parametrize("batch", [tree_created_then_removed, trees_created_then_renamed])
def test_folding_takes_time_in_proportion_to_the_batch(batch: Callable[[int], list[FileChange]]) -> None:
    # A build's output created and removed (or unpacked under temporary
    # names and renamed) within one batch: four times the batch, about
    # four times the work, not sixteen.
    small, large = lines_run_to_fold(batch(100)), lines_run_to_fold(batch(400))
    assert large < 5 * small, (small, large)


def test_a_tree_unpacked_under_a_temporary_name_folds_to_its_entries_under_the_final_one() -> None:
    assert folded("ADDED d.tmp/", "ADDED d.tmp/sub/", "ADDED d.tmp/sub/f", "MOVED d.tmp/ -> d/") == [
        "ADDED d/",
        "ADDED d/sub/",
        "ADDED d/sub/f",
    ]
