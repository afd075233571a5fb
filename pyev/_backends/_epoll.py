"""The Linux backend: epoll through the cffi shim.

Facts that shape it (see libev's manual on epoll):
- A registration belongs to the open file, not the fd number. If a file
  stays open elsewhere (a dup, a child) after its fd is closed and the
  number reused, the old registration keeps reporting under that number.
  Each ADD therefore stores a per-fd generation beside the fd; events from
  an older generation are dropped by the shim and the whole set is rebuilt
  on the next poll, which removes the orphan.
- epoll refuses regular files (EPERM). Like libev we treat such an fd as
  always ready for whatever is watched, and never block while one is.
- After fork both processes share the epoll set: the child builds a new one.
"""

from __future__ import annotations

import errno
import os
from collections.abc import Callable

from .. import _linux
from .._constants import ERROR, READ, WRITE, Backend

_ADD = _linux.EPOLL_CTL_ADD
_MOD = _linux.EPOLL_CTL_MOD
_DEL = _linux.EPOLL_CTL_DEL


def _kernel_mask(mask: int) -> int:
    return (_linux.EPOLLIN if mask & READ else 0) | (_linux.EPOLLOUT if mask & WRITE else 0)


class EpollBackend:
    kind = Backend.EPOLL

    def __init__(self) -> None:
        self._waiter = _linux.EpollWaiter(_linux.epoll_create())
        self._waiter.on_stale = self._use_slow_poll
        # fd -> mask registered (or held in _files), 0 if none: one byte per
        # fd number instead of a dict entry (memory_io benchmark), up to
        # DENSE_FDS; larger fds in a dict, so that memory follows the fds
        # watched (an Io on fd 2**31-1 costs one entry, not 2 GiB).
        self._masks = bytearray()
        self._far_masks: dict[int, int] = {}
        self._generation = 0  # the last handed out: each registration gets a new one
        self._files: dict[int, int] = {}  # fd -> mask, for fds epoll refused (EPERM)
        self._broken: list[int] = []  # fds found unusable during a rebuild
        # The usual case calls the shim directly (ping-pong benchmark); files,
        # broken fds and stale events switch to _slow_poll until resolved.
        self.poll: Callable[[float], list[int]] = self._waiter.poll
        # The loop's C code polls through the waiter directly while `fast`.
        self._waiter.fast = True

    def _mask_of(self, fd: int) -> int:
        if fd < len(self._masks):
            return self._masks[fd]
        return self._far_masks.get(fd, 0)

    def _set_mask(self, fd: int, mask: int) -> None:
        masks = self._masks
        if fd < len(masks):
            masks[fd] = mask
        elif fd < _linux.DENSE_FDS:
            masks.extend(bytes(min(max(fd + 1 - len(masks), len(masks)), _linux.DENSE_FDS - len(masks))))
            masks[fd] = mask
        elif mask:
            self._far_masks[fd] = mask
        else:
            self._far_masks.pop(fd, None)
        if not mask:
            self._waiter.forget_generation(fd)

    def _registered(self) -> list[tuple[int, int]]:
        """(fd, mask) for every fd with a registration."""
        found = [(fd, mask) for fd, mask in enumerate(self._masks) if mask]
        found.extend(self._far_masks.items())
        return found

    def _use_slow_poll(self) -> None:
        self.poll = self._slow_poll
        self._waiter.fast = False

    @property
    def c_waiter(self) -> _linux.EpollWaiter:
        return self._waiter

    def fileno(self) -> int:
        return self._waiter.epfd

    def _register(self, fd: int, mask: int) -> None:
        gen = self._generation = self._generation % 0xFFFFFFFF + 1  # never 0: "none"
        self._waiter.set_generation(fd, gen)
        data = fd | gen << 32
        try:
            _linux.epoll_ctl(self._waiter.epfd, _ADD, fd, _kernel_mask(mask), data)
        except OSError as exc:
            if exc.errno == errno.EEXIST:
                _linux.epoll_ctl(self._waiter.epfd, _MOD, fd, _kernel_mask(mask), data)
            elif exc.errno == errno.EPERM:
                self._files[fd] = mask
                self._use_slow_poll()
            else:
                raise

    def modify(self, fd: int, old: int, new: int, reopened: bool) -> None:
        if self._waiter.epfd < 0:
            return  # closed
        self._files.pop(fd, None)
        if not new:
            if self._mask_of(fd):
                self._set_mask(fd, 0)
                try:
                    _linux.epoll_ctl(self._waiter.epfd, _DEL, fd, 0, 0)
                except OSError:
                    pass  # already gone with its file: nothing to remove
            return
        fresh = reopened or not self._mask_of(fd)
        self._set_mask(fd, new)
        try:
            if fresh:
                self._register(fd, new)
                return
            try:
                _linux.epoll_ctl(self._waiter.epfd, _MOD, fd, _kernel_mask(new), fd | self._waiter.generation(fd) << 32)
            except OSError as exc:
                if exc.errno != errno.ENOENT:
                    raise
                self._register(fd, new)  # the file was closed and the number reopened
        except OSError:
            self._set_mask(fd, 0)  # not registered: keep nothing for it
            raise

    def _slow_poll(self, timeout: float) -> list[int]:
        waiter = self._waiter
        if waiter.stale:
            self._rebuild()
        if self._files or self._broken:
            timeout = 0.0
        result = waiter.poll(timeout)
        if not (self._files or waiter.stale):
            self.poll = waiter.poll
            waiter.fast = True
        if self._files:
            for fd, mask in self._files.items():
                result.append(fd)
                result.append(mask)
        if self._broken:
            for fd in self._broken:
                result.append(fd)
                result.append(ERROR | READ | WRITE)
            self._broken.clear()
        return result

    def _rebuild(self) -> None:
        epfd = _linux.epoll_create()  # first: if it fails, the old set stays ours
        os.close(self._waiter.epfd)
        self._waiter.epfd = epfd
        self._waiter.stale = False
        for fd, mask in self._registered():
            if fd in self._files:
                continue
            try:
                self._register(fd, mask)
            except OSError:
                self._set_mask(fd, 0)
                self._broken.append(fd)

    def reinit(self) -> None:
        self._rebuild()

    def close(self) -> None:
        if self._waiter.epfd >= 0:
            os.close(self._waiter.epfd)
            self._waiter.epfd = -1
        self._masks = bytearray()
        self._far_masks.clear()
        self._files.clear()
