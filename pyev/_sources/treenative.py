"""One Tree watcher on inotify: a watch per directory, and what its events mean.

The facts this is built on:

- An inotify watch on a directory reports what happens to the entries in
  it (created, deleted, written, attributes, renamed out and in, each with
  the entry's name and whether it is a directory) and to the directory
  itself (deleted, moved: no name). Nothing deeper: a tree needs a watch
  per directory, and pyev keeps one map, wd -> the directory's path.
- A new directory gets its watch only after pyev has read the event that
  created it. Whatever was created in it before that is never reported by
  inotify (``mkdir -p a/b/c``, ``tar x``, ``git checkout``), so every new
  directory is listed right after its watch is placed, and what the listing
  finds is reported as ADDED. Entries created between the two show up in
  both; the listing's paths are remembered (``suppress``) until the queue
  has been read empty, and a create event for one of them is dropped then.
  Only *create* events are dropped: a rename onto such a path after the
  listing must still count.
- A new directory may be gone when its watch is to be placed: deleted, or
  renamed already (``mkdir tmp && fill tmp && mv tmp final``, or its parent
  renamed). Its path is kept (``missed``) until the queue has been read
  empty; a rename of it or of a directory above it, read meanwhile, makes
  pyev watch and list it where it is now. And a directory moved into one
  whose watch was not in place yet (``mkdir new && mv old new/``) turns up
  when the new one is listed, with the wd it had: a MOVED, found early,
  whose lone MOVED_FROM is then no move out (``arrived``).
- A rename is two events with one cookie, MOVED_FROM in the old directory
  and MOVED_TO in the new one, queued one after the other. Paired, they are
  a MOVED (for a directory: every path under it in the map is rewritten,
  the watches stay, since they follow inodes). A MOVED_FROM followed by
  anything else, or left unpaired once the queue is read, is a move out of
  the tree (DELETED, and the watches of a directory dropped), settled
  before the next event counts; a lone MOVED_TO is a move in (ADDED, and
  a directory is listed as new).
- The root is judged from its parent, which holds a watch too (the
  *anchor*): its entry for the root's name says when the root is deleted,
  moved away, replaced (an atomic save of a file root), or comes back.
  Without the parent (the root is ``/``, or the parent cannot be watched),
  the root's own delete and move events stand in, and a timer looks for
  the root's return.
- A change of attributes (IN_ATTRIB) is a modification only when it set
  the modification time (``touch``): permissions, owners, link counts and
  access times are not what MODIFIED means, and polling, which compares
  (inode, size, mtime), does not see them either.
- inotify keeps no list of files, and neither does pyev here: memory grows
  with the directories only. The price is on a queue overflow, when events
  were lost: the rescan can tell new and vanished directories (their
  watches and paths are known) and files changed since the last complete
  read (their ctime), but not files deleted in a directory that remains.
"""

from __future__ import annotations

import os
import sys
import warnings
from typing import TYPE_CHECKING, Final

from .. import _linux
from .treechanges import Change, FileChange
from .treefilter import REPORT, SKIP, Judge

if TYPE_CHECKING:
    from .._watchers.tree import Tree
    from .trees import TreeSource

_ENCODING: Final = sys.getfilesystemencoding()
_ERRORS: Final = sys.getfilesystemencodeerrors()

