"""``Loop.once``: one callback for the first of an fd event or a timeout."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from .. import _loop
from .base import check_callback, check_time
from .io import Io, check_events, fileno_of
from .timer import Timer

if TYPE_CHECKING:
    from .._loop import Loop


class _Once:
    """Two ordinary referenced watchers; whichever fires first stops both and
    takes the other's pending bits too, so events of one pass combine."""

    __slots__ = ("callback", "io", "timer")

    def __init__(self, callback: Callable[[int], object]) -> None:
        self.callback = callback
        self.io: Io | None = None
        self.timer: Timer | None = None

    def fire(self, w: Any, revents: int) -> None:
        for other in (self.io, self.timer):
            if other is not None and other is not w:
                revents |= other.clear_pending()
                other.stop()
        if w is not None:
            w.stop()
        self.io = self.timer = None
        self.callback(revents)


def start_once(loop: Loop, callback: Callable[[int], object], fd: Any, events: int, timeout: float | None) -> None:
    check_callback(callback)
    if fd is None and timeout is None:
        raise ValueError("once() needs an fd, a timeout, or both")
    loop._check_open()
    once = _Once(callback)
    if fd is not None:
        events = check_events(events)
        once.io = Io(fileno_of(fd), events, once.fire)
    if timeout is not None:
        once.timer = Timer(check_time("timeout", timeout), once.fire)
    if once.io is not None:
        once.io.start(loop)
    if once.timer is not None:
        once.timer.start(loop)


_loop.install_once(start_once)
