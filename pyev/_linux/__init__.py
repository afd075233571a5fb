"""The one door to the kernel.

This package is the only importer of the compiled cffi module. Every function
here takes and returns ints and bytes and raises ``OSError`` with the call's
errno; nothing here knows about loops or watchers. Calls the standard library
already wraps (``os.eventfd``, ``os.pidfd_open``, ``signal.pthread_sigmask``,
``select.poll``) are used from there, not duplicated.
"""

from __future__ import annotations

import errno as _errno
import os
import struct
from collections.abc import Callable
from typing import Final

try:
    from ._kernel import ffi, lib
except ImportError:  # pragma: no cover - only on a platform without the build
    _built = False
else:
    _built = True

AVAILABLE: Final = _built


def _nothing() -> None:
    pass


def _fail(rc: int) -> OSError:
    code = -rc
    return OSError(code, os.strerror(code))


# -- epoll -----------------------------------------------------------------

EPOLL_CTL_ADD: Final = lib.EPOLL_CTL_ADD if AVAILABLE else 1
EPOLL_CTL_DEL: Final = lib.EPOLL_CTL_DEL if AVAILABLE else 2
EPOLL_CTL_MOD: Final = lib.EPOLL_CTL_MOD if AVAILABLE else 3
EPOLLIN: Final = lib.EPOLLIN if AVAILABLE else 1
EPOLLOUT: Final = lib.EPOLLOUT if AVAILABLE else 4


def epoll_create() -> int:
    """A new close-on-exec epoll fd."""
    rc = lib.pyev_epoll_create()
    if rc < 0:
        raise _fail(rc)
    return rc


def epoll_ctl(epfd: int, op: int, fd: int, events: int, data: int) -> None:
    rc = lib.pyev_epoll_ctl(epfd, op, fd, events, data)
    if rc < 0:
        raise _fail(rc)


