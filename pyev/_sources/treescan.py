"""Polling a tree: snapshots made with ``os.scandir`` and their comparison.

A snapshot maps each path under the root (the root included) to its
identity, size and modification time: ``(st_dev, st_ino, st_size,
st_mtime_ns, is_dir)``. Two snapshots compare to a list of changes:

- a path in the new one only is ADDED, in the old one only DELETED; a
  directory now another one (another inode: removed, or moved away, and
  made again) is DELETED and ADDED, with everything under it;
- a file whose identity, size or modification time differs is MODIFIED
  (a new inode under the same name is an atomic save: MODIFIED too);
  directories change only by appearing, disappearing or moving, since
  their own times move with every entry added or removed;
- a DELETED and an ADDED path of the same identity and kind (and, for a
  file, size and modification time) are one MOVED: a rename changes none
  of them, while a new file may be given the inode of one just deleted
  (ext4 does so at once). A directory's time moves with its entries, so
  its identity alone decides (a directory's inode can only be reused once
  it was removed empty: such a false move leaves the same tree as the
  truth). The entries of a moved directory, found again at the same place
  under its new path, are part of that one move and not listed. A move
  that would not replay alone (out of a directory that went, into one
  that went or moved) is DELETED and ADDED instead.

The changes come in an order that replays them (a DELETED directory
taking what is under it): deletions, deepest first, then what appeared
outside what moved or went, the moves, and what appeared in their place.

Without inotify this is the whole mechanism; with it, only the fallback
(``Loop(inotify=False)``, filesystems where inotify misses changes, the
watch limit). Its cost is one ``lstat`` per entry per poll.
"""

from __future__ import annotations

import os
import stat as _stat
from typing import Final

from .treechanges import Change, FileChange
from .treefilter import REPORT, SKIP, Judge

Entry = tuple[int, int, int, int, bool]
Snapshot = dict[str, Entry]

_S_ISDIR: Final = _stat.S_ISDIR


def scan(root: str, recursive: bool, follow: bool, judge: Judge, unreadable: list[tuple[str, OSError]]) -> Snapshot:
    """A snapshot of the tree at ``root`` (empty if the root is missing);
    the directories that could not be listed are appended to ``unreadable``
    with the error."""
    snap: Snapshot = {}
    try:
        st = os.stat(root)
    except OSError:
        return snap
    is_dir = _S_ISDIR(st.st_mode)
    snap[root] = (st.st_dev, st.st_ino, st.st_size, st.st_mtime_ns, is_dir)
    if not is_dir:
        return snap
    seen = {(st.st_dev, st.st_ino)} if follow else None
    stack = [root]
    while stack:
        directory = stack.pop()
        try:
            listing = os.scandir(directory)
        except (FileNotFoundError, NotADirectoryError):
            continue  # gone since its parent was listed
        except OSError as exc:
            unreadable.append((directory, exc))
            continue
        with listing:
            for entry in listing:
                try:
                    is_dir = entry.is_dir(follow_symlinks=follow)
                    verdict = judge(entry.name, entry.path, is_dir)
                    if verdict == SKIP:
                        continue
                    try:
                        st = entry.stat(follow_symlinks=follow)
                    except FileNotFoundError:
                        if not follow:
                            raise
                        st = entry.stat(follow_symlinks=False)  # a dangling symlink
                except OSError:
                    continue  # gone since the listing
                path = entry.path
                if verdict == REPORT:
                    snap[path] = (st.st_dev, st.st_ino, st.st_size, st.st_mtime_ns, is_dir)
                if is_dir and recursive:
                    if seen is not None:
                        key = (st.st_dev, st.st_ino)
                        if key in seen:
                            continue  # reached through a symlink already: a loop, or a second way in
                        seen.add(key)
                    stack.append(path)
    return snap


