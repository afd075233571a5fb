"""Tree watching for a loop: one inotify fd for all its Tree watchers, or polling.

Each Tree watcher is watched by one of two mechanisms, chosen when it
starts:

- **inotify** (``treenative.NativeTree``): a watch per directory, on the
  loop's one inotify fd for trees (the Stat watchers keep theirs: their
  watches ask for other events). inotify hands out one wd per inode and
  fd, so two trees that overlap share wds: ``owners`` maps each wd to the
  trees that use it, and the last one to let go removes the watch.
- **polling** (``treescan``): a snapshot of the tree, taken again every
  ``effective_interval`` seconds by the watcher's internal Timer and
  compared with the previous one. Used with ``Loop(inotify=False)`` (the
  portable profile), where inotify is missing, for roots on filesystems
  whose changes inotify may not see (anything outside ``LOCAL_FILESYSTEMS``:
  NFS, CIFS, FUSE...), and for a tree that ran out of inotify watches.

Reading the inotify fd (``_on_inotify``) goes on until the queue is empty
(at most ``MAX_READS`` reads per wake-up): a rename's two events must be
paired, and a new directory's listing deduplicated, against everything
queued until then. Each tree's changes are then handed to its watcher in
the same loop iteration. A queue overflow makes every tree on the fd
rescan, with a warning; running out of watches makes the tree poll, with a
warning naming ``fs.inotify.max_user_watches``.
"""

from __future__ import annotations

import errno
import os
import time
import warnings
from typing import TYPE_CHECKING, Final

from .. import _linux
from .files import LOCAL_FILESYSTEMS
from .treechanges import FileChange
from .treenative import WATCH_MASK, NativeTree, warn_unreadable
from .treescan import Snapshot, diff, scan

if TYPE_CHECKING:
    from .._loop import Loop
    from .._watchers.tree import Tree

# Reads per wake-up before the changes found so far are delivered anyway
# (64 KiB each: about 2,000 events).
MAX_READS: Final = 64
# File timestamps come from a clock that may lag the one pyev reads by a
# tick (up to 10 ms): a rescan looks at changes this much earlier too.
TIMESTAMP_SLACK_NS: Final = 50_000_000


def _is_local(path: str) -> bool:
    try:
        return _linux.statfs_type(os.fsencode(path)) in LOCAL_FILESYSTEMS
    except OSError:
        return False


class PolledTree:
    """The polling side of one Tree watcher: its last snapshot."""

    __slots__ = ("w", "snapshot", "warned")

    def __init__(self, w: Tree) -> None:
        self.w = w
        self.warned: set[str] = set()
        self.snapshot: Snapshot = {}

    def scan(self) -> Snapshot:
        w = self.w
        unreadable: list[tuple[str, OSError]] = []
        snap = scan(w._path, w._recursive, w._follow_symlinks, w._judge, unreadable)
        for path, exc in unreadable:
            warn_unreadable(self.warned, path, exc)
        if unreadable and self.snapshot:
            # What was seen in a directory that can no longer be read is
            # taken to be there still: unreadable is not empty.
            kept = tuple(path if path.endswith("/") else path + "/" for path, _ in unreadable)
            for path, entry in self.snapshot.items():
                if path.startswith(kept) and path not in snap:
                    snap[path] = entry
        return snap

    def poll(self) -> list[FileChange]:
        new = self.scan()
        changes = diff(self.snapshot, new)
        self.snapshot = new
        return changes


