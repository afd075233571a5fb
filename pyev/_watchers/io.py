"""Io: readiness of a file descriptor (libev's ``ev_io``)."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from .._constants import READ, WRITE
from .._core import IoBase
from .base import Watcher, check_int

if TYPE_CHECKING:
    from .._loop import Loop


_FD_MAX = 2**31 - 1  # a C int, as the kernel's


def fileno_of(fd: Any) -> int:
    """An fd number from an int or an object with ``fileno()``."""
    if isinstance(fd, bool):
        raise TypeError("fd must be an int or have fileno(), not bool")
    if not isinstance(fd, int):
        fileno = getattr(fd, "fileno", None)
        if fileno is None:
            raise TypeError(f"fd must be an int or have fileno(), not {type(fd).__name__}")
        fd = fileno()
        if not isinstance(fd, int):
            raise TypeError("fileno() must return an int")
    if not 0 <= fd <= _FD_MAX:
        raise ValueError(f"fd must be in 0..{_FD_MAX}, not {fd}")
    return fd


def check_events(events: object) -> int:
    events = check_int("events", events)
    if events.__class__ is not int:
        # An Events member (ev.READ): work with its plain int (IntFlag
        # arithmetic is slow), which is also what ``events`` gives back.
        events = int(events)
    if events & ~(READ | WRITE):
        raise ValueError(f"events must be a combination of READ and WRITE, not {events:#x}")
    return events


class Io(IoBase, Watcher):
    """Calls back when ``fd`` is readable (``READ``) and/or writable (``WRITE``).

    Level-triggered: the callback runs in every iteration while the
    condition holds. ``fd`` is an int or an object with ``fileno()``.
    ``events`` may be changed at any time; it takes effect from the next
    poll. Starting on a closed fd delivers ``ERROR`` (with the watched bits)
    in the next iteration and stops the watcher.
    """

    __slots__ = ()  # _fd, _events: in the C base

    def __init__(
        self,
        fd: Any,
        events: int,
        callback: Callable[[Io, int], object],
        *,
        priority: int = 0,
        data: object = None,
    ) -> None:
        self._fd = fileno_of(fd)
        self._events = check_events(events)
        super().__init__(callback, priority, data)

    @property
    def fd(self) -> int:
        return self._fd

    @property
    def events(self) -> int:
        """READ, WRITE or both; settable also while active."""
        return self._events

    @events.setter
    def events(self, events: int) -> None:
        events = check_events(events)
        if events != self._events:
            self._events = events
            if self._active:
                assert self._loop is not None
                self._loop._fdtable.touch(self._fd)

    def set(self, fd: Any, events: int) -> None:
        """Change fd and events; only while inactive."""
        self._require_inactive("set an Io watcher")
        fd = fileno_of(fd)
        self._events = check_events(events)
        self._fd = fd

    def _start(self, loop: Loop) -> None:
        loop._fdtable.add(self)

    def _stop(self, loop: Loop) -> None:
        loop._fdtable.remove(self)

    def _describe(self) -> str:
        return f"fd={self._fd} events={self._events:#x} "
