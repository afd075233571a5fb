# Types of the C hot path (pyev/_c/). The Python classes derive from
# these bases and share their fields by name.
from typing import Any

from ._backends import BackendImpl

class WatcherBase:
    _loop: Any
    _callback: Any
    _revents: int | None
    data: object
    _pidx: int
    _active: bool
    _keepalive: bool

class TimerBase(WatcherBase):
    _after: float
    _repeat: float
    @property
    def _at(self) -> float: ...
    @property
    def _hindex(self) -> int: ...
    # start() and stop() are declared on pyev.Timer

class IoBase(WatcherBase):
    _fd: int
    _events: int

class TimerHeap:
    def __len__(self) -> int: ...
    def arm(self, timer: TimerBase, deadline: float, /) -> None: ...
    def disarm(self, timer: TimerBase, /) -> None: ...
    def next_deadline(self) -> float | None: ...
    def live(self) -> list[Any]: ...
    def shift(self, delta: float, /) -> None: ...
    def verify(self) -> None: ...

class ListedBase(WatcherBase):
    _index: int

class AsyncBase(ListedBase):
    _sent: bool
    # send() is declared on pyev.Async

class HeapBase:
    heap: list[tuple[float, int, Any]]
    dead: int
    _seq: int
    def push(self, deadline: float, watcher: Any, /) -> tuple[float, int, Any]: ...
    def forget(self) -> None: ...
    def next_deadline(self) -> float | None: ...

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

class LoopBase:
    _pending: list[list[Any]]
    _idles: list[list[Any]]
    _prepares: list[Any]
    _checks: list[Any]
    _forks: list[Any]
    _timers: TimerHeap
    _periodics: Any
    _fdtable: Any
    _hooks: dict[int, Any]
    _backend: BackendImpl
    _wakeup: Any
    _poll_mask: frozenset[int]
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
    _masked_fd: int
    @property
    def _polling(self) -> bool: ...
    def _set_c_waiter(self, waiter: Any, /) -> None: ...
    def _queue(self, w: Any, revents: int, /) -> None: ...
    def _queue_all(self, watchers: list[Any], revents: int, /) -> None: ...
    def _unpend(self, w: Any, /) -> int: ...
    def _run_iterations(self, flags: int, /) -> None: ...
    def _update_time(self) -> None: ...
