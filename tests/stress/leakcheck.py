"""Leak check: every watcher type's life cycle, repeated, must not grow the
process.

    python tests/stress/leakcheck.py                 # ~1-2 min on 2 cores
    python tests/stress/leakcheck.py --only signal,child --rounds 8 -v
    python tests/stress/leakcheck.py --list

Each scenario (one per watcher type, plus loop life cycles, nested runs,
once, feeding, callbacks that raise, real forks) runs WARMUP rounds, then
ROUNDS rounds of ITERATIONS repetitions, on each loop configuration: both
backends (EPOLL, POLL) x both signal/stat mechanisms (signalfd + inotify,
Python signal handlers + stat polling; --all-configs for all 8 mixes).
Around every measured round, after a full collection, it reads

- allocated blocks (``sys.getallocatedblocks()``),
- gc-tracked objects (``len(gc.get_objects())``),
- open file descriptors (``/proc/self/fd``).

A scenario leaks when its gc-tracked objects grew in *every* measured round
(the rule of CPython's own ``-R`` leak hunting: a one-off cache filling up
grows once, a leak grows every time), when its allocated blocks grew in
every round by at least one per 20 repetitions (blocks also move by a few
for reasons of their own: free lists, caches that converge, such as cffi's
for each new epoll loop), or when the fd count is higher after the rounds
than before them. A scenario that looks leaky is measured a second time
right after (a cache still filling up grows for a while, then stops; a
leak goes on), and only a leak seen both times counts. On a leak of
blocks the scenario is run once more under tracemalloc and the allocation
sites that grew are printed.
Exit status: 0 when nothing leaked, 1 otherwise, with one line per leak.

Not collected by pytest (pyproject.toml's norecursedirs excludes
tests/stress).
"""

from __future__ import annotations

import argparse
import gc
import os
import shutil
import signal
import socket
import sys
import tempfile
import threading
import time
import tracemalloc
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import pyev as ev

TRUE = "/bin/true" if os.path.exists("/bin/true") else "/usr/bin/true"


class Boom(Exception):
    pass


def noop(*args: object) -> None:
    pass


@dataclass
class Config:
    backend: ev.Backend
    signalfd: bool
    inotify: bool

    @property
    def name(self) -> str:
        return (f"{self.backend.name.lower()}/{'signalfd' if self.signalfd else 'sighandler'}"
                f"/{'inotify' if self.inotify else 'statpoll'}")

    def loop(self, backend: ev.Backend | None = None) -> ev.Loop:
        return ev.Loop(backend=backend or self.backend, signalfd=self.signalfd, inotify=self.inotify)


@dataclass
class Env:
    """What a scenario gets: the configuration, a long-lived loop (leaks
    that accumulate in one loop), and a scratch directory."""

    cfg: Config
    loop: ev.Loop
    tmp: str
    path: str
    counter: int = 0
    extra: dict[str, Any] = field(default_factory=dict)

    def keep(self, key: str, make: Callable[[], Any]) -> Any:
        """``make()``'s result, made on first use and kept for the whole
        configuration (closed at its end): fds that are not the subject."""
        if key not in self.extra:
            self.extra[key] = make()
        return self.extra[key]


def run_until(loop: ev.Loop, done: Callable[[], bool], limit: float = 5.0) -> None:
    deadline = time.monotonic() + limit
    guard = ev.Timer(0.05, noop, repeat=0.05)
    guard.keepalive = False
    guard.start(loop)
    try:
        while not done():
            if time.monotonic() > deadline:
                raise AssertionError("the expected event did not come")
            loop.run(ev.RUN_ONCE)
    finally:
        guard.stop()


# -- scenarios: each does one repetition ---------------------------------------------------------

SCENARIOS: dict[str, Callable[[Env], None]] = {}
SLOW: dict[str, int] = {}  # scenario -> divisor of the iteration count


def scenario(name: str, slow: int = 1) -> Callable[[Callable[[Env], None]], Callable[[Env], None]]:
    def register(fn: Callable[[Env], None]) -> Callable[[Env], None]:
        SCENARIOS[name] = fn
        SLOW[name] = slow
        return fn

    return register


