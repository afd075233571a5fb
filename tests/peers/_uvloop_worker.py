"""One module of uvloop's test suite, its asyncio classes only, on one loop.

    python _uvloop_worker.py pyev|stock SUITE_ROOT MODULE RESULT.json PROGRESS

Called by uvloop_suite.py (see there). SUITE_ROOT holds uvloop's ``tests``
package; only the test classes deriving from ``uvloop._testbase.AIOTestCase``
run. Nothing in the suite's files is changed: for pyev.aio the harness
overrides ``AIOTestCase.new_loop`` and the default policy's loop factory.
"""

from __future__ import annotations

import asyncio
import faulthandler
import importlib
import importlib.util
import os
import sys
import traceback
import unittest
from typing import Any

sys.path.insert(0, __file__.rsplit("/", 1)[0])
import _peerlib  # noqa: E402
from uvloop_suite import EXCLUDE, HARNESS_SKIP  # noqa: E402

# For test programs the suite runs in a child interpreter (test_signals'
# NEW_LOOP): an expression, as the child imports only asyncio and uvloop.
PYEV_NEW_LOOP = "__import__('pyev.aio').aio.new_event_loop()"

LOOPS_BUILT = 0


def _use_loop(loop: str, tb: Any) -> None:
    stock_new_loop = tb.AIOTestCase.new_loop

    if loop == "pyev":
        import pyev.aio
        from asyncio import unix_events

        def new_pyev_loop() -> asyncio.AbstractEventLoop:
            return pyev.aio.new_event_loop()

        def new_loop(self: Any) -> asyncio.AbstractEventLoop:
            global LOOPS_BUILT
            LOOPS_BUILT += 1
            return new_pyev_loop()

        # asyncio.new_event_loop() inside a test gets pyev.aio too.
        policy: Any = unix_events._UnixDefaultEventLoopPolicy
        policy._loop_factory = staticmethod(new_pyev_loop)
        # The suite asks this to pick asyncio's behaviour over uvloop's where
        # they differ (by the loop's module); pyev.aio runs asyncio's
        # transports, servers and SSL, so it takes asyncio's branches.
        tb.AIOTestCase.is_asyncio_loop = lambda self: True
    else:

        def new_loop(self: Any) -> asyncio.AbstractEventLoop:
            global LOOPS_BUILT
            LOOPS_BUILT += 1
            return stock_new_loop(self)  # type: ignore[no-any-return]

    tb.AIOTestCase.new_loop = new_loop


def _import_tests_package(root: str) -> None:
    """ROOT/tests as the package ``tests``, without putting ROOT on sys.path
    (in an unpacked sdist, ROOT/uvloop would hide the installed uvloop)."""
    init = os.path.join(root, "tests", "__init__.py")
    spec = importlib.util.spec_from_file_location("tests", init, submodule_search_locations=[os.path.dirname(init)])
    assert spec is not None and spec.loader is not None
    package = importlib.util.module_from_spec(spec)
    sys.modules["tests"] = package
    spec.loader.exec_module(package)


class _ImportFailed:
    def __init__(self, name: str, details: str) -> None:
        self.outcomes = {f"{name} (import)": "error"}
        self.details = {f"{name} (import)": details}


def _aio_only(suite: unittest.TestSuite, tb: Any) -> unittest.TestSuite:
    """The suite's tests on AIOTestCase classes."""
    keep = unittest.TestSuite()
    for test in _peerlib.iter_tests(suite):
        if isinstance(test, tb.AIOTestCase):
            keep.addTest(test)
    return keep


def main() -> int:
    loop, root, name, out, progress = sys.argv[1:6]
    faulthandler.enable()
    _import_tests_package(root)
    from uvloop import _testbase as tb

    _use_loop(loop, tb)
    try:
        mod = importlib.import_module(f"tests.{name}")
    except Exception:  # a missing test dependency, say: one error for the module
        _peerlib.write_result(out, _ImportFailed(name, traceback.format_exc()), loops=0)
        return 0
    if loop == "pyev":
        for value in vars(mod).values():
            if isinstance(value, type) and issubclass(value, tb.AIOTestCase) and hasattr(value, "NEW_LOOP"):
                value.NEW_LOOP = PYEV_NEW_LOOP
    suite = _aio_only(unittest.TestLoader().loadTestsFromModule(mod), tb)
    suite = _peerlib.drop_done(suite, "tests.")
    _peerlib.skip_listed(suite, HARNESS_SKIP, "harness", "tests.")
    if loop == "pyev":
        _peerlib.skip_listed(suite, EXCLUDE, "pyev.aio", "tests.")
    result = _peerlib.run_suite(suite, progress, "tests.")
    _peerlib.write_result(out, result, loops=LOOPS_BUILT)
    return 0


if __name__ == "__main__":
    status = main()
    # The outcomes are written: leave now, so that a thread a failed test
    # left blocked (an executor's recv, say) cannot hold the exit.
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(status)
