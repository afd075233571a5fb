"""The watcher base class and the checks every constructor shares.

Life cycle (libev's): a watcher is created inactive and unbound; ``start``
binds it to a loop and makes it *active*; an event makes it *pending* (queued
for its callback); ``stop`` makes it inactive and not pending. A watcher can
be pending while inactive (fed, or a one-shot timer that just expired).

Slots shared by all watchers:
  _loop       the loop it was last started on or fed to (None before)
  _callback   called as callback(watcher, revents)
  _pidx       priority - MINPRI: the index of its pending and idle level
  _active     started and not stopped
  _revents    None when not pending, else the event bits queued for it
  _keepalive  whether being active holds a reference on the loop
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any, ClassVar, Self

from .._constants import MAXPRI, MINPRI, Error
from .._core import ListedBase, LoopBase, WatcherBase
from .._loop import default_loop

if TYPE_CHECKING:
    from .._loop import Loop


def check_callback(callback: object, *, optional: bool = False) -> None:
    if callback is None and optional:
        return
    if not callable(callback):
        raise TypeError(f"callback must be callable, not {type(callback).__name__}")


def check_time(name: str, value: object, *, minimum: float | None = None) -> float:
    """A finite float from ``value``; below ``minimum`` raises ValueError."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise TypeError(f"{name} must be a number, not {type(value).__name__}")
    value = float(value)
    if not math.isfinite(value):
        raise ValueError(f"{name} must be finite, not {value}")
    if minimum is not None and value < minimum:
        raise ValueError(f"{name} must be >= {minimum}, not {value}")
    return value


def check_int(name: str, value: object) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise TypeError(f"{name} must be an int, not {type(value).__name__}")
    return value


def check_priority(value: object) -> int:
    value = check_int("priority", value)
    if not MINPRI <= value <= MAXPRI:
        raise ValueError(f"priority must be in {MINPRI}..{MAXPRI}, not {value}")
    return value


