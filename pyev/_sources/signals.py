"""Signal delivery: one process-wide table, one source per loop.

Facts that shape this module:
- A signalfd only receives signals that are *blocked*, and a blocked mask is
  inherited by every child a thread forks, across exec: a daemon that keeps
  SIGTERM blocked for its signalfd starts children that ignore
  ``Popen.terminate()``. Python's subprocess offers no way to reset the mask
  in the child.
- A process-directed signal goes to any thread that does not block it. The
  loop thread cannot block a signal in the other threads (Python has no way
  to run code there), so a signal may always land in another thread.
- ``signal.signal`` and ``signal.set_wakeup_fd`` work only in the main
  thread; the Python-level handler runs in the main thread, between
  bytecodes, whenever that thread gets to run.

Design:
- Every watched signal gets a Python handler (the previous handler is saved
  and restored when the signal's last watcher stops), which routes the
  signal to the loop that owns it. The handler runs in the main thread; to
  make sure it gets to run, Python's C-level handler also writes to the
  *signal pipe*, installed with ``set_wakeup_fd`` while any handler of ours
  is installed (unless another wakeup fd was already set: then that one is
  left alone). Every loop with signal interest watches the pipe, so a signal
  that lands in another thread still wakes a loop blocked in the main
  thread, which returns to Python, where the handler runs.
- Native mode (signalfd) blocks the loop's signals in the loop thread *only
  while it polls* and reads them from a signalfd there; outside the poll
  they are unblocked and take the handler path. A signal is therefore never
  left blocked while user code runs, and children started from callbacks,
  the main program or other threads are born with the mask they should have.
  The price is two ``pthread_sigmask`` calls per iteration while a Signal
  watcher is active (signal delivery benchmark).
- Delivery to a loop is a mark in its ``pending`` set plus a wake-up of the
  loop (its eventfd); the loop queues the signal's watchers when it runs.
  Repeated signals before that coalesce.
- SIGCHLD has internal subscribers besides its owning loop: every loop with
  Child watchers that need SIGCHLD is told as well.
"""

from __future__ import annotations

import os
import signal
import threading
import weakref
from collections.abc import Callable
from types import FrameType
from typing import TYPE_CHECKING, Any

from .. import _linux
from .._constants import SIGNAL, Error

if TYPE_CHECKING:
    from .._loop import Loop
    from .._watchers.signal import Signal

Handler = Callable[[int, FrameType | None], Any] | int | signal.Handlers | None

# -- the process-wide table ------------------------------------------------

_owners: dict[int, SignalSource] = {}  # signum -> the loop source holding its watchers
_subscribers: dict[int, set[Callable[[], None]]] = {}  # internal interest (SIGCHLD)
_saved_handlers: dict[int, Handler] = {}  # signum -> handler before ours
_deferred: dict[int, Handler] = {}  # signum -> handler to put back when ours next runs
_pipe: tuple[int, int] | None = None  # the signal pipe given to set_wakeup_fd
_saved_wakeup_fd: int | None = None  # the wakeup fd before ours, while ours is set
_foreign_wakeup_fd = False  # another wakeup fd was set when we installed: not ours to take
_interrupt_holders = 0  # loops running in the main thread that may block (hold_interrupts)
_pipe_users: weakref.WeakSet[Loop] = weakref.WeakSet()  # open loops that keep the signal pipe open
_lock = threading.RLock()


def _python_handler(signum: int, frame: FrameType | None) -> None:
    if signum in _deferred:
        _finish_uninstall(signum, frame)
        return
    # Route the signal to whoever watches it; any thread, any time.
    owner = _owners.get(signum)
    if owner is not None:
        owner.mark(signum)
    if signum in _subscribers:
        for subscriber in list(_subscribers[signum]):
            subscriber()


def _finish_uninstall(signum: int, frame: FrameType | None) -> None:
    """The last watcher stopped outside the main thread, where the previous
    handler could not be put back: do it now (handlers run in the main
    thread) and give this signal to it, as if it had been there all along."""
    previous = _deferred.pop(signum)
    signal.signal(signum, previous if previous is not None else signal.SIG_DFL)
    if callable(previous):
        previous(signum, frame)
    elif previous in (None, signal.SIG_DFL):
        os.kill(os.getpid(), signum)  # the default action, now restored


