"""Shared fixtures: every behaviour runs on both backends.

``loop``: a fresh loop on each backend (epoll, poll), closed afterwards.
``clean_default_loop``: closes the default loop after a test that used it, so
no state leaks between tests.

``PYEV_GC_STRESS=N`` (off unless set; ``tools/sanitize.sh --gc-stress`` sets
it) turns on the garbage-collection stress hook for every test: see
``_gc_stress`` below.
"""

from __future__ import annotations

import gc
import os
import resource
import threading
import time
import traceback
import weakref
from collections.abc import Iterator

import pytest

import pyev as ev

BACKENDS = [pytest.param(ev.Backend.EPOLL, id="epoll"), pytest.param(ev.Backend.POLL, id="poll")]


@pytest.fixture(params=BACKENDS)
def backend(request: pytest.FixtureRequest) -> ev.Backend:
    kind: ev.Backend = request.param
    return kind


@pytest.fixture
def loop(backend: ev.Backend) -> Iterator[ev.Loop]:
    lp = ev.Loop(backend=backend)
    yield lp
    lp.close()


@pytest.fixture
def clean_default_loop() -> Iterator[None]:
    yield
    ev.default_loop().close()


class Recorder:
    """Collects (name, revents) pairs from callbacks, in call order."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, int]] = []

    def cb(self, name: str):  # type: ignore[no-untyped-def]
        def callback(w: ev.Watcher, revents: int) -> None:
            self.calls.append((name, revents))

        return callback

    @property
    def names(self) -> list[str]:
        return [name for name, _ in self.calls]


@pytest.fixture
def rec() -> Recorder:
    return Recorder()


# -- garbage-collection stress (PYEV_GC_STRESS) ---------------------------------------------
#
# With PYEV_GC_STRESS=N every test runs with gc.set_threshold(1), so a
# collection starts whenever two container objects were allocated since the
# last one, also in the middle of the C core's work (growing the fd table or a deadline heap,
# queueing, invoking). On every Nth collection a gc callback does what a
# finalizer may legitimately do at that moment: it starts and stops an Io (on
# a reserved fd picked to make the fd table grow, in its dense array and in its
# far table), a Timer and an Idle on each open loop this thread created, and on
# a private loop of its own. A C function that keeps a pointer into a table
# across an allocation then reads freed memory, which ASan reports (run it
# with tools/sanitize.sh --gc-stress). An exception other than ev.Error from
# the callback fails the test that was running.

GC_STRESS = int(os.environ.get("PYEV_GC_STRESS", "0") or "0")

# Descriptor numbers the hook watches, in this order on each loop, so that
# every one of its first churns makes the loop's fd table grow: the dense
# array through 128, 256, 512 and 1024 slots, then the far table (fds of
# 1024 and up) rebuilt as new entries arrive; then round the far ones again.
_STRESS_DENSE_FDS = [100, 200, 400, 800, 1000]
_STRESS_FAR_FDS = [1100 + 37 * k for k in range(40)]


class _GcStress:
    def __init__(self, every: int) -> None:
        self.every = max(1, every)
        self.count = 0
        self.loops: weakref.WeakKeyDictionary[ev.Loop, int] = weakref.WeakKeyDictionary()
        # Loops given to an Embed: a change to their fd interest makes the
        # embedding loop sweep them (as libev), which tests can observe.
        self.embedded: weakref.WeakSet[ev.Loop] = weakref.WeakSet()
        self.errors: list[str] = []
        self.actions = 0
        self.io_on_epoll = True
        self.private: dict[int, ev.Loop] = {}
        soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
        r, w = os.pipe()
        self.pipe = (r, w)
        self.fds: list[int] = []
        self.next_fd: weakref.WeakKeyDictionary[ev.Loop, int] = weakref.WeakKeyDictionary()
        for fd in _STRESS_DENSE_FDS + _STRESS_FAR_FDS:
            if fd < soft:
                try:
                    os.fstat(fd)
                    continue  # taken already: leave it alone
                except OSError:
                    pass
                os.dup2(r, fd)
                self.fds.append(fd)
        if not self.fds:
            self.fds.append(r)
        self.original_init = ev.Loop.__init__
        self.original_verify = ev.Loop.verify
        self.original_embed_init = ev.Embed.__init__
        self.verifying = 0  # verify() running again, without churn
        self.churns = 0

        stress = self

        def init(loop: ev.Loop, *args: object, **kwargs: object) -> None:
            stress.original_init(loop, *args, **kwargs)  # type: ignore[arg-type]
            stress.loops[loop] = threading.get_ident()

        def verify(loop: ev.Loop) -> None:
            # verify() reads the tables in several steps, allocating as it
            # goes: a churn between two of them can make it see an fd in
            # the change list whose dirty flag it read before. That is no
            # corruption, so a failure with churns in between is checked
            # again with the hook still; the churns themselves stay, as the
            # reads that verify() makes across them are what ASan checks.
            before = stress.churns
            try:
                stress.original_verify(loop)
            except AssertionError:
                if stress.churns == before:
                    raise
                stress.verifying += 1
                try:
                    stress.original_verify(loop)
                finally:
                    stress.verifying -= 1

        def embed_init(w: ev.Embed, other: ev.Loop, *args: object, **kwargs: object) -> None:
            if isinstance(other, ev.Loop):
                stress.embedded.add(other)
            stress.original_embed_init(w, other, *args, **kwargs)  # type: ignore[arg-type]

        self.init = init
        self.verify = verify
        self.embed_init = embed_init

    def install(self) -> None:
        ev.Loop.__init__ = self.init  # type: ignore[method-assign]
        ev.Loop.verify = self.verify  # type: ignore[method-assign]
        ev.Embed.__init__ = self.embed_init  # type: ignore[method-assign]
        gc.callbacks.append(self.callback)

    def uninstall(self) -> None:
        if self.callback in gc.callbacks:
            gc.callbacks.remove(self.callback)
        ev.Loop.__init__ = self.original_init  # type: ignore[method-assign]
        ev.Loop.verify = self.original_verify  # type: ignore[method-assign]
        ev.Embed.__init__ = self.original_embed_init  # type: ignore[method-assign]

    def callback(self, phase: str, info: dict[str, int]) -> None:
        if phase != "start":
            return
        self.count += 1
        if self.count % self.every or self.verifying:
            return
        try:
            self.churn()
        except BaseException:  # noqa: BLE001 - reported by the fixture
            self.errors.append(traceback.format_exc())

    def churn(self) -> None:
        me = threading.get_ident()
        alone = threading.active_count() == 1
        targets: list[ev.Loop] = []
        for loop, owner in list(self.loops.items()):
            # A loop belongs to the thread that runs it: touch only our own,
            # and while other threads live, only those not running.
            if owner == me and not loop.closed and (alone or loop.depth == 0):
                targets.append(loop)
        private = self.private.get(me)
        if private is None or private.closed:
            private = self.private[me] = self.original_loop()
        targets.append(private)
        self.churns += 1
        k = self.count // self.every
        for loop in targets:
            n = self.next_fd.get(loop, 0)
            self.next_fd[loop] = n + 1
            if n >= len(self.fds):
                dense = len(_STRESS_DENSE_FDS)
                n = dense + (n - dense) % max(1, len(self.fds) - dense)
            fd = self.fds[min(n, len(self.fds) - 1)]
            io = ev.Io(fd, ev.READ, _noop)
            timer = ev.Timer(3600.0 + (k % 7), _noop)
            idle = ev.Idle(_noop)
            io_ok = loop not in self.embedded and (self.io_on_epoll or loop.backend != ev.Backend.EPOLL)
            churned: tuple[ev.Watcher, ...] = (io, timer, idle) if io_ok else (timer, idle)
            for w in churned:
                try:
                    w.start(loop)
                except ev.Error:
                    continue  # the loop is being closed: refusing is right
                self.actions += 1
            for w in reversed(churned):
                w.stop()

    def original_loop(self) -> ev.Loop:
        loop = ev.Loop.__new__(ev.Loop)
        self.original_init(loop)
        return loop


def _noop(w: ev.Watcher, revents: int) -> None:
    pass


_gc_stress: _GcStress | None = None


@pytest.fixture(autouse=True)
def gc_stress(request: pytest.FixtureRequest) -> Iterator[None]:
    """Active only with PYEV_GC_STRESS set; see above."""
    global _gc_stress
    if not GC_STRESS:
        yield
        return
    if _gc_stress is None:
        _gc_stress = _GcStress(GC_STRESS)
    stress = _gc_stress
    stress.errors.clear()
    # An Io started and stopped leaves an fd change until the loop next
    # polls; a loop that is then embedded gets swept for it (as in libev),
    # which the Embed tests (their embedded loop is the ``inner`` fixture)
    # observe. There the Io churn stays off EPOLL loops, the embeddable ones.
    stress.io_on_epoll = "inner" not in request.fixturenames
    thresholds = gc.get_threshold()
    stress.install()
    gc.set_threshold(1)
    try:
        yield
    finally:
        gc.set_threshold(*thresholds)
        stress.uninstall()
    if stress.errors:
        pytest.fail("the gc-stress callback failed:\n" + "\n".join(stress.errors[:3]), pytrace=False)


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    if _gc_stress is not None:
        terminalreporter.write_line(
            f"gc stress (PYEV_GC_STRESS={GC_STRESS}): {_gc_stress.count} collections in tests, "
            f"{_gc_stress.actions} watcher starts from gc callbacks on {len(_gc_stress.fds)} reserved fds"
        )


# tools/sanitize.sh sets PYEV_TEST_TRACE to a file: each test appends
# "<time> <pid> <nodeid>" as it starts, so a sanitizer report (whose stack
# shows only C frames) can be matched with the test that was running.
_TRACE = os.environ.get("PYEV_TEST_TRACE")


def pytest_runtest_logstart(nodeid: str, location: object) -> None:
    if _TRACE:
        with open(_TRACE, "a") as f:
            f.write(f"{time.time():.6f} {os.getpid()} {nodeid}\n")
