"""What a Tree watcher reports, and how a batch of changes is folded.

Both mechanisms (inotify and polling) describe what they saw as a list of
``FileChange`` records, in the order they saw it. Before a batch reaches the
user it is *folded* into its net effect, path by path: a file created and
deleted again within the batch is not reported at all, one created and then
written is ADDED once, one deleted and created again is MODIFIED (a file
replaced by a directory is DELETED and ADDED), a move whose source appeared
within the batch is no move (see below). A directory that comes back where
one left within the batch (deleted, or moved away, then created or moved
there again) splits the batch: what came before is folded and reported
first, so that the directory that left (with what was in it: a directory
moved away is one DELETED with inotify) and the one that came are both
reported, in that order. With
``coalesce`` the batch is everything seen in the quiet period; without it,
everything one inotify read (or one poll) brought.

The fold infers, for each path, whether it existed before the batch from the
first change seen for it (a path first ADDED did not; one first MODIFIED or
DELETED did), and compares with whether it exists after. A move keeps its
two ends when its source existed before the batch and its destination did
not. A *file* moved from a source that appeared within the batch is taken
for the usual editor's atomic save (write a new file under a temporary name,
then rename it over the real one): its destination is reported as MODIFIED,
since with inotify pyev keeps no list of files that would tell whether the
destination existed before. The polling mechanism compares snapshots and
never needs the guess.
"""

from __future__ import annotations

import enum
from typing import NamedTuple


class Change(enum.IntEnum):
    """What happened to a path (``FileChange.change``)."""

    ADDED = 1
    MODIFIED = 2
    DELETED = 3
    MOVED = 4


ADDED: int = Change.ADDED
MODIFIED: int = Change.MODIFIED
DELETED: int = Change.DELETED
MOVED: int = Change.MOVED


class FileChange(NamedTuple):
    """One change a Tree watcher reports.

    ``path`` is where it happened (for MOVED: the new path, with the old one
    in ``old_path``; None for every other change). ``is_dir`` tells whether
    the path is (or, when DELETED, was) a directory.
    """

    change: Change
    path: str
    is_dir: bool = False
    old_path: str | None = None


# directory -> the paths directly under it that appeared within the batch, or
# that lead to one (insertion-ordered, as a dict): what a directory deleted or
# moved within the batch takes with it is found without a look at every path.
_Fresh = dict[str, dict[str, None]]


def fold(changes: list[FileChange]) -> list[FileChange]:
    """The net effect of ``changes`` (in order of first appearance)."""
    if len(changes) < 2:
        return changes
    out: list[FileChange] = []
    start = 0
    while start < len(changes):
        start = _fold_part(changes, start, out)
    return out