class EpollWaiter:
    """epoll_wait with buffers allocated once.

    ``poll(timeout)`` returns a flat list ``[fd0, mask0, fd1, mask1, ...]``,
    each mask already in pyev's READ/WRITE bits. Registrations carry a
    generation per fd (``set_generation``); events from an outdated
    registration are dropped and set ``stale`` until the caller rebuilds the
    set. EINTR returns an empty list: the caller goes back to Python, which
    runs signal handlers (so Ctrl-C raises KeyboardInterrupt), and then
    recomputes its timeout.
    """

    __slots__ = ("stale", "on_stale", "_w", "_buf", "_out", "_view", "_gens", "_far_fds", "_far_gens")

    def __init__(self, epfd: int, capacity: int = 64) -> None:
        self._w = ffi.new("struct pyev_waiter *")
        self._w.epfd = epfd
        self.stale = False
        self.on_stale: Callable[[], None] = _nothing
        self._gens = ffi.new("uint32_t[]", 64)
        self._w.gens = self._gens
        self._w.ngens = 64
        self._far_fds = self._far_gens = ffi.NULL
        self._resize(capacity)

    @property
    def epfd(self) -> int:
        return int(self._w.epfd)

    @epfd.setter
    def epfd(self, fd: int) -> None:
        self._w.epfd = fd

    @property
    def fast(self) -> bool:
        """Whether the loop's C code may call pyev_epoll_wait itself."""
        return bool(self._w.fast)

    @fast.setter
    def fast(self, value: bool) -> None:
        self._w.fast = 1 if value else 0

    def c_addresses(self) -> tuple[int, int]:
        """The addresses of the waiter struct and of pyev_epoll_wait, for
        pyev._core (which must keep this object alive while it uses them)."""
        return (
            int(ffi.cast("uintptr_t", self._w)),
            int(ffi.cast("uintptr_t", ffi.addressof(lib, "pyev_epoll_wait"))),
        )

    def _resize(self, capacity: int) -> None:
        self._buf = ffi.new("struct epoll_event[]", capacity)
        self._out = ffi.new("int32_t[]", 2 * capacity)
        self._view = memoryview(ffi.buffer(self._out)).cast("i")
        self._w.buf, self._w.out, self._w.capacity = self._buf, self._out, capacity

    def generation(self, fd: int) -> int:
        """The generation of fd's registration (0 if none); kept in C memory
        only (memory_io benchmark), see waiter.h."""
        return int(lib.pyev_generation(self._w, fd))

    def set_generation(self, fd: int, gen: int) -> None:
        ngens = self._w.ngens
        if fd < ngens:
            self._gens[fd] = gen
        elif fd < DENSE_FDS:
            size = min(max(fd + 1, 2 * ngens), DENSE_FDS)
            grown = ffi.new("uint32_t[]", size)
            ffi.memmove(grown, self._gens, 4 * ngens)
            grown[fd] = gen
            self._gens = grown
            self._w.gens, self._w.ngens = grown, size
        elif lib.pyev_far_put(self._w, fd, gen) < 0:
            cap = max(16, 4 * (self._w.far_fill + 1))
            cap = 1 << (cap - 1).bit_length()
            fds = ffi.new("int32_t[]", [-1] * cap)
            gens = ffi.new("uint32_t[]", cap)
            lib.pyev_far_move(self._w, fds, gens, cap)
            self._far_fds, self._far_gens = fds, gens
            lib.pyev_far_put(self._w, fd, gen)

    def forget_generation(self, fd: int) -> None:
        """fd is no longer registered: an event still reported for it comes
        from a registration that outlived its removal (the file stayed open
        elsewhere, so the DEL could not reach it) and is flagged stale, which
        rebuilds the set; a large fd's entry is dropped."""
        if fd < self._w.ngens:
            self._gens[fd] = 0
        else:
            lib.pyev_far_remove(self._w, fd)

    def poll(self, timeout: float) -> list[int]:
        n = _epoll_wait(self._w, timeout)
        if not n:
            return []
        if n & ~_WAIT_COUNT:
            return self._unusual(n)
        return self._view[: 2 * n].tolist()

    def _unusual(self, n: int) -> list[int]:
        if n < 0:
            if n == -_errno.EINTR:
                return []
            raise _fail(n)
        if n & lib.PYEV_WAIT_STALE:
            self.stale = True
            self.on_stale()
        ready = self._view[: 2 * (n & _WAIT_COUNT)].tolist()  # before a resize replaces the buffer
        if n & lib.PYEV_WAIT_FULL and self._w.capacity < 65536:
            # More may be waiting: grow so one poll sees everything (as libev).
            self._resize(self._w.capacity * 2)
        return ready


_WAIT_COUNT: Final = lib.PYEV_WAIT_COUNT if AVAILABLE else 0xFFFFFF
DENSE_FDS: Final = lib.PYEV_DENSE_FDS if AVAILABLE else 1024
if AVAILABLE:
    _epoll_wait = lib.pyev_epoll_wait  # hoisted: one lookup less per poll (idle benchmark)


# -- signalfd --------------------------------------------------------------


def signalfd(fd: int, signums: list[int]) -> int:
    """Create (fd == -1) or update a nonblocking close-on-exec signalfd."""
    arr = ffi.new("int[]", signums or [0])
    rc = lib.pyev_signalfd(fd, arr, len(signums))
    if rc < 0:
        raise _fail(rc)
    return rc


def signalfd_read(fd: int) -> list[int]:
    """The signal numbers queued on ``fd`` (empty if none)."""
    buf = ffi.new("int[]", 256)
    rc = lib.pyev_signalfd_read(fd, buf, 256)
    if rc < 0:
        raise _fail(rc)
    return [buf[i] for i in range(rc)]


# -- inotify ---------------------------------------------------------------

