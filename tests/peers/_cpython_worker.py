"""One module of ``test.test_asyncio`` on one loop, in this process.

    python _cpython_worker.py pyev|stock MODULE RESULT.json PROGRESS

Called by cpython_asyncio.py (see there). Writes each test's id to PROGRESS
as it starts and its outcome as it ends (so that a hang names its test, see
_peerlib.py) and the outcomes to RESULT.json.
"""

from __future__ import annotations

import asyncio
import faulthandler
import importlib
import sys
import unittest
from collections.abc import Callable
from typing import Any

sys.path.insert(0, __file__.rsplit("/", 1)[0])
import _peerlib  # noqa: E402
from cpython_asyncio import EXCLUDE, HARNESS_SKIP  # noqa: E402

STRIP = "test.test_asyncio."


class StandInLoop(asyncio.SelectorEventLoop):  # type: ignore[misc, valid-type]
    """Stock asyncio, from outside the asyncio package (the baseline)."""


LOOPS_BUILT = 0


def _factory(loop: str) -> Callable[[], asyncio.AbstractEventLoop]:
    if loop == "pyev":
        import pyev.aio

        def new_pyev_loop() -> asyncio.AbstractEventLoop:
            global LOOPS_BUILT
            LOOPS_BUILT += 1
            return pyev.aio.new_event_loop()

        return new_pyev_loop
    return StandInLoop


def _count(cls: type) -> None:
    original = cls.__init__

    def __init__(self: Any, *args: Any, **kwargs: Any) -> None:
        global LOOPS_BUILT
        LOOPS_BUILT += 1
        original(self, *args, **kwargs)

    cls.__init__ = __init__  # type: ignore[misc]


_count(StandInLoop)


_NEW_LOOP_CLASSES = {
    "test_buffered_proto": ("BufferedProtocolSelectorTests",),
    "test_server": ("SelectorStartServerTests",),
    "test_sslproto": ("SelectorStartTLSTests",),
    "test_runners": ("RunTests", "RunnerTests"),
}


def _peer_classes(mod: Any, name: str, factory: Callable[[], asyncio.AbstractEventLoop]) -> None:
    """Replace the per-selector classes by one PEER class on ``factory``."""
    from test.test_asyncio import utils as test_utils

    def create_event_loop(self: object) -> asyncio.AbstractEventLoop:
        return factory()

    per_selector = ("EPollEventLoopTests", "PollEventLoopTests", "SelectEventLoopTests", "KqueueEventLoopTests")
    bases: tuple[type, ...] | None = None
    if name == "test_events":
        bases = (mod.EventLoopTestsMixin, mod.SubprocessTestsMixin, test_utils.TestCase)
    elif name == "test_sock_lowlevel":
        bases = (mod.BaseSockTestsMixin, test_utils.TestCase)
    elif name == "test_sendfile":
        bases = (mod.SendfileTestsBase, test_utils.TestCase)
    if bases is not None:
        for cls in per_selector:
            if hasattr(mod, cls):
                delattr(mod, cls)
        peer = type("PEER_EventLoopTests", bases, {"create_event_loop": create_event_loop})
        peer.__module__ = mod.__name__
        mod.PEER_EventLoopTests = peer
    # Classes that pick the selector loop through a new_loop() of their own.
    for cls_name in _NEW_LOOP_CLASSES.get(name, ()):
        original = getattr(mod, cls_name)

        def new_loop(self: object) -> asyncio.AbstractEventLoop:
            loop: Any = factory()
            if name == "test_runners":
                # BaseTest.tearDown asserts a flag its mock loop sets.
                loop.shutdown_ag_run = False
                real = loop.shutdown_asyncgens

                async def shutdown_asyncgens() -> None:
                    loop.shutdown_ag_run = True
                    await real()

                loop.shutdown_asyncgens = shutdown_asyncgens
            return loop  # type: ignore[no-any-return]

        peer = type(f"PEER_{cls_name}", (original,), {"new_loop": new_loop})
        peer.__module__ = mod.__name__
        setattr(mod, peer.__name__, peer)
        if name != "test_runners":  # its own classes run a mock loop: keep them too
            delattr(mod, cls_name)
    if name == "test_subprocess":

        def setUp(self: Any) -> None:
            test_utils.TestCase.setUp(self)
            self.loop = factory()
            self.set_event_loop(self.loop)

        if factory is StandInLoop:
            # Stock asyncio before 3.14 needs a policy child watcher, as the
            # suite's own SubprocessThreadedWatcherTests attaches.
            from asyncio import unix_events

            peer = type(
                "PEER_SubprocessTests",
                (mod.SubprocessWatcherMixin, test_utils.TestCase),
                {
                    "Watcher": unix_events.ThreadedChildWatcher,  # 3.11
                    "_get_watcher": lambda self: unix_events.ThreadedChildWatcher(),  # 3.12+
                },
            )
        else:
            peer = type("PEER_SubprocessTests", (mod.SubprocessMixin, test_utils.TestCase), {"setUp": setUp})
        peer.__module__ = mod.__name__
        mod.PEER_SubprocessTests = peer


def main() -> int:
    loop, name, out, progress = sys.argv[1:5]
    faulthandler.enable()
    factory = _factory(loop)
    from asyncio import unix_events

    unix_events._UnixDefaultEventLoopPolicy._loop_factory = staticmethod(factory)  # type: ignore[attr-defined]
    mod = importlib.import_module(f"test.test_asyncio.{name}")
    _peer_classes(mod, name, factory)
    suite = _peerlib.drop_done(unittest.TestLoader().loadTestsFromModule(mod), STRIP)
    _peerlib.skip_listed(suite, HARNESS_SKIP, "harness", STRIP)
    if loop == "pyev":
        _peerlib.skip_listed(suite, EXCLUDE, "pyev.aio", STRIP)
    result = _peerlib.run_suite(suite, progress, STRIP)
    _peerlib.write_result(out, result, loops=LOOPS_BUILT)
    return 0


if __name__ == "__main__":
    sys.exit(main())
