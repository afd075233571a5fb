"""pyev: a libev-style event loop with typed watchers.

    import pyev as ev

    def timeout(w: ev.Timer, revents: int) -> None:
        print("5.5 seconds passed")

    ev.Timer(5.5, timeout).start()
    ev.default_loop().run()
"""

from __future__ import annotations

from typing import Final

from . import _backends
from ._clock import sleep, time
from ._constants import (
    BREAK_ALL,
    BREAK_CANCEL,
    BREAK_ONE,
    MAXPRI,
    MINPRI,
    RUN_NOWAIT,
    RUN_ONCE,
    Backend,
    Error,
    Events,
)
from ._loop import Loop, default_loop
from ._sources.treechanges import Change, FileChange
from ._watchers.async_ import Async
from ._watchers.base import Watcher
from ._watchers.child import Child
from ._watchers.embed import Embed
from ._watchers.io import Io
from ._watchers.once import start_once as _start_once  # installs Loop.once (see _loop.install_once)
from ._watchers.periodic import Periodic
from ._watchers.signal import Signal
from ._watchers.simple import Check, Cleanup, Fork, Idle, Prepare
from ._watchers.stat import Stat
from ._watchers.timer import Timer
from ._watchers.tree import Tree

__version__: Final = "0.1.0"

# Every Events member is also a module constant: ``ev.READ is ev.Events.READ``.
# (pyev's own hot paths use the plain ints of _constants.)
NONE: Final = Events.NONE
READ: Final = Events.READ
WRITE: Final = Events.WRITE
TIMER: Final = Events.TIMER
PERIODIC: Final = Events.PERIODIC
SIGNAL: Final = Events.SIGNAL
CHILD: Final = Events.CHILD
STAT: Final = Events.STAT
IDLE: Final = Events.IDLE
PREPARE: Final = Events.PREPARE
CHECK: Final = Events.CHECK
EMBED: Final = Events.EMBED
FORK: Final = Events.FORK
CLEANUP: Final = Events.CLEANUP
ASYNC: Final = Events.ASYNC
CUSTOM: Final = Events.CUSTOM
ERROR: Final = Events.ERROR


def supported_backends() -> Backend:
    """The backends this build can use."""
    return _backends.supported()


def recommended_backends() -> Backend:
    """The backends worth using on this system (``Loop()`` picks the best)."""
    return _backends.recommended()


def embeddable_backends() -> Backend:
    """The backends whose loops an ``Embed`` watcher can embed."""
    return _backends.embeddable()


__all__ = [
    "ASYNC",
    "BREAK_ALL",
    "BREAK_CANCEL",
    "BREAK_ONE",
    "CHECK",
    "CHILD",
    "CLEANUP",
    "CUSTOM",
    "EMBED",
    "ERROR",
    "FORK",
    "IDLE",
    "MAXPRI",
    "MINPRI",
    "NONE",
    "PERIODIC",
    "PREPARE",
    "READ",
    "RUN_NOWAIT",
    "RUN_ONCE",
    "SIGNAL",
    "STAT",
    "TIMER",
    "WRITE",
    "Async",
    "Backend",
    "Change",
    "Check",
    "Child",
    "Cleanup",
    "Embed",
    "Error",
    "Events",
    "FileChange",
    "Fork",
    "Idle",
    "Io",
    "Loop",
    "Periodic",
    "Prepare",
    "Signal",
    "Stat",
    "Timer",
    "Tree",
    "Watcher",
    "__version__",
    "default_loop",
    "embeddable_backends",
    "recommended_backends",
    "sleep",
    "supported_backends",
    "time",
]