@scenario("io")
def io(env: Env) -> None:
    loop = env.loop
    r, w = os.pipe()
    try:
        seen: list[int] = []
        reader = ev.Io(r, ev.READ, lambda w_, revents: seen.append(revents)).start(loop)
        writer = ev.Io(w, ev.WRITE, lambda w_, revents: seen.append(revents), priority=1).start(loop)
        os.write(w, b"x")
        run_until(loop, lambda: len(seen) >= 2)
        writer.events = ev.READ | ev.WRITE  # while active
        loop.run(ev.RUN_NOWAIT)
        writer.stop()
        writer.set(w, ev.WRITE)
        reader.feed(ev.CUSTOM)
        loop.feed_fd_event(r, ev.READ)
        loop.run(ev.RUN_NOWAIT)
        reader.stop()
        # An fd closed under an active watcher: ERROR, and it is stopped.
        broken = ev.Io(r, ev.READ, lambda w_, revents: seen.append(revents)).start(loop)
        os.close(r)
        r = -1
        run_until(loop, lambda: not broken.is_active)
    finally:
        for fd in (r, w):
            if fd >= 0:
                os.close(fd)


@scenario("io_many_fds")
def io_many_fds(env: Env) -> None:
    """Dense and far fd table slots: fds above 1024 too."""
    loop = env.loop
    base = env.keep("pipe", lambda: os.pipe())
    fds = env.keep("high", lambda: [os.dup2(base[0], fd) for fd in (300, 1100, 5000) if fd < _nofile()])
    ws = [ev.Io(fd, ev.READ, noop).start(loop) for fd in fds]
    loop.run(ev.RUN_NOWAIT)
    for w in ws:
        w.stop()
    loop.run(ev.RUN_NOWAIT)


@scenario("timer")
def timer(env: Env) -> None:
    loop = env.loop
    fired: list[int] = []
    t = ev.Timer(0.0, lambda w, revents: fired.append(revents)).start(loop)
    rep = ev.Timer(0.0, lambda w, revents: fired.append(revents), repeat=0.0005).start(loop)
    far = [ev.Timer(100.0 + k, noop).start(loop) for k in range(5)]
    run_until(loop, lambda: len(fired) >= 3)
    assert not t.is_active
    rep.again()
    _ = rep.remaining
    rep.stop()
    t.set(-1.0)
    t.start(loop)
    t.stop()
    for f in far[::2]:
        f.stop()
    for f in far[1::2]:
        f.again()  # repeat 0: stops it
    loop.run(ev.RUN_NOWAIT)


@scenario("timer_dropped_active")
def timer_dropped_active(env: Env) -> None:
    """A temporary loop dropped with active timers and a pending one."""
    loop = env.cfg.loop()
    for k in range(4):
        ev.Timer(10.0 + k, noop).start(loop)
    ev.Timer(-1.0, noop).start(loop).feed(ev.CUSTOM)
    loop.run(ev.RUN_NOWAIT)
    del loop


@scenario("periodic")
def periodic(env: Env) -> None:
    loop = env.loop
    fired: list[int] = []
    now = loop.now()
    p1 = ev.Periodic(now, lambda w, revents: fired.append(revents)).start(loop)
    p2 = ev.Periodic(0.0, lambda w, revents: fired.append(revents), interval=0.0005).start(loop)
    p3 = ev.Periodic(0.0, lambda w, revents: fired.append(revents),
                     reschedule=lambda w, now: now + 0.0005).start(loop)
    run_until(loop, lambda: len(fired) >= 4)
    p2.interval = 10.0
    p2.again()
    p3.stop()
    p1.set(now + 100.0)
    p1.start(loop)
    p1.stop()
    p2.stop()

    def bad(w: ev.Periodic, now: float) -> float:
        raise Boom

    try:
        ev.Periodic(0.0, noop, reschedule=bad).start(loop)
    except Boom:
        pass


