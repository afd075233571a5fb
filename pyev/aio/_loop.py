"""EventLoop: asyncio's Unix selector loop with its core replaced by pyev watchers.

Facts that shape this module:
- asyncio's transports, servers, SSL, streams, ``sock_*``, DNS and
  subprocess transports talk to their loop through a small private surface
  (``_add_reader``..., ``_ready``, ``_timer_handle_cancelled``,
  ``_write_to_self``, ``_selector`` for reprs). Subclassing
  ``_UnixSelectorEventLoop`` inherits all of them; only the core that
  decides *when* handles run is replaced.
- asyncio's rules a loop must keep: ``loop.time()`` is monotonic; a
  ``call_soon`` callback scheduled by a callback waits for the next
  iteration (the batch rule); ``stop()`` finishes the current batch; a
  nested run of the same loop, or of any loop while one runs in the thread,
  raises RuntimeError.
- pyev's rules: an exception from any callback propagates out of
  ``Loop.run()``; pending watchers stay pending; ``run()`` may nest.

Design (where asyncio's work sits in pyev's iteration):
- I/O: one ``Io`` per fd at ``priority`` (default 0), its ``events`` the
  union of the fd's reader and writer; the callback runs the reader, then
  the writer, *directly* (no round trip through ``_ready``, as uvloop).
- Timers: one ``Timer`` per ``TimerHandle`` at ``priority``, armed on
  pyev's monotonic clock so that it fires once ``loop.time() > when``; it
  runs the handle directly, unless handles queued before the poll wait in
  ``_ready``: then it goes behind them (and before what this iteration's
  callbacks queue), as in asyncio. A deadline already due goes to ``_ready``
  too, so ``call_soon(a); call_later(0, b)`` runs a before b. A handle
  made by the ready queue's batch is armed when the batch ends, still
  before the poll: a timeout the batch also cancels never gets a Timer.
- The ready queue: ``_ready`` stays asyncio's deque. A ``Prepare`` at
  ``MINPRI`` runs one batch (the length it finds) at the start of each
  iteration, before the poll: the handles queued before the poll run before
  the I/O callbacks it brings, as in asyncio's ``_run_once`` (and uvloop).
  Then it starts an ``Idle`` whenever work is queued or a stop is due, so
  that the poll does not block. A ``Check`` at ``MINPRI`` acts on
  ``stop()`` once the iteration's callbacks are done.
- Wake-ups: ``call_soon_threadsafe`` and the signal-safe path send an
  ``Async``; signals arrive through ``Signal`` watchers; subprocess exits
  through a ``Child`` watcher on the pid.
- Running: ``run_forever`` is asyncio's setup, then ``ev.run()`` until the
  Check breaks it. The internal watchers are started only while asyncio
  runs and do not keep the pyev loop alive (keepalive False), except the
  Async while ``run_forever`` runs at its own depth.
- Depth: the face does asyncio work only at the pyev depth it runs at. In
  a nested ``ev.run()`` started by a pyev callback, or while asyncio is not
  running at all, due timer handles go to ``_ready`` and an fd's Io watcher
  is parked (stopped) until asyncio runs again, when the level-triggered
  poll reports it anew.

Rejected: draining ``_ready`` from the Idle callback (libev queues idle
watchers only when nothing of equal or higher priority is pending, so task
steps would starve under I/O load); a cancelled-timer heap as asyncio's
(a pyev Timer is removed from its heap by ``stop()``).
"""

from __future__ import annotations

import asyncio
import collections
import math
import os
import signal
import sys
import threading
import weakref
from asyncio import base_events, coroutines, events, unix_events
from asyncio.log import logger
from collections.abc import Callable
from contextvars import copy_context
from typing import TYPE_CHECKING, Any

from .. import BREAK_ONE, MAXPRI, MINPRI, READ, RUN_ONCE, WRITE, Async, Check, Child, Idle, Io, Loop, Prepare, Signal, Timer
from .._watchers.base import check_priority
from ._fds import FdEntry, SelectorView, fileobj_to_fd

