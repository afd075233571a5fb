# Types of the C hot path (pyev/_c/). The Python classes derive from
# these bases and share their fields by name.
#
# The seam: every name the C code looks up in Python is declared here, as an
# abstract method of the base class whose Python subclass implements it, or
# as a member of a Protocol for the other objects C calls (backends, the
# epoll waiter's owner, the wake-up).
# tests/loop/test_core_seam.py reads the C sources and checks that each name
# is declared here and resolves on every implementer.
from abc import abstractmethod
from collections.abc import Callable, Iterable
from typing import Any, Protocol

from ._backends import BackendImpl
from ._loop import Loop

class WatcherBase:
    _loop: Any
    _callback: Any
    _revents: int | None
    data: object
    _pidx: int
    _active: bool
    _keepalive: bool

class DeadlineBase(WatcherBase):
    _at: float  # settable only while out of a heap
    @property
    def _hindex(self) -> int: ...

class TimerBase(DeadlineBase):
    _after: float
    _repeat: float
    # Called by C: start() on an unusual path (no loop given, active, pending
    # elsewhere, a closed loop) goes through the general Python start.
    @abstractmethod
    def _start_general(self, loop: Loop | None, /) -> TimerBase: ...
    # Called by C from __init__: validates and converts the arguments.
    @staticmethod
    @abstractmethod
    def _checked_args(after: object, callback: object, repeat: object, priority: object, /) -> tuple[float, float, int]: ...
    # start() and stop() are declared on pyev.Timer

class PeriodicBase(DeadlineBase):
    # Called by C once the periodic's time has passed, the watcher already
    # out of its heap: arm it at its next time, or stop it; True to queue
    # its event.
    @abstractmethod
    def _fired(self, loop: Loop, /) -> bool: ...

class IoBase(WatcherBase):
    _fd: int
    _events: int

class DeadlineHeap:
    def __len__(self) -> int: ...
    def arm(self, watcher: DeadlineBase, deadline: float, /) -> None: ...
    def disarm(self, watcher: DeadlineBase, /) -> None: ...
    def next_deadline(self) -> float | None: ...
    def live(self) -> list[Any]: ...
    def shift(self, delta: float, /) -> None: ...
    def verify(self) -> None: ...

class ListedBase(WatcherBase):
    _index: int

class AsyncBase(ListedBase):
    _sent: bool
    # send() is declared on pyev.Async

class FdTableBase:
    def __init__(self, backend: BackendImpl, /) -> None: ...
    @property
    def backend(self) -> BackendImpl: ...
    @property
    def changes(self) -> list[int]: ...
    def add(self, w: IoBase, /) -> None: ...
    def remove(self, w: IoBase, /) -> None: ...
    def touch(self, fd: int, /) -> None: ...
    def flush(self) -> list[int]: ...
    def reregister_all(self) -> None: ...
    def watchers(self, fd: int, /) -> tuple[Any, ...]: ...
    def forget(self, fd: int, /) -> None: ...
    def all_watchers(self) -> list[Any]: ...
    def snapshot(self) -> list[tuple[int, tuple[Any, ...], int, bool, bool]]: ...

class CWaiterOwner(Protocol):
    """The epoll backend's C waiter, as the loop's C poll uses it."""

    def c_addresses(self) -> tuple[int, int]: ...
    def _unusual(self, n: int, /) -> list[int]: ...

class WakeupHooks(Protocol):
    """The loop's wake-up (pyev/_sources/wakeup.py), as C uses it."""

    armed: bool
    def notify(self) -> None: ...
    def take(self) -> None: ...

class LoopBase:
    _pending: list[list[Any]]
    _idles: list[list[Any]]
    _prepares: list[Any]
    _checks: list[Any]
    _forks: list[Any]
    _timers: DeadlineHeap
    _periodics: DeadlineHeap
    _fdtable: FdTableBase
    _hooks: dict[int, Callable[[], None]]
    _backend: BackendImpl
    _wakeup: WakeupHooks | None
    _activecnt: int
    _idle_count: int
    _iteration: int
    _mn_now: float
    _rt_now: float
    _rt_offset: float
    _rt_checked: float
    _last_poll: float
    _io_collect: float
    _timeout_collect: float
    _pid: int
    _break: int
    _closed: bool
    _forkcheck: bool
    _fork_unseen: bool
    _postfork: bool
    @property
    def _polling(self) -> bool: ...
    def _set_c_waiter(self, waiter: CWaiterOwner, /) -> None: ...
    def _queue(self, w: WatcherBase, revents: int, /) -> None: ...
    def _queue_all(self, watchers: list[Any], revents: int, /) -> None: ...
    def _unpend(self, w: WatcherBase, /) -> int: ...
    def _run_iterations(self, flags: int, /) -> None: ...
    def _update_time(self) -> None: ...
    # Block signums in the loop's thread while a poll may block; if it
    # reports fd (their signalfd), call reader before unblocking them.
    def _mask_signals(self, signums: Iterable[int], fd: int, reader: Callable[[], None] | None, /) -> None: ...
    # -- implemented by pyev.Loop, called by the C iteration ------------
    @abstractmethod
    def fork(self) -> None: ...
    @abstractmethod
    def _rebuild_after_fork(self) -> None: ...
    @abstractmethod
    def _flush_fd_changes(self) -> None: ...
    @abstractmethod
    def _read_wall_clock(self, mn: float, /) -> None: ...
    @abstractmethod
    def _kill_fd(self, fd: int, /) -> None: ...