if AVAILABLE:
    IN_ATTRIB: Final = lib.IN_ATTRIB
    IN_MODIFY: Final = lib.IN_MODIFY
    IN_CREATE: Final = lib.IN_CREATE
    IN_DELETE: Final = lib.IN_DELETE
    IN_DELETE_SELF: Final = lib.IN_DELETE_SELF
    IN_MOVE_SELF: Final = lib.IN_MOVE_SELF
    IN_MOVED_FROM: Final = lib.IN_MOVED_FROM
    IN_MOVED_TO: Final = lib.IN_MOVED_TO
    IN_CLOSE_WRITE: Final = lib.IN_CLOSE_WRITE
    IN_DONT_FOLLOW: Final = lib.IN_DONT_FOLLOW
    IN_Q_OVERFLOW: Final = lib.IN_Q_OVERFLOW
    IN_IGNORED: Final = lib.IN_IGNORED
    IN_UNMOUNT: Final = lib.IN_UNMOUNT
    IN_ISDIR: Final = lib.IN_ISDIR
    IN_ONLYDIR: Final = lib.IN_ONLYDIR
    IN_EXCL_UNLINK: Final = lib.IN_EXCL_UNLINK


def inotify_init() -> int:
    rc = lib.pyev_inotify_init()
    if rc < 0:
        raise _fail(rc)
    return rc


def inotify_add_watch(fd: int, path: bytes, mask: int) -> int:
    rc = lib.pyev_inotify_add_watch(fd, path, mask)
    if rc < 0:
        raise _fail(rc)
    return rc


def inotify_rm_watch(fd: int, wd: int) -> None:
    rc = lib.pyev_inotify_rm_watch(fd, wd)
    if rc < 0 and rc != -_errno.EINVAL:  # EINVAL: the kernel already dropped it
        raise _fail(rc)


_INOTIFY_EVENT = struct.Struct("iIII")  # wd, mask, cookie, name length
_INOTIFY_READ_SIZE: Final = 65536


def inotify_read(fd: int) -> list[tuple[int, int]]:
    """Read what is queued on ``fd`` (what does not fit waits for the next
    read); (wd, mask) pairs. Plain ``os.read`` and parsing here beat a cffi
    helper that fills arrays (stat latency benchmark: 49 -> 20 us)."""
    try:
        data = os.read(fd, _INOTIFY_READ_SIZE)
    except (BlockingIOError, InterruptedError):
        return []
    events = []
    unpack = _INOTIFY_EVENT.unpack_from
    size = _INOTIFY_EVENT.size
    offset = 0
    while offset + size <= len(data):
        wd, mask, _cookie, name_len = unpack(data, offset)
        events.append((wd, mask))
        offset += size + name_len
    return events


def inotify_read_events(fd: int) -> list[tuple[int, int, int, bytes]]:
    """Read what is queued on ``fd`` (what does not fit waits for the next
    read): (wd, mask, cookie, name) per event, ``name`` without its NUL
    padding (empty for an event on the watched inode itself). An empty list
    when nothing is queued."""
    try:
        data = os.read(fd, _INOTIFY_READ_SIZE)
    except (BlockingIOError, InterruptedError):
        return []
    events = []
    unpack = _INOTIFY_EVENT.unpack_from
    size = _INOTIFY_EVENT.size
    end = len(data)
    offset = 0
    while offset + size <= end:
        wd, mask, cookie, name_len = unpack(data, offset)
        offset += size
        if name_len:
            name = data[offset : offset + name_len]
            cut = name.find(0)
            events.append((wd, mask, cookie, name if cut < 0 else name[:cut]))
            offset += name_len
        else:
            events.append((wd, mask, cookie, b""))
    return events


def statfs_type(path: bytes) -> int:
    """The filesystem magic number (``f_type``) of the filesystem holding ``path``."""
    rc = lib.pyev_statfs_type(path)
    if rc < 0:
        raise _fail(int(rc))
    return int(rc)