def _fold_part(changes: list[FileChange], start: int, out: list[FileChange]) -> int:
    """Fold ``changes`` from ``start`` into ``out``, up to a directory that
    comes back where one left (deleted, or moved away, then created or moved
    there again), or one moved where a file left: what follows is folded
    apart, so that what left is reported, with what was in it, before the
    directory that came. Returns where the next part starts."""
    # path -> [existed before, exists now, is_dir, written, was a directory before]
    net: dict[str, list[bool]] = {}
    moved_from: dict[str, str] = {}  # destination -> a source that existed before the batch
    fresh: _Fresh = {}  # the entries that did not exist before the batch, by directory
    left: set[str] = set()  # where directories were deleted or moved away from
    end = len(changes)
    for i in range(start, end):
        change, path, is_dir, old_path = changes[i]
        if change == ADDED or change == MOVED:
            arrives_where_one_left = path in left
            if change == MOVED and is_dir and not arrives_where_one_left:
                vacated = net.get(path)
                arrives_where_one_left = vacated is not None and not vacated[1]  # a file, say
            if arrives_where_one_left and not (change == MOVED and moved_from.get(old_path or "") == path):
                end = i  # (not the same one back)
                break
        if change == MODIFIED:
            entry = net.get(path)
            if entry is None:
                net[path] = [True, True, is_dir, True, is_dir]
            else:
                entry[1] = entry[3] = True
        elif change == ADDED:
            entry = net.get(path)
            if entry is None:
                net[path] = [False, True, is_dir, False, False]
                _note(fresh, path)
            else:
                entry[1] = True
                entry[3] = entry[3] or entry[0]  # there before: replaced
                entry[2] = is_dir
        elif change == DELETED:
            entry = net.get(path)
            if entry is None:
                net[path] = [True, False, is_dir, False, is_dir]
            else:
                entry[1] = False
            moved_from.pop(path, None)
            if is_dir:
                left.add(path)
                if fresh:
                    _forget_fresh_under(net, fresh, path)
        else:  # MOVED
            assert old_path is not None
            if is_dir:
                left.add(old_path)
            entry = net.get(old_path)
            origin = moved_from.pop(old_path, None)
            written = False
            if entry is None:
                net[old_path] = [True, False, is_dir, False, is_dir]
                origin = old_path
            else:
                entry[1] = False
                written = entry[3]
                if origin is None and entry[0]:
                    origin = old_path
            target = net.get(path)
            if origin is None and not is_dir:
                # A file that appeared within the batch, renamed onto path:
                # an atomic save.
                if target is None:
                    net[path] = [True, True, False, True, False]
                else:
                    target[1] = target[3] = True
                    target[2] = False
                continue
            if target is None:
                net[path] = [False, True, is_dir, written, False]
                _note(fresh, path)
                if origin is not None:
                    moved_from[path] = origin
            else:
                target[1] = True
                target[2] = is_dir
                # Replaced: unless it is the same file moved back where it was.
                target[3] = target[3] or written or (target[0] and origin != path)
                if origin is not None and not target[0]:
                    moved_from[path] = origin
            if is_dir and fresh:
                _rename_under(net, fresh, moved_from, old_path, path)
    first = len(out)
    consumed: set[str] = set()
    for path, (before, now, is_dir, written, was_dir) in net.items():
        if path in consumed:
            continue
        origin = moved_from.get(path)
        if origin is not None and not before and now:
            source = net[origin]
            if source[0] and not source[1]:
                consumed.add(origin)
                out.append(FileChange(Change.MOVED, path, is_dir, origin))
                if written and not is_dir:
                    out.append(FileChange(Change.MODIFIED, path, False))
                continue
        if now and not before:
            out.append(FileChange(Change.ADDED, path, is_dir))
        elif before and not now:
            out.append(FileChange(Change.DELETED, path, was_dir))
        elif before and is_dir != was_dir:
            # A file replaced by a directory, or a directory by a file.
            out.append(FileChange(Change.DELETED, path, was_dir))
            out.append(FileChange(Change.ADDED, path, is_dir))
        elif before and written and not is_dir:
            out.append(FileChange(Change.MODIFIED, path, False))
    if consumed:
        # A source reported before its move's destination was appended first.
        out[first:] = [c for c in out[first:] if not (c.change == DELETED and c.path in consumed)]
    return end


def _note(fresh: _Fresh, path: str) -> None:
    """``path`` appeared within the batch: file it under its directory, and
    that directory under its own, up to one already filed."""
    while True:
        cut = path.rfind("/")
        parent = path[:cut]
        siblings = fresh.get(parent)
        if siblings is not None:
            siblings[path] = None
            return
        fresh[parent] = {path: None}
        if cut <= 0:
            return
        path = parent


def _fresh_under(fresh: _Fresh, directory: str) -> list[str]:
    """The paths filed under ``directory``, at any depth, each after its
    directory."""
    found: list[str] = []
    stack = [directory]
    while stack:
        for path in fresh.get(stack.pop(), ()):
            found.append(path)
            stack.append(path)
    return found


def _forget_fresh_under(net: dict[str, list[bool]], fresh: _Fresh, directory: str) -> None:
    """A directory went away: what appeared under it within the batch never
    existed as far as the batch's outcome is concerned."""
    for path in _fresh_under(fresh, directory):
        entry = net.get(path)
        if entry is not None and not entry[0]:
            entry[1] = False


def _rename_under(net: dict[str, list[bool]], fresh: _Fresh, moved_from: dict[str, str], old: str, new: str) -> None:
    """A directory moved: entries under it that appeared within the batch now
    live under the new path (those that existed before keep their old path:
    their changes happened there)."""
    cut = len(old)
    for path in _fresh_under(fresh, old):
        entry = net.get(path)
        if entry is None or entry[0]:
            continue
        renamed = new + path[cut:]
        # What was at the new path went before (a directory is moved over
        # an empty one only): the entry comes after the move, in its place.
        net.pop(renamed, None)
        net[renamed] = net.pop(path)
        _note(fresh, renamed)
        origin = moved_from.pop(path, None)
        if origin is not None:
            moved_from[renamed] = origin
