"""Tree: every kind of bad input fails with a clear error, at construction
(arguments) or at start (the root)."""

from __future__ import annotations

import math
import os
from pathlib import Path
from typing import Any

import pytest

import pyev as ev

from .helpers import noop


class BytesPath(os.PathLike[bytes]):
    def __fspath__(self) -> bytes:
        return b"/tmp"


@pytest.mark.parametrize("path", [123, None, 1.5, ["a"], object()])
def test_a_path_of_the_wrong_type_raises_type_error(path: object) -> None:
    with pytest.raises(TypeError, match="path"):
        ev.Tree(path, noop)  # type: ignore[arg-type]


@pytest.mark.parametrize("path", [b"/tmp", bytearray(b"/tmp"), BytesPath()], ids=["bytes", "bytearray", "pathlike"])
def test_a_bytes_path_raises_type_error_naming_the_remedy(path: object) -> None:
    with pytest.raises(TypeError, match="fsdecode"):
        ev.Tree(path, noop)  # type: ignore[arg-type]


@pytest.mark.parametrize("path", ["", "/tmp/a\0b"], ids=["empty", "nul"])
def test_an_empty_path_or_one_with_a_nul_raises_value_error(path: str) -> None:
    with pytest.raises(ValueError):
        ev.Tree(path, noop)


@pytest.mark.parametrize("callback", [3, "x", None])
def test_a_callback_that_is_not_callable_raises_type_error(callback: object) -> None:
    with pytest.raises(TypeError, match="callback"):
        ev.Tree("/tmp", callback)  # type: ignore[arg-type]


@pytest.mark.parametrize("name", ["recursive", "follow_symlinks", "default_ignore"])
@pytest.mark.parametrize("value", [1, 0, "yes", None])
def test_a_flag_that_is_not_a_bool_raises_type_error(name: str, value: object) -> None:
    with pytest.raises(TypeError, match=name):
        ev.Tree("/tmp", noop, **{name: value})


@pytest.mark.parametrize("name", ["filter", "ignore"])
@pytest.mark.parametrize("value", [3, b"*.py", [1], ["*.py", None], [b"*.py"]])
def test_patterns_of_the_wrong_type_raise_type_error(name: str, value: object) -> None:
    with pytest.raises(TypeError, match=name):
        ev.Tree("/tmp", noop, **{name: value})


@pytest.mark.parametrize("name", ["filter", "ignore"])
@pytest.mark.parametrize("value", ["", "/", ["*.py", ""], "a\0b"])
def test_empty_patterns_or_ones_with_a_nul_raise_value_error(name: str, value: object) -> None:
    with pytest.raises(ValueError, match=name):
        ev.Tree("/tmp", noop, **{name: value})


def test_ignore_none_raises_type_error() -> None:
    with pytest.raises(TypeError, match="ignore"):
        ev.Tree("/tmp", noop, ignore=None)  # type: ignore[arg-type]


@pytest.mark.parametrize("name", ["coalesce", "interval"])
@pytest.mark.parametrize("value", [-1.0, -0.001, math.nan, math.inf, -math.inf])
def test_a_negative_or_non_finite_time_raises_value_error(name: str, value: float) -> None:
    with pytest.raises(ValueError, match=name):
        ev.Tree("/tmp", noop, **{name: value})


@pytest.mark.parametrize("name", ["coalesce", "interval"])
@pytest.mark.parametrize("value", ["1", None, True])
def test_a_time_of_the_wrong_type_raises_type_error(name: str, value: object) -> None:
    with pytest.raises(TypeError, match=name):
        ev.Tree("/tmp", noop, **{name: value})


@pytest.mark.parametrize(("value", "error"), [(3, ValueError), (-3, ValueError), (1.5, TypeError), ("1", TypeError)])
def test_a_bad_priority_raises(value: object, error: type[Exception]) -> None:
    with pytest.raises(error, match="priority"):
        ev.Tree("/tmp", noop, priority=value)  # type: ignore[arg-type]