@scenario("signal")
def signal_(env: Env) -> None:
    loop = env.loop
    seen: list[int] = []
    s1 = ev.Signal(signal.SIGUSR1, lambda w, revents: seen.append(w.signum)).start(loop)
    s2 = ev.Signal(signal.SIGUSR1, lambda w, revents: seen.append(w.signum)).start(loop)
    s3 = ev.Signal(signal.SIGUSR2, lambda w, revents: seen.append(w.signum)).start(loop)
    os.kill(os.getpid(), signal.SIGUSR1)
    run_until(loop, lambda: len(seen) >= 2)
    os.kill(os.getpid(), signal.SIGUSR2)
    run_until(loop, lambda: len(seen) >= 3)
    loop.feed_signal_event(signal.SIGUSR2)
    loop.run(ev.RUN_NOWAIT)
    for s in (s1, s2, s3):
        s.stop()


@scenario("signal_loops")
def signal_loops(env: Env) -> None:
    """Signal ownership moving between loops; a loop closed while watching."""
    other = env.cfg.loop()
    seen: list[int] = []
    s = ev.Signal(signal.SIGUSR2, lambda w, revents: seen.append(1)).start(other)
    os.kill(os.getpid(), signal.SIGUSR2)
    run_until(other, lambda: bool(seen))
    other.close()
    s.start(env.loop)
    s.stop()


@scenario("child", slow=2)
def child(env: Env) -> None:
    loop = env.loop
    seen: list[int] = []
    pid = os.posix_spawn(TRUE, [TRUE], os.environ)
    c = ev.Child(pid, lambda w, revents: seen.append(w.rstatus)).start(loop)
    run_until(loop, lambda: bool(seen))
    assert c.exit_code == 0
    c.stop()
    # One stopped before the child exits: the loop must not keep it.
    pid = os.posix_spawn(TRUE, [TRUE], os.environ)
    c = ev.Child(pid, noop).start(loop)
    c.stop()
    os.waitpid(pid, 0)


@scenario("stat")
def stat(env: Env) -> None:
    loop = env.loop
    seen: list[int] = []
    st = ev.Stat(env.path, lambda w, revents: seen.append(revents), interval=0.1).start(loop)
    missing = ev.Stat(os.path.join(env.tmp, "missing", "x"), noop, interval=0.1).start(loop)
    env.counter += 1
    with open(env.path, "w") as f:
        f.write(str(env.counter))
    if env.cfg.inotify:
        run_until(loop, lambda: bool(seen))
    else:
        loop.run(ev.RUN_NOWAIT)
    st.stat()
    st.stop()
    missing.stop()
    st.set(env.path, interval=0.2)


@scenario("stat_polled_change", slow=20)
def stat_polled_change(env: Env) -> None:
    """A change found by polling (waits one interval: few repetitions)."""
    loop = env.loop
    if env.cfg.inotify:
        loop = env.keep("statpoll_loop", lambda: ev.Loop(backend=env.cfg.backend, inotify=False))
    seen: list[int] = []
    st = ev.Stat(env.path, lambda w, revents: seen.append(revents), interval=0.1).start(loop)
    env.counter += 1
    time.sleep(0.01)
    with open(env.path, "w") as f:
        f.write(str(env.counter))
    run_until(loop, lambda: bool(seen))
    st.stop()


@scenario("tree")
def tree(env: Env) -> None:
    """A Tree over a small tree: a new directory with a file in it, seen,
    then removed; with coalescing every other time."""
    loop = env.loop
    root = os.path.join(env.tmp, "tree")
    os.makedirs(os.path.join(root, "a", "b"), exist_ok=True)
    seen: list[int] = []
    env.counter += 1
    t = ev.Tree(root, lambda w, revents: seen.append(len(w.changes)), interval=0.1,
                coalesce=0.001 if env.counter % 2 else 0.0).start(loop)
    new = os.path.join(root, "a", f"n{env.counter}")
    os.mkdir(new)
    with open(os.path.join(new, "f"), "w") as f:
        f.write("x")
    if env.cfg.inotify:
        run_until(loop, lambda: bool(seen))
    else:
        loop.run(ev.RUN_NOWAIT)
    os.unlink(os.path.join(new, "f"))
    os.rmdir(new)
    loop.run(ev.RUN_NOWAIT)
    t.stop()


