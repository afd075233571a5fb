"""Tree: changes anywhere in a directory tree, delivered in batches."""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING, Any, Final

from .._constants import STAT
from .._sources.treechanges import FileChange, fold
from .._sources.treefilter import DEFAULT_IGNORE, Judge, UserFilter, check_patterns, make_judge
from .base import Watcher, check_callback, check_time
from .timer import Timer

if TYPE_CHECKING:
    from .._loop import Loop

# The polling interval when none is given, and the shortest one allowed.
# The odd fraction keeps many watchers from polling together (as Stat's).
DEFAULT_INTERVAL: Final = 1.0074891
MIN_INTERVAL: Final = 0.1
# A batch is delivered at the latest this many quiet periods after its
# first change, however busy the tree stays.
MAX_WINDOW: Final = 10

Filter = str | Iterable[str] | Callable[[str, bool], object] | None


def _check_root(path: object) -> str:
    if isinstance(path, (bytes, bytearray)) or (
        isinstance(path, os.PathLike) and isinstance(os.fspath(path), bytes)
    ):
        raise TypeError("Tree paths are str: pass os.fsdecode(path) for a bytes path")
    if not isinstance(path, (str, os.PathLike)):
        raise TypeError(f"path must be str or os.PathLike[str], not {type(path).__name__}")
    path = os.fspath(path)
    if not isinstance(path, str):
        raise TypeError("os.fspath(path) must give str")
    if "\0" in path:
        raise ValueError("path must not contain a NUL character")
    if not path:
        raise ValueError("path must not be empty")
    return os.path.abspath(path)


def _check_bool(name: str, value: object) -> bool:
    if not isinstance(value, bool):
        raise TypeError(f"{name} must be a bool, not {type(value).__name__}")
    return value


def _check_filter(value: object) -> tuple[str, ...] | UserFilter | None:
    if value is None or callable(value):
        return value
    return check_patterns("filter", value)


def _deliver(w: Tree, revents: int) -> None:
    """The callback the loop calls: the batch becomes ``w.changes`` for the
    user's callback."""
    w._changes, w._incoming = w._incoming, []
    w._user_callback(w, revents)


