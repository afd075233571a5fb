"""Helpers for the Tree watcher tests.

A test makes changes between loop runs, then waits (``expect``) until the
watcher has reported at least what it expects, runs the loop a little
longer (``QUIET``: a poll at the tests' interval and some when polling; with
inotify every event of a change made before the loop runs is queued
already) so that anything reported in excess shows up too, and compares. Changes are written as
short strings relative to the root: ``"ADDED a/"`` (a trailing ``/`` for a
directory), ``"MODIFIED a/f"``, ``"MOVED a/f -> a/g"``.
"""

from __future__ import annotations

import os
from collections import Counter
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import pyev as ev

from .helpers import run_until

# The tests' polling interval (the shortest allowed) and quiet periods.
INTERVAL = 0.1
QUIET = {"polling": 0.15, "inotify": 0.05, None: 0.15}


class TreeLog:
    """A Tree callback that keeps every batch, and describes it."""

    def __init__(self, root: Path | str) -> None:
        self.root = os.path.abspath(root)
        self.batches: list[list[ev.FileChange]] = []
        self.revents: list[int] = []
        self.tree: ev.Tree | None = None

    @property
    def quiet(self) -> float:
        return QUIET[self.tree.mechanism if self.tree is not None else None]

    def __call__(self, w: ev.Tree, revents: int) -> None:
        self.revents.append(revents)
        self.batches.append(list(w.changes))

    @property
    def changes(self) -> list[ev.FileChange]:
        return [c for batch in self.batches for c in batch]

    def described(self) -> list[str]:
        return [self.describe(c) for c in self.changes]

    def describe(self, c: ev.FileChange) -> str:
        text = f"{c.change.name} {self.rel(c.path)}{'/' if c.is_dir else ''}"
        if c.old_path is not None:
            text = f"{c.change.name} {self.rel(c.old_path)}{'/' if c.is_dir else ''} -> {text.split(' ', 1)[1]}"
        return text

    def rel(self, path: str) -> str:
        return "." if path == self.root else os.path.relpath(path, self.root)

    def clear(self) -> None:
        self.batches.clear()
        self.revents.clear()


def watch(loop: ev.Loop, root: Path | str, **kw: Any) -> tuple[ev.Tree, TreeLog]:
    log = TreeLog(root)
    kw.setdefault("interval", INTERVAL)
    tree = log.tree = ev.Tree(root, log, **kw).start(loop)
    return tree, log


def run_for(loop: ev.Loop, seconds: float) -> None:
    """Runs the loop for ``seconds``, whatever else is active."""
    timer = ev.Timer(seconds, lambda w, r: loop.break_()).start(loop)
    loop.run()
    timer.stop()


def expect(loop: ev.Loop, log: TreeLog, expected: Iterable[str], *, limit: float = 5.0) -> None:
    """Waits until ``log`` holds at least ``expected`` (a multiset), then
    for QUIET more, and requires exactly ``expected``; clears the log."""
    wanted = Counter(expected)

    def seen_all() -> bool:
        return not (wanted - Counter(log.described()))

    run_until(loop, seen_all, limit)
    run_for(loop, log.quiet)
    assert Counter(log.described()) == wanted, log.described()
    loop.verify()
    log.clear()


def expect_at_least(loop: ev.Loop, log: TreeLog, expected: Iterable[str], *, limit: float = 5.0) -> list[str]:
    """Waits until ``log`` holds at least ``expected``, then for QUIET more;
    returns everything reported and clears the log."""
    wanted = Counter(expected)
    run_until(loop, lambda: not (wanted - Counter(log.described())), limit)
    run_for(loop, log.quiet)
    got = log.described()
    log.clear()
    loop.verify()
    return got


def expect_nothing(loop: ev.Loop, log: TreeLog) -> None:
    run_for(loop, log.quiet)
    assert log.described() == []


def write(path: Path, text: str = "x") -> None:
    path.write_text(text)


def make_tree(root: Path, layout: dict[str, str | None]) -> None:
    """Creates ``layout`` under ``root``: relative path -> contents, or None
    for a directory."""
    for rel, contents in layout.items():
        path = root / rel
        if contents is None:
            path.mkdir(parents=True, exist_ok=True)
        else:
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(contents)


def inotify_fds() -> int:
    count = 0
    for name in os.listdir("/proc/self/fd"):
        try:
            if os.readlink(f"/proc/self/fd/{name}") == "anon_inode:inotify":
                count += 1
        except OSError:
            pass
    return count



def listing(root: Path | str) -> dict[str, bool]:
    """Every path under ``root`` (relative) -> whether it is a directory."""
    found = {}
    for directory, dirs, files in os.walk(root):
        for name in dirs:
            found[os.path.relpath(os.path.join(directory, name), root)] = True
        for name in files:
            found[os.path.relpath(os.path.join(directory, name), root)] = False
    return found


def replay(tree: dict[str, bool], changes: Iterable[ev.FileChange], root: Path | str) -> None:
    """Applies ``changes`` to ``tree`` (a ``listing``) as the documentation
    says they read: a directory DELETED takes what is under it, a directory
    MOVED takes it along."""
    root = os.path.abspath(root)
    for c in changes:
        path = os.path.relpath(c.path, root)
        if c.change == ev.Change.ADDED:
            tree[path] = c.is_dir
        elif c.change == ev.Change.DELETED:
            for gone in [p for p in tree if p == path or p.startswith(path + "/")]:
                del tree[gone]
        elif c.change == ev.Change.MOVED:
            assert c.old_path is not None
            old = os.path.relpath(c.old_path, root)
            moving = {path + p[len(old) :]: d for p, d in tree.items() if p == old or p.startswith(old + "/")}
            for gone in [p for p in tree if p == old or p.startswith(old + "/") or p == path or p.startswith(path + "/")]:
                del tree[gone]
            tree.update(moving)
        else:
            assert path in tree, f"MODIFIED {path}, which is not there"
