"""Embed: run another loop's events from inside this one (``ev_embed``).

Built from ordinary watchers on the embedding loop, none of which keeps it
alive on its own: an Io on the embedded loop's backend fd (readable when that
loop has events; at the Embed watcher's priority), a Prepare at MINPRI that
sweeps the embedded loop before the outer one blocks whenever it has fd
changes not yet given to its kernel (so watchers just started there are
registered), and a Fork watcher that passes a fork on.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from .._constants import EMBED, MINPRI, READ, RUN_NOWAIT, Backend, Error
from .base import Watcher, check_callback
from .io import Io
from .simple import Fork, Prepare

if TYPE_CHECKING:
    from .._loop import Loop


def _check_other(other: object) -> Loop:
    from .._loop import Loop

    if not isinstance(other, Loop):
        raise TypeError(f"other must be an ev.Loop, not {type(other).__name__}")
    if not other._closed and other.backend != Backend.EPOLL:
        raise ValueError(f"a loop on the {other.backend.name} backend cannot be embedded")
    return other


def _sweep(w: Embed, revents: int) -> None:
    """The callback of an Embed given none: sweep, as libev does then. It is
    a real callable, so that a fed or invoked Embed sweeps too."""
    w.sweep()


class Embed(Watcher):
    """Handles the events of loop ``other`` whenever the embedding loop sees
    its backend fd ready.

    With no callback the embedded loop is swept (one non-blocking iteration)
    automatically; with a callback, it is called with ``EMBED`` and should
    call ``sweep()``. ``other`` must use an embeddable backend (EPOLL);
    POLL raises ``ValueError``.
    """

    __slots__ = ("_other", "_io", "_prepare", "_fork")

    def __init__(
        self,
        other: Loop,
        callback: Callable[[Embed, int], object] | None = None,
        *,
        priority: int = 0,
        data: object = None,
    ) -> None:
        self._other = _check_other(other)
        self._io: Io | None = None
        self._prepare: Prepare | None = None
        self._fork: Fork | None = None
        super().__init__(callback, priority, data)
        if callback is None:
            self._callback = _sweep

    @classmethod
    def _callback_optional(cls) -> bool:
        return True

    @property
    def callback(self) -> Any:
        """Called as ``callback(watcher, EMBED)``, or None: then the embedded
        loop is swept automatically (also when the watcher is fed or
        invoked); may be replaced at any time."""
        callback = self._callback
        return None if callback is _sweep else callback

    @callback.setter
    def callback(self, callback: Any) -> None:
        check_callback(callback, optional=True)
        self._callback = _sweep if callback is None else callback

    @property
    def other(self) -> Loop:
        """The embedded loop."""
        return self._other

    def set(self, other: Loop) -> None:
        """Change the embedded loop; only while inactive."""
        self._require_inactive("set an Embed watcher")
        self._other = _check_other(other)

    def sweep(self) -> None:
        """Run one non-blocking iteration of the embedded loop."""
        if not self._other._closed:
            self._other.run(RUN_NOWAIT)

    def _on_ready(self, io: Io, revents: int) -> None:
        if self._callback is _sweep:
            self.sweep()
        else:
            assert self._loop is not None
            self._loop._queue(self, EMBED)

    def _on_prepare(self, prepare: Prepare, revents: int) -> None:
        if self._other._fdtable.changes and not self._other._closed:
            self.sweep()

    def _on_fork(self, fork: Fork, revents: int) -> None:
        other = self._other
        other.fork()
        other.run(RUN_NOWAIT)  # rebuilds its backend: a new fd to watch
        io = self._io
        if io is not None and io.fd != other._backend.fileno():
            io.stop()
            io.set(other._backend.fileno(), READ)
            io.start(self._loop)

    def _start(self, loop: Loop) -> None:
        other = self._other
        if other._closed:
            raise Error("cannot embed a closed loop")
        if other is loop:
            raise Error("a loop cannot embed itself")
        self._io = Io(other._backend.fileno(), READ, self._on_ready, priority=self.priority)
        self._prepare = Prepare(self._on_prepare, priority=MINPRI)
        self._fork = Fork(self._on_fork)
        for w in (self._io, self._prepare, self._fork):
            w.keepalive = False
            w.start(loop)
        loop._embed_source().add(self)

    def _stop(self, loop: Loop) -> None:
        for w in (self._io, self._prepare, self._fork):
            if w is not None:
                w.stop()
        self._io = self._prepare = self._fork = None
        embeds = loop._embeds
        if embeds is not None:
            embeds.remove(self)

    def _describe(self) -> str:
        return f"other={self._other!r} "


