"""Async: wake a loop from another thread or a signal handler (``ev_async``)."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from .._core import AsyncBase
from .base import ListedWatcher

if TYPE_CHECKING:
    from .._loop import Loop


class Async(AsyncBase, ListedWatcher):
    """Calls back in the loop's thread after ``send()``.

    ``send()`` may be called from any thread or from a signal handler; it
    never blocks, and any number of sends before the loop notices give one
    callback. A send to an inactive watcher is lost (``start`` clears it),
    and a send on a closed loop does nothing.
    """

    __slots__ = ()  # _sent: in the C base, whose send() is the hot path

    def __init__(self, callback: Callable[[Async, int], object], *, priority: int = 0, data: object = None) -> None:
        super().__init__(callback, priority, data)
        self._sent = False

    @property
    def sent(self) -> bool:
        """True from ``send()`` until the loop has noticed it (False inside
        the callback)."""
        return self._sent

    if TYPE_CHECKING:  # send() is AsyncBase's, in C (async_send benchmark)

        def send(self) -> None:
            """Wake the loop and have the callback called there (coalescing).
            Safe from any thread and from signal handlers; never blocks."""

    def _list(self, loop: Loop) -> list[Any]:
        return loop._asyncs

    def _start(self, loop: Loop) -> None:
        loop._get_wakeup()
        self._sent = False
        super()._start(loop)