class Watcher(WatcherBase):
    """Base class of every watcher type.

    ``callback`` is called as ``callback(watcher, revents)``. ``priority``
    (``MINPRI..MAXPRI``) orders callbacks within one invoke pass. ``data`` is
    free for the user.
    """

    # The shared slots live in the C base (pyev/_c/watchers.c), where the hot
    # path reads them directly.
    __slots__ = ()

    # False for watchers that never keep run() alive (Cleanup).
    _counts_as_active: ClassVar[bool] = True

    def __init__(self, callback: Callable[..., object] | None, priority: int, data: object) -> None:
        # The checks' usual outcome is tested inline, the full checks run
        # only to raise (timer churn benchmark: construction dominated it).
        if self._active or self._revents is not None:
            raise Error("cannot re-initialise an active or pending watcher; stop it first")
        if not callable(callback):
            check_callback(callback, optional=self._callback_optional())
        if priority.__class__ is not int or not MINPRI <= priority <= MAXPRI:
            priority = check_priority(priority)
        self._loop: Loop | None = None
        self._callback: Any = callback
        self._pidx = priority - MINPRI
        self._active = False
        self._revents: int | None = None
        self._keepalive = True
        self.data = data

    @classmethod
    def _callback_optional(cls) -> bool:
        return False

    # -- state -----------------------------------------------------------

    @property
    def is_active(self) -> bool:
        """True between ``start`` and ``stop`` (or the loop stopping it)."""
        return self._active

    @property
    def is_pending(self) -> bool:
        """True while an event is queued for the callback."""
        return self._revents is not None

    @property
    def loop(self) -> Loop | None:
        """The loop the watcher was last started on (or fed to)."""
        return self._loop

    @property
    def callback(self) -> Any:
        """Called as ``callback(watcher, revents)``; may be replaced at any time."""
        return self._callback

    @callback.setter
    def callback(self, callback: Any) -> None:
        check_callback(callback, optional=self._callback_optional())
        self._callback = callback

    @property
    def priority(self) -> int:
        """``MINPRI..MAXPRI``; may be set only while inactive and not pending."""
        return self._pidx + MINPRI

    @priority.setter
    def priority(self, value: int) -> None:
        pidx = check_priority(value) - MINPRI
        if self._active or self._revents is not None:
            raise Error("cannot change the priority of an active or pending watcher")
        self._pidx = pidx

    @property
    def keepalive(self) -> bool:
        """Whether this watcher keeps ``run`` alive while active (default True)."""
        return self._keepalive

    @keepalive.setter
    def keepalive(self, value: bool) -> None:
        if not isinstance(value, bool):
            raise TypeError(f"keepalive must be a bool, not {type(value).__name__}")
        if value != self._keepalive:
            self._keepalive = value
            if self._active and self._counts_as_active:
                assert self._loop is not None
                self._loop._activecnt += 1 if value else -1

    # -- starting and stopping -------------------------------------------

    def _bind(self, loop: Loop | None) -> Loop | None:
        """Common start checks. Returns the loop to start on, or None when
        the watcher is already active there (start does nothing then)."""
        if loop is None:
            loop = default_loop()
        elif not isinstance(loop, LoopBase):
            raise TypeError(f"loop must be a pyev.Loop or None, not {type(loop).__name__}")
        if self._active:
            if loop is self._loop:
                return None
            raise Error(f"{type(self).__name__} is active on another loop")
        if loop._closed:
            raise Error("cannot start a watcher on a closed loop")
        if self._revents is not None and loop is not self._loop:
            raise Error(f"{type(self).__name__} is pending on another loop")
        self._loop = loop
        return loop

    # _activate and _deactivate are Python's only ways to make a watcher
    # active or inactive: with its keepalive, an active watcher counts once in
    # its loop's _activecnt (invariant L1; watcher_set_active and
    # watcher_set_inactive in pyev/_c/core.h are C's).
    def _activate(self, loop: Loop) -> None:
        if self._active:
            return  # a finalizer run by _start's allocations started it already
        self._active = True
        if self._keepalive and self._counts_as_active:
            loop._activecnt += 1

    def _deactivate(self, loop: Loop) -> None:
        self._active = False
        if self._keepalive and self._counts_as_active:
            loop._activecnt -= 1

    def start(self, loop: Loop | None = None) -> Self:
        """Start the watcher on ``loop`` (the default loop when None)."""
        target = self._bind(loop)
        if target is not None:
            self._start(target)
            self._activate(target)
        return self

    def _start(self, loop: Loop) -> None:
        raise NotImplementedError

    def stop(self) -> None:
        """Stop the watcher and clear its pending state; no-op if inactive."""
        loop = self._loop
        if self._revents is not None:
            assert loop is not None
            loop._unpend(self)
        if self._active:
            assert loop is not None
            self._stop(loop)
            self._deactivate(loop)

    def _stop(self, loop: Loop) -> None:
        raise NotImplementedError

    def _require_inactive(self, what: str) -> None:
        if self._active:
            raise Error(f"cannot {what} while the watcher is active; stop it first")

    # -- events ----------------------------------------------------------

    def clear_pending(self) -> int:
        """Forget a queued event; return its revents (0 if none was queued)."""
        if self._revents is None:
            return 0
        assert self._loop is not None
        return self._loop._unpend(self)

    def invoke(self, revents: int) -> None:
        """Call the callback now with ``revents``."""
        check_int("revents", revents)
        if self._callback is not None:
            self._callback(self, revents)

    def feed(self, revents: int, loop: Loop | None = None) -> None:
        """Make the watcher pending with ``revents`` on ``loop`` (else the
        loop it was last started on, else the default loop)."""
        check_int("revents", revents)
        if revents < 0:
            raise ValueError(f"revents must be >= 0, not {revents}")
        if loop is None:
            loop = self._loop if self._loop is not None else default_loop()
        elif not isinstance(loop, LoopBase):
            raise TypeError(f"loop must be a pyev.Loop or None, not {type(loop).__name__}")
        if loop is not self._loop and (self._active or self._revents is not None):
            raise Error(f"{type(self).__name__} is active or pending on another loop")
        loop._check_open()
        self._loop = loop
        loop._queue(self, revents)

    def __repr__(self) -> str:
        state = "active" if self._active else "inactive"
        if self._revents is not None:
            state += ", pending"
        return f"<pyev.{type(self).__name__} {self._describe()}{state}>"

    def _describe(self) -> str:
        return ""


class ListedWatcher(ListedBase, Watcher):
    """A watcher kept in one of its loop's lists (O(1) start and stop: the
    last entry moves into the stopped watcher's place)."""

    __slots__ = ()  # _index: in the C base

    def __init__(self, callback: Callable[..., object] | None, priority: int, data: object) -> None:
        super().__init__(callback, priority, data)
        self._index = -1

    def _list(self, loop: Loop) -> list[Any]:
        raise NotImplementedError

    def _start(self, loop: Loop) -> None:
        group = self._list(loop)
        self._index = len(group)
        group.append(self)

    def _stop(self, loop: Loop) -> None:
        group = self._list(loop)
        last = group.pop()
        if last is not self:
            group[self._index] = last
            assert isinstance(last, ListedWatcher)
            last._index = self._index
        self._index = -1