if _linux.AVAILABLE:
    IN_MODIFY: Final = _linux.IN_MODIFY
    IN_ATTRIB: Final = _linux.IN_ATTRIB
    IN_CREATE: Final = _linux.IN_CREATE
    IN_DELETE: Final = _linux.IN_DELETE
    IN_MOVED_FROM: Final = _linux.IN_MOVED_FROM
    IN_MOVED_TO: Final = _linux.IN_MOVED_TO
    IN_DELETE_SELF: Final = _linux.IN_DELETE_SELF
    IN_MOVE_SELF: Final = _linux.IN_MOVE_SELF
    IN_IGNORED: Final = _linux.IN_IGNORED
    IN_ISDIR: Final = _linux.IN_ISDIR
    # What every watch asks for: the anchor and the tree's directories use
    # one mask, so that one inode watched in both roles (by two trees) keeps it.
    WATCH_MASK: Final = (
        IN_MODIFY
        | IN_ATTRIB
        | IN_CREATE
        | IN_DELETE
        | IN_MOVED_FROM
        | IN_MOVED_TO
        | IN_DELETE_SELF
        | IN_MOVE_SELF
        | _linux.IN_ONLYDIR
        | _linux.IN_EXCL_UNLINK
    )
    _WRITTEN: Final = IN_MODIFY | IN_ATTRIB
    _GONE_SELF: Final = IN_DELETE_SELF | IN_MOVE_SELF
    _APPEARS: Final = IN_CREATE | IN_MOVED_TO
    _DISAPPEARS: Final = IN_DELETE | IN_MOVED_FROM


def warn_unreadable(warned: set[str], path: str, exc: OSError) -> None:
    """A directory under a root could not be listed or watched: said once
    per watcher and path (``warned``)."""
    if path not in warned:
        warned.add(path)
        warnings.warn(
            f"pyev.Tree: cannot read the directory {path!r} ({exc.strerror}); it is skipped",
            RuntimeWarning,
            stacklevel=2,
        )


