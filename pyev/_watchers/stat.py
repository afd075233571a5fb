"""Stat: a path's attributes changed (libev's ``ev_stat``)."""

from __future__ import annotations

import os
from collections.abc import Callable
from typing import TYPE_CHECKING, Final

from .base import Watcher, check_time
from .timer import Timer

if TYPE_CHECKING:
    from .._loop import Loop

# The polling interval when none is given, and the shortest one allowed.
# The odd fractions keep many watchers from waking together (as libev).
DEFAULT_INTERVAL: Final = 5.0074891
MIN_INTERVAL: Final = 0.1


def _check_path(path: object) -> str | bytes:
    if not isinstance(path, (str, bytes, os.PathLike)):
        raise TypeError(f"path must be str, bytes or os.PathLike, not {type(path).__name__}")
    path = os.fspath(path)
    if not isinstance(path, (str, bytes)):
        raise TypeError("os.fspath(path) must give str or bytes")
    if (isinstance(path, str) and "\0" in path) or (isinstance(path, bytes) and b"\0" in path):
        raise ValueError("path must not contain a NUL character")
    if not path:
        raise ValueError("path must not be empty")
    return path


def _compared(st: os.stat_result | None) -> tuple[int, ...] | None:
    """The fields whose change is an event, with times in nanoseconds."""
    if st is None:
        return None
    return (
        st.st_dev,
        st.st_ino,
        st.st_mode,
        st.st_nlink,
        st.st_uid,
        st.st_gid,
        st.st_rdev,
        st.st_size,
        st.st_atime_ns,
        st.st_mtime_ns,
        st.st_ctime_ns,
    )


class Stat(Watcher):
    """Calls back when the attributes of ``path`` change, including its
    appearance and removal.

    ``attr`` is the latest ``os.stat_result`` (None while the path does not
    exist) and ``prev`` the one before the last change. Symlinks are
    followed: ``attr`` describes the target, and re-pointing the link is a
    change too. Timestamps are compared to the nanosecond, so two writes
    within one second are two changes. On Linux inotify tells pyev when to
    look; elsewhere (``Loop(inotify=False)``, network filesystems, a missing
    parent directory) the path is polled every ``interval`` seconds
    (0: the default, 5.0074891 s; at least 0.1 s).
    """

    __slots__ = ("_path", "_interval", "_attr", "_prev", "_key", "_poller")

    def __init__(
        self,
        path: str | bytes | os.PathLike[str] | os.PathLike[bytes],
        callback: Callable[[Stat, int], object],
        *,
        interval: float = 0.0,
        priority: int = 0,
        data: object = None,
    ) -> None:
        self._path = _check_path(path)
        self._interval = check_time("interval", interval, minimum=0.0)
        self._attr: os.stat_result | None = None
        self._prev: os.stat_result | None = None
        self._key: tuple[int, ...] | None = None
        # Polls the path when inotify cannot tell (the loop's FileSource
        # starts and stops it).
        self._poller: Timer | None = None
        super().__init__(callback, priority, data)

    @property
    def path(self) -> str | bytes:
        return self._path

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
    def attr(self) -> os.stat_result | None:
        """The path's attributes at the last check; None if it did not exist."""
        return self._attr

    @property
    def prev(self) -> os.stat_result | None:
        """The attributes before the last change (None before any change)."""
        return self._prev

    def set(self, path: str | bytes | os.PathLike[str] | os.PathLike[bytes], interval: float = 0.0) -> None:
        """Change path and interval; only while inactive."""
        self._require_inactive("set a Stat watcher")
        path = _check_path(path)
        self._interval = check_time("interval", interval, minimum=0.0)
        self._path = path

    def stat(self) -> os.stat_result | None:
        """Read the attributes now into ``attr``, without a callback; later
        changes are judged against this."""
        self._attr = self._read()
        self._key = _compared(self._attr)
        return self._attr

    def _read(self) -> os.stat_result | None:
        try:
            return os.stat(self._path)
        except (FileNotFoundError, NotADirectoryError):
            return None
        except OSError:
            return None  # unreadable counts as absent (libev: nlink 0)

    def _refresh(self) -> bool:
        """Stat again; True (and prev/attr updated) if anything changed."""
        attr = self._read()
        key = _compared(attr)
        if key == self._key:
            return False
        self._prev, self._attr, self._key = self._attr, attr, key
        return True

    def _on_poll(self, timer: Timer, revents: int) -> None:
        loop = self._loop
        if self._active and loop is not None:
            loop._file_source().check(self)

    def _start(self, loop: Loop) -> None:
        self.stat()
        interval = self.effective_interval
        poller = self._poller
        if poller is None or poller.priority != self.priority:
            poller = self._poller = Timer(interval, self._on_poll, repeat=interval, priority=self.priority)
            poller.keepalive = False
        else:
            poller.set(interval, interval)
        loop._file_source().add(self)

    def _stop(self, loop: Loop) -> None:
        loop._file_source().remove(self)

    def _describe(self) -> str:
        return f"path={self._path!r} "


