"""File-attribute watching for Stat watchers: inotify hints, stat truth.

Every notification, native or not, only makes pyev stat the path again and
compare; a Stat callback runs only when the stat result really differs. So
inotify can be generous with hints and polling can back it up anywhere it
may be blind.

Native (one inotify fd per loop, created with the first Stat watcher):
- Each watcher holds two watches: on the path itself (when it exists) and
  on its parent directory (for a symlink, also on its target's directory).
  The parent's events catch what a watch on the file cannot: the path
  appearing, being deleted, and the atomic saves of editors (a new file
  renamed over the old one, or the old one renamed to a backup and a new one
  written). After every detected change the watches are placed again (new
  ones first), since the path may now name another inode.
- inotify returns one wd per inode and fd, shared by every watcher on that
  inode, so wds are reference-counted (``users``).
- A queue overflow re-checks every watcher. A failed ``inotify_add_watch``
  (the per-user watch limit) makes that watcher poll, with one warning
  naming the sysctl to raise.
- Filesystems where inotify misses remote changes (anything not in
  ``LOCAL_FILESYSTEMS``: NFS, CIFS, FUSE...) are polled as well, and so is a
  path whose parent directory does not exist either.

Fallback: every watcher polls at its interval with an internal Timer that
does not keep the loop alive.
"""

from __future__ import annotations

import errno
import os
import warnings
from typing import TYPE_CHECKING, Final

from .. import _linux
from .._constants import STAT

if TYPE_CHECKING:
    from .._loop import Loop
    from .._watchers.stat import Stat

# statfs f_type values of filesystems whose changes all go through this
# kernel, so inotify sees them (as libev's list, plus overlayfs and f2fs).
LOCAL_FILESYSTEMS: Final = frozenset(
    {
        0xEF53,  # ext2/3/4
        0x58465342,  # xfs
        0x9123683E,  # btrfs
        0x01021994,  # tmpfs
        0x3153464A,  # jfs
        0x52654973,  # reiserfs
        0x858458F6,  # ramfs
        0x000072B6,  # jffs2
        0x00004D44,  # fat
        0x5346544E,  # ntfs
        0x00001373,  # devfs
        0x794C7630,  # overlayfs
        0xF2F52010,  # f2fs
    }
)

_warned_watch_limit = False


def _watch_mask() -> int:
    lib = _linux
    return (
        lib.IN_ATTRIB
        | lib.IN_MODIFY
        | lib.IN_CLOSE_WRITE
        | lib.IN_CREATE
        | lib.IN_DELETE
        | lib.IN_DELETE_SELF
        | lib.IN_MOVE_SELF
        | lib.IN_MOVED_FROM
        | lib.IN_MOVED_TO
    )


def _parent(path: str | bytes) -> str | bytes:
    parent = os.path.dirname(path)
    if parent:
        return parent
    return "." if isinstance(path, str) else b"."


def _identity(st: os.stat_result | None) -> tuple[int, int] | None:
    return None if st is None else (st.st_dev, st.st_ino)


def _is_local(path: str | bytes) -> bool:
    try:
        return _linux.statfs_type(os.fsencode(path)) in LOCAL_FILESYSTEMS
    except OSError:
        return False


class _Watches:
    """What the source keeps for one Stat watcher."""

    __slots__ = ("wds", "poll_forced")

    def __init__(self) -> None:
        self.wds: list[int] = []  # the inotify watches it holds (see FileSource.users)
        self.poll_forced = False  # a watch could not be added (the watch limit): it polls


