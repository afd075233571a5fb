"""Public constants, flags and the exception type (libev's values)."""

from __future__ import annotations

import enum
from typing import Final


class Error(RuntimeError):
    """Misuse of a loop or watcher state (starting on a closed loop, changing
    an active watcher, starting a watcher that is active on another loop)."""

    # Spelled out so that inspect.signature(ev.Error) works (RuntimeError's
    # own constructor has no readable signature).
    def __init__(self, *args: object) -> None:
        super().__init__(*args)


class Events(enum.IntFlag):
    """Event bits passed to callbacks as ``revents``; libev's values."""

    NONE = 0
    READ = 0x01
    WRITE = 0x02
    TIMER = 0x100
    PERIODIC = 0x200
    SIGNAL = 0x400
    CHILD = 0x800
    STAT = 0x1000
    IDLE = 0x2000
    PREPARE = 0x4000
    CHECK = 0x8000
    EMBED = 0x10000
    FORK = 0x20000
    CLEANUP = 0x40000
    ASYNC = 0x80000
    CUSTOM = 0x1000000
    ERROR = 0x80000000


class Backend(enum.Flag):
    """The kernel interface a loop polls with."""

    EPOLL = 4  # libev's EVBACKEND_EPOLL
    POLL = 2  # libev's EVBACKEND_POLL


# Plain ints for the hot path: IntFlag arithmetic is slow.
NONE: Final = 0
READ: Final = 0x01
WRITE: Final = 0x02
TIMER: Final = 0x100
PERIODIC: Final = 0x200
SIGNAL: Final = 0x400
CHILD: Final = 0x800
STAT: Final = 0x1000
IDLE: Final = 0x2000
PREPARE: Final = 0x4000
CHECK: Final = 0x8000
EMBED: Final = 0x10000
FORK: Final = 0x20000
CLEANUP: Final = 0x40000
ASYNC: Final = 0x80000
CUSTOM: Final = 0x1000000
ERROR: Final = 0x80000000

RUN_NOWAIT: Final = 1
RUN_ONCE: Final = 2

BREAK_CANCEL: Final = 0
BREAK_ONE: Final = 1
BREAK_ALL: Final = 2

MINPRI: Final = -2
MAXPRI: Final = 2
NUMPRI: Final = MAXPRI - MINPRI + 1