@scenario("tree_polled_change", slow=20)
def tree_polled_change(env: Env) -> None:
    """A Tree's change found by polling (waits one interval: few repetitions)."""
    loop = env.loop
    if env.cfg.inotify:
        loop = env.keep("statpoll_loop", lambda: ev.Loop(backend=env.cfg.backend, inotify=False))
    root = os.path.join(env.tmp, "polled_tree")
    os.makedirs(os.path.join(root, "sub"), exist_ok=True)
    seen: list[int] = []
    t = ev.Tree(root, lambda w, revents: seen.append(len(w.changes)), interval=0.1).start(loop)
    env.counter += 1
    with open(os.path.join(root, "sub", "f"), "w") as f:
        f.write(str(env.counter))
    run_until(loop, lambda: bool(seen))
    t.stop()


@scenario("idle_prepare_check")
def idle_prepare_check(env: Env) -> None:
    loop = env.loop
    calls: list[str] = []
    ws = [
        ev.Idle(lambda w, revents: calls.append("idle")),
        ev.Idle(lambda w, revents: calls.append("idle-"), priority=-1),
        ev.Prepare(lambda w, revents: calls.append("prepare")),
        ev.Check(lambda w, revents: calls.append("check")),
    ]
    for w in ws:
        w.start(loop)
    loop.run(ev.RUN_NOWAIT)
    loop.run(ev.RUN_NOWAIT)
    ws[0].keepalive = False
    for w in ws:
        w.stop()


@scenario("async")
def async_(env: Env) -> None:
    loop = env.loop
    seen: list[int] = []
    a = ev.Async(lambda w, revents: seen.append(revents)).start(loop)
    a.send()
    a.send()
    run_until(loop, lambda: bool(seen))
    t = threading.Thread(target=a.send)
    t.start()
    t.join()
    run_until(loop, lambda: len(seen) >= 2)
    a.stop()
    a.send()  # inactive: remembered, nothing else


@scenario("async_closed_loop")
def async_closed_loop(env: Env) -> None:
    loop = env.cfg.loop()
    a = ev.Async(noop).start(loop)
    loop.close()
    a.send()  # a closed loop: does nothing


@scenario("fork_watcher")
def fork_watcher(env: Env) -> None:
    loop = env.loop
    seen: list[int] = []
    f = ev.Fork(lambda w, revents: seen.append(revents)).start(loop)
    loop.fork()
    loop.run(ev.RUN_NOWAIT)
    assert seen
    f.stop()


@scenario("fork_child", slow=8)
def fork_child(env: Env) -> None:
    """A real fork: the child re-arms the loop, runs it, and exits."""
    loop = env.loop
    keep = ev.Timer(100.0, noop).start(loop)
    pid = os.fork()
    if pid == 0:  # pragma: no cover - the child
        code = 1
        try:
            loop.fork()
            fired: list[int] = []
            ev.Timer(0.0, lambda w, revents: fired.append(revents)).start(loop)
            loop.run(ev.RUN_NOWAIT)
            loop.close()
            code = 0 if fired else 2
        finally:
            os._exit(code)
    _, status = os.waitpid(pid, 0)
    keep.stop()
    assert os.waitstatus_to_exitcode(status) == 0, f"the forked child failed ({status})"


@scenario("cleanup")
def cleanup(env: Env) -> None:
    loop = env.cfg.loop()
    seen: list[int] = []
    ev.Cleanup(lambda w, revents: seen.append(revents)).start(loop)

    def boom(w: ev.Cleanup, revents: int) -> None:
        raise Boom

    ev.Cleanup(boom).start(loop)
    ev.Io(env.keep("cpipe", lambda: os.pipe())[0], ev.READ, noop).start(loop)
    ev.Timer(10.0, noop).start(loop)
    try:
        loop.close()
    except Boom:
        pass
    assert seen and loop.closed


@scenario("embed")
def embed(env: Env) -> None:
    inner = ev.Loop(backend=ev.Backend.EPOLL)
    r, w = os.pipe()
    try:
        seen: list[int] = []
        ev.Io(r, ev.READ, lambda w_, revents: seen.append(revents)).start(inner)
        auto = ev.Embed(inner).start(env.loop)
        os.write(w, b"x")
        run_until(env.loop, lambda: bool(seen))
        auto.stop()
        manual = ev.Embed(inner, lambda w_, revents: w_.sweep()).start(env.loop)
        env.loop.run(ev.RUN_NOWAIT)
        manual.stop()
    finally:
        inner.close()
        os.close(r)
        os.close(w)