class FileSource:
    """The Stat watchers of one loop and their inotify fd."""

    def __init__(self, loop: Loop) -> None:
        self.loop = loop
        self.native = loop._use_inotify and _linux.AVAILABLE
        self.ifd = -1
        self.ifd_pid = 0  # the process that made ifd: a forked child makes its own
        self.watched: dict[Stat, _Watches] = {}  # the active watchers, in start order
        self.users: dict[int, set[Stat]] = {}  # wd -> watchers holding it
        if self.native:
            self._open()

    def _open(self) -> None:
        try:
            self.ifd = _linux.inotify_init()
            self.ifd_pid = os.getpid()
        except OSError as exc:
            self.native = False  # out of inotify instances: poll instead
            warnings.warn(
                f"pyev: no inotify instance ({exc.strerror}); this loop's Stat watchers poll instead. "
                "Raise the limit with: sysctl fs.inotify.max_user_instances=1024",
                RuntimeWarning,
                stacklevel=2,
            )
            return
        self.loop._add_hook(self.ifd, self._on_inotify)

    # -- watchers --

    def add(self, w: Stat) -> None:
        self._own_inotify()
        watches = self.watched[w] = _Watches()
        self._place(w, watches)

    def remove(self, w: Stat) -> None:
        self._drop_inherited()  # its watches are the parent's: leave them
        self._unplace(w, self.watched.pop(w))
        if w._poller is not None:
            w._poller.stop()

    def _place(self, w: Stat, watches: _Watches) -> None:
        """Put the watcher's inotify watches (or its poller) in place."""
        needs_polling = not self.native
        if self.native:
            # Add the new watches before dropping the old ones: adding a
            # watch on an inode already watched returns its wd, so events
            # already queued under it are not lost (and none are missed in a
            # gap between removing and re-adding).
            path, attr = w.path, w.attr
            held, watches.wds = watches.wds, []
            placed_parent = self._add_watch(w, watches, _parent(path))
            real = os.path.realpath(path)
            if real != os.path.abspath(path):
                # A symlink: its target may live elsewhere, and may come and go.
                placed_parent = self._add_watch(w, watches, _parent(real)) and placed_parent
            placed_path = attr is not None and self._add_watch(w, watches, path)
            for wd in held:
                if wd not in watches.wds:
                    self._release(w, wd)
            if watches.poll_forced:
                needs_polling = True
            elif attr is not None:
                needs_polling = not placed_path or not _is_local(path)
            else:
                needs_polling = not placed_parent or not _is_local(_parent(path))
        poller = w._poller
        if needs_polling:
            assert poller is not None
            if not poller.is_active:
                poller.start(self.loop)
        elif poller is not None and poller.is_active:
            poller.stop()

    def _add_watch(self, w: Stat, watches: _Watches, path: str | bytes) -> bool:
        global _warned_watch_limit
        try:
            wd = _linux.inotify_add_watch(self.ifd, os.fsencode(path), _watch_mask())
        except OSError as exc:
            if exc.errno == errno.ENOSPC:
                watches.poll_forced = True
                if not _warned_watch_limit:
                    _warned_watch_limit = True
                    warnings.warn(
                        "pyev: the inotify watch limit is reached; Stat watchers beyond it poll instead. "
                        "Raise it with: sysctl fs.inotify.max_user_watches=524288",
                        RuntimeWarning,
                        stacklevel=2,
                    )
            return False
        if wd not in watches.wds:
            watches.wds.append(wd)
        self.users.setdefault(wd, set()).add(w)
        return True

    def _unplace(self, w: Stat, watches: _Watches) -> None:
        for wd in watches.wds:
            self._release(w, wd)
        watches.wds.clear()

    def _release(self, w: Stat, wd: int) -> None:
        """``w`` no longer holds ``wd``; the last holder removes the watch."""
        users = self.users.get(wd)
        if users is None:
            return
        users.discard(w)
        if not users:
            del self.users[wd]
            try:
                _linux.inotify_rm_watch(self.ifd, wd)
            except OSError:
                pass

    # -- delivery --

    def _on_inotify(self) -> None:
        overflow = False
        touched: dict[int, Stat] = {}
        for wd, mask in _linux.inotify_read(self.ifd):
            if wd < 0 or mask & _linux.IN_Q_OVERFLOW:
                overflow = True
                continue
            if mask & _linux.IN_IGNORED:
                # The kernel dropped the watch (its inode is gone); forget it
                # before a new watch can be given the same number.
                for w in self.users.pop(wd, ()):
                    watches = self.watched.get(w)
                    if watches is not None and wd in watches.wds:
                        watches.wds.remove(wd)
                    touched[id(w)] = w
                continue
            for w in self.users.get(wd, ()):
                touched[id(w)] = w
        for w in list(self.watched) if overflow else list(touched.values()):
            if w._active:
                self.check(w)

    def check(self, w: Stat) -> None:
        """Stat the path; on a real change queue the watcher, and re-place
        its watches if the path now names another inode (or none): a change
        of contents keeps them (stat latency benchmark)."""
        if w._refresh():
            self.loop._queue(w, STAT)
            if self.native and _identity(w.prev) != _identity(w.attr):
                self._own_inotify()
                self._place(w, self.watched[w])

    # -- loop life cycle --

    def active_watchers(self) -> list[Stat]:
        return list(self.watched)

    def _drop_inherited(self) -> None:
        """An inotify fd made before a fork is shared with the parent, whose
        watches adding or removing here would change: close our copy (never
        ``inotify_rm_watch`` on it) and forget its watches. Its hook is only
        forgotten too: the backend's kernel set may be the parent's as well."""
        if self.ifd >= 0 and self.ifd_pid != os.getpid():
            self.loop._forget_hook(self.ifd)
            os.close(self.ifd)
            self.ifd = -1
            self.users.clear()
            for watches in self.watched.values():
                watches.wds.clear()

    def _own_inotify(self) -> None:
        """Before placing watches: if the inotify fd is the parent's (or was
        dropped as such), make our own and place every watcher's again."""
        self._drop_inherited()
        if self.native and self.ifd < 0:
            self._open()
            for w, watches in list(self.watched.items()):
                self._place(w, watches)

    def after_fork(self) -> None:
        self._own_inotify()

    def close(self) -> None:
        loop = self.loop
        # Closing the fd drops its watches with it: no inotify_rm_watch, which
        # on an inotify fd inherited across a fork would remove the parent's.
        if self.ifd >= 0:
            loop._forget_hook(self.ifd)
            os.close(self.ifd)
            self.ifd = -1
        self.users.clear()
