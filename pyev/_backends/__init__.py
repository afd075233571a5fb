"""Backends: the kernel readiness interfaces a loop polls with.

A backend hears only "fd, old mask, new mask" and answers a poll with a flat
list ``[fd, mask, fd, mask, ...]`` in pyev's READ/WRITE bits; it never sees a
watcher. A mask with the ERROR bit means the fd is not open (or cannot be
watched) and its watchers must be stopped with an error.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Protocol

from .. import _linux
from .._constants import Backend


class BackendImpl(Protocol):
    kind: Backend

    def modify(self, fd: int, old: int, new: int, reopened: bool) -> None:
        """Change the kernel interest in ``fd`` from ``old`` to ``new``.

        ``reopened`` says the fd number may now name a different file than
        when ``old`` was registered. Raises ``OSError`` when the fd cannot be
        watched (closed, out of kernel resources).
        """

    @property
    def poll(self) -> Callable[[float], list[int]]:
        """Wait up to ``timeout`` seconds (0: do not block). Read as an
        attribute, so a backend may point it straight at its fastest path."""

    def fileno(self) -> int:
        """The fd that becomes readable when events are ready (-1 if none)."""

    def reinit(self) -> None:
        """Rebuild kernel state in a forked child, re-registering every fd."""

    def close(self) -> None: ...


def supported() -> Backend:
    kinds = Backend.POLL
    if _linux.AVAILABLE:
        kinds |= Backend.EPOLL
    return kinds


def recommended() -> Backend:
    return supported()


def embeddable() -> Backend:
    return supported() & Backend.EPOLL


def create(kind: Backend | None) -> BackendImpl:
    """The backend ``kind``, or the best recommended one when None."""
    if kind is None:
        kind = Backend.EPOLL if Backend.EPOLL in recommended() else Backend.POLL
    if kind == Backend.EPOLL and Backend.EPOLL in supported():
        from ._epoll import EpollBackend

        return EpollBackend()
    if kind == Backend.POLL:
        from ._poll import PollBackend

        return PollBackend()
    raise ValueError(f"backend {kind!r} is not supported here (supported: {supported()!r})")