def signal_pipe() -> int:
    """The read end of the signal pipe, created on first use (and closed by
    ``_close_pipe_if_unused`` when nothing needs it any more)."""
    global _pipe
    with _lock:
        if _pipe is None:
            _pipe = os.pipe2(os.O_NONBLOCK | os.O_CLOEXEC)
        return _pipe[0]


def _close_pipe_if_unused() -> None:
    """Close the signal pipe once no open loop watches it, no handler of
    ours is installed and it is not Python's wakeup fd: a program that
    closes its loops is left with no fd of pyev's."""
    global _pipe
    with _lock:
        if (
            _pipe is None
            or _pipe_users
            or _saved_handlers
            or _deferred
            or _interrupt_holders
            or _saved_wakeup_fd is not None
        ):
            return
        pipe, _pipe = _pipe, None
        for fd in pipe:
            os.close(fd)


class _PipeHook:
    """A loop's hook on the signal pipe."""

    __slots__ = ("loop", "fd")

    def __init__(self, loop: Loop, fd: int) -> None:
        self.loop, self.fd = loop, fd

    def __call__(self) -> None:
        # Empty the signal pipe. Its bytes only wake loops: the Python handler
        # routes each signal, exactly once (routing the bytes as well would
        # deliver twice). The loop runs Python's handlers right after its
        # poll, and a handler arms the loop's wake-up, which the loop takes
        # after the hooks (see wakeup.py).
        if _pipe is not None:
            try:
                os.read(_pipe[0], 4096)
            except (BlockingIOError, InterruptedError):
                pass


def attach_pipe(loop: Loop) -> None:
    """Make ``loop`` watch the current signal pipe (idempotent; after a fork
    the pipe is new and the old entry is dropped)."""
    with _lock:
        fd = signal_pipe()
        _pipe_users.add(loop)
        for old, hook in list(loop._hooks.items()):
            if isinstance(hook, _PipeHook) and old != fd:
                loop._forget_hook(old)
        if not isinstance(loop._hooks.get(fd), _PipeHook):
            loop._add_hook(fd, _PipeHook(loop, fd))


def keep_pipe(loop: Loop) -> None:
    """Make the signal pipe now and keep it open while ``loop`` is open
    (for a loop made in the main thread, whose first blocking run there
    attaches it: its fds are then taken when the loop is made, not at that
    run, where they could take the number of a file the program just
    closed). Not attached: a loop run in another thread must not drain the
    pipe, or the main thread's loop would miss the wake-up."""
    with _lock:
        signal_pipe()
        _pipe_users.add(loop)


def detach_pipe(loop: Loop) -> None:
    """``loop`` is closing (its hooks go with it): it no longer needs the
    signal pipe, which is closed if no one else does."""
    with _lock:
        _pipe_users.discard(loop)
        _close_pipe_if_unused()


def reattach_pipe(loop: Loop) -> None:
    """After a fork: a loop that watched the old signal pipe watches the
    child's own."""
    if any(isinstance(hook, _PipeHook) for hook in loop._hooks.values()):
        attach_pipe(loop)


def _install(signum: int) -> None:
    """Put our handler on ``signum`` (main thread only)."""
    global _saved_wakeup_fd
    if threading.current_thread() is not threading.main_thread():
        raise Error(
            f"signal {signum} is not yet handled: the first watcher of a signal must be started "
            "from the main thread (Python installs signal handlers only there)"
        )
    previous = signal.signal(signum, _python_handler)
    _saved_handlers[signum] = previous
    _claim_wakeup_fd()


def _uninstall(signum: int) -> None:
    previous = _saved_handlers.pop(signum)
    try:
        signal.signal(signum, previous if previous is not None else signal.SIG_DFL)
    except ValueError:
        # Not the main thread: our handler stays until it next runs (in the
        # main thread), which restores the previous one and passes it on.
        _deferred[signum] = previous
    _release_wakeup_fd()


