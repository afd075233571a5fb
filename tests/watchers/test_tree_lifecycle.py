"""Tree as a watcher among others: start, stop and restart, several trees
on one loop, the internal timers, closing the loop, fork; on both backends
and both mechanisms. (tests/watchers/test_common.py runs the members every
watcher shares on a Tree too.)"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from pathlib import Path

import pytest

import pyev as ev

from .helpers import noop, run_until
from .tree_helpers import INTERVAL, expect, expect_nothing, inotify_fds, make_tree, run_for, watch, write


@pytest.fixture
def any_loop(backend: ev.Backend, mechanism: str) -> Iterator[ev.Loop]:
    lp = ev.Loop(backend=backend, inotify=mechanism == "inotify")
    yield lp
    lp.close()


def test_changes_reach_the_callback_on_both_backends(any_loop: ev.Loop, tmp_path: Path) -> None:
    make_tree(tmp_path, {"a/b": None})
    _, log = watch(any_loop, tmp_path)
    write(tmp_path / "a/b/f")
    expect(any_loop, log, ["ADDED a/b/f"])


def test_a_stopped_tree_reports_nothing_and_holds_no_watch(any_loop: ev.Loop, tmp_path: Path) -> None:
    make_tree(tmp_path, {"a/b": None})
    tree, log = watch(any_loop, tmp_path)
    tree.stop()
    assert tree.mechanism is None
    source = any_loop._trees
    assert source is not None and source.owners == {} and source.trees == {}
    write(tmp_path / "a/b/f")
    keep = ev.Timer(0.3, noop).start(any_loop)
    any_loop.run()
    assert not keep.is_active
    assert log.batches == []
    any_loop.verify()
    assert any_loop.run(ev.RUN_NOWAIT) is False  # no internal timer left


def test_a_restarted_tree_reports_what_changes_after_the_restart_only(any_loop: ev.Loop, tmp_path: Path) -> None:
    tree, log = watch(any_loop, tmp_path)
    tree.stop()
    write(tmp_path / "while_stopped")
    tree.start(any_loop)
    expect_nothing(any_loop, log)
    write(tmp_path / "after")
    expect(any_loop, log, ["ADDED after"])


def test_a_tree_stopped_while_pending_drops_its_batch(backend: ev.Backend, tmp_path: Path) -> None:
    # On inotify, a tree's batch is queued while the loop reads the kernel's
    # queue, before the check watchers are: a Check of higher priority sees
    # the tree pending. (Polling queues it from its poll timer, in the
    # invoke phase: test_common's stop-while-pending tests cover that.)
    any_loop = ev.Loop(backend=backend)
    tree, log = watch(any_loop, tmp_path)
    write(tmp_path / "f")

    def stop_it(w: ev.Check, revents: int) -> None:
        if tree.is_pending:
            tree.stop()

    killer = ev.Check(stop_it, priority=ev.MAXPRI)
    killer.keepalive = False
    killer.start(any_loop)
    run_until(any_loop, lambda: not tree.is_active)
    assert log.batches == []
    tree.start(any_loop)
    assert tree.changes == []
    expect_nothing(any_loop, log)
    any_loop.close()


def test_two_trees_over_the_same_directories_both_report_and_stop_alone(any_loop: ev.Loop, tmp_path: Path) -> None:
    make_tree(tmp_path, {"sub/deep": None})
    outer, outer_log = watch(any_loop, tmp_path)
    inner, inner_log = watch(any_loop, tmp_path / "sub")
    write(tmp_path / "sub/deep/f")
    expect(any_loop, outer_log, ["ADDED sub/deep/f"])
    expect(any_loop, inner_log, ["ADDED deep/f"])
    outer.stop()
    write(tmp_path / "sub/deep/g")
    expect(any_loop, inner_log, ["ADDED deep/g"])
    assert outer_log.batches == []
    inner.stop()
    assert any_loop._trees is not None and any_loop._trees.owners == {}


def test_a_tree_is_a_keepalive_watcher_and_its_timers_are_not(any_loop: ev.Loop, tmp_path: Path) -> None:
    tree, log = watch(any_loop, tmp_path, coalesce=0.05)
    assert any_loop.run(ev.RUN_NOWAIT) is True
    tree.keepalive = False
    write(tmp_path / "f")  # arms the coalescing timer once seen
    run_for(any_loop, 0.02)
    assert any_loop.run() is False
    any_loop.verify()


def test_priority_orders_a_trees_callback_among_others(any_loop: ev.Loop, tmp_path: Path) -> None:
    order: list[str] = []
    high = ev.Tree(tmp_path, lambda w, r: order.append("high"), priority=ev.MAXPRI, interval=INTERVAL).start(any_loop)
    low = ev.Tree(tmp_path, lambda w, r: order.append("low"), priority=ev.MINPRI, interval=INTERVAL).start(any_loop)
    write(tmp_path / "f")
    run_until(any_loop, lambda: len(order) == 2)
    assert order == ["high", "low"]
    high.stop()
    low.stop()


def test_feeding_a_tree_calls_back_with_an_empty_batch(any_loop: ev.Loop, tmp_path: Path) -> None:
    tree, log = watch(any_loop, tmp_path)
    tree.feed(ev.CUSTOM)
    any_loop.run(ev.RUN_NOWAIT)
    assert log.revents == [ev.CUSTOM]
    assert log.batches == [[]]


def test_closing_the_loop_stops_its_trees_and_releases_the_inotify_fd(
    backend: ev.Backend, mechanism: str, tmp_path: Path
) -> None:
    before = inotify_fds()
    loop = ev.Loop(backend=backend, inotify=mechanism == "inotify")
    a = ev.Tree(tmp_path, noop, coalesce=0.1).start(loop)
    b = ev.Tree(tmp_path, noop).start(loop)
    write(tmp_path / "f")
    loop.run(ev.RUN_NOWAIT)
    assert inotify_fds() == before + (1 if mechanism == "inotify" else 0)
    loop.verify()
    loop.close()
    assert not a.is_active and not b.is_active
    assert inotify_fds() == before
    with pytest.raises(ev.Error):
        a.start(loop)


def test_verify_holds_through_a_trees_life(any_loop: ev.Loop, tmp_path: Path) -> None:
    tree, log = watch(any_loop, tmp_path, coalesce=0.05)
    any_loop.verify()
    make_tree(tmp_path, {"a/f": "1"})
    run_until(any_loop, lambda: bool(log.batches))
    any_loop.verify()
    tree.feed(ev.CUSTOM)
    any_loop.verify()
    tree.stop()
    any_loop.verify()
    tree.start(any_loop)
    any_loop.verify()


def _in_child(fn: object) -> object:
    """Runs ``fn()`` in a forked child; returns its JSON result."""
    r, w = os.pipe()
    pid = os.fork()
    if pid == 0:  # pragma: no cover - runs in the child
        try:
            os.close(r)
            try:
                result = {"result": fn()}  # type: ignore[operator]
            except BaseException as exc:  # noqa: BLE001 - reported to the parent
                result = {"error": repr(exc)}
            os.write(w, json.dumps(result).encode())
        finally:
            os._exit(0)
    os.close(w)
    with os.fdopen(r, "rb") as f:
        data = f.read()
    os.waitpid(pid, 0)
    report = json.loads(data or b'{"error": "the child died"}')
    assert "error" not in report, report["error"]
    return report["result"]


def test_a_tree_started_before_fork_works_in_the_child_and_still_in_the_parent(
    any_loop: ev.Loop, tmp_path: Path
) -> None:
    tree, log = watch(any_loop, tmp_path)

    def child() -> object:
        any_loop.fork()
        any_loop.run(ev.RUN_NOWAIT)  # re-armed: the child's own watches from here on
        write(tmp_path / "from_child")
        run_until(any_loop, lambda: bool(log.batches), limit=10.0)
        seen = log.described()
        any_loop.close()
        return seen

    assert _in_child(child) == ["ADDED from_child"]
    # The child closed its copy of the loop; the parent's tree still sees
    # the whole tree, the child's file included.
    write(tmp_path / "from_parent")
    expect(any_loop, log, ["ADDED from_child", "ADDED from_parent"])
    assert tree.is_active
