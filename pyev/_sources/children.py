"""Child process exits (and, with ``trace``, stops and continues).

Two rules shape this module:
- *Never steal.* A watcher for pid P reaps only P, with ``waitpid(P)``;
  other children (``subprocess.run``'s, for instance) are left to their
  owners. Only ``Child(0)`` reaps any child, which is why it is confined to
  the default loop and documented as taking every child's status.
- *Never lose an exit.* A child that exited before its watcher started is a
  zombie until reaped, so starting a watcher always looks at it once.

Native: one pidfd per watched pid (``os.pidfd_open``), a loop hook that
becomes readable when that process exits; then ``waitpid(P, WNOHANG)``.
A pidfd does not report stops and continues, so ``trace=True`` watchers
additionally listen to SIGCHLD. Fallback (no pidfd, or the fd limit hit):
SIGCHLD, after which each watched pid is polled with ``waitpid(P, WNOHANG)``.
"""

from __future__ import annotations

import errno
import os
import signal
from typing import TYPE_CHECKING

from .._constants import CHILD, Error
from . import signals

if TYPE_CHECKING:
    from .._loop import Loop
    from .._watchers.child import Child


def _probe_pidfd() -> bool:
    try:
        fd = os.pidfd_open(os.getpid())
    except (AttributeError, OSError):
        return False
    os.close(fd)
    return True


# Tests switch this off to exercise the fallback; pidfd needs Linux 5.3.
USE_PIDFD = _probe_pidfd()


def _require_child(pid: int) -> None:
    """Raise ChildProcessError unless ``pid`` is our child and not yet reaped."""
    try:
        os.waitid(os.P_PID, pid, os.WEXITED | os.WSTOPPED | os.WCONTINUED | os.WNOHANG | os.WNOWAIT)
    except ChildProcessError:
        raise ChildProcessError(errno.ECHILD, f"process {pid} is not a child of this process") from None


def _is_exit(status: int) -> bool:
    return os.WIFEXITED(status) or os.WIFSIGNALED(status)