def _claim_wakeup_fd() -> None:
    """Make the signal pipe Python's wakeup fd, unless another one is set
    (main thread only)."""
    global _saved_wakeup_fd
    if _foreign_wakeup_fd:
        return
    # Asked of Python every time, not remembered: an exception raised by a
    # signal handler between two of these lines must not leave us believing
    # a wakeup fd is ours when it is not, or the reverse.
    ours = _pipe_write_end()
    old = signal.set_wakeup_fd(ours, warn_on_full_buffer=False)
    if old not in (-1, ours):
        # Someone else (asyncio, say) reads the wakeup fd: leave it to
        # them. Signals still arrive (handler + EINTR); only a signal
        # landing in another thread may wait for the loop's next wake-up.
        signal.set_wakeup_fd(old)
        _set_foreign(True)
    elif _saved_wakeup_fd is None:
        _saved_wakeup_fd = -1


def _release_wakeup_fd() -> None:
    """Put the previous wakeup fd back once nothing needs ours: no handler
    of ours and no loop holding interrupts."""
    global _saved_wakeup_fd
    if _saved_handlers or _interrupt_holders:
        return
    _set_foreign(False)
    if _saved_wakeup_fd is not None:
        try:
            current = signal.set_wakeup_fd(_saved_wakeup_fd)
        except ValueError:
            return
        if _pipe is not None and current != _pipe[1]:
            signal.set_wakeup_fd(current)  # replaced by someone since: theirs now
        _saved_wakeup_fd = None
    _close_pipe_if_unused()


def hold_interrupts(loop: Loop) -> bool:
    """Make sure a signal with a Python handler (Ctrl-C's SIGINT among them)
    wakes ``loop`` while it blocks in its poll; True if the caller must call
    ``release_interrupts`` when its run ends. Main thread only: elsewhere
    Python runs no signal handler, so there is nothing to wake for.

    Python's C-level handler only sets a flag and writes to the wakeup fd.
    A signal landing between the loop's last look at that flag and its
    poll (or in another thread) interrupts nothing, so without the signal
    pipe in the poll it would wait for the next timer (up to
    MAX_BLOCKTIME). With the pipe, the poll returns at once and the loop
    runs the handler right after it."""
    global _interrupt_holders
    if threading.current_thread() is not threading.main_thread():
        return False
    with _lock:
        _interrupt_holders += 1
        _claim_wakeup_fd()
        if _saved_wakeup_fd is not None:  # ours is Python's wakeup fd
            attach_pipe(loop)
    return True


def release_interrupts() -> None:
    global _interrupt_holders
    with _lock:
        _interrupt_holders -= 1
        try:
            _release_wakeup_fd()
        except ValueError:
            pass  # not the main thread any more (a forked child's other thread)


def _set_foreign(value: bool) -> None:
    global _foreign_wakeup_fd
    _foreign_wakeup_fd = value


def _pipe_write_end() -> int:
    signal_pipe()
    assert _pipe is not None
    return _pipe[1]


def _interest(signum: int) -> bool:
    return signum in _owners or bool(_subscribers.get(signum))


def claim(signum: int, source: SignalSource) -> None:
    with _lock:
        owner = _owners.get(signum)
        if owner is not None and owner is not source:
            raise Error(f"signal {signum} is already watched on another loop")
        if signum in _deferred:
            # Our handler is still in place: take it back, keep what it saved.
            _saved_handlers[signum] = _deferred.pop(signum)
        elif not _interest(signum):
            _install(signum)
        _owners[signum] = source


def release(signum: int) -> None:
    with _lock:
        _owners.pop(signum, None)
        if not _interest(signum) and signum in _saved_handlers:
            _uninstall(signum)


def subscribe(signum: int, callback: Callable[[], None]) -> None:
    with _lock:
        if signum in _deferred:
            _saved_handlers[signum] = _deferred.pop(signum)
        elif not _interest(signum):
            _install(signum)
        _subscribers.setdefault(signum, set()).add(callback)


def unsubscribe(signum: int, callback: Callable[[], None]) -> None:
    with _lock:
        subscribers = _subscribers.get(signum)
        if subscribers is not None:
            subscribers.discard(callback)
            if not subscribers:
                del _subscribers[signum]
        if not _interest(signum) and signum in _saved_handlers:
            _uninstall(signum)