_WATCHER_ERRORS = ("propagate", "handler")
_READ, _WRITE = int(READ), int(WRITE)  # plain ints: `revents & READ` runs the Events flag's Python code
_UNCATCHABLE = frozenset({signal.SIGKILL, signal.SIGSTOP})
_HAS_RUN_FOREVER_HELPERS = hasattr(base_events.BaseEventLoop, "_run_forever_setup")  # 3.13+
_format_handle: Callable[[Any], str] = base_events._format_handle  # type: ignore[attr-defined]
_UnixSubprocessTransport: Any = unix_events._UnixSubprocessTransport  # type: ignore[attr-defined]


def _nothing(w: Idle, revents: int) -> None:
    pass


class _TimerHandle(asyncio.TimerHandle):
    """asyncio's TimerHandle, holding the pyev Timer that fires it (None
    while it has none: due at once, never due, not armed yet, or done)."""

    __slots__ = ("_watcher",)
    _watcher: Timer | None

    def cancel(self) -> None:
        # asyncio's TimerHandle.cancel has the loop drop the timer
        # (_timer_handle_cancelled), then runs Handle.cancel: both are done
        # here, in one frame (debug mode keeps Handle.cancel, for its repr).
        private: Any = self
        if private._cancelled:
            return
        w = self._watcher
        if w is not None:
            w.stop()
            private._loop._timer_watchers.discard(w)
            self._watcher = None
        if private._loop._debug:
            events.Handle.cancel(self)
        else:
            private._cancelled = True
            private._callback = None
            private._args = None


_new_timer_handle = object.__new__

# Its repr (and so the slow-callback warning in debug mode) says TimerHandle, as asyncio's.
_TimerHandle.__name__ = _TimerHandle.__qualname__ = "TimerHandle"


class _SubprocessTransport(_UnixSubprocessTransport):  # type: ignore[misc]
    """asyncio's, signalling the child with ``os.kill`` as asyncio does from
    3.13 on. Before 3.13 it went through ``Popen.send_signal``, whose
    ``poll()`` reaps a child that has exited: the Child watcher's
    ``waitpid`` then found nothing and the exit was never reported."""

    def send_signal(self, signum: int) -> None:
        self._check_proc()
        try:
            os.kill(self._proc.pid, signum)
        except ProcessLookupError:
            pass

    def terminate(self) -> None:
        self.send_signal(signal.SIGTERM)

    def kill(self) -> None:
        self.send_signal(signal.SIGKILL)