class ChildSource:
    """The Child watchers of one loop."""

    def __init__(self, loop: Loop) -> None:
        self.loop = loop
        self.by_pid: dict[int, list[Child]] = {}
        self.pidfds: dict[int, int] = {}  # pid -> pidfd, for pids watched natively
        self.sigchld_pids: set[int] = set()  # pids that depend on SIGCHLD
        self.sigchld_seen = False
        self.subscribed = False
        loop._get_wakeup().listeners.append(self._on_wakeup)

    # -- watchers --

    def add(self, w: Child) -> None:
        pid = w.pid
        if pid == 0 and not self.loop._is_default:
            raise Error("Child(0) (any child) can only be started on the default loop")
        group = self.by_pid.get(pid)
        if group is None:
            if pid > 0 and USE_PIDFD:
                self._open_pidfd(pid)
            if pid > 0 and pid not in self.pidfds:
                _require_child(pid)
            group = self.by_pid[pid] = []
        group.append(w)
        if pid == 0 or w.trace or pid not in self.pidfds:
            self.sigchld_pids.add(pid)
            self._subscribe()
            self._note_sigchld()  # look once: it may have exited already

    def _open_pidfd(self, pid: int) -> None:
        try:
            fd = os.pidfd_open(pid)
        except ProcessLookupError:
            raise ChildProcessError(errno.ECHILD, f"no process {pid} to watch") from None
        except OSError as exc:
            if exc.errno in (errno.EMFILE, errno.ENFILE, errno.ENOSYS):
                return  # the SIGCHLD path takes it
            raise
        try:
            os.waitid(os.P_PIDFD, fd, os.WEXITED | os.WNOHANG | os.WNOWAIT)
        except ChildProcessError:
            os.close(fd)
            raise ChildProcessError(errno.ECHILD, f"process {pid} is not a child of this process") from None
        self.pidfds[pid] = fd
        self.loop._add_hook(fd, lambda: self._reap(pid))

    def remove(self, w: Child) -> None:
        pid = w.pid
        group = self.by_pid[pid]
        group.remove(w)
        if not group:
            del self.by_pid[pid]
            self._close_pidfd(pid)
        if pid in self.sigchld_pids:
            rest = self.by_pid.get(pid, [])
            if not rest or (pid in self.pidfds and not any(x.trace for x in rest)):
                self.sigchld_pids.discard(pid)
        if not self.sigchld_pids:
            self._unsubscribe()

    def _close_pidfd(self, pid: int) -> None:
        fd = self.pidfds.pop(pid, None)
        if fd is not None:
            self.loop._remove_hook(fd)
            os.close(fd)

    def _subscribe(self) -> None:
        if not self.subscribed:
            signals.subscribe(signal.SIGCHLD, self._note_sigchld)
            signals.attach_pipe(self.loop)
            self.subscribed = True

    def _unsubscribe(self) -> None:
        if self.subscribed:
            signals.unsubscribe(signal.SIGCHLD, self._note_sigchld)
            self.subscribed = False

    # -- delivery --

    def _note_sigchld(self) -> None:
        """SIGCHLD arrived (any thread): look at the SIGCHLD pids in the loop."""
        self.sigchld_seen = True
        wakeup = self.loop._wakeup
        if wakeup is not None:
            wakeup.notify()

    def _on_wakeup(self) -> None:
        if self.sigchld_seen:
            self.sigchld_seen = False
            for pid in list(self.sigchld_pids):
                if pid == 0:
                    self._reap_any()
                else:
                    self._reap(pid)

    # One status per pass: it is dispatched before the next is collected
    # (each callback sees its own rpid/rstatus); finding one re-arms the
    # SIGCHLD flag so that the next pass looks again.

    def _waiting_for_dispatch(self, pid: int) -> bool:
        """True while a watcher that would get pid's next status still has
        the last one pending: collect it next pass, not over the top of it."""
        for key in (pid, 0):
            for w in self.by_pid.get(key, ()):
                if w.is_pending:
                    self._note_sigchld()
                    return True
        return False

    def _reap(self, pid: int) -> None:
        group = self.by_pid.get(pid)
        if not group or self._waiting_for_dispatch(pid):
            return
        flags = os.WNOHANG
        if any(w.trace for w in group):
            flags |= os.WUNTRACED | os.WCONTINUED
        try:
            rpid, status = os.waitpid(pid, flags)
        except ChildProcessError:
            self._close_pidfd(pid)  # reaped elsewhere: nothing left to report
            return
        if rpid == 0:
            return
        self._deliver(rpid, status)
        if _is_exit(status):
            self._close_pidfd(pid)
        else:
            self._note_sigchld()  # traced: a continue or the exit may follow

    def _reap_any(self) -> None:
        if self._waiting_for_dispatch(0):
            return
        trace = any(w.trace for w in self.by_pid.get(0, ()))
        flags = os.WNOHANG | (os.WUNTRACED | os.WCONTINUED if trace else 0)
        try:
            rpid, status = os.waitpid(-1, flags)
        except ChildProcessError:
            return
        if rpid == 0:
            return
        self._deliver(rpid, status)
        if _is_exit(status):
            self._close_pidfd(rpid)
        self._note_sigchld()

    def _deliver(self, rpid: int, status: int) -> None:
        exited = _is_exit(status)
        for pid in (rpid, 0):
            for w in self.by_pid.get(pid, ()):
                if exited or w.trace:
                    w._record_status(rpid, status)
                    self.loop._queue(w, CHILD)

    # -- loop life cycle --

    def active_watchers(self) -> list[Child]:
        return [w for group in self.by_pid.values() for w in group]

    def after_fork(self) -> None:
        # The parent's children are not the child's: their pidfds stay
        # harmless (waitpid says ECHILD and the watcher is left alone).
        if self.subscribed:
            signals.attach_pipe(self.loop)

    def close(self) -> None:
        loop = self.loop
        # The loop closes its backend next, which drops every registration:
        # only close this process' copies of the pidfds. (Unregistering them
        # one by one could change a kernel set shared with a forked parent.)
        for fd in self.pidfds.values():
            loop._forget_hook(fd)
            os.close(fd)
        self.pidfds.clear()
        self._unsubscribe()
        if loop._wakeup is not None and self._on_wakeup in loop._wakeup.listeners:
            loop._wakeup.listeners.remove(self._on_wakeup)
