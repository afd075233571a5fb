"""asyncio on pyev: one loop for pyev watchers and the asyncio ecosystem.

    import asyncio
    import pyev.aio

    async def main() -> None:
        loop = asyncio.get_running_loop()
        ...  # pyev watchers on loop.ev, asyncio streams, tasks, subprocesses

    pyev.aio.run(main())
    # or: asyncio.run(main(), loop_factory=pyev.aio.new_event_loop)   (3.12+)

``import pyev`` alone does not import asyncio; ``import pyev.aio`` does.
"""

from __future__ import annotations

import asyncio
from asyncio import events
from collections.abc import Coroutine
from typing import Any, TypeVar

from .._loop import Loop
from ._loop import EventLoop

_T = TypeVar("_T")


class _LoopFactory:
    """``new_event_loop``: a callable that stays unbound as a class
    attribute (a function there would become a method), so that it also
    serves as ``IsolatedAsyncioTestCase.loop_factory``."""

    __slots__ = ()

    def __call__(
        self, ev_loop: Loop | None = None, *, priority: int = 0, watcher_errors: str = "propagate"
    ) -> EventLoop:
        """A new asyncio loop on ``ev_loop`` (a new, owned pyev loop when None).

        This is the ``loop_factory`` for ``asyncio.run`` (3.12+),
        ``asyncio.Runner`` and ``IsolatedAsyncioTestCase.loop_factory``
        (3.13+). The keyword arguments are ``EventLoop``'s.
        """
        return EventLoop(ev_loop, priority=priority, watcher_errors=watcher_errors)

    def __repr__(self) -> str:
        return "<function pyev.aio.new_event_loop>"


new_event_loop = _LoopFactory()


def run(
    main: Coroutine[Any, Any, _T],
    *,
    debug: bool | None = None,
    ev_loop: Loop | None = None,
    watcher_errors: str = "propagate",
) -> _T:
    """Run coroutine ``main`` on a new pyev.aio loop and return its result,
    as ``asyncio.run`` (and ``uvloop.run``) do: the loop is closed after
    async generators and the default executor are shut down, and Ctrl-C
    cancels ``main`` and then raises KeyboardInterrupt. ``ev_loop`` is the
    pyev loop to run on (borrowed, left open); None makes a new one.
    ``watcher_errors`` is ``EventLoop``'s."""
    if events._get_running_loop() is not None:
        raise RuntimeError("pyev.aio.run() cannot be called from a running event loop")
    with asyncio.Runner(debug=debug, loop_factory=lambda: EventLoop(ev_loop, watcher_errors=watcher_errors)) as runner:
        return runner.run(main)


__all__ = ["EventLoop", "new_event_loop", "run"]
