"""Child: a child process exited, or with ``trace`` stopped or continued
(libev's ``ev_child``)."""

from __future__ import annotations

import os
from collections.abc import Callable
from typing import TYPE_CHECKING

from .base import Watcher, check_int

if TYPE_CHECKING:
    from .._loop import Loop


def _check_pid(pid: object) -> int:
    pid = check_int("pid", pid)
    if pid < 0:
        raise ValueError(f"pid must be >= 0 (0: any child), not {pid}")
    return pid


class Child(Watcher):
    """Calls back when child ``pid`` exits (with ``trace=True`` also when it
    stops or continues).

    ``pid`` > 0 works on any loop and reaps only that child, so other code's
    children (``subprocess.run``) are never stolen. ``pid`` 0 means any child
    and is allowed on the default loop only: it reaps *every* child of the
    process, including those that ``subprocess`` waits for. The watcher stays
    active after the exit; stop it in the callback. ``rpid``, ``rstatus``
    (the raw wait status), ``exit_code`` and ``term_signal`` are set before
    the callback runs.
    """

    __slots__ = ("_pid", "_trace", "_rpid", "_rstatus")

    def __init__(
        self,
        pid: int,
        callback: Callable[[Child, int], object],
        *,
        trace: bool = False,
        priority: int = 0,
        data: object = None,
    ) -> None:
        self._pid = _check_pid(pid)
        if not isinstance(trace, bool):
            raise TypeError(f"trace must be a bool, not {type(trace).__name__}")
        self._trace = trace
        self._rpid = 0
        self._rstatus = 0
        super().__init__(callback, priority, data)

    @property
    def pid(self) -> int:
        return self._pid

    @property
    def trace(self) -> bool:
        return self._trace

    @property
    def rpid(self) -> int:
        """The pid of the child the last event was about."""
        return self._rpid

    @property
    def rstatus(self) -> int:
        """The raw wait status of the last event (see ``os.waitstatus_to_exitcode``)."""
        return self._rstatus

    @property
    def exit_code(self) -> int | None:
        """The exit code if the child exited normally, else None."""
        return os.WEXITSTATUS(self._rstatus) if self._rpid and os.WIFEXITED(self._rstatus) else None

    @property
    def term_signal(self) -> int | None:
        """The signal that killed the child, else None."""
        return os.WTERMSIG(self._rstatus) if self._rpid and os.WIFSIGNALED(self._rstatus) else None

    def set(self, pid: int, trace: bool = False) -> None:
        """Change pid and trace; only while inactive."""
        self._require_inactive("set a Child watcher")
        pid = _check_pid(pid)
        if not isinstance(trace, bool):
            raise TypeError(f"trace must be a bool, not {type(trace).__name__}")
        self._pid, self._trace = pid, trace

    def _record_status(self, rpid: int, status: int) -> None:
        """Called by the loop's ChildSource before it queues the watcher."""
        self._rpid = rpid
        self._rstatus = status

    def _start(self, loop: Loop) -> None:
        loop._child_source().add(self)

    def _stop(self, loop: Loop) -> None:
        loop._child_source().remove(self)

    def _describe(self) -> str:
        return f"pid={self._pid} "