def test_a_missing_root_raises_file_not_found_at_start_naming_it(loop: ev.Loop, tmp_path: Path) -> None:
    tree = ev.Tree(tmp_path / "nope", noop)  # constructing it is fine: the root may appear later
    with pytest.raises(FileNotFoundError) as info:
        tree.start(loop)
    assert info.value.filename == str(tmp_path / "nope")
    assert "pyev.Tree" in str(info.value)
    assert not tree.is_active
    loop.verify()


def test_a_dangling_symlink_root_raises_file_not_found_at_start(loop: ev.Loop, tmp_path: Path) -> None:
    os.symlink(tmp_path / "nowhere", tmp_path / "link")
    with pytest.raises(FileNotFoundError):
        ev.Tree(tmp_path / "link", noop).start(loop)
    loop.verify()


def test_a_root_under_a_file_raises_not_a_directory_at_start(loop: ev.Loop, tmp_path: Path) -> None:
    (tmp_path / "file").write_text("x")
    tree = ev.Tree(tmp_path / "file" / "below", noop)
    with pytest.raises(NotADirectoryError):
        tree.start(loop)
    assert not tree.is_active
    loop.verify()


def test_start_on_a_closed_loop_raises_error(tmp_path: Path) -> None:
    loop = ev.Loop()
    loop.close()
    tree = ev.Tree(tmp_path, noop)
    with pytest.raises(ev.Error):
        tree.start(loop)
    assert not tree.is_active


def test_set_while_active_raises_error_and_changes_nothing(loop: ev.Loop, tmp_path: Path) -> None:
    tree = ev.Tree(tmp_path, noop, coalesce=0.5).start(loop)
    with pytest.raises(ev.Error):
        tree.set(tmp_path / "other")
    assert tree.path == str(tmp_path)
    assert tree.coalesce == 0.5
    tree.stop()


@pytest.mark.parametrize(
    "bad",
    [{"path": None}, {"path": "x", "coalesce": -1.0}, {"path": "x", "filter": 3}, {"path": "x", "recursive": "no"}],
    ids=["path", "coalesce", "filter", "recursive"],
)
def test_set_with_a_bad_argument_raises_and_changes_nothing(tmp_path: Path, bad: dict[str, Any]) -> None:
    tree = ev.Tree(tmp_path, noop, coalesce=0.5, recursive=False)
    path = bad.pop("path")
    with pytest.raises((TypeError, ValueError)):
        tree.set(path, **bad)
    assert (tree.path, tree.coalesce, tree.recursive, tree.filter) == (str(tmp_path), 0.5, False, None)


def test_set_while_inactive_changes_every_argument(tmp_path: Path) -> None:
    tree = ev.Tree(tmp_path, noop)
    tree.set(tmp_path / "b", recursive=False, filter="*.py", ignore="build", default_ignore=False,
             coalesce=0.2, follow_symlinks=True, interval=2.0)
    assert (tree.path, tree.recursive, tree.filter, tree.ignore, tree.default_ignore) == (
        str(tmp_path / "b"), False, ("*.py",), ("build",), False,
    )
    assert (tree.coalesce, tree.follow_symlinks, tree.interval, tree.effective_interval) == (0.2, True, 2.0, 2.0)


def test_the_polling_interval_defaults_and_has_a_floor() -> None:
    assert ev.Tree("/tmp", noop).effective_interval == pytest.approx(1.0074891)
    assert ev.Tree("/tmp", noop, interval=0.01).effective_interval == 0.1
    assert ev.Tree("/tmp", noop, interval=0.01).interval == 0.01


@pytest.mark.parametrize(
    "name", ["path", "recursive", "filter", "ignore", "coalesce", "interval", "changes", "mechanism"]
)
def test_arguments_and_results_are_read_only(tmp_path: Path, name: str) -> None:
    tree = ev.Tree(tmp_path, noop)
    with pytest.raises(AttributeError):
        setattr(tree, name, getattr(tree, name))
