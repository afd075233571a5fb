"""The event loop: lifecycle, run/break_, time, references, feeding, verify.

One iteration of ``run`` is ``iterate`` in pyev/_c/iterate.c, a list of
phase calls set beside libev's outline of ``ev_run``; the phase list lives
there only. The rare phases call back into this class (``fork``,
``_flush_fd_changes``, ``_read_wall_clock``, ...: the abstract methods of
``LoopBase`` in pyev/_core.pyi). docs/internals.md draws the layers and
follows one event through them.

The pending queue is one list per priority level. A watcher is pending iff
its ``_revents`` is not None, and then it is listed exactly once, in the list
of its own priority; queueing an event for a pending watcher ORs the bits
into ``_revents``. Invocation takes the highest non-empty level and pops
from its end (last queued, first invoked, as libev), so every phase queues
its watchers in reverse of the order they should run. A callback that
queues anything makes the scan start again from the top level.

Internal event sources (the Async wake-up eventfd, signalfd, inotify, pidfds)
are *hooks*: fds registered with the backend whose handler runs as soon as
the poll reports them, before any user watcher is queued. Their handlers
queue the user watchers (Async, Signal, Child, Stat) directly, so an
internal wake-up never occupies a pending slot and never locks out idle
watchers (libev's quirk, LIBEV_SEMANTICS 3.7, is not copied).

Invariants (checked by ``verify``):
  L1. ``_activecnt`` = active keepalive watchers + ``_refs``.
  L2. Every watcher in ``_pending[i]`` is pending on this loop at priority
      index i, listed once.
  L3. Every list-kept watcher (idle, prepare, check, fork, cleanup, async)
      is active on this loop and sits at its own ``_index``.
  L4. ``_idle_count`` is the number of active idle watchers.
  plus the invariants of the deadline heaps (D1-D3, pyev/_c/heap.c: one
  for Timers, one for Periodics) and of the fd table (F1-F4,
  pyev/_fdtable.py).
"""

from __future__ import annotations

import math
import os
import signal as _signal
import threading
import time as _time
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any, Final

from . import _backends
from ._constants import (
    ASYNC,
    BREAK_ALL,
    BREAK_CANCEL,
    BREAK_ONE,
    CLEANUP,
    ERROR,
    NUMPRI,
    READ,
    RUN_NOWAIT,
    Backend,
    Error,
)
from ._core import DeadlineHeap, ListedBase, LoopBase
from ._fdtable import FdTable
from ._sources import Source, signals
from ._sources.children import ChildSource
from ._sources.embeds import EmbedSource
from ._sources.files import FileSource
from ._sources.signals import SignalSource
from ._sources.trees import TreeSource

if TYPE_CHECKING:
    from ._sources.wakeup import Wakeup
    from ._watchers.async_ import Async
    from ._watchers.base import Watcher

# (The longest single poll, MAX_BLOCKTIME, and how often the wall clock is
# read again, WALL_RECHECK, are the C iteration's: pyev/_c/core.h.)
# A change of the wall-minus-monotonic offset of at least this many seconds
# is a clock jump: periodics are rescheduled (libev's MIN_TIMEJUMP).
MIN_TIMEJUMP: Final = 1.0

_monotonic = _time.monotonic
_walltime = _time.time

Hook = Callable[[], None]


def _check_interval(name: str, value: object) -> float:
    if not isinstance(value, (int, float)):
        raise TypeError(f"{name} must be a number, not {type(value).__name__}")
    value = float(value)
    if not math.isfinite(value) or value < 0:
        raise ValueError(f"{name} must be a finite number >= 0, not {value}")
    return value