@scenario("loop_lifecycle")
def loop_lifecycle(env: Env) -> None:
    """A loop with one of everything, run, then closed; another dropped
    unclosed (its kernel fds must still go; no Signal there, which would
    keep it reachable from the process-wide signal table, as an active
    watcher should)."""
    r, w = env.keep("lpipe", lambda: os.pipe())
    for close in (True, False):
        loop = env.cfg.loop()
        ev.Io(r, ev.READ, noop).start(loop)
        ev.Timer(10.0, noop).start(loop)
        ev.Periodic(0.0, noop, interval=10.0).start(loop)
        if close:
            ev.Signal(signal.SIGUSR2, noop).start(loop)
        ev.Stat(env.path, noop).start(loop)
        ev.Idle(noop).start(loop)
        ev.Prepare(noop).start(loop)
        ev.Check(noop).start(loop)
        ev.Async(noop).start(loop).send()
        ev.Fork(noop).start(loop)
        ev.Cleanup(noop).start(loop)
        loop.run(ev.RUN_NOWAIT)
        if close:
            loop.close()
        del loop


@scenario("default_loop")
def default_loop(env: Env) -> None:
    loop = ev.default_loop()
    ev.Timer(0.0, noop).start(loop)
    loop.run(ev.RUN_NOWAIT)
    loop.close()


@scenario("nested_run")
def nested_run(env: Env) -> None:
    loop = env.loop
    depth: list[int] = []

    def cb(w: ev.Watcher, revents: int) -> None:
        depth.append(loop.depth)
        if loop.depth < 3:
            loop.run(ev.RUN_NOWAIT)
        else:
            loop.break_(ev.BREAK_ALL)

    idle = ev.Idle(cb).start(loop)
    t = ev.Timer(0.0, cb, repeat=0.0001).start(loop)
    loop.run(ev.RUN_ONCE)
    idle.stop()
    t.stop()
    assert max(depth) >= 2


@scenario("once")
def once(env: Env) -> None:
    loop = env.loop
    seen: list[int] = []
    a, b = env.keep("sock", lambda: socket.socketpair())
    loop.once(seen.append, fd=a, events=ev.WRITE)
    loop.once(seen.append, timeout=0.0)
    loop.once(seen.append, fd=b.fileno(), events=ev.READ, timeout=0.0)
    run_until(loop, lambda: len(seen) >= 3)


@scenario("once_closed")
def once_closed(env: Env) -> None:
    loop = env.cfg.loop()
    a, b = env.keep("sock2", lambda: socket.socketpair())
    loop.once(noop, fd=b, events=ev.READ, timeout=100.0)
    loop.close()


@scenario("feed")
def feed(env: Env) -> None:
    loop = env.loop
    ws = [ev.Idle(noop), ev.Timer(10.0, noop), ev.Check(noop, priority=2), ev.Async(noop)]
    for k, w in enumerate(ws):
        w.feed(ev.CUSTOM | k, loop)
    assert loop.pending_count == len(ws)
    ws[0].clear_pending()
    loop.invoke_pending()
    ws[1].start(loop)
    ws[1].feed(ev.CUSTOM)
    ws[1].stop()
    ws[2].invoke(ev.CUSTOM)


@scenario("exceptions")
def exceptions(env: Env) -> None:
    loop = env.loop

    def boom(w: ev.Watcher, revents: int) -> None:
        raise Boom

    ws = [ev.Timer(-1.0, boom), ev.Timer(-1.0, noop), ev.Idle(boom), ev.Prepare(boom)]
    for w in ws:
        w.start(loop)
    for _ in range(4):
        try:
            loop.run(ev.RUN_NOWAIT)
        except Boom:
            pass
    for w in ws:
        w.stop()
    try:
        ev.Timer(float("nan"), noop)
    except ValueError:
        pass
    try:
        ev.Io(-1, ev.READ, noop)
    except ValueError:
        pass


