"""Periodic: wall-clock schedules (libev's ``ev_periodic``).

Three modes, chosen from the fields each time the watcher is scheduled:
  absolute  interval 0, no reschedule: fire once when the wall clock passes
            ``offset``, then stop. Left alone by clock jumps.
  interval  interval > 0: fire at the next ``offset + N * interval`` strictly
            after now. Missed periods are skipped, never replayed, and the
            schedule stays aligned to ``offset`` across clock jumps.
  manual    ``reschedule(watcher, now)`` returns the next time.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import TYPE_CHECKING, Final

from .._constants import Error
from .._core import PeriodicBase
from .base import Watcher, check_callback, check_time

if TYPE_CHECKING:
    from .._loop import Loop

# Shortest period used in the schedule arithmetic, so that a tiny interval
# cannot spin the loop (libev's MIN_INTERVAL).
MIN_INTERVAL: Final = 1.0 / 8192


def next_aligned(offset: float, interval: float, now: float) -> float:
    """The smallest ``offset + N * interval`` strictly greater than ``now``,
    in O(1) for any finite offset (libev's periodic_recalc).

    The offset is first reduced modulo the interval (``math.fmod`` is exact):
    the schedule is the same, and an offset far from now can then neither
    overflow the quotient nor lose the alignment to cancellation (leaving
    the estimate below far behind ``now``)."""
    interval = max(interval, MIN_INTERVAL)
    base = math.fmod(offset, interval)
    at = base + interval * math.floor((now - base) / interval)
    while at <= now:  # the estimate errs low by a step at most
        step = at + interval
        if step == at:  # now is beyond the interval's resolution: libev uses now
            return now
        at = step
    if not math.isfinite(at):
        raise ValueError(f"no float is offset {offset} + N * interval {interval} and after {now}")
    return at


class Periodic(PeriodicBase, Watcher):
    """Calls back at wall-clock times: once at ``offset`` (``interval`` 0),
    at every ``offset + N * interval``, or whenever ``reschedule(watcher,
    now)`` says. ``offset``, ``interval`` and ``reschedule`` may be set at
    any time and apply at the next scheduling or ``again()``.
    """

    # _at (the next time) and _hindex (its place in the loop's periodic
    # heap, a DeadlineHeap as for Timers): in the C base.
    __slots__ = ("_offset", "_interval", "_reschedule")

    def __init__(
        self,
        offset: float,
        callback: Callable[[Periodic, int], object],
        *,
        interval: float = 0.0,
        reschedule: Callable[[Periodic, float], float] | None = None,
        priority: int = 0,
        data: object = None,
    ) -> None:
        offset = check_time("offset", offset)
        interval = check_time("interval", interval, minimum=0.0)
        check_callback(reschedule, optional=True)
        super().__init__(callback, priority, data)
        self._offset, self._interval, self._reschedule = offset, interval, reschedule
        self._at = offset

    @property
    def offset(self) -> float:
        return self._offset

    @offset.setter
    def offset(self, value: float) -> None:
        self._offset = check_time("offset", value)

    @property
    def interval(self) -> float:
        return self._interval

    @interval.setter
    def interval(self, value: float) -> None:
        self._interval = check_time("interval", value, minimum=0.0)

    @property
    def reschedule(self) -> Callable[[Periodic, float], float] | None:
        return self._reschedule

    @reschedule.setter
    def reschedule(self, value: Callable[[Periodic, float], float] | None) -> None:
        check_callback(value, optional=True)
        self._reschedule = value

    @property
    def at(self) -> float:
        """The wall-clock time of the next (or, once stopped, the last) trigger."""
        return self._at

    def set(
        self,
        offset: float,
        interval: float = 0.0,
        reschedule: Callable[[Periodic, float], float] | None = None,
    ) -> None:
        """Change all three fields; only while inactive."""
        self._require_inactive("set a Periodic")
        offset = check_time("offset", offset)
        interval = check_time("interval", interval, minimum=0.0)
        check_callback(reschedule, optional=True)
        self._offset, self._interval, self._reschedule = offset, interval, reschedule

    def _next_time(self, now: float) -> float:
        if self._reschedule is not None:
            at = self._reschedule(self, now)
            if isinstance(at, bool) or not isinstance(at, (int, float)):
                raise TypeError(f"reschedule must return a float, not {type(at).__name__}")
            if not math.isfinite(at):
                raise ValueError(f"reschedule must return a finite time, not {at}")
            if at < now:
                # libev asserts; looping on it would spin run() for ever
                raise ValueError(f"reschedule must not return a time before now ({now}), not {at}")
            return float(at)
        if self._interval:
            return next_aligned(self._offset, self._interval, now)
        return self._offset

    def _start(self, loop: Loop) -> None:
        loop._periodics.arm(self, self._next_time(loop._rt_now))

    def _stop(self, loop: Loop) -> None:
        loop._periodics.disarm(self)

    def _fired(self, loop: Loop) -> bool:
        """Called by the C iteration once the watcher's time has passed, with
        the watcher already out of the heap: a one-shot stops, the others are
        armed at their next time. Returns whether to queue the event: not for
        a watcher its reschedule callback stopped. If the schedule raises,
        the watcher is stopped and the error propagates (no event)."""
        if self._reschedule is None and not self._interval:
            self._deactivate(loop)
            return True
        try:
            at = self._next_time(loop._rt_now)
        except BaseException:
            if self._active and self._hindex < 0:
                self._deactivate(loop)
            raise
        if not self._active:
            return False  # the reschedule callback stopped it
        if self._hindex < 0:  # not restarted by the reschedule callback
            loop._periodics.arm(self, at)
        return True

    def _reschedule_time(self, loop: Loop) -> None:
        """Recompute the schedule after a clock jump or ``Loop.resume``
        (absolute mode is left alone); a pending event stays pending. If the
        schedule raises, the watcher stops (still pending if it was) and the
        error propagates."""
        if self._reschedule is None and not self._interval:
            return
        try:
            at = self._next_time(loop._rt_now)
        except BaseException:
            loop._periodics.disarm(self)
            self._deactivate(loop)
            raise
        if self._active and self._hindex >= 0:
            loop._periodics.arm(self, at)

    def again(self, loop: Loop | None = None) -> None:
        """Stop and start again, recomputing the schedule from the fields."""
        if self._active and loop is not None and loop is not self._loop:
            raise Error("Periodic is active on another loop")
        target = loop if loop is not None else self._loop
        self.stop()
        self.start(target)

    def _describe(self) -> str:
        return f"at={self._at} "