class Loop(LoopBase):
    """An event loop (libev's ``ev_loop``).

    ``backend`` picks the kernel interface (an :class:`Backend` member, or
    None for the best available). ``forkcheck=True`` makes the loop notice by
    itself that it runs in a forked child and re-arm. ``signalfd=False`` and
    ``inotify=False`` force the portable signal and file-watching fallbacks.
    A loop is also a context manager that closes it on exit.
    """

    # Fields the iteration reads live in the C base, LoopBase (pyev/_c/iterate.c).
    __slots__ = (
        "data",
        "_cleanups",
        "_asyncs",
        "_refs",
        "_depth",
        "_suspended_at",
        "_is_default",
        "_use_signalfd",
        "_use_inotify",
        "_signals",
        "_children",
        "_files",
        "_trees",
        "_embeds",
        "_closing",
        "__weakref__",
    )
    # LoopBase's fields, with the Python classes that fill them.
    _fdtable: FdTable

    def __init__(
        self,
        *,
        backend: Backend | None = None,
        forkcheck: bool = False,
        signalfd: bool = True,
        inotify: bool = True,
    ) -> None:
        if backend is not None and not isinstance(backend, Backend):
            raise TypeError(f"backend must be an ev.Backend member or None, not {type(backend).__name__}")
        if backend is not None and backend not in (Backend.EPOLL, Backend.POLL):
            raise ValueError(f"backend must be a single ev.Backend member, not {backend!r}")
        for name, flag in (("forkcheck", forkcheck), ("signalfd", signalfd), ("inotify", inotify)):
            if not isinstance(flag, bool):
                raise TypeError(f"{name} must be a bool, not {type(flag).__name__}")
        self.data: object = None
        self._closed = True  # until the backend exists, so __del__ is safe
        self._backend = _backends.create(backend)
        self._fdtable = FdTable(self._backend)
        waiter = getattr(self._backend, "c_waiter", None)
        if waiter is not None:
            self._set_c_waiter(waiter)
        self._hooks: dict[int, Hook] = {}
        self._pending: list[list[Watcher]] = [[] for _ in range(NUMPRI)]
        self._timers = DeadlineHeap()  # monotonic deadlines
        self._periodics = DeadlineHeap()  # wall-clock deadlines
        self._idles: list[list[Watcher]] = [[] for _ in range(NUMPRI)]
        self._idle_count = 0
        self._prepares: list[Watcher] = []
        self._checks: list[Watcher] = []
        self._forks: list[Watcher] = []
        self._cleanups: list[Watcher] = []
        self._asyncs: list[Async] = []
        self._activecnt = 0
        self._refs = 0
        self._depth = 0
        self._iteration = 0
        self._break = BREAK_CANCEL
        self._mn_now = _monotonic()
        self._rt_now = _walltime()
        self._rt_offset = self._rt_now - self._mn_now
        self._rt_checked = self._mn_now
        self._last_poll = self._mn_now
        self._suspended_at: float | None = None
        self._io_collect = 0.0
        self._timeout_collect = 0.0
        self._is_default = False
        self._forkcheck = forkcheck
        self._pid = os.getpid()
        self._postfork = False  # kernel state to rebuild before the next poll
        self._fork_unseen = False  # Fork watchers not yet told of the last fork
        self._use_signalfd = signalfd
        self._use_inotify = inotify
        self._wakeup: Wakeup | None = None
        # The event sources (pyev/_sources), made on first use, dropped at close.
        self._signals: SignalSource | None = None
        self._children: ChildSource | None = None
        self._files: FileSource | None = None
        self._trees: TreeSource | None = None
        self._embeds: EmbedSource | None = None
        self._closing = False  # inside close(): a nested close() does nothing
        self._closed = False
        if threading.current_thread() is threading.main_thread():
            signals.keep_pipe(self)

    # -- properties ------------------------------------------------------

    @property
    def depth(self) -> int:
        """How many ``run`` calls are active on this loop (0 outside)."""
        return self._depth

    @property
    def iteration(self) -> int:
        """How many times the loop has polled for new events."""
        return self._iteration

    @property
    def pending_count(self) -> int:
        """The number of watchers pending right now."""
        return sum(map(len, self._pending))

    @property
    def closed(self) -> bool:
        return self._closed

    @property
    def is_default(self) -> bool:
        """True for the loop returned by :func:`default_loop`."""
        return self._is_default

    @property
    def backend(self) -> Backend:
        return self._backend.kind

    @property
    def io_collect_interval(self) -> float:
        """Seconds to wait before polling so that io events collect (default 0)."""
        return self._io_collect

    @io_collect_interval.setter
    def io_collect_interval(self, value: float) -> None:
        self._io_collect = _check_interval("io_collect_interval", value)

    @property
    def timeout_collect_interval(self) -> float:
        """Minimum poll timeout, so that timers due close together fire together."""
        return self._timeout_collect

    @timeout_collect_interval.setter
    def timeout_collect_interval(self, value: float) -> None:
        self._timeout_collect = _check_interval("timeout_collect_interval", value)

    # -- time ------------------------------------------------------------

    def now(self) -> float:
        """The wall-clock time of the start of the current batch of callbacks."""
        return self._rt_now

    def now_update(self) -> None:
        """Refresh the cached time (``now()``) from the clocks."""
        self._read_wall_clock(_monotonic())

    def _read_wall_clock(self, mn: float) -> None:
        self._mn_now = mn
        rt = self._rt_now = _walltime()
        self._rt_checked = mn
        offset = rt - mn
        jumped = abs(offset - self._rt_offset) >= MIN_TIMEJUMP
        self._rt_offset = offset
        if jumped and self._periodics:
            self._reschedule_periodics()

    def suspend(self) -> None:
        """Note the time; ``resume`` excludes the time in between from timers."""
        self._update_time()
        self._suspended_at = self._mn_now

    def resume(self) -> None:
        """Shift timers by the suspended time and reschedule periodics."""
        self._update_time()
        if self._suspended_at is None:
            return
        delta = self._mn_now - self._suspended_at
        self._suspended_at = None
        self._timers.shift(delta)
        self._reschedule_periodics()

    def _reschedule_periodics(self) -> None:
        for w in self._periodics.live():
            w._reschedule_time(self)

    # -- references ------------------------------------------------------

    def ref(self) -> None:
        """Add a reference: ``run`` keeps running as if a watcher were active."""
        self._activecnt += 1
        self._refs += 1

    def unref(self) -> None:
        """Drop a reference, e.g. right after starting a watcher that should
        not keep ``run`` alive."""
        self._activecnt -= 1
        self._refs -= 1

    # -- the pending queue -----------------------------------------------

    if TYPE_CHECKING:  # in C (LoopBase, pyev/_c/): the hot path

        def invoke_pending(self) -> None:
            """Invoke every pending watcher now, highest priority first."""

    # -- run -------------------------------------------------------------

    def run(self, flags: int = 0) -> bool:
        """Run the loop (libev's ``ev_run``).

        With ``flags`` 0, iterate until no active referenced watcher is left
        or ``break_`` is called; ``RUN_NOWAIT`` does one iteration without
        blocking, ``RUN_ONCE`` one iteration that blocks until something
        happens. Returns True when active referenced watchers remain.
        Exceptions raised by callbacks propagate; watchers that were pending
        and not yet invoked stay pending for the next ``run``.
        """
        if self._closed:
            raise Error("run() on a closed loop")
        if not isinstance(flags, int):
            raise TypeError(f"flags must be an int, not {type(flags).__name__}")
        if flags & ~3:
            raise ValueError(f"unknown run flags {flags:#x}")
        held = not self._depth and not flags & RUN_NOWAIT and signals.hold_interrupts(self)
        self._depth += 1
        self._break = BREAK_CANCEL
        try:
            self._run_iterations(flags)  # in C: pending callbacks, then iterations
        finally:
            if held:
                signals.release_interrupts()
            if self._break == BREAK_ONE:
                self._break = BREAK_CANCEL
            self._depth -= 1
            wakeup = self._wakeup
            if wakeup is not None and wakeup.armed and not wakeup.written and not self._depth:
                # A wake-up skipped while running must now reach the fd, for
                # whoever polls it next (an embedding loop, say).
                wakeup._write()
        return self._activecnt > 0

    def _flush_fd_changes(self) -> None:
        for fd in self._fdtable.flush():
            self._kill_fd(fd)

    def _kill_fd(self, fd: int) -> None:
        """The fd cannot be watched: stop its watchers and give them ERROR."""
        for w in self._fdtable.watchers(fd):
            w.stop()
            self._queue(w, ERROR | w._events)

    # -- control ---------------------------------------------------------

    def break_(self, how: int = BREAK_ONE) -> None:
        """Leave the innermost ``run`` (BREAK_ONE), every nested ``run``
        (BREAK_ALL), or cancel a break not yet acted on (BREAK_CANCEL)."""
        if not isinstance(how, int):
            raise TypeError(f"how must be an int, not {type(how).__name__}")
        if how not in (BREAK_CANCEL, BREAK_ONE, BREAK_ALL):
            raise ValueError(f"how must be BREAK_CANCEL, BREAK_ONE or BREAK_ALL, not {how}")
        self._break = how

    def feed_fd_event(self, fd: int, revents: int) -> None:
        """Act as if the backend reported ``revents`` on ``fd``: each Io
        watcher on it gets the bits it watches."""
        if not isinstance(fd, int) or not isinstance(revents, int):
            raise TypeError("fd and revents must be ints")
        if fd < 0:
            raise ValueError(f"fd must be >= 0, not {fd}")
        self._check_open()
        for w in self._fdtable.watchers(fd):
            bits = revents & w._events
            if bits:
                self._queue(w, bits)

    def feed_signal_event(self, signum: int) -> None:
        """Act as if ``signum`` arrived: queue this loop's watchers for it."""
        if not isinstance(signum, int):
            raise TypeError(f"signum must be an int, not {type(signum).__name__}")
        if not 0 < signum < _signal.NSIG:
            raise ValueError(f"signal number {signum} is out of range 1..{_signal.NSIG - 1}")
        self._check_open()
        source = self._signals
        if source is not None:
            source.deliver(signum)

    def once(
        self,
        callback: Callable[[int], object],
        *,
        fd: Any = None,
        events: int = READ,
        timeout: float | None = None,
    ) -> None:
        """Call ``callback(revents)`` once, when ``fd`` is ready for
        ``events`` or ``timeout`` seconds have passed, whichever is first."""
        _start_once(self, callback, fd, events, timeout)

    def fork(self) -> None:
        """Re-arm the loop in a forked child (call after ``os.fork()``)."""
        self._postfork = self._fork_unseen = True

    def _rebuild_after_fork(self) -> None:
        self._postfork = False
        try:
            self._backend.reinit()
        except BaseException:
            self._postfork = True  # still the parent's: try again next iteration
            raise
        self._pid = os.getpid()
        self._fdtable.reregister_all()
        for fd in list(self._hooks):
            try:
                self._backend.modify(fd, 0, READ, True)
            except OSError:
                pass  # a source's fd that its after_fork below replaces
        if self._wakeup is not None:
            self._wakeup.after_fork()
        for source in self._open_sources():
            source.after_fork()
        signals.reattach_pipe(self)

    # -- internal event sources ------------------------------------------

    # Until a forked child's loop is rebuilt its backend is the parent's
    # kernel object: hooks are then only recorded, and the rebuild registers
    # them (changing the shared set would change the parent's).

    def _add_hook(self, fd: int, hook: Hook) -> None:
        # The kernel just gave the loop this number, so an Io still watching
        # it watches a file closed since: it gets ERROR now, as at the next
        # poll it would, instead of capturing the hook's events.
        self._kill_fd(fd)
        self._fdtable.forget(fd)  # its slot must not unregister the hook
        self._hooks[fd] = hook
        if not self._kernel_state_inherited():
            self._backend.modify(fd, 0, READ, True)

    def _remove_hook(self, fd: int) -> None:
        if self._hooks.pop(fd, None) is not None and not self._kernel_state_inherited():
            self._backend.modify(fd, READ, 0, False)

    def _forget_hook(self, fd: int) -> None:
        """Drop ``fd``'s hook but leave the kernel set alone: it may be a
        forked parent's too, or the backend is about to close with it."""
        self._hooks.pop(fd, None)

    def _kernel_state_inherited(self) -> bool:
        """True in a forked child whose loop is not yet rebuilt."""
        if self._forkcheck and not self._postfork and os.getpid() != self._pid:
            self.fork()
        return self._postfork

    # Each event source is made by the first start of one of its watchers:
    # the watchers' start and stop call these, never an iteration.

    def _signal_source(self) -> SignalSource:
        source = self._signals
        if source is None:
            self._check_open()
            source = self._signals = SignalSource(self)
        return source

    def _child_source(self) -> ChildSource:
        source = self._children
        if source is None:
            self._check_open()
            source = self._children = ChildSource(self)
        return source

    def _file_source(self) -> FileSource:
        source = self._files
        if source is None:
            self._check_open()
            source = self._files = FileSource(self)
        return source

    def _tree_source(self) -> TreeSource:
        source = self._trees
        if source is None:
            self._check_open()
            source = self._trees = TreeSource(self)
        return source

    def _embed_source(self) -> EmbedSource:
        source = self._embeds
        if source is None:
            self._check_open()
            source = self._embeds = EmbedSource()
        return source

    def _open_sources(self) -> list[Source]:
        """Every source the loop has made: the one place that lists them."""
        sources: tuple[Source | None, ...] = (self._signals, self._children, self._files, self._trees, self._embeds)
        return [source for source in sources if source is not None]

    def _get_wakeup(self) -> Wakeup:
        if self._wakeup is None:
            from ._sources.wakeup import Wakeup

            self._wakeup = Wakeup(self)
        return self._wakeup

    def _scan_asyncs(self) -> None:
        for w in self._asyncs:
            if w._sent:
                w._sent = False
                self._queue(w, ASYNC)

    def _check_open(self) -> None:
        if self._closed:
            raise Error("the loop is closed")

    # -- teardown --------------------------------------------------------

    def close(self) -> None:
        """Destroy the loop: invoke active Cleanup watchers, stop every
        watcher and release the loop's file descriptors. Idempotent."""
        if self._closed or self._closing:
            return  # also from a Cleanup callback: the outer close completes
        self._closing = True
        try:
            self._close()
        finally:
            self._closing = False

    def _close(self) -> None:
        if os.getpid() != self._pid:
            self._disown_kernel_state()
        first_error: BaseException | None = None
        for w in list(self._cleanups):
            try:
                w._callback(w, CLEANUP)
            except BaseException as exc:  # noqa: BLE001 - re-raised below
                if first_error is None:
                    first_error = exc
        for w in self._all_watchers():
            w.stop()
        for queue in self._pending:
            for w in queue:
                w._revents = None
            queue.clear()
        for source in self._open_sources():
            source.close()
        self._signals = self._children = self._files = self._trees = self._embeds = None
        if self._wakeup is not None:
            self._wakeup.close()
            self._wakeup = None
        self._hooks.clear()
        self._backend.close()
        signals.detach_pipe(self)
        self._closed = True
        if self._is_default:
            _forget_default(self)
        if first_error is not None:
            raise first_error

    def _disown_kernel_state(self) -> None:
        """In a forked child whose loop was not rebuilt (with or without
        ``fork()``), the epoll set, inotify instance, signalfd and pidfds are
        the parent's too: from here on nothing is unregistered from them
        (hooks are only recorded) and only this process' copies of their fds
        are closed, so that disposing of the loop leaves the parent's working."""
        self._postfork = True
        self._backend.close()

    def _all_watchers(self) -> list[Watcher]:
        found: list[Watcher] = []
        found.extend(self._fdtable.all_watchers())
        found.extend(self._timers.live())
        found.extend(self._periodics.live())
        for idles in self._idles:
            found.extend(idles)
        for group in (self._prepares, self._checks, self._forks, self._cleanups, self._asyncs):
            found.extend(group)
        for source in self._open_sources():
            found.extend(source.active_watchers())
        return found

    def __enter__(self) -> Loop:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def __del__(self) -> None:
        # An unclosed loop still must not leak its kernel fds.
        if not getattr(self, "_closed", True):
            try:
                if os.getpid() != self._pid:
                    self._disown_kernel_state()  # a forked child dropping its copy
                for source in self._open_sources():
                    source.close()  # inotify fd, signalfd, pidfds
                self._backend.close()
                if self._wakeup is not None:
                    self._wakeup.close()
                signals.detach_pipe(self)
            except Exception:  # noqa: BLE001 - nothing sensible to do in __del__
                pass

    def __repr__(self) -> str:
        state = "closed" if self._closed else f"{self._activecnt} active, depth {self._depth}"
        kind = "default " if self._is_default else ""
        return f"<pyev.Loop {kind}{self.backend.name} {state}>"

    # -- verify ----------------------------------------------------------

    def verify(self) -> None:
        """Check internal invariants; raise AssertionError naming the broken one."""
        active = self._refs
        for level, queue in enumerate(self._pending):
            seen = set()
            for w in queue:
                assert w._revents is not None, f"{w!r} is queued but not pending (L2)"
                assert w._pidx == level, f"{w!r} is queued at the wrong priority (L2)"
                assert w._loop is self, f"{w!r} is queued on a loop it is not bound to (L2)"
                assert id(w) not in seen, f"{w!r} is queued twice (L2)"
                seen.add(id(w))
        self._timers.verify()
        self._periodics.verify()
        self._fdtable.verify(self)
        idle_count = 0
        for level, idles in enumerate(self._idles):
            _verify_list(self, idles, "idle")
            for w in idles:
                assert w._pidx == level, f"{w!r} is listed at the wrong idle priority (L3)"
            idle_count += len(idles)
        assert idle_count == self._idle_count, (
            f"idle count {self._idle_count} but {idle_count} idle watchers are listed (L4)"
        )
        for group, name in (
            (self._prepares, "prepare"),
            (self._checks, "check"),
            (self._forks, "fork"),
            (self._cleanups, "cleanup"),
            (self._asyncs, "async"),
        ):
            _verify_list(self, group, name)
        for w in self._all_watchers():
            assert w._active and w._loop is self, f"{w!r} is registered but not active here"
            if w._keepalive and w._counts_as_active:
                active += 1
        assert active == self._activecnt, (
            f"active count is {self._activecnt} but {active} keepalive watchers and refs exist (L1)"
        )