class TreeSource:
    """The Tree watchers of one loop, and their inotify fd."""

    def __init__(self, loop: Loop) -> None:
        self.loop = loop
        self.native = loop._use_inotify and _linux.AVAILABLE
        self.ifd = -1
        self.ifd_pid = 0  # the process that made ifd: a forked child makes its own
        self.trees: dict[Tree, NativeTree | PolledTree] = {}  # the active watchers, in start order
        self.owners: dict[int, list[NativeTree]] = {}  # wd -> the trees that use it
        # When the queue was last read empty: no change before it was lost.
        self.synced_ns = time.time_ns()

    def _open(self) -> None:
        try:
            self.ifd = _linux.inotify_init()
            self.ifd_pid = os.getpid()
        except OSError as exc:
            self.native = False
            warnings.warn(
                f"pyev: no inotify instance ({exc.strerror}); this loop's Tree watchers poll instead. "
                "Raise the limit with: sysctl fs.inotify.max_user_instances=1024",
                RuntimeWarning,
                stacklevel=4,
            )
            return
        self.synced_ns = time.time_ns()
        self.loop._add_hook(self.ifd, self._on_inotify)

    # -- watchers ---------------------------------------------------------------

    def add(self, w: Tree) -> None:
        """Start watching ``w``'s tree; a missing or unreadable root raises."""
        root = w._path
        try:
            st = os.stat(root)
        except FileNotFoundError:
            raise FileNotFoundError(errno.ENOENT, "pyev.Tree: the root does not exist", root) from None
        if (st.st_mode & 0o170000) == 0o040000:
            os.scandir(root).close()  # PermissionError: the root itself must be readable
        self._drop_inherited()
        if self.native and _is_local(root):
            self._own_inotify()
            if self.ifd >= 0:
                self._start_native(w)
                return
        self._start_polling(w)

    def _start_native(self, w: Tree) -> None:
        state = NativeTree(w, self)
        self.trees[w] = state
        try:
            state.start()
        except BaseException:
            self._release_all(state)
            del self.trees[w]
            raise
        w._mechanism = "inotify"
        if state.fallback:
            self._to_polling(w, state)
        elif state.anchor < 0 and not state.root_is_dir:
            # A file root is watched through its directory only.
            self._release_all(state)
            self._start_polling(w)

    def _start_polling(self, w: Tree) -> None:
        state = PolledTree(w)
        self.trees[w] = state
        state.snapshot = state.scan()
        w._mechanism = "polling"
        w._poll_every_interval(self.loop)

    def remove(self, w: Tree) -> None:
        self._drop_inherited()  # its watches are the parent's: leave them
        state = self.trees.pop(w)
        if isinstance(state, NativeTree):
            self._release_all(state)
        w._stop_polling()
        w._mechanism = None

    def _to_polling(self, w: Tree, state: NativeTree) -> None:
        """Out of inotify watches: poll this tree from now on."""
        self._deliver(state)
        self._release_all(state)
        warnings.warn(
            f"pyev.Tree: the inotify watch limit is reached; the tree {w._path!r} is polled instead. "
            "Raise the limit with: sysctl fs.inotify.max_user_watches=524288",
            RuntimeWarning,
            stacklevel=3,
        )
        self._start_polling(w)

    # -- inotify watches (for NativeTree) ----------------------------------------

    def add_watch(self, state: NativeTree, path: str, *, follow: bool) -> int:
        """Watch the directory ``path`` for ``state``: its wd, or -1 (gone,
        not a directory, unreadable, or out of watches: ``state.fallback``)."""
        mask = WATCH_MASK if follow else WATCH_MASK | _linux.IN_DONT_FOLLOW
        try:
            wd = _linux.inotify_add_watch(self.ifd, os.fsencode(path), mask)
        except OSError as exc:
            if exc.errno == errno.ENOSPC:
                state.fallback = True
            elif exc.errno not in (errno.ENOENT, errno.ENOTDIR, errno.ELOOP):
                warn_unreadable(state.warned, path, exc)
            return -1
        users = self.owners.get(wd)
        if users is None:
            self.owners[wd] = [state]
        elif state not in users:
            users.append(state)
        return wd

    def release(self, state: NativeTree, wd: int) -> None:
        """``state`` no longer watches the directory of ``wd``; the last user
        removes the watch."""
        state.dirs.pop(wd, None)
        if wd == state.anchor:
            return
        users = self.owners.get(wd)
        if users is None or state not in users:
            return
        users.remove(state)
        if not users:
            del self.owners[wd]
            try:
                _linux.inotify_rm_watch(self.ifd, wd)
            except OSError:
                pass

    def _release_all(self, state: NativeTree) -> None:
        anchor, state.anchor = state.anchor, -1
        for wd in [*state.dirs, anchor] if anchor >= 0 else list(state.dirs):
            self.release(state, wd)

    def poll_for_root(self, w: Tree) -> None:
        w._poll_every_interval(self.loop)

    def stop_polling_for_root(self, w: Tree) -> None:
        w._stop_polling()

    # -- delivery -------------------------------------------------------------------

    def _on_inotify(self) -> None:
        owners = self.owners
        read = _linux.inotify_read_events
        overflow = False
        drained = False
        for _ in range(MAX_READS):
            before = time.time_ns()
            events = read(self.ifd)
            if not events:
                drained = True
                break
            for wd, mask, cookie, name in events:
                users = owners.get(wd)
                if users is None:
                    if wd == -1 and mask & _linux.IN_Q_OVERFLOW:
                        overflow = True
                    continue
                if mask & _linux.IN_IGNORED:
                    del owners[wd]
                    for state in users:
                        state.ignored(wd)
                elif len(users) == 1:
                    users[0].event(wd, mask, cookie, name)
                else:
                    for state in tuple(users):
                        state.event(wd, mask, cookie, name)
        natives = [state for state in self.trees.values() if isinstance(state, NativeTree)]
        for state in natives:
            if state.moves and (drained or overflow or state.fallback):
                # (else the MOVED_TO may be the next event still queued)
                state.settle_moves()
        if overflow:
            warnings.warn(
                "pyev.Tree: the inotify queue overflowed and events were lost; the trees are scanned again. "
                "Raise the queue's length with: sysctl fs.inotify.max_queued_events=65536",
                RuntimeWarning,
                stacklevel=2,
            )
            since = self.synced_ns - TIMESTAMP_SLACK_NS
            for state in natives:
                state.rescan(since)
        if drained:
            self.synced_ns = before
            for state in natives:
                state.suppress.clear()
                state.missed.clear()
                state.arrived.clear()
                state.renamed.clear()
        for state in natives:
            if state.fallback and self.trees.get(state.w) is state:
                self._to_polling(state.w, state)
            else:
                self._deliver(state)

    def _deliver(self, state: NativeTree) -> None:
        out = state.out
        if out:
            state.out = []
            state.w._push(out)

    def poll(self, w: Tree) -> None:
        """The watcher's poll timer fired."""
        state = self.trees.get(w)
        if isinstance(state, PolledTree):
            changes = state.poll()
            if changes:
                w._push(changes)
        elif state is not None:
            state.check_root()
            self._deliver(state)

    # -- loop life cycle -----------------------------------------------------------

    def active_watchers(self) -> list[Tree]:
        return list(self.trees)

    def _drop_inherited(self) -> None:
        """An inotify fd made before a fork is shared with the parent, whose
        watches adding or removing here would change: close our copy (never
        ``inotify_rm_watch`` on it) and forget its watches."""
        if self.ifd >= 0 and self.ifd_pid != os.getpid():
            self.loop._forget_hook(self.ifd)
            os.close(self.ifd)
            self.ifd = -1
            self.owners.clear()
            for state in self.trees.values():
                if isinstance(state, NativeTree):
                    state.dirs.clear()
                    state.anchor = -1

    def _own_inotify(self) -> None:
        """Before placing watches: if the inotify fd is the parent's (or was
        dropped as such), make our own and watch every native tree again
        (silently: what changed around the fork is not reported)."""
        self._drop_inherited()
        if self.native and self.ifd < 0:
            self._open()
            for w, state in list(self.trees.items()):
                if isinstance(state, NativeTree):
                    if self.ifd < 0:
                        self._start_polling(w)
                        continue
                    try:
                        self._start_native(w)
                    except OSError:
                        self._start_polling(w)  # the root is gone: polling reports its return

    def after_fork(self) -> None:
        self._own_inotify()

    def close(self) -> None:
        # Closing the fd drops its watches with it (and leaves those of a
        # forked parent alone).
        if self.ifd >= 0:
            self.loop._forget_hook(self.ifd)
            os.close(self.ifd)
            self.ifd = -1
        self.owners.clear()