class EventLoop(unix_events._UnixSelectorEventLoop):
    """An asyncio event loop that runs on the pyev loop ``ev_loop``.

    With ``ev_loop=None`` a new ``pyev.Loop`` is created and owned: closing
    this loop closes it. A loop passed in is borrowed and left open.
    ``priority`` is the pyev priority of asyncio's I/O and timer watchers;
    the ready queue (``call_soon`` callbacks, task steps) runs at the start
    of each iteration, before the poll, from a ``Prepare`` at ``MINPRI``
    (after the user's Prepare watchers). ``watcher_errors`` says where an exception from a pyev
    watcher's callback goes: ``"propagate"`` (the default) raises it out of
    ``run_forever``/``run_until_complete``, as ``Loop.run()`` would;
    ``"handler"`` passes it to the loop's exception handler and runs on.
    """

    # This class's own attributes live in slots. asyncio's take about 25
    # keys of the instance dict, and past 30 CPython stops sharing its keys:
    # every attribute and method lookup on the loop would then miss the
    # interpreter's specialisations (call_soon 9% slower).
    __slots__ = (
        "ev",
        "_priority",
        "_errors_to_handler",
        "_owns_ev",
        "_fds",
        "_parked",
        "_timer_watchers",
        "_child_watchers",
        "_signal_watchers",
        "_run_depth",
        "_broke",
        "_wake",
        "_prepare",
        "_idle",
        "_check",
        "_timer_callback",
        "_in_batch",
        "_waiting",
        "_unarmed",
    )

    if TYPE_CHECKING:
        # The private surface of asyncio's loop classes this one uses (typeshed
        # leaves it out); a Handle's privates are reached through Any.
        _ready: collections.deque[Any]
        _stopping: bool
        _debug: bool
        _closed: bool
        _thread_id: int | None
        _internal_fds: int
        _current_handle: Any
        _old_agen_hooks: Any

        def _check_closed(self) -> None: ...
        def _check_running(self) -> None: ...
        def _check_thread(self) -> None: ...
        def _check_callback(self, callback: object, method: str) -> None: ...
        def _check_signal(self, sig: int) -> None: ...
        def _set_coroutine_origin_tracking(self, enabled: bool) -> None: ...
        def _asyncgen_firstiter_hook(self, agen: Any) -> None: ...
        def _asyncgen_finalizer_hook(self, agen: Any) -> None: ...

    def __init__(
        self,
        ev_loop: Loop | None = None,
        *,
        priority: int = 0,
        watcher_errors: str = "propagate",
    ) -> None:
        self._closed = True  # until set up: BaseEventLoop.__del__ reads it
        if ev_loop is None:
            ev_loop = Loop()
            owned = True
        elif not isinstance(ev_loop, Loop):
            raise TypeError(f"ev_loop must be a pyev.Loop or None, not {type(ev_loop).__name__}")
        else:
            ev_loop._check_open()
            owned = False
        self._priority = check_priority(priority)
        if watcher_errors not in _WATCHER_ERRORS:
            raise ValueError(f"watcher_errors must be 'propagate' or 'handler', not {watcher_errors!r}")
        self._errors_to_handler = watcher_errors == "handler"
        # Not the selector loop's __init__: no selector, no self-pipe.
        base_events.BaseEventLoop.__init__(self)
        self.ev: Loop = ev_loop
        self._owns_ev = owned
        self._fds: dict[int, FdEntry] = {}
        self._parked: set[FdEntry] = set()
        self._selector: Any = SelectorView(self._fds)
        self._transports: weakref.WeakValueDictionary[int, Any] = weakref.WeakValueDictionary()
        self._signal_handlers: dict[int, asyncio.Handle] = {}
        self._signal_watchers: dict[int, tuple[Signal, Any]] = {}
        self._unix_server_sockets: dict[Any, Any] = {}  # 3.13+: unlinked on close
        self._timer_watchers: set[Timer] = set()
        self._timer_callback = self._on_timer  # one bound method for every Timer
        self._in_batch = False  # _on_prepare is running the ready queue
        # How many handles at the head of _ready were queued before this
        # iteration's poll (by the batch): a timer expiring in the poll runs
        # after them, as asyncio appends expired timers behind them.
        self._waiting = 0
        self._unarmed: list[Any] = []  # timer handles made by that batch, armed when it ends
        self._child_watchers: set[Child] = set()
        # asyncio counts its self-pipe here; the Async's wake-up stands in.
        self._ssock = self._csock = None
        self._internal_fds += 1
        self._run_depth = 0  # the pyev depth asyncio runs at; 0: not running
        self._broke = False
        self._wake = Async(self._on_wake, priority=MAXPRI)
        self._prepare = Prepare(self._on_prepare, priority=MINPRI)
        self._idle = Idle(_nothing, priority=MINPRI)
        self._check = Check(self._on_check, priority=MINPRI)
        for w in self._internal_watchers():
            w.keepalive = False

    def _internal_watchers(self) -> tuple[Async, Prepare, Idle, Check]:
        return (self._wake, self._prepare, self._idle, self._check)

    def __repr__(self) -> str:
        return (
            f"<{type(self).__name__} running={self.is_running()} closed={self.is_closed()} "
            f"debug={self.get_debug()} ev={self.ev!r}>"
        )

    # -- running ---------------------------------------------------------

    if not _HAS_RUN_FOREVER_HELPERS:  # 3.11, 3.12: 3.13's helpers, copied

        def _run_forever_setup(self) -> None:
            self._check_closed()
            self._check_running()
            self._set_coroutine_origin_tracking(self._debug)
            self._old_agen_hooks = sys.get_asyncgen_hooks()
            self._thread_id = threading.get_ident()
            sys.set_asyncgen_hooks(firstiter=self._asyncgen_firstiter_hook, finalizer=self._asyncgen_finalizer_hook)
            events._set_running_loop(self)

        def _run_forever_cleanup(self) -> None:
            self._stopping = False
            self._thread_id = None
            events._set_running_loop(None)
            self._set_coroutine_origin_tracking(False)
            if self._old_agen_hooks is not None:
                sys.set_asyncgen_hooks(*self._old_agen_hooks)
                self._old_agen_hooks = None

    def run_forever(self) -> None:
        """Run until ``stop()``: asyncio's setup, then the pyev loop's ``run()``."""
        self._run_forever_setup()
        try:
            self._run_ev(0)
        finally:
            self._run_forever_cleanup()

    def _run_once(self) -> None:
        """One pyev iteration (for code that drives asyncio by hand)."""
        self._run_ev(RUN_ONCE)

    def _run_ev(self, flags: int) -> None:
        ev = self.ev
        outer = self._run_depth
        self._run_depth = ev._depth + 1
        self._broke = False
        self._unpark()
        self._wake.keepalive = True
        for w in (self._wake, self._prepare, self._check):
            w.start(ev)
        try:
            while True:
                try:
                    remains = ev.run(flags)
                except Exception as exc:
                    # asyncio's own handles never get here (Handle._run
                    # reports their exceptions): this came from a pyev
                    # watcher's callback.
                    if not self._errors_to_handler or ev.closed:
                        raise
                    self.call_exception_handler(
                        {"message": "Exception in a pyev watcher callback", "exception": exc, "ev_loop": ev}
                    )
                    del exc
                    if flags:
                        break
                    continue
                if self._broke or flags or ev.closed:
                    break
                if remains:
                    # Someone else's break_ (a pyev callback's): asyncio stops too.
                    break
                # A nested run took the keep-alive (see _on_prepare): go on.
        finally:
            self._run_depth = outer
            self._broke = False
            for internal in self._internal_watchers():
                internal.stop()
            self._wake.keepalive = False

    def _at_own_depth(self) -> bool:
        return self.ev._depth == self._run_depth

    def _on_prepare(self, w: Prepare, revents: int) -> None:
        """Before each poll: run one batch of the ready queue (the handles
        queued before this iteration, as asyncio's ``_run_once`` runs them
        before the I/O events its poll finds), then keep the poll from
        blocking if work or a stop is left."""
        if self.ev._depth != self._run_depth:
            # A nested ev.run() from a pyev callback: asyncio waits for it,
            # which then returns as soon as its own watchers are done.
            self._wake.keepalive = False
            self._idle.stop()
            return
        wake = self._wake
        if not wake._keepalive:  # (the property setter costs a call each iteration)
            wake.keepalive = True
        if self._parked:
            self._unpark()
        ready = self._ready
        ntodo = len(ready)
        if ntodo:
            self._in_batch = True
            try:
                if self._debug:
                    for _ in range(ntodo):
                        handle = ready.popleft()
                        if not handle._cancelled:
                            self._run_handle_debug(handle)
                else:
                    for _ in range(ntodo):
                        handle = ready.popleft()
                        if not handle._cancelled:
                            handle._run()
                handle = None  # see _run_handle
            finally:
                self._in_batch = False
                if self._unarmed:
                    self._arm_unarmed()
        self._waiting = len(ready)
        idle = self._idle
        if ready or self._stopping:
            if not idle._active:  # start() and stop() are Python calls: only on a change
                idle.start(self.ev)
        elif idle._active:
            idle.stop()

    def _on_check(self, w: Check, revents: int) -> None:
        """After the iteration's callbacks: asyncio's stop() takes effect
        here, once the batch (the ready queue, then this poll's I/O and
        timers) is done."""
        if self._stopping and self.ev._depth == self._run_depth:
            self._broke = True
            self.ev.break_(BREAK_ONE)

    def _run_handle_debug(self, handle: Any) -> None:
        try:
            self._current_handle = handle
            t0 = self.time()
            handle._run()
            dt = self.time() - t0
            if dt >= self.slow_callback_duration:
                logger.warning("Executing %s took %.3f seconds", _format_handle(handle), dt)
        finally:
            self._current_handle = None
            handle = None  # see _run_handle

    def _run_handle(self, handle: Any) -> None:
        if self._debug:
            self._run_handle_debug(handle)
        else:
            handle._run()
        # A traceback kept by a task that failed in this handle holds this
        # frame (through f_back) after it returns, and with it its locals:
        # dropping the handle keeps the task from a reference cycle, so an
        # unretrieved exception is reported when the task is dropped, as in
        # asyncio's _run_once. The same holds for every function below that
        # runs a handle.
        handle = None

    def _on_wake(self, w: Async, revents: int) -> None:
        pass  # the handles are in _ready already; _on_prepare runs them

    def _write_to_self(self) -> None:
        self._wake.send()

    # Not used: the selector loop's self-pipe.
    def _make_self_pipe(self) -> None:
        pass

    def _close_self_pipe(self) -> None:
        self._internal_fds -= 1

    def _read_from_self(self) -> int:
        return 0

    def _process_self_data(self, data: bytes) -> None:
        pass

    def _process_events(self, event_list: Any) -> None:
        pass

    # -- the ready queue -------------------------------------------------

    def call_soon(  # type: ignore[override]
        self, callback: Callable[..., object], *args: Any, context: Any = None
    ) -> asyncio.Handle:
        """asyncio's call_soon in one frame: asyncio's goes through
        ``_check_closed`` and ``_call_soon``; the same checks, errors and
        debug-mode source traceback (call_soon benchmark: 10% fewer
        instructions per callback)."""
        if self._closed:
            raise RuntimeError("Event loop is closed")
        if self._debug:
            self._check_thread()
            self._check_callback(callback, "call_soon")
        handle = events.Handle(callback, args, self, context)
        private: Any = handle
        if private._source_traceback:
            del private._source_traceback[-1]
        self._ready.append(handle)
        return handle

    # -- timers ----------------------------------------------------------

    def call_later(  # type: ignore[override]
        self, delay: float, callback: Callable[..., object], *args: Any, context: Any = None
    ) -> asyncio.TimerHandle:
        """asyncio's call_later without its detour through call_at: one look
        at the clock instead of two, one frame less."""
        if delay is None:
            raise TypeError("delay must not be None")
        now = self.time()
        handle: Any = self._schedule(now + delay, now, callback, args, context)
        if handle._source_traceback:
            del handle._source_traceback[-1]
        return handle  # type: ignore[no-any-return]

    def call_at(  # type: ignore[override]
        self, when: float, callback: Callable[..., object], *args: Any, context: Any = None
    ) -> asyncio.TimerHandle:
        if when is None:
            raise TypeError("when cannot be None")
        handle: Any = self._schedule(when, self.time(), callback, args, context)
        if handle._source_traceback:
            del handle._source_traceback[-1]
        return handle  # type: ignore[no-any-return]

    def _schedule(
        self, when: float, now: float, callback: Callable[..., object], args: Any, context: Any
    ) -> asyncio.TimerHandle:
        if self._closed:  # _check_closed, inlined as in call_soon
            raise RuntimeError("Event loop is closed")
        if self._debug:
            self._check_thread()
            self._check_callback(callback, "call_at")
        if self._debug:
            handle = _TimerHandle(when, callback, args, self, context)
            private: Any = handle
            if private._source_traceback:
                del private._source_traceback[-1]
        else:
            # TimerHandle.__init__'s work without its two frames (and the
            # loop.get_debug() call): every slot of the asyncio classes is
            # set, as tests/aio/test_fast_paths.py checks against asyncio's
            # own constructor on each Python.
            handle = _new_timer_handle(_TimerHandle)
            private = handle
            private._context = copy_context() if context is None else context
            private._loop = self
            private._callback = callback
            private._args = args
            private._cancelled = False
            private._repr = None
            private._source_traceback = None
            private._when = when
            private._scheduled = False
        handle._watcher = None
        if when <= now or when != when:  # asyncio runs a NaN deadline at once too
            self._ready.append(handle)
        elif when == math.inf:  # never due (asyncio.wait_for(..., math.inf)); a Timer must be finite
            pass
        elif (
            self._in_batch  # (checked first: False outside the batch)
            and type(when) is float
            and not self.ev._closed
            and self.ev._depth == self._run_depth
        ):
            # Made by a handle of the ready queue's batch: armed when the
            # batch ends, still before the poll, so that a timeout the batch
            # also cancels (the usual fate of one) never costs a pyev Timer.
            # (A float: nothing can fail in arming it later.)
            self._unarmed.append(handle)
        else:
            self._arm(handle, when)
        return handle

    def _arm_unarmed(self) -> None:
        unarmed = self._unarmed
        self._unarmed = []
        if self.ev._closed:
            return  # closed by the batch: its timers would have been stopped with it
        for handle in unarmed:
            if not handle._cancelled:
                self._arm(handle, handle._when)

    def _arm(self, handle: _TimerHandle, when: float) -> None:
        ev = self.ev
        # pyev arms from its cached monotonic now: the deadline is then `when`.
        # No keyword arguments unless needed: Timer() parses them slowly.
        if self._priority:
            w = Timer(when - ev._mn_now, self._timer_callback, priority=self._priority)
        else:
            w = Timer(when - ev._mn_now, self._timer_callback)
        w.data = handle
        w._keepalive = False
        w.start(ev)
        handle._watcher = w
        self._timer_watchers.add(w)

    def _on_timer(self, w: Timer, revents: int) -> None:
        handle: Any = w.data
        self._timer_watchers.discard(w)
        handle._watcher = None
        handle._scheduled = False
        if handle._cancelled:
            return
        if self.ev._depth != self._run_depth:
            self._ready.append(handle)
        elif self._waiting:
            # Behind the handles queued before the poll, and before those
            # this iteration's callbacks queued, as asyncio appends expired
            # timers to its ready queue: a task just created takes its first
            # step before a short wait_for timeout cancels it.
            self._ready.insert(self._waiting, handle)
            self._waiting += 1
        else:
            w.data = None
            if self._debug:
                self._run_handle_debug(handle)
            else:
                handle._run()  # _run_handle, inlined
            handle = None  # see _run_handle

    def _timer_handle_cancelled(self, handle: Any) -> None:
        w = getattr(handle, "_watcher", None)
        if w is not None:
            w.stop()
            self._timer_watchers.discard(w)
            handle._watcher = None

    # -- readers and writers ---------------------------------------------

    def _entry(self, fd: Any) -> FdEntry:
        fileno = fileobj_to_fd(fd)
        entry = self._fds.get(fileno)
        if entry is None:
            io = Io(fileno, READ, self._on_io, priority=self._priority)
            io._keepalive = False
            entry = io.data = self._fds[fileno] = FdEntry(fd, fileno, io)
        return entry

    def _update(self, entry: FdEntry) -> None:
        mask = entry.mask
        io = entry.io
        if not mask:
            io.stop()
            self._parked.discard(entry)
            if self._fds.get(entry.fd) is entry:
                del self._fds[entry.fd]
            return
        if io.events != mask:
            io.events = mask
        if not io._active and entry not in self._parked:
            io.start(self.ev)

    def _add_reader(self, fd: Any, callback: Callable[..., object], *args: Any) -> asyncio.Handle:
        self._check_closed()
        handle = events.Handle(callback, args, self, None)
        entry = self._entry(fd)
        old, entry.reader = entry.reader, handle
        self._update(entry)
        if old is not None:
            old.cancel()
        return handle

    def _remove_reader(self, fd: Any) -> bool:
        if self.is_closed():
            return False
        entry = self._fds.get(fileobj_to_fd(fd))
        if entry is None:
            return False
        old, entry.reader = entry.reader, None
        self._update(entry)
        if old is None:
            return False
        old.cancel()
        return True

    def _add_writer(self, fd: Any, callback: Callable[..., object], *args: Any) -> asyncio.Handle:
        self._check_closed()
        handle = events.Handle(callback, args, self, None)
        entry = self._entry(fd)
        old, entry.writer = entry.writer, handle
        self._update(entry)
        if old is not None:
            old.cancel()
        return handle

    def _remove_writer(self, fd: Any) -> bool:
        if self.is_closed():
            return False
        entry = self._fds.get(fileobj_to_fd(fd))
        if entry is None:
            return False
        old, entry.writer = entry.writer, None
        self._update(entry)
        if old is None:
            return False
        old.cancel()
        return True

    def _on_io(self, w: Io, revents: int) -> None:
        entry: Any = w.data
        if self.ev._depth != self._run_depth:
            w.stop()
            self._parked.add(entry)
            return
        reader = writer = None
        if revents & _READ:
            reader = entry.reader
            if reader is not None:
                if reader._cancelled:
                    self._remove_reader(entry.fd)
                elif self._debug:
                    self._run_handle_debug(reader)
                else:
                    reader._run()  # _run_handle, inlined: one frame less per event
        if revents & _WRITE:
            writer = entry.writer
            if writer is not None:
                if writer._cancelled:
                    self._remove_writer(entry.fd)
                elif self._debug:
                    self._run_handle_debug(writer)
                else:
                    writer._run()
        reader = writer = None  # see _run_handle

    def _unpark(self) -> None:
        parked = self._parked
        while parked:
            entry = parked.pop()
            if self._fds.get(entry.fd) is entry and entry.mask:
                entry.io.start(self.ev)

    # -- signals ---------------------------------------------------------

    def add_signal_handler(self, sig: int, callback: Callable[..., object], *args: Any) -> None:  # type: ignore[override]
        """asyncio's add_signal_handler on a pyev Signal watcher."""
        if coroutines.iscoroutine(callback) or coroutines.iscoroutinefunction(callback):
            raise TypeError("coroutines cannot be used with add_signal_handler()")
        self._check_signal(sig)
        self._check_closed()
        if threading.current_thread() is not threading.main_thread():
            raise RuntimeError("set_wakeup_fd only works in main thread of the main interpreter")
        if sig in _UNCATCHABLE:
            raise RuntimeError(f"sig {sig:d} cannot be caught")
        handle = events.Handle(callback, args, self, None)
        if sig not in self._signal_watchers:
            w = Signal(sig, self._on_signal)
            w._keepalive = False
            w.start(self.ev)  # ev.Error (a RuntimeError) if another loop watches sig
            self._signal_watchers[sig] = (w, signal.getsignal(sig))
            _signal_loops.add(self)
        self._signal_handlers[sig] = handle

    def _drop_signal_handlers_after_fork(self) -> None:
        """In a forked child, where this loop is the parent's and not for use
        (docs/asyncio.md, Fork): its signals stay claimed by its pyev loop,
        and a signal is watched by one pyev loop at a time, so a new loop in
        the child could not take them. Let them go, the pyev loop marked
        forked first so that nothing of the parent's kernel state changes."""
        if not self._signal_watchers or self.ev.closed:
            return
        self.ev.fork()
        for w, _ in self._signal_watchers.values():
            w.stop()
        self._signal_watchers.clear()
        self._signal_handlers.clear()

    def _on_signal(self, w: Signal, revents: int) -> None:
        handle = self._signal_handlers.get(w.signum)
        if handle is None:
            return
        if handle._cancelled:
            self.remove_signal_handler(w.signum)
        else:
            self._ready.append(handle)

    def remove_signal_handler(self, sig: int) -> bool:
        self._check_signal(sig)
        try:
            del self._signal_handlers[sig]
        except KeyError:
            return False
        w, installed = self._signal_watchers.pop(sig)
        w.stop()
        if signal.getsignal(sig) is not installed:
            # pyev gave the signal back: asyncio's rule is SIG_DFL, or
            # Python's KeyboardInterrupt handler for SIGINT.
            handler = signal.default_int_handler if sig == signal.SIGINT else signal.SIG_DFL
            signal.signal(sig, handler)
        return True

    # -- subprocesses ----------------------------------------------------

    async def _make_subprocess_transport(
        self,
        protocol: Any,
        args: Any,
        shell: bool,
        stdin: Any,
        stdout: Any,
        stderr: Any,
        bufsize: int,
        extra: Any = None,
        **kwargs: Any,
    ) -> Any:
        waiter = self.create_future()
        transp = _SubprocessTransport(
            self, protocol, args, shell, stdin, stdout, stderr, bufsize, waiter=waiter, extra=extra, **kwargs
        )
        self._watch_child(transp)
        try:
            await waiter
        except (SystemExit, KeyboardInterrupt):
            raise
        except BaseException:
            transp.close()
            await transp._wait()
            raise
        return transp

    def _watch_child(self, transp: Any) -> None:
        pid = transp.get_pid()
        w = Child(pid, self._on_child, data=transp)
        w._keepalive = False
        try:
            w.start(self.ev)
        except ChildProcessError:
            logger.warning("Unknown child process pid %d, will report returncode 255", pid)
            self.call_soon(transp._process_exited, 255)
            return
        self._child_watchers.add(w)

    def _on_child(self, w: Child, revents: int) -> None:
        w.stop()
        self._child_watchers.discard(w)
        transp: Any = w.data
        w.data = None
        # After the callbacks the transport's start scheduled, as asyncio.
        self.call_soon(transp._process_exited, os.waitstatus_to_exitcode(w.rstatus))

    # -- closing ---------------------------------------------------------

    def close(self) -> None:
        """asyncio's close; then stop every watcher of this loop, and close
        the pyev loop if this loop created it."""
        if self.is_running():
            raise RuntimeError("Cannot close a running event loop")
        if self.is_closed():
            return
        try:
            super().close()
        finally:
            self._release_watchers()
            if self._owns_ev:
                self.ev.close()

    def _release_watchers(self) -> None:
        self._unarmed.clear()
        for timer in list(self._timer_watchers):
            timer.stop()
            handle: Any = timer.data
            handle._watcher = None
        self._timer_watchers.clear()
        for entry in list(self._fds.values()):
            entry.io.stop()
        self._fds.clear()
        self._parked.clear()
        for child in list(self._child_watchers):
            child.stop()
        self._child_watchers.clear()
        for sig_watcher, _ in list(self._signal_watchers.values()):
            sig_watcher.stop()  # only if the sys.is_finalizing() path skipped remove_signal_handler
        self._signal_watchers.clear()
        for internal in self._internal_watchers():
            internal.stop()


# The loops that have held signal handlers, for a forked child to release.
_signal_loops: weakref.WeakSet[EventLoop] = weakref.WeakSet()


def _after_fork_in_child() -> None:
    for loop in list(_signal_loops):
        loop._drop_signal_handlers_after_fork()


os.register_at_fork(after_in_child=_after_fork_in_child)