class Tree(Watcher):
    """Calls back with batches of changes anywhere under ``path``: files and
    directories added, modified, deleted and moved.

    In the callback (``revents`` is ``ev.STAT``), ``w.changes`` is the batch:
    a list of ``ev.FileChange(change, path, is_dir, old_path)``, with
    ``change`` an ``ev.Change`` (ADDED, MODIFIED, DELETED, MOVED;
    ``old_path`` is set for MOVED only). Paths are absolute and ``str``.

    - ``path``: the root, a directory (a file root watches that one file;
      a symlink root is followed). It must exist when the watcher starts
      (``FileNotFoundError`` otherwise) and be readable.
    - ``recursive``: False watches the root's own entries only.
    - ``filter``: glob patterns (a str or several) of the paths to report,
      matched against the name, or with a ``/`` against the path relative to
      the root; directories are looked into either way. Or a callable
      ``filter(path, is_dir) -> bool``: False skips the path and, for a
      directory, everything under it.
    - ``ignore``: glob patterns of paths to skip altogether, besides the
      defaults (``Tree.DEFAULT_IGNORE``: version control, caches, editors'
      swap and backup files; ``default_ignore=False`` drops them).
    - ``coalesce``: seconds of quiet; with it, changes are collected until
      the tree has been quiet that long (at most ten times that after the
      first), then delivered as one batch: an editor's atomic save is one
      MODIFIED. With 0 (the default) each batch is what one read of the
      kernel's queue (or one poll) brought, delivered in the same loop
      iteration. Either way a batch is folded to its net effect per path.
    - ``follow_symlinks``: False (the default) reports symlinks as entries
      and never descends through them; True descends, and a directory
      reached twice (a symlink loop) is watched once.
    - ``interval``: seconds between polls where the tree is polled (0: the
      default, 1.0074891 s; at least 0.1 s).

    What the changes mean: MODIFIED is a file's contents written, its
    modification time set to now (touch) or a file renamed over it, never
    a change of permissions, owner, links or access time, and never a
    directory. A directory that appears is reported with everything in it;
    one moved within the tree is one MOVED. A file renamed onto a path from
    a temporary file of the same batch, or from a skipped name, is MODIFIED
    of that path. Only changes after ``start()`` are reported.

    Mechanisms: inotify, one watch per directory, on a local filesystem;
    polling (a scandir snapshot of every entry's inode, size and mtime,
    compared at each poll) with ``Loop(inotify=False)``, on network and
    FUSE filesystems, or once the inotify watch limit is reached (with a
    warning). ``mechanism`` says which ("inotify", "polling"; None while
    inactive). A queue overflow rescans, with a warning: new, vanished and
    moved directories and changed files are reported then, files deleted
    in a remaining directory are not. An unreadable directory under the
    root is skipped with a warning.

    The root deleted or moved away is reported (DELETED for the root); the
    watcher stays active and waits for the root to come back, which is
    reported as ADDED for the root and for everything in it. Stop the
    watcher in the callback to end there instead.
    """

    __slots__ = (
        "_path",
        "_recursive",
        "_filter",
        "_ignore",
        "_default_ignore",
        "_coalesce",
        "_follow_symlinks",
        "_interval",
        "_judge",
        "_user_callback",
        "_changes",
        "_incoming",
        "_window",
        "_window_start",
        "_settle",
        "_poller",
        "_mechanism",
    )

    DEFAULT_IGNORE: Final = DEFAULT_IGNORE

    def __init__(
        self,
        path: str | os.PathLike[str],
        callback: Callable[[Tree, int], object],
        *,
        recursive: bool = True,
        filter: Filter = None,
        ignore: str | Iterable[str] = (),
        default_ignore: bool = True,
        coalesce: float = 0.0,
        follow_symlinks: bool = False,
        interval: float = 0.0,
        priority: int = 0,
        data: object = None,
    ) -> None:
        super().__init__(callback, priority, data)  # first: it refuses an active watcher
        self._configure(path, recursive, filter, ignore, default_ignore, coalesce, follow_symlinks, interval)
        self._user_callback: Callable[[Tree, int], object] = callback
        self._callback = _deliver
        self._changes: list[FileChange] = []
        self._incoming: list[FileChange] = []
        self._window: list[FileChange] = []
        self._window_start = 0.0
        self._settle: Timer | None = None
        self._poller: Timer | None = None
        self._mechanism: str | None = None

    def _configure(
        self,
        path: object,
        recursive: object,
        filter: object,
        ignore: object,
        default_ignore: object,
        coalesce: object,
        follow_symlinks: object,
        interval: object,
    ) -> None:
        root = _check_root(path)
        recursive = _check_bool("recursive", recursive)
        user_filter = _check_filter(filter)
        ignored = check_patterns("ignore", ignore)
        default_ignore = _check_bool("default_ignore", default_ignore)
        coalesce = check_time("coalesce", coalesce, minimum=0.0)
        follow_symlinks = _check_bool("follow_symlinks", follow_symlinks)
        interval = check_time("interval", interval, minimum=0.0)
        self._judge: Judge = make_judge(root, user_filter, ignored, default_ignore)
        self._path = root
        self._recursive = recursive
        self._filter = user_filter
        self._ignore = ignored
        self._default_ignore = default_ignore
        self._coalesce = coalesce
        self._follow_symlinks = follow_symlinks
        self._interval = interval

    # -- members -----------------------------------------------------------------

    @property
    def callback(self) -> Any:
        """Called as ``callback(watcher, revents)``; may be replaced at any time."""
        return self._user_callback

    @callback.setter
    def callback(self, callback: Any) -> None:
        check_callback(callback)
        self._user_callback = callback

    @property
    def path(self) -> str:
        """The root, made absolute."""
        return self._path

    @property
    def recursive(self) -> bool:
        return self._recursive

    @property
    def filter(self) -> tuple[str, ...] | UserFilter | None:
        """The patterns (as a tuple) or the callable given, or None."""
        return self._filter

    @property
    def ignore(self) -> tuple[str, ...]:
        """The patterns skipped besides the defaults."""
        return self._ignore

    @property
    def default_ignore(self) -> bool:
        return self._default_ignore

    @property
    def coalesce(self) -> float:
        """The quiet period in seconds (0: no coalescing)."""
        return self._coalesce

    @property
    def follow_symlinks(self) -> bool:
        return self._follow_symlinks

    @property
    def interval(self) -> float:
        """The polling interval as given (0: the default)."""
        return self._interval

    @property
    def effective_interval(self) -> float:
        """The polling interval in use: the default for 0, at least 0.1 s."""
        if not self._interval:
            return DEFAULT_INTERVAL
        return max(self._interval, MIN_INTERVAL)

    @property
    def changes(self) -> list[FileChange]:
        """The batch of the current (or last) callback."""
        return self._changes

    @property
    def mechanism(self) -> str | None:
        """"inotify" or "polling" while active, else None."""
        return self._mechanism

    def set(
        self,
        path: str | os.PathLike[str],
        *,
        recursive: bool = True,
        filter: Filter = None,
        ignore: str | Iterable[str] = (),
        default_ignore: bool = True,
        coalesce: float = 0.0,
        follow_symlinks: bool = False,
        interval: float = 0.0,
    ) -> None:
        """Change what the constructor set; only while inactive."""
        self._require_inactive("set a Tree watcher")
        self._configure(path, recursive, filter, ignore, default_ignore, coalesce, follow_symlinks, interval)

    # -- life cycle ------------------------------------------------------------

    def _start(self, loop: Loop) -> None:
        self._changes = []
        self._incoming = []
        self._window = []
        loop._tree_source().add(self)

    def _stop(self, loop: Loop) -> None:
        loop._tree_source().remove(self)
        if self._settle is not None:
            self._settle.stop()
        self._window = []
        self._incoming = []

    # -- what the source calls ----------------------------------------------------

    def _push(self, changes: list[FileChange]) -> None:
        """Changes seen by the source, in the order seen."""
        loop = self._loop
        if not self._active or loop is None:
            return
        if not self._coalesce:
            folded = fold(changes)
            if folded:
                self._incoming.extend(folded)
                loop._queue(self, STAT)
            return
        settle = self._settle
        if settle is None or settle.priority != self.priority:
            settle = self._settle = Timer(0.0, self._settled, repeat=self._coalesce, priority=self.priority)
            settle.keepalive = False
        window = self._window
        now = time.monotonic()
        if not window:
            self._window_start = now
            settle.repeat = self._coalesce
            settle.again(loop)
        elif now - self._window_start < MAX_WINDOW * self._coalesce:
            settle.again(loop)
        window.extend(changes)

    def _settled(self, timer: Timer, revents: int) -> None:
        timer.stop()
        window, self._window = self._window, []
        loop = self._loop
        if not self._active or loop is None:
            return
        folded = fold(window)
        if folded:
            self._incoming.extend(folded)
            loop._queue(self, STAT)

    def _poll_every_interval(self, loop: Loop) -> None:
        interval = self.effective_interval
        poller = self._poller
        if poller is None or poller.priority != self.priority:
            poller = self._poller = Timer(interval, self._on_poll, repeat=interval, priority=self.priority)
            poller.keepalive = False
        elif poller.is_active:
            return
        else:
            poller.set(interval, interval)
        poller.start(loop)

    def _stop_polling(self) -> None:
        if self._poller is not None:
            self._poller.stop()

    def _on_poll(self, timer: Timer, revents: int) -> None:
        loop = self._loop
        if self._active and loop is not None:
            loop._tree_source().poll(self)

    def _describe(self) -> str:
        return f"path={self._path!r} "
