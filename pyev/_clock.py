"""``ev.time`` and ``ev.sleep``."""

from __future__ import annotations

import time as _time

from ._watchers.base import check_time


def time() -> float:
    """The wall-clock time, in seconds since the epoch."""
    return _time.time()


def sleep(seconds: float) -> None:
    """Sleep for ``seconds``; a non-positive value returns at once."""
    seconds = check_time("seconds", seconds)
    if seconds > 0:
        _time.sleep(seconds)
