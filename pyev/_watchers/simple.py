"""The loop-phase watchers, which take no arguments: Idle, Prepare, Check,
Fork and Cleanup (libev's ``ev_idle`` ... ``ev_cleanup``)."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from .base import ListedWatcher

if TYPE_CHECKING:
    from .._loop import Loop


class Idle(ListedWatcher):
    """Calls back once per iteration when nothing of equal or higher
    priority is pending. While any Idle watcher is active the loop polls
    without blocking."""

    __slots__ = ()

    def __init__(self, callback: Callable[[Idle, int], object], *, priority: int = 0, data: object = None) -> None:
        super().__init__(callback, priority, data)

    def _list(self, loop: Loop) -> list[Any]:
        return loop._idles[self._pidx]

    def _start(self, loop: Loop) -> None:
        super()._start(loop)
        loop._idle_count += 1

    def _stop(self, loop: Loop) -> None:
        super()._stop(loop)
        loop._idle_count -= 1


class Prepare(ListedWatcher):
    """Calls back in every iteration just before the loop polls; changes
    made here apply to that poll."""

    __slots__ = ()

    def __init__(
        self, callback: Callable[[Prepare, int], object], *, priority: int = 0, data: object = None
    ) -> None:
        super().__init__(callback, priority, data)

    def _list(self, loop: Loop) -> list[Any]:
        return loop._prepares


class Check(ListedWatcher):
    """Calls back in every iteration right after the poll, before the
    other watchers of its priority that were queued in that iteration."""

    __slots__ = ()

    def __init__(self, callback: Callable[[Check, int], object], *, priority: int = 0, data: object = None) -> None:
        super().__init__(callback, priority, data)

    def _list(self, loop: Loop) -> list[Any]:
        return loop._checks


class Fork(ListedWatcher):
    """Calls back once in the first iteration after the loop learned of a
    fork (``Loop.fork()``, ``forkcheck=True``, or the default loop in a
    child), before prepare watchers and before the kernel state is rebuilt."""

    __slots__ = ()

    def __init__(self, callback: Callable[[Fork, int], object], *, priority: int = 0, data: object = None) -> None:
        super().__init__(callback, priority, data)

    def _list(self, loop: Loop) -> list[Any]:
        return loop._forks


class Cleanup(ListedWatcher):
    """Calls back when its loop is closed, before anything is torn down.
    Never keeps ``run`` alive."""

    __slots__ = ()
    _counts_as_active = False

    def __init__(
        self, callback: Callable[[Cleanup, int], object], *, priority: int = 0, data: object = None
    ) -> None:
        super().__init__(callback, priority, data)

    def _list(self, loop: Loop) -> list[Any]:
        return loop._cleanups
