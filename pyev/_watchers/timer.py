"""Timer: relative timeouts on the monotonic clock (libev's ``ev_timer``)."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Self

from .._core import TimerBase
from .base import Watcher, check_callback, check_priority, check_time

if TYPE_CHECKING:
    from .._loop import Loop


class Timer(TimerBase, Watcher):
    """Calls back ``after`` seconds from the loop's ``now()``, then every
    ``repeat`` seconds if ``repeat`` > 0.

    Deadlines are measured on the monotonic clock and a timer fires only
    once the elapsed time is strictly greater than asked, so never early.
    A repeating timer that falls behind fires once per iteration, with no
    burst of catch-up calls. ``start()`` always arms ``after`` seconds from
    ``now()``, also after ``stop()`` (libev resumes the remainder instead).
    """

    __slots__ = ()  # _after, _repeat, _at, _hindex: in the C base

    # __init__ is TimerBase's, in C (timer churn benchmark: construction
    # dominated it); it checks the usual argument types inline and calls
    # _checked_args for anything else, which raises or normalises.
    if TYPE_CHECKING:

        def __init__(
            self,
            after: float,
            callback: Callable[[Timer, int], object],
            *,
            repeat: float = 0.0,
            priority: int = 0,
            data: object = None,
        ) -> None: ...

    @staticmethod
    def _checked_args(after: object, callback: object, repeat: object, priority: object) -> tuple[float, float, int]:
        check_callback(callback)
        return check_time("after", after), check_time("repeat", repeat, minimum=0.0), check_priority(priority)

    @property
    def after(self) -> float:
        """The delay the next ``start()`` arms."""
        return self._after

    @property
    def repeat(self) -> float:
        """The period after the first expiry (0: one-shot); settable at any
        time, it applies from the next expiry or ``again()``."""
        return self._repeat

    @repeat.setter
    def repeat(self, value: float) -> None:
        self._repeat = check_time("repeat", value, minimum=0.0)

    def set(self, after: float, repeat: float = 0.0) -> None:
        """Change ``after`` and ``repeat``; only while inactive."""
        self._require_inactive("set a Timer")
        after = check_time("after", after)
        self._repeat = check_time("repeat", repeat, minimum=0.0)
        self._after = after

    @property
    def remaining(self) -> float:
        """Seconds until the timer fires (the configured ``after`` when inactive)."""
        if self._active:
            assert self._loop is not None
            return self._at - self._loop._mn_now
        return self._after

    # start() and stop() are TimerBase's, in C (timer churn benchmark);
    # the cases they do not handle themselves go to Watcher.start. The
    # declarations below are for the type checker and the API reference.
    _start_general = Watcher.start

    if TYPE_CHECKING:

        def start(self, loop: Loop | None = None) -> Self:
            """Arm the timer ``after`` seconds from the loop's ``now()`` (on the
            default loop when ``loop`` is None)."""

        def stop(self) -> None:
            """Disarm the timer and clear its pending state."""

    def _start(self, loop: Loop) -> None:
        loop._timers.arm(self, loop._mn_now + self._after)

    def _stop(self, loop: Loop) -> None:
        loop._timers.disarm(self)

    def again(self, loop: Loop | None = None) -> None:
        """libev's ``ev_timer_again``: clear a pending event; then an active
        timer with ``repeat`` > 0 is re-armed ``repeat`` seconds from now,
        one with ``repeat`` 0 is stopped; an inactive one with ``repeat`` > 0
        is started with deadline now + ``repeat``."""
        if self._active:
            if loop is not None and loop is not self._loop:
                from .._constants import Error

                raise Error("Timer is active on another loop")
            target = self._loop
            assert target is not None
            if self._revents is not None:
                target._unpend(self)
            if self._repeat:
                target._timers.arm(self, target._mn_now + self._repeat)
            else:
                self.stop()
            return
        if loop is None:
            loop = self._loop
        if self._revents is not None:
            self.clear_pending()
        if self._repeat:
            bound = self._bind(loop)
            assert bound is not None
            bound._timers.arm(self, bound._mn_now + self._repeat)
            self._activate(bound)

    def _describe(self) -> str:
        return f"after={self._after} repeat={self._repeat} "