# -- the default loop ------------------------------------------------------

_default: Loop | None = None


def default_loop() -> Loop:
    """The process' default loop, created on first call.

    The same object is returned afterwards, in a forked child too (it is
    re-armed there automatically). After it is closed, the next call
    creates a new default loop.
    """
    global _default
    loop = _default
    if loop is None:
        loop = Loop()
        loop._is_default = True
        _default = loop
    return loop


def _forget_default(loop: Loop) -> None:
    global _default
    if _default is loop:
        _default = None


def _rearm_default_in_child() -> None:
    if _default is not None:
        _default.fork()


os.register_at_fork(after_in_child=_rearm_default_in_child)


def _verify_list(loop: Loop, group: Sequence[Any], name: str) -> None:
    for i, w in enumerate(group):
        assert isinstance(w, ListedBase), f"{w!r} in the {name} list is not a listed watcher (L3)"
        assert w._index == i, f"{name} watcher at {i} believes it is at {w._index} (L3)"
        assert w._active and w._loop is loop, f"inactive {name} watcher listed (L3)"


# -- Loop.once ---------------------------------------------------------------
#
# once() is built of an Io and a Timer, which sit a layer above the loop
# (pyev/_watchers imports this module, for default_loop). The one place the
# loop calls up: pyev/_watchers/once.py hands its implementation down when it
# is imported (pyev/__init__ imports it), so that no import points back.

OnceStarter = Callable[["Loop", Callable[[int], object], Any, int, "float | None"], None]


def _once_missing(loop: Loop, callback: Callable[[int], object], fd: Any, events: int, timeout: float | None) -> None:
    raise Error("Loop.once needs pyev._watchers.once, which `import pyev` loads")


_start_once: OnceStarter = _once_missing


def install_once(starter: OnceStarter) -> None:
    """Called by pyev/_watchers/once.py at import."""
    global _start_once
    _start_once = starter