def diff(old: Snapshot, new: Snapshot) -> list[FileChange]:
    """What changed from ``old`` to ``new``, in an order that replays it:
    DELETED (deepest first), ADDED outside what moved or went, MOVED, then
    the other ADDED and MODIFIED, in the order of the walk."""
    deleted: list[str] = []
    replaced: set[str] = set()  # directories now another directory (another inode)
    for path, before in old.items():
        after = new.get(path)
        if after is None or after[4] != before[4]:
            deleted.append(path)
        elif before[4] and (after[1] != before[1] or after[0] != before[0]):
            deleted.append(path)
            replaced.add(path)
        elif replaced and _within(path, replaced):
            deleted.append(path)  # went with its directory
    gone = set(deleted)
    added: list[str] = []
    modified: set[str] = set()
    for path, after in new.items():
        was = old.get(path)
        if was is None or path in gone:
            added.append(path)
        elif not after[4] and (after[1] != was[1] or after[3] != was[3] or after[2] != was[2] or after[0] != was[0]):
            modified.add(path)
    moves = _pair_moves(old, new, deleted, added, gone)
    out: list[FileChange] = []
    for path in reversed(deleted):
        if path not in moves.sources:
            out.append(FileChange(Change.DELETED, path, old[path][4]))
    is_added = set(added)
    later: list[str] = []  # ADDED in a place that moved or went: after the moves
    for path, entry in new.items():
        if path in is_added:
            source = moves.source_of.get(path)
            if source is not None:
                if path not in moves.implied:
                    out.append(FileChange(Change.MOVED, path, entry[4], source))
            elif path in gone or _within(path, gone) or _within(path, moves.destinations):
                later.append(path)
            else:
                out.append(FileChange(Change.ADDED, path, entry[4]))
        elif path in modified:
            out.append(FileChange(Change.MODIFIED, path, False))
    for path in later:
        out.append(FileChange(Change.ADDED, path, new[path][4]))
    return out


def _within(path: str, directories: set[str]) -> bool:
    """Whether some directory above ``path`` is one of ``directories``."""
    if not directories:
        return False
    cut = path.rfind("/")
    while cut > 0:
        if path[:cut] in directories:
            return True
        cut = path.rfind("/", 0, cut)
    return False


class _Moves:
    __slots__ = ("source_of", "sources", "implied", "destinations")

    def __init__(self) -> None:
        self.source_of: dict[str, str] = {}  # new path -> old path
        self.sources: set[str] = set()
        self.implied: set[str] = set()  # new paths whose move is their directory's
        self.destinations: set[str] = set()  # the new paths of the moves reported


def _pair_moves(old: Snapshot, new: Snapshot, deleted: list[str], added: list[str], gone: set[str]) -> _Moves:
    moves = _Moves()
    if not deleted or not added:
        return moves
    by_identity: dict[tuple[int, int, bool], str] = {}
    for path in deleted:
        dev, ino, _, _, is_dir = old[path]
        by_identity[(dev, ino, is_dir)] = path
    source_of = moves.source_of
    dir_moves: dict[str, str] = {}
    for path in added:
        dev, ino, size, mtime, is_dir = new[path]
        source = by_identity.get((dev, ino, is_dir))
        if source is None or source == path:
            continue
        before = old[source]
        if not is_dir and (size != before[2] or mtime != before[3]):
            # A rename changes neither; a file that did was deleted, and its
            # inode given to a new one (ext4 does so at once).
            continue
        del by_identity[(dev, ino, is_dir)]
        source_of[path] = source
        if is_dir:
            dir_moves[path] = source
    if dir_moves:
        for path, source in source_of.items():
            # Implied when some moved ancestor explains it: same place under
            # the ancestor's new path as under its old one.
            cut = path.rfind("/")
            while cut > 0:
                ancestor = path[:cut]
                ancestor_source = dir_moves.get(ancestor)
                if ancestor_source is not None and ancestor_source + path[cut:] == source:
                    moves.implied.add(path)
                    break
                cut = path.rfind("/", 0, cut)
    # A move is told only when it replays alone: from a directory that
    # stays, to a place that did not go and is not in another move's
    # destination (moving a/x out of a moved a, into a replaced directory,
    # into b just moved...). Any other is DELETED and ADDED, with what it
    # holds.
    reported = {path for path in source_of if path not in moves.implied}
    tangled: set[str] = set()
    for path in reported:
        if _within(source_of[path], gone) or path in gone or _within(path, gone) or _within(path, reported):
            tangled.add(path)
    if tangled:
        for path in [p for p in source_of if p in tangled or _within(p, tangled)]:
            del source_of[path]
            moves.implied.discard(path)
        reported -= tangled
    moves.sources.update(source_of.values())
    moves.destinations = reported
    return moves
