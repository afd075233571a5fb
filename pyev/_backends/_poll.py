"""The portable backend: the standard library's ``select.poll``.

poll is stateless between calls, so a closed fd shows up as POLLNVAL on the
next poll (reported as ERROR), stale events cannot happen, and nothing needs
rebuilding after fork.
"""

from __future__ import annotations

import math
import select

from .._constants import ERROR, READ, WRITE, Backend

_IN = select.POLLIN | select.POLLPRI
_OUT = select.POLLOUT
_ERR = select.POLLERR | select.POLLHUP


class PollBackend:
    kind = Backend.POLL

    def __init__(self) -> None:
        self._poll = select.poll()

    def modify(self, fd: int, old: int, new: int, reopened: bool) -> None:
        if new:
            self._poll.register(fd, (_IN if new & READ else 0) | (_OUT if new & WRITE else 0))
        elif old:
            try:
                self._poll.unregister(fd)
            except KeyError:
                pass

    def poll(self, timeout: float) -> list[int]:
        # poll() takes whole milliseconds: round up so a timer is never early.
        ms = math.ceil(timeout * 1000.0) if timeout > 0 else 0
        result: list[int] = []
        for fd, got in self._poll.poll(ms):
            if got & select.POLLNVAL:
                mask = ERROR | READ | WRITE
            else:
                mask = READ | WRITE if got & _ERR else 0
                if got & _IN:
                    mask |= READ
                if got & _OUT:
                    mask |= WRITE
            result.append(fd)
            result.append(mask)
        return result

    def fileno(self) -> int:
        return -1

    def reinit(self) -> None:
        pass

    def close(self) -> None:
        self._poll = select.poll()
