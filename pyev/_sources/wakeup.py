"""The loop's wake-up fd: how Async.send reaches a loop from any thread.

An eventfd (close-on-exec, nonblocking) registered as a loop hook. ``notify``
writes to it at most once until the loop has seen it (``armed``), so a storm
of sends costs one system call per loop iteration, and it never blocks.
Like libev, it does not write at all while the loop is running but not
blocked in its poll: the loop looks at ``armed`` before it polls (and then
does not block) and after (signals benchmark: two system calls less per
signal). The loop sets ``_polling`` before that look, under the GIL, so a
notify either comes before the look or sees ``_polling`` and writes.

Why no wake-up is lost: a sender first sets its own flag (``Async._sent``)
and then calls ``notify``; the loop first clears ``armed`` and then scans the
flags. Either the scan sees the flag, or the sender saw ``armed`` cleared and
writes again, which wakes the next poll. Under the GIL each step is atomic;
from a Python signal handler, which may run between any two of the loop's
bytecodes, the same argument holds.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Callable
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from .._loop import Loop


class Wakeup:
    __slots__ = ("_loop", "fd", "armed", "written", "listeners", "_fd_lock")

    def __init__(self, loop: Loop) -> None:
        self._loop = loop
        # Held while the fd number is written to or closed: a send from
        # another thread must never write to a file that took the number of
        # an eventfd the loop just closed. Re-entrant: a Python signal
        # handler may notify in the middle of close() in the same thread.
        self._fd_lock = threading.RLock()
        self.armed = False
        self.written = False  # the eventfd holds a count to read
        self.listeners: list[Callable[[], None]] = []
        self.fd = os.eventfd(0, os.EFD_CLOEXEC | os.EFD_NONBLOCK)
        loop._add_hook(self.fd, self._on_ready)

    def notify(self) -> None:
        """Wake the loop. Safe from any thread and from signal handlers."""
        if not self.armed:
            self.armed = True
            loop = self._loop
            if loop._polling or not loop._depth:
                self._write()

    def _write(self) -> None:
        with self._fd_lock:
            fd = self.fd
            if fd >= 0:
                self.written = True
                try:
                    os.eventfd_write(fd, 1)
                except OSError:
                    pass  # counter full: cannot be, it is drained

    def _on_ready(self) -> None:
        # Only drain: the loop takes an armed wake-up once per iteration,
        # after every hook has run (two takes in one iteration would let a
        # source collect its next event before the last was dispatched).
        if self.written:
            self.written = False
            try:
                os.eventfd_read(self.fd)
            except (BlockingIOError, OSError):
                pass

    def take(self) -> None:
        """The loop saw ``armed``: reset it and queue what the flags say."""
        self._on_ready()  # drain, if written
        self.armed = False
        self.run_listeners()

    def run_listeners(self) -> None:
        """Queue whatever the flags say (in the loop's thread)."""
        loop = self._loop
        if loop._asyncs:
            loop._scan_asyncs()
        for listener in self.listeners:
            listener()

    def after_fork(self) -> None:
        """The eventfd is shared with the parent: make our own, and look at
        every flag once so that nothing sent around the fork is missed."""
        loop = self._loop
        loop._remove_hook(self.fd)
        fd = os.eventfd(0, os.EFD_CLOEXEC | os.EFD_NONBLOCK)  # first: if it fails, nothing changed
        with self._fd_lock:
            os.close(self.fd)
            self.fd = fd
        loop._add_hook(self.fd, self._on_ready)
        self.written = False
        self.armed = True
        self._write()

    def close(self) -> None:
        with self._fd_lock:
            fd, self.fd = self.fd, -1
            if fd >= 0:
                os.close(fd)
