"""Tree: editors' saves, and coalescing changes into batches, on inotify
and on polling (``tree_loop``).

Each way an editor saves a file is one MODIFIED of that file once folded,
whether the steps reach the loop at once or spread over a quiet period
(``coalesce``)."""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path

import pytest

import pyev as ev

from .helpers import run_until
from .tree_helpers import expect, run_for, watch, write


def in_place(path: Path) -> list[Callable[[], object]]:
    return [lambda: write(path, "version 2, longer")]


def replace_from_a_visible_temporary(path: Path) -> list[Callable[[], object]]:
    tmp = path.with_name(path.name + ".tmp")
    return [lambda: write(tmp, "version 2, longer"), lambda: os.replace(tmp, path)]


def replace_from_a_hidden_swap_file(path: Path) -> list[Callable[[], object]]:
    tmp = path.with_name(f".{path.name}.swp")
    return [lambda: write(tmp, "version 2, longer"), lambda: os.replace(tmp, path)]


def rename_to_backup_then_write(path: Path) -> list[Callable[[], object]]:
    backup = path.with_name(path.name + "~")
    return [lambda: os.replace(path, backup), lambda: write(path, "version 2, longer")]


def delete_and_recreate(path: Path) -> list[Callable[[], object]]:
    return [lambda: os.unlink(path), lambda: write(path, "version 2, longer")]


def jetbrains_safe_write(path: Path) -> list[Callable[[], object]]:
    tmp = path.with_name(path.name + "___jb_tmp___")
    old = path.with_name(path.name + "___jb_old___")
    return [
        lambda: write(tmp, "version 2, longer"),
        lambda: os.replace(path, old),
        lambda: os.replace(tmp, path),
        lambda: os.unlink(old),
    ]


SAVES = [
    in_place,
    replace_from_a_visible_temporary,
    replace_from_a_hidden_swap_file,
    rename_to_backup_then_write,
    delete_and_recreate,
    jetbrains_safe_write,
]


@pytest.mark.parametrize("save", SAVES, ids=lambda save: save.__name__)
def test_a_save_made_at_once_is_one_modification(
    tree_loop: ev.Loop, tmp_path: Path, save: Callable[[Path], list[Callable[[], object]]]
) -> None:
    path = tmp_path / "src" / "mod.py"
    path.parent.mkdir()
    write(path, "version 1")
    _, log = watch(tree_loop, tmp_path)
    for step in save(path):
        step()
    expect(tree_loop, log, ["MODIFIED src/mod.py"])


@pytest.mark.parametrize(
    "save",
    [replace_from_a_hidden_swap_file, rename_to_backup_then_write, jetbrains_safe_write],
    ids=lambda save: save.__name__,
)
def test_a_save_spread_over_the_quiet_period_is_one_batch_with_one_modification(
    tree_loop: ev.Loop, tmp_path: Path, save: Callable[[Path], list[Callable[[], object]]]
) -> None:
    path = tmp_path / "src" / "mod.py"
    path.parent.mkdir()
    write(path, "version 1")
    # A quiet period 25 times the steps' spacing: one batch, whatever polls
    # or reads fall between the steps.
    _, log = watch(tree_loop, tmp_path, coalesce=1.0)
    for step in save(path):
        step()
        run_for(tree_loop, 0.04)
    run_until(tree_loop, lambda: bool(log.batches))
    assert len(log.batches) == 1
    expect(tree_loop, log, ["MODIFIED src/mod.py"])


def test_changes_within_the_quiet_period_come_as_one_batch(tree_loop: ev.Loop, tmp_path: Path) -> None:
    _, log = watch(tree_loop, tmp_path, coalesce=1.0)
    for n in range(5):
        write(tmp_path / f"f{n}", "x")
        run_for(tree_loop, 0.05)
    os.unlink(tmp_path / "f4")
    run_until(tree_loop, lambda: bool(log.batches))
    assert len(log.batches) == 1
    expect(tree_loop, log, [f"ADDED f{n}" for n in range(4)])


def test_a_tree_that_never_goes_quiet_still_delivers_batches(tree_loop: ev.Loop, tmp_path: Path) -> None:
    # A write every 20 ms for up to 10 s, against a quiet period of 0.05 s:
    # the batches must come while the writes go on (at most ten quiet
    # periods after a batch's first change).
    _, log = watch(tree_loop, tmp_path, coalesce=0.05)
    writes = []

    def scribble(timer: ev.Timer, revents: int) -> None:
        writes.append(len(writes))
        write(tmp_path / "busy", "x" * len(writes))
        if len(writes) >= 500:
            timer.stop()

    scribbler = ev.Timer(0.0, scribble, repeat=0.02).start(tree_loop)
    run_until(tree_loop, lambda: len(log.batches) >= 2, limit=15.0)
    assert scribbler.is_active  # still writing
    scribbler.stop()
    assert {c.change for c in log.changes} <= {ev.Change.ADDED, ev.Change.MODIFIED}


def test_without_coalescing_each_change_comes_in_the_iteration_that_reads_it(
    tree_loop: ev.Loop, tmp_path: Path, mechanism: str
) -> None:
    tree, log = watch(tree_loop, tmp_path)
    assert tree.coalesce == 0.0
    write(tmp_path / "a")
    run_until(tree_loop, lambda: bool(log.batches))
    write(tmp_path / "b")
    run_until(tree_loop, lambda: len(log.batches) == 2)
    assert log.described() == ["ADDED a", "ADDED b"]
    if mechanism == "inotify":
        # Read and delivered in one iteration: a single blocking run suffices.
        write(tmp_path / "c")
        tree_loop.run(ev.RUN_ONCE)
        assert log.described()[-1] == "ADDED c"
