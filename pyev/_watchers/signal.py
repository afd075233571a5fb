"""Signal: a Unix signal arrived (libev's ``ev_signal``)."""

from __future__ import annotations

import signal as _signal
from collections.abc import Callable
from typing import TYPE_CHECKING

from .base import Watcher, check_int

if TYPE_CHECKING:
    from .._loop import Loop

_UNCATCHABLE = {_signal.SIGKILL, _signal.SIGSTOP}


def check_signum(signum: object) -> int:
    signum = check_int("signum", signum)
    if not 0 < signum < _signal.NSIG:
        raise ValueError(f"signal number {signum} is out of range 1..{_signal.NSIG - 1}")
    if signum in _UNCATCHABLE:
        raise ValueError(f"signal {signum} cannot be caught")
    return signum


class Signal(Watcher):
    """Calls back when signal ``signum`` arrives.

    Any number of watchers may watch one signal, on one loop at a time:
    starting one on a second loop while the first has an active watcher for
    that signal raises ``ev.Error``. Repeated signals before the loop gets to
    them give one callback. The first watcher of a signal must be started
    from the main thread. While a signal is watched pyev's handler replaces
    the previous one; it is restored when the last watcher stops.
    """

    __slots__ = ("_signum",)

    def __init__(
        self,
        signum: int,
        callback: Callable[[Signal, int], object],
        *,
        priority: int = 0,
        data: object = None,
    ) -> None:
        self._signum = check_signum(signum)
        super().__init__(callback, priority, data)

    @property
    def signum(self) -> int:
        return self._signum

    def set(self, signum: int) -> None:
        """Change the signal; only while inactive."""
        self._require_inactive("set a Signal watcher")
        self._signum = check_signum(signum)

    def _start(self, loop: Loop) -> None:
        loop._signal_source().add(self)

    def _stop(self, loop: Loop) -> None:
        loop._signal_source().remove(self)

    def _describe(self) -> str:
        return f"signum={self._signum} "