def _after_fork_in_child() -> None:
    # The pipe is shared with the parent, which would read our signals and we
    # its: make our own and point the wakeup fd at it.
    global _pipe
    if _pipe is None:
        return
    old = _pipe
    _pipe = os.pipe2(os.O_NONBLOCK | os.O_CLOEXEC)
    if _saved_wakeup_fd is not None:
        try:
            signal.set_wakeup_fd(_pipe[1], warn_on_full_buffer=False)
        except ValueError:
            pass
    for fd in old:
        os.close(fd)


os.register_at_fork(after_in_child=_after_fork_in_child)


# -- one loop's signals ----------------------------------------------------


def signalfd_usable() -> bool:
    return _linux.AVAILABLE


class SignalSource:
    """The Signal watchers of one loop, and how their signals reach it."""

    def __init__(self, loop: Loop) -> None:
        self.loop = loop
        self.by_signum: dict[int, list[Signal]] = {}
        self.pending: set[int] = set()
        self.native = loop._use_signalfd and signalfd_usable()
        self.sfd = -1
        self.sfd_pid = 0  # the process that made sfd: a forked child makes its own
        wakeup = loop._get_wakeup()
        wakeup.listeners.append(self.dispatch)
        attach_pipe(loop)

    # -- watchers --

    def add(self, w: Signal) -> None:
        signum = w.signum
        group = self.by_signum.get(signum)
        if group is None:
            claim(signum, self)
            group = self.by_signum[signum] = []
            self._update_mask()
        group.append(w)

    def remove(self, w: Signal) -> None:
        signum = w.signum
        group = self.by_signum[signum]
        group.remove(w)
        if not group:
            del self.by_signum[signum]
            self._update_mask()
            release(signum)

    def _update_mask(self) -> None:
        if not self.native:
            return
        self._drop_inherited()
        signums = sorted(self.by_signum)
        if signums:
            if self.sfd < 0:
                self.sfd = _linux.signalfd(-1, signums)
                self.sfd_pid = os.getpid()
                self.loop._add_hook(self.sfd, self.read_signalfd)
            else:
                _linux.signalfd(self.sfd, signums)
        self.loop._mask_signals(signums, self.sfd, self.read_signalfd)

    # -- delivery --

    def mark(self, signum: int) -> None:
        """Note ``signum`` for this loop and wake it. Any thread."""
        self.pending.add(signum)
        wakeup = self.loop._wakeup
        if wakeup is not None and not wakeup.armed:
            wakeup.notify()

    def dispatch(self) -> None:
        pending = self.pending
        while pending:
            self.deliver(pending.pop())

    def deliver(self, signum: int) -> None:
        """Queue every watcher of ``signum`` (also ``feed_signal_event``)."""
        loop = self.loop
        for w in self.by_signum.get(signum, ()):
            loop._queue(w, SIGNAL)

    def read_signalfd(self) -> None:
        """Queue the watchers of every signal waiting in the signalfd (called
        by the loop while the signals are still blocked)."""
        if self.sfd >= 0:
            for signum in set(_linux.signalfd_read(self.sfd)):
                self.deliver(signum)

    # -- loop life cycle --

    def active_watchers(self) -> list[Signal]:
        return [w for group in self.by_signum.values() for w in group]

    def _drop_inherited(self) -> None:
        """A signalfd made before a fork is shared with the parent: changing
        its mask here would change the parent's. Let go of it (a new one is
        made when needed)."""
        if self.sfd >= 0 and self.sfd_pid != os.getpid():
            self.loop._forget_hook(self.sfd)
            os.close(self.sfd)
            self.sfd = -1
            self.loop._mask_signals((), -1, None)

    def after_fork(self) -> None:
        # Our own signalfd; and the signal pipe was replaced in the child.
        if self.sfd >= 0 and self.sfd_pid != os.getpid():
            self._drop_inherited()
            self._update_mask()
        attach_pipe(self.loop)

    def close(self) -> None:
        loop = self.loop
        loop._mask_signals((), -1, None)
        if self.sfd >= 0:
            loop._remove_hook(self.sfd)
            os.close(self.sfd)
            self.sfd = -1
        if loop._wakeup is not None and self.dispatch in loop._wakeup.listeners:
            loop._wakeup.listeners.remove(self.dispatch)