@scenario("priorities_keepalive")
def priorities_keepalive(env: Env) -> None:
    loop = env.loop
    order: list[int] = []
    ws = [ev.Idle(lambda w, revents: order.append(w.priority), priority=p) for p in range(ev.MINPRI, ev.MAXPRI + 1)]
    for w in ws:
        w.keepalive = w.priority % 2 == 0
        w.start(loop)
    loop.run(ev.RUN_NOWAIT)
    for w in ws:
        w.stop()
        w.priority = -w.priority
        w.keepalive = True
    loop.ref()
    loop.unref()
    loop.suspend()
    loop.resume()
    loop.now_update()


def _nofile() -> int:
    import resource

    return resource.getrlimit(resource.RLIMIT_NOFILE)[0]


# -- measuring -----------------------------------------------------------------------------------


def open_fds() -> int:
    return len(os.listdir("/proc/self/fd"))


def snapshot() -> tuple[int, int, int]:
    gc.collect()
    gc.collect()
    return sys.getallocatedblocks(), len(gc.get_objects()), open_fds()


@dataclass
class Outcome:
    scenario: str
    config: str
    blocks: list[int]
    objects: list[int]
    fds_before: int
    fds_after: int
    seconds: float
    repetitions: int

    @property
    def leaks(self) -> list[str]:
        found = []
        # Blocks: a round's count moves by a few for reasons of its own
        # (free lists, a cache converging); a leak of a block every 20
        # repetitions or more shows in every round.
        least = max(2, self.repetitions // 20)
        if all(d >= least for d in self.blocks):
            found.append(f"allocated blocks grew every round (by {least}+): {self.blocks}")
        if all(d >= 1 for d in self.objects):
            found.append(f"gc-tracked objects grew every round: {self.objects}")
        if self.fds_after > self.fds_before:
            found.append(f"open fds grew from {self.fds_before} to {self.fds_after}")
        return found


def check(name: str, env: Env, iterations: int, warmup: int, rounds: int) -> Outcome:
    fn = SCENARIOS[name]
    n = max(2, iterations // SLOW[name])
    start = time.monotonic()
    for _ in range(warmup * n):
        fn(env)
    blocks = [0] * rounds
    objects = [0] * rounds
    b0, o0, fds_before = snapshot()
    for k in range(rounds):
        for _ in range(n):
            fn(env)
        b1, o1, _f = snapshot()
        blocks[k] = b1 - b0
        objects[k] = o1 - o0
        b0, o0 = b1, o1
    fds_after = open_fds()
    return Outcome(name, env.cfg.name, blocks, objects, fds_before, fds_after, time.monotonic() - start, n)


def where_it_grows(name: str, env: Env, n: int, top: int = 8) -> str:
    fn = SCENARIOS[name]
    tracemalloc.start(10)
    try:
        for _ in range(n):
            fn(env)
        gc.collect()
        before = tracemalloc.take_snapshot()
        for _ in range(n):
            fn(env)
        gc.collect()
        after = tracemalloc.take_snapshot()
    finally:
        tracemalloc.stop()
    mine = [tracemalloc.Filter(False, tracemalloc.__file__)]
    stats = after.filter_traces(mine).compare_to(before.filter_traces(mine), "traceback")
    lines = []
    for stat in [s for s in stats if s.size_diff > 0][:top]:
        lines.append(f"    +{stat.size_diff} B in +{stat.count_diff} blocks, allocated at (innermost last):")
        lines.extend("      " + line for line in stat.traceback.format(limit=-6))
    return "\n".join(lines) or "    (tracemalloc saw no growth: the blocks come from outside Python's allocators)"


# -- main ----------------------------------------------------------------------------------------


def configs(all_mixes: bool) -> list[Config]:
    out = []
    for backend in (ev.Backend.EPOLL, ev.Backend.POLL):
        for sfd in (True, False):
            for ino in (True, False):
                if all_mixes or sfd == ino:
                    out.append(Config(backend, sfd, ino))
    return out


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0], formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--iterations", type=int, default=200, help="repetitions per round (default 200; slow scenarios fewer)")
    p.add_argument("--rounds", type=int, default=6, help="measured rounds (default 6)")
    p.add_argument("--warmup", type=int, default=3, help="unmeasured rounds first (default 3)")
    p.add_argument("--only", default="", help="comma-separated scenarios (prefixes match)")
    p.add_argument("--all-configs", action="store_true", help="all 8 backend/signal/stat mixes, not 4")
    p.add_argument("--list", action="store_true", help="list the scenarios and exit")
    p.add_argument("-v", "--verbose", action="store_true", help="print every scenario's deltas")
    args = p.parse_args(argv)
    if args.list:
        print("\n".join(SCENARIOS))
        return 0
    names = list(SCENARIOS)
    if args.only:
        wanted = [w.strip() for w in args.only.split(",") if w.strip()]
        names = [n for n in names if any(n.startswith(w) for w in wanted)]
        if not names:
            p.error(f"no scenario matches {args.only!r}")

    # Creating EPOLL loops grows a cache in cffi for the first few thousand
    # (some 500 blocks, then flat): fill it before measuring anything.
    for _ in range(3000):
        ev.Loop(backend=ev.Backend.EPOLL).close()
    # Signals the scenarios send while nothing else catches them.
    for s in (signal.SIGUSR1, signal.SIGUSR2):
        signal.signal(s, noop)
    started = time.monotonic()
    failures: list[str] = []
    print(f"leakcheck: {len(names)} scenarios x {len(configs(args.all_configs))} configurations, "
          f"{args.warmup} warm-up + {args.rounds} measured rounds of {args.iterations} repetitions", flush=True)
    for cfg in configs(args.all_configs):
        tmp = tempfile.mkdtemp(prefix="pyev-leakcheck-")
        path = os.path.join(tmp, "watched")
        with open(path, "w") as f:
            f.write("0")
        loop = cfg.loop()
        env = Env(cfg, loop, tmp, path)
        t0 = time.monotonic()
        for name in names:
            try:
                out = check(name, env, args.iterations, args.warmup, args.rounds)
            except Exception as exc:  # noqa: BLE001 - reported as a failure
                failures.append(f"{cfg.name} {name}: raised {type(exc).__name__}: {exc}")
                print(f"  {cfg.name:28} {name:22} ERROR {type(exc).__name__}: {exc}", flush=True)
                continue
            leaks = out.leaks
            if leaks:
                # A cache still filling up (free lists, an enum's composite
                # members, cffi's type cache) grows for a while and then
                # stops; a leak goes on. Measure once more, right after.
                first = out
                out = check(name, env, args.iterations, 0, args.rounds)
                leaks = out.leaks
                if not leaks or args.verbose:
                    print(f"  {cfg.name:28} {name:22} first measurement blocks {first.blocks} "
                          f"objects {first.objects}: measured again", flush=True)
            if args.verbose or leaks:
                print(f"  {cfg.name:28} {name:22} blocks {out.blocks} objects {out.objects} "
                      f"fds {out.fds_before}->{out.fds_after} ({out.seconds:.1f} s)", flush=True)
            for leak in leaks:
                failures.append(f"{cfg.name} {name}: {leak}")
                print(f"  LEAK {cfg.name} {name}: {leak}", flush=True)
            if any("blocks" in leak for leak in leaks):
                print(where_it_grows(name, env, max(2, args.iterations // SLOW[name])), flush=True)
        loop.close()
        for value in env.extra.values():
            if isinstance(value, ev.Loop):
                value.close()
            for fd in value if isinstance(value, (tuple, list)) else ():
                if isinstance(fd, socket.socket):
                    fd.close()
                elif isinstance(fd, int):
                    os.close(fd)
        shutil.rmtree(tmp)  # the watched file, and the trees' directories
        print(f"{cfg.name}: done in {time.monotonic() - t0:.1f} s", flush=True)
    print(f"leakcheck: {time.monotonic() - started:.0f} s, ", end="")
    if failures:
        print(f"{len(failures)} LEAK(S) OR ERROR(S):")
        for f in failures:
            print(f"  {f}")
        return 1
    print("no leaks")
    return 0


if __name__ == "__main__":
    sys.exit(main())