class NativeTree:
    """The inotify side of one Tree watcher."""

    __slots__ = (
        "w",
        "source",
        "root",
        "root_name",
        "root_prefix",
        "recursive",
        "follow",
        "judge",
        "dirs",
        "anchor",
        "present",
        "root_is_dir",
        "moves",
        "suppress",
        "missed",
        "arrived",
        "renamed",
        "links",
        "out",
        "fallback",
        "warned",
    )

    def __init__(self, w: Tree, source: TreeSource) -> None:
        self.w = w
        self.source = source
        root = self.root = w._path
        self.root_name = os.fsencode(os.path.basename(root))
        self.root_prefix = root if root.endswith("/") else root + "/"
        self.recursive = w._recursive
        self.follow = w._follow_symlinks
        self.judge: Judge = w._judge
        self.dirs: dict[int, str] = {}  # wd -> the directory's path with a trailing "/"
        self.anchor = -1  # the wd of the root's parent directory
        self.present = False
        self.root_is_dir = False
        self.moves: dict[int, tuple[str, bool, int]] = {}  # cookie -> (path, is_dir, verdict) of a MOVED_FROM
        self.suppress: set[str] = set()  # paths a listing reported, whose create event may follow
        self.missed: set[str] = set()  # new directories gone before their watch was placed: moved, maybe
        self.arrived: set[str] = set()  # the old paths of directories found moved before their move was read
        self.renamed: dict[str, str] = {}  # new path -> old path of the directories renamed since the queue was empty
        self.links: set[str] = set()  # with follow: the symlinks to directories, which are watched through
        self.out: list[FileChange] = []
        self.fallback = False  # out of watches: to be polled instead
        self.warned: set[str] = set()  # directories it could not read, warned about

    # -- placing watches --------------------------------------------------

    def start(self) -> None:
        """Watch the parent and the tree as they are (nothing reported)."""
        self.place_anchor()
        st = os.stat(self.root)  # the caller checked it exists: a race raises here
        self.present = True
        self.root_is_dir = _isdir(st)
        if self.root_is_dir:
            self.grow(self.root, report=False, is_root=True)

    def place_anchor(self) -> bool:
        parent = os.path.dirname(self.root.rstrip("/")) or "/"
        if self.root.rstrip("/") == "" or parent == self.root:
            return False
        wd = self.source.add_watch(self, parent, follow=True)
        if wd < 0:
            return False
        self.anchor = wd
        return True

    def grow(self, top: str, *, report: bool, is_root: bool = False, placed: set[int] | None = None) -> None:
        """Watch ``top`` and the directories under it, listing each once its
        watch is in place; with ``report``, every entry found is ADDED. Out
        of watches (``fallback``), the listing still reports. The wds of the
        directories it finds are added to ``placed``."""
        source = self.source
        judge = self.judge
        recursive = self.recursive
        follow = self.follow
        out = self.out
        suppress = self.suppress
        dirs = self.dirs
        stack = [top]
        while stack:
            directory = stack.pop()
            prefix = directory if directory.endswith("/") else directory + "/"
            wd = -1
            if not self.fallback:
                wd = source.add_watch(self, directory, follow=follow or (is_root and directory is top))
                if wd >= 0:
                    known = dirs.get(wd)
                    if known is not None and known != prefix:
                        if _same_directory(known, directory):
                            continue  # watched under another path already (a symlink loop, or a second way in)
                        if self.renamed.get(known[:-1]) != directory:
                            moved = self._arrived(known[:-1], directory)
                            if placed is not None:
                                placed.update(moved)
                            continue
                        # A rename read late moved this watch along, but
                        # the directory renamed was another one of this
                        # name, made and renamed before this one: this one
                        # is here, and that one, never watched, is there.
                        self.rename_under(known[:-1], directory)
                        stack.append(known[:-1])
                    dirs[wd] = prefix
                    if placed is not None:
                        placed.add(wd)
                elif not self.fallback:
                    self.missed.add(directory)
                    continue  # gone, unreadable: nothing under it to report
            if self.fallback and not report:
                return  # the start ran out of watches: the tree is polled instead
            if not report and not recursive:
                continue
            try:
                listing = os.scandir(directory)
            except (FileNotFoundError, NotADirectoryError):
                self.missed.add(directory)
                continue  # removed already: its events will say so
            except OSError as exc:
                warn_unreadable(self.warned, directory, exc)
                if wd >= 0:
                    source.release(self, wd)
                continue
            with listing:
                if not report:
                    # At the start only directories matter: files are not tracked.
                    for entry in listing:
                        try:
                            if not entry.is_dir(follow_symlinks=follow):
                                continue
                        except OSError:
                            continue
                        path = entry.path
                        if judge(entry.name, path, True) != SKIP:
                            stack.append(path)
                            if follow and entry.is_symlink():
                                self.links.add(path)
                    continue
                for entry in listing:
                    try:
                        is_dir = entry.is_dir(follow_symlinks=follow)
                    except OSError:
                        continue
                    path = entry.path
                    verdict = judge(entry.name, path, is_dir)
                    if verdict == SKIP:
                        continue
                    suppress.add(path)
                    if verdict == REPORT:
                        out.append(FileChange(Change.ADDED, path, is_dir))
                    if is_dir and recursive and (wd >= 0 or not entry.is_symlink()):
                        # (without a watch, no wd tells a symlink loop: the
                        # polling that takes over looks through the links)
                        stack.append(path)
                        if follow and entry.is_symlink():
                            self.links.add(path)

    def drop_under(self, directory: str) -> None:
        """Release the watches of ``directory`` and of everything under it."""
        prefix = directory if directory.endswith("/") else directory + "/"
        for wd in [wd for wd, path in self.dirs.items() if path.startswith(prefix)]:
            self.source.release(self, wd)
        if self.links:
            self.links.difference_update([link for link in self.links if link.startswith(prefix)])

    def _arrived(self, old: str, new: str) -> list[int]:
        """The directory watched as ``old`` is found at ``new``: it was moved
        into a directory whose watch was not in place yet (``mkdir new &&
        mv old new/``), so only its MOVED_FROM is queued. It is a MOVED, its
        watches go with it, and that MOVED_FROM is no move out. Returns the
        wds that went with it."""
        moved = self.rename_under(old, new)
        self.arrived.add(old)
        judge = self.judge
        old_verdict = judge(os.path.basename(old), old, True)
        verdict = judge(os.path.basename(new), new, True)
        if old_verdict == REPORT and verdict == REPORT:
            self.out.append(FileChange(Change.MOVED, new, True, old))
        elif old_verdict == REPORT:
            self.out.append(FileChange(Change.DELETED, old, True))
        elif verdict == REPORT:
            self.out.append(FileChange(Change.ADDED, new, True))
        return moved

    def _grow_missed(self, old: str, new: str) -> None:
        """The directory ``old`` moved to ``new``: the new directories under
        it (or it) that were gone when their watch was to be placed had
        moved with it (``mkdir tmp && fill tmp && mv tmp final``). Watch and
        list them where they are now."""
        prefix = old + "/"
        for lost in [path for path in self.missed if path == old or path.startswith(prefix)]:
            self.missed.discard(lost)
            self.grow(new + lost[len(old) :], report=True)

    def rename_under(self, old: str, new: str) -> list[int]:
        """The directory ``old`` is ``new`` now: so is everything under it.
        Returns the wds renamed."""
        prefix = old + "/"
        cut = len(old)
        dirs = self.dirs
        moved = [wd for wd, path in dirs.items() if path.startswith(prefix)]
        for wd in moved:
            dirs[wd] = new + dirs[wd][cut:]
        links = self.links
        for link in [link for link in links if link.startswith(prefix)] if links else ():
            links.discard(link)
            links.add(new + link[cut:])
        return moved

    # -- events ---------------------------------------------------------------

    def event(self, wd: int, mask: int, cookie: int, raw_name: bytes) -> None:
        if self.moves and not (mask & IN_MOVED_TO and cookie in self.moves):
            # A rename's MOVED_TO comes right after its MOVED_FROM: anything
            # else first means the entry left the tree, before what follows
            # (a new file or directory under the same name, the same
            # directory moved back).
            self.settle_moves()
        if wd == self.anchor:
            if raw_name == self.root_name:
                self._root_event(mask)
            elif not raw_name and mask & _GONE_SELF:
                self._anchor_lost(wd)
            if wd not in self.dirs:
                return
        prefix = self.dirs.get(wd)
        if prefix is None:
            return
        if not raw_name:
            if mask & _GONE_SELF and prefix == self.root_prefix and self.anchor < 0:
                self.root_gone()
            return
        name = raw_name.decode(_ENCODING, _ERRORS)
        path = prefix + name
        is_dir = bool(mask & IN_ISDIR)
        link = False
        if self.follow and not is_dir and not mask & _WRITTEN:
            # A symlink to a directory is one, followed.
            if mask & _APPEARS:
                link = is_dir = os.path.isdir(path)
                if link:
                    self.links.add(path)
            elif path in self.links:
                link = is_dir = True
                self.links.discard(path)
        verdict = self.judge(name, path, is_dir)
        if mask & _WRITTEN:
            if verdict == REPORT and not is_dir and (mask & IN_MODIFY or _touched(path)):
                self.out.append(FileChange(Change.MODIFIED, path, False))
        elif mask & IN_CREATE:
            if verdict == SKIP:
                return
            if path in self.suppress:
                self.suppress.discard(path)
                return
            if verdict == REPORT:
                self.out.append(FileChange(Change.ADDED, path, is_dir))
            if is_dir and self.recursive:
                self.grow(path, report=True)
        elif mask & IN_DELETE:
            self.suppress.discard(path)
            self.missed.discard(path)
            if verdict == REPORT:
                self.out.append(FileChange(Change.DELETED, path, is_dir))
            if link:
                self.drop_under(path)  # its target stays, and its watches with it
        elif mask & IN_MOVED_FROM:
            self.suppress.discard(path)
            if path in self.arrived:
                self.arrived.discard(path)  # reported as MOVED already
                return
            self.moves[cookie] = (path, is_dir, verdict)
        elif mask & IN_MOVED_TO:
            self._moved_in(path, is_dir, verdict, self.moves.pop(cookie, None))

    def _moved_in(self, path: str, is_dir: bool, verdict: int, origin: tuple[str, bool, int] | None) -> None:
        out = self.out
        if origin is None or origin[2] == SKIP:
            # From outside the tree (or from a path it skips).
            if verdict == SKIP:
                return
            if origin is not None and not is_dir:
                # A file written under a skipped name (an editor's temporary
                # file) and renamed to its real name: an atomic save.
                if verdict == REPORT:
                    out.append(FileChange(Change.MODIFIED, path, False))
                return
            if verdict == REPORT:
                out.append(FileChange(Change.ADDED, path, is_dir))
            if is_dir and self.recursive:
                self.grow(path, report=True)
            return
        old_path, _, old_verdict = origin
        if verdict == SKIP:
            self._moved_out(old_path, is_dir, old_verdict)
            return
        if old_verdict == REPORT and verdict == REPORT:
            out.append(FileChange(Change.MOVED, path, is_dir, old_path))
        elif old_verdict == REPORT:
            out.append(FileChange(Change.DELETED, old_path, is_dir))
        elif verdict == REPORT:
            out.append(FileChange(Change.ADDED, path, is_dir))
        if is_dir and self.recursive:
            self.rename_under(old_path, path)
            self.renamed[path] = old_path
            if self.missed:
                self._grow_missed(old_path, path)

    def _moved_out(self, path: str, is_dir: bool, verdict: int) -> None:
        if verdict == REPORT:
            self.out.append(FileChange(Change.DELETED, path, is_dir))
        if is_dir and verdict != SKIP:
            self.drop_under(path)

    def settle_moves(self) -> None:
        """The queue is read: a MOVED_FROM still unpaired left the tree."""
        moves = self.moves
        while moves:
            _, (path, is_dir, verdict) = moves.popitem()
            self._moved_out(path, is_dir, verdict)

    # -- the root -------------------------------------------------------------

    def ignored(self, wd: int) -> None:
        """The kernel dropped the watch (its directory is gone, or was
        unmounted); the source has forgotten it already."""
        if wd == self.anchor:
            self.anchor = -1
            self.root_gone()
            self.source.poll_for_root(self.w)
        prefix = self.dirs.pop(wd, None)
        if prefix == self.root_prefix and self.anchor < 0:
            self.root_gone()

    def _root_event(self, mask: int) -> None:
        if mask & _WRITTEN:
            if self.present and not self.root_is_dir and (mask & IN_MODIFY or _touched(self.root)):
                self.out.append(FileChange(Change.MODIFIED, self.root, False))
        elif mask & _APPEARS:
            if mask & IN_CREATE and self.root in self.suppress:
                self.suppress.discard(self.root)  # root_back found it already
                return
            if self.present:
                self.root_gone()  # replaced: gone, and back at once
            self.root_back()
        elif mask & _DISAPPEARS:
            self.root_gone()

    def root_gone(self) -> None:
        if not self.present:
            return
        self.present = False
        self.out.append(FileChange(Change.DELETED, self.root, self.root_is_dir))
        for wd in list(self.dirs):
            self.source.release(self, wd)
        self.moves.clear()
        self.suppress.clear()
        self.missed.clear()
        self.arrived.clear()
        self.renamed.clear()
        if self.anchor < 0:
            self.source.poll_for_root(self.w)

    def root_back(self) -> bool:
        """Look for the root; if it is there, report it and watch it."""
        if self.present:
            return True
        try:
            st = os.stat(self.root)
        except OSError:
            return False
        self.present = True
        self.root_is_dir = _isdir(st)
        self.suppress.add(self.root)
        self.out.append(FileChange(Change.ADDED, self.root, self.root_is_dir))
        if self.root_is_dir:
            self.grow(self.root, report=True, is_root=True)
        return True

    def _anchor_lost(self, wd: int) -> None:
        """The root's parent was deleted or moved away: so was the root."""
        self.anchor = -1
        self.source.release(self, wd)
        self.root_gone()
        self.source.poll_for_root(self.w)

    def check_root(self) -> None:
        """A poll while the anchor is missing: has the parent, or the root,
        come back? Either ends the polling: the anchor's events, or the
        root's own, tell what happens next."""
        if self.anchor < 0:
            self.place_anchor()
        self.root_back()
        if self.anchor >= 0 or self.present:
            self.source.stop_polling_for_root(self.w)

    # -- a rescan -------------------------------------------------------------

    def rescan(self, since_ns: int) -> None:
        """Events were lost: walk the tree again. New directories are
        reported with everything in them, vanished ones as DELETED, moved
        ones (their watch turns up under another path) as MOVED, and files
        whose inode changed after ``since_ns`` as MODIFIED."""
        if not self.present:
            self.root_back()
            return
        try:
            st = os.stat(self.root)
        except OSError:
            self.root_gone()
            return
        if not _isdir(st):
            if self.root_is_dir:
                self.root_gone()
                self.root_back()
            elif st.st_ctime_ns >= since_ns:
                self.out.append(FileChange(Change.MODIFIED, self.root, False))
            return
        before = dict(self.dirs)
        seen: set[int] = set()
        moved: list[tuple[str, str]] = []  # (old prefix, new prefix) of the directories found moved
        stack = [self.root]
        first = True
        while stack:
            directory = stack.pop()
            prefix = directory if directory.endswith("/") else directory + "/"
            wd = self.source.add_watch(self, directory, follow=self.follow or first)
            first = False
            if wd == -1:
                continue
            if wd in seen:
                continue
            seen.add(wd)
            old_prefix = before.get(wd)
            reported = directory != self.root and self.judge(os.path.basename(directory), directory, True) == REPORT
            if old_prefix is None:
                self.dirs[wd] = prefix
                if reported:
                    self.out.append(FileChange(Change.ADDED, directory, True))
                self.grow(directory, report=True, placed=seen)
                continue
            if old_prefix != prefix:
                implied = any(
                    prefix.startswith(new) and old_prefix == old + prefix[len(new) :] for old, new in moved
                )
                if reported and not implied:
                    self.out.append(FileChange(Change.MOVED, directory, True, old_prefix[:-1]))
                moved.append((old_prefix, prefix))
                self.dirs[wd] = prefix
            try:
                listing = os.scandir(directory)
            except OSError:
                continue
            with listing:
                for entry in listing:
                    try:
                        is_dir = entry.is_dir(follow_symlinks=self.follow)
                        path = entry.path
                        verdict = self.judge(entry.name, path, is_dir)
                        if verdict == SKIP:
                            continue
                        if is_dir:
                            if self.recursive:
                                stack.append(path)
                            continue
                        if verdict == REPORT and entry.stat(follow_symlinks=False).st_ctime_ns >= since_ns:
                            self.out.append(FileChange(Change.MODIFIED, path, False))
                    except OSError:
                        continue
        for wd, prefix in before.items():
            if wd not in seen and wd in self.dirs:
                directory = prefix[:-1]
                if prefix != self.root_prefix and self.judge(os.path.basename(directory), directory, True) == REPORT:
                    self.out.append(FileChange(Change.DELETED, directory, True))
                self.source.release(self, wd)


def _touched(path: str) -> bool:
    """After an attribute change: was it the modification time, set to now
    (``touch``)? The kernel then sets the change time to the same instant,
    as it does on every write; a change of permissions, owner, links or
    access time moves the change time alone. (Polling compares the
    modification time itself.)"""
    try:
        st = os.lstat(path)
    except OSError:
        return False  # gone: its deletion is reported on its own
    return st.st_mtime_ns == st.st_ctime_ns


def _same_directory(a: str, b: str) -> bool:
    try:
        return os.path.samestat(os.stat(a), os.stat(b))
    except OSError:
        return False


def _isdir(st: os.stat_result) -> bool:
    return (st.st_mode & 0o170000) == 0o040000

