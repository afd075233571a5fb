"""Fd readiness workloads: pingpong, pingpong_idle_fds, echo."""

from __future__ import annotations

import json
import socket
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from common import (
    LIBRARIES,
    Result,
    aio_loop,
    gevent_loop,
    idle_socketpairs,
    impl,
    noop,
    perf_counter,
    pyev_loop,
)

LOADGEN = Path(__file__).resolve().parent / "loadgen.py"
# All 50 connections arrive at once.
BACKLOG = 256


# --- 4./5. pingpong ---------------------------------------------------------


class PingPong:
    """Round trips of one byte over a socketpair: ``a`` pings, ``b`` pongs."""

    def __init__(self, n: int) -> None:
        self.n = n
        self.done = 0
        self.a, self.b = socket.socketpair()
        self.a.setblocking(False)
        self.b.setblocking(False)
        self.stop: Callable[[], None] = noop

    def on_a(self, *args: object) -> None:
        self.a.recv(1)
        self.done += 1
        if self.done < self.n:
            self.a.send(b"x")
        else:
            self.stop()

    def on_b(self, *args: object) -> None:
        self.b.recv(1)
        self.b.send(b"x")


def pingpong_pyev(n: int, idle: list[socket.socket]) -> float:
    import pyev as ev

    loop = pyev_loop()
    for s in idle:
        ev.Io(s, ev.READ, noop).start(loop)
    pp = PingPong(n)
    wa = ev.Io(pp.a, ev.READ, pp.on_a).start(loop)
    wb = ev.Io(pp.b, ev.READ, pp.on_b).start(loop)
    pp.stop = loop.break_
    loop.run(ev.RUN_NOWAIT)  # idle fds registered before the clock starts
    t0 = perf_counter()
    pp.a.send(b"x")
    loop.run()
    dt = perf_counter() - t0
    wa.stop()
    wb.stop()
    return pp.done / dt


def pingpong_gevent(n: int, idle: list[socket.socket]) -> float:
    loop = gevent_loop()
    keep = []
    for s in idle:
        w = loop.io(s.fileno(), 1)
        w.start(noop)
        keep.append(w)
    pp = PingPong(n)
    wa = loop.io(pp.a.fileno(), 1)
    wb = loop.io(pp.b.fileno(), 1)
    wa.start(pp.on_a)
    wb.start(pp.on_b)
    pp.stop = loop.break_
    loop.run(nowait=True)
    t0 = perf_counter()
    pp.a.send(b"x")
    loop.run()
    dt = perf_counter() - t0
    wa.stop()
    wb.stop()
    return pp.done / dt


def pingpong_aio(library: str, n: int, idle: list[socket.socket]) -> float:
    loop = aio_loop(library)
    for s in idle:
        loop.add_reader(s.fileno(), noop)
    pp = PingPong(n)
    loop.add_reader(pp.a.fileno(), pp.on_a)
    loop.add_reader(pp.b.fileno(), pp.on_b)
    pp.stop = loop.stop
    loop.call_soon(loop.stop)
    loop.run_forever()
    t0 = perf_counter()
    pp.a.send(b"x")
    loop.run_forever()
    dt = perf_counter() - t0
    loop.remove_reader(pp.a.fileno())
    loop.remove_reader(pp.b.fileno())
    loop.close()
    return pp.done / dt


def pingpong_any(library: str, n: int, idle: list[socket.socket]) -> float:
    if library == "pyev":
        return pingpong_pyev(n, idle)
    if library == "gevent":
        return pingpong_gevent(n, idle)
    return pingpong_aio(library, n, idle)


@impl("pingpong", *LIBRARIES)
def pingpong(library: str, size: dict[str, float]) -> Result:
    n = int(size["pingpong"])
    return pingpong_any(library, n, []), {"n": n}


@impl("pingpong_idle_fds", *LIBRARIES)
def pingpong_idle_fds(library: str, size: dict[str, float]) -> Result:
    n = int(size["pingpong_idle_fds"])
    idle, nofile = idle_socketpairs(int(size["idle_fds"]))
    rate = pingpong_any(library, n, idle)
    return rate, {"n": n, "idle_fds": len(idle), "nofile_limit": nofile}


# --- 7. echo ----------------------------------------------------------------


class LineEcho:
    """One connection of the echo server, the same code for every library:
    echoes each complete line, keeps an incomplete rest for the next read."""

    __slots__ = ("pending", "sock")

    def __init__(self, sock: socket.socket) -> None:
        self.sock = sock
        self.pending = b""

    def on_readable(self) -> bool:
        """Echo what arrived; False once the peer has closed."""
        try:
            data = self.sock.recv(65536)
        except BlockingIOError:
            return True
        except ConnectionError:
            return False
        if not data:
            return False
        if self.pending:
            data = self.pending + data
        cut = data.rfind(b"\n") + 1
        self.pending = data[cut:]
        if cut:
            # One request in flight per connection: the send buffer never fills.
            self.sock.send(data[:cut])
        return True


class EchoRun:
    """One echo run: the load generator process, the count of connections it
    has closed (the server stops when all are), and the server's CPU share."""

    def __init__(self, size: dict[str, float], loadgen_args: tuple[str, ...] = ()) -> None:
        self.conns = int(size["echo_conns"])
        self.seconds = size["echo_seconds"]
        self.loadgen_args = loadgen_args  # e.g. ("--http",) for aio.py's HTTP row
        self.closed = 0
        self.listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.listener.bind(("127.0.0.1", 0))
        self.listener.listen(BACKLOG)
        self.listener.setblocking(False)
        self.proc: subprocess.Popen[str] | None = None
        self.cpu0 = 0.0
        self.wall0 = 0.0

    def start_loadgen(self) -> None:
        self.cpu0 = time.process_time()
        self.wall0 = perf_counter()
        self.proc = subprocess.Popen(
            [
                sys.executable,
                str(LOADGEN),
                "--port",
                str(self.listener.getsockname()[1]),
                "--conns",
                str(self.conns),
                "--seconds",
                str(self.seconds),
                *self.loadgen_args,
            ],
            stdout=subprocess.PIPE,
            text=True,
        )

    def connection_closed(self) -> bool:
        """Counts one close; True when the load generator has closed them all."""
        self.closed += 1
        return self.closed == self.conns

    def accept_all(self) -> list[socket.socket]:
        out: list[socket.socket] = []
        while True:
            try:
                conn, _ = self.listener.accept()
            except BlockingIOError:
                return out
            conn.setblocking(False)
            conn.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            out.append(conn)

    def result(self) -> Result:
        cpu = time.process_time() - self.cpu0
        wall = perf_counter() - self.wall0
        assert self.proc is not None
        out, _ = self.proc.communicate(timeout=60)
        if self.proc.returncode != 0:
            raise RuntimeError(f"load generator failed ({self.proc.returncode})")
        gen = json.loads(out)
        rate = gen["requests"] / gen["seconds"]
        return rate, {
            "conns": self.conns,
            "seconds": gen["seconds"],
            "requests": gen["requests"],
            "server_cpu_share": round(cpu / wall, 3),
            "loadgen_cpu_share": gen["cpu_share"],
        }


@impl("echo", "pyev")
def echo_pyev(library: str, size: dict[str, float]) -> Result:
    import pyev as ev

    run = EchoRun(size)
    loop = pyev_loop()

    def on_conn(w: Any, revents: int) -> None:
        if not w.data.on_readable():
            w.stop()
            w.data.sock.close()
            if run.connection_closed():
                loop.break_()

    def on_accept(w: Any, revents: int) -> None:
        for conn in run.accept_all():
            ev.Io(conn, ev.READ, on_conn, data=LineEcho(conn)).start(loop)

    ev.Io(run.listener, ev.READ, on_accept).start(loop)
    run.start_loadgen()
    loop.run()
    return run.result()


@impl("echo", "gevent")
def echo_gevent(library: str, size: dict[str, float]) -> Result:
    run = EchoRun(size)
    loop = gevent_loop()

    def on_conn(w: Any, echo: LineEcho) -> None:
        if not echo.on_readable():
            w.stop()
            echo.sock.close()
            if run.connection_closed():
                loop.break_()

    def on_accept() -> None:
        for conn in run.accept_all():
            w = loop.io(conn.fileno(), 1)
            w.start(on_conn, w, LineEcho(conn))

    listen = loop.io(run.listener.fileno(), 1)
    listen.start(on_accept)
    run.start_loadgen()
    loop.run()
    listen.stop()
    return run.result()


@impl("echo", "asyncio", "uvloop")
def echo_aio(library: str, size: dict[str, float]) -> Result:
    # add_reader, like pingpong: the same per-connection code as pyev and
    # gevent. (Protocol/transports measured no faster here: asyncio's were
    # slower, uvloop's about the same.)
    run = EchoRun(size)
    loop = aio_loop(library)

    def on_conn(echo: LineEcho) -> None:
        if not echo.on_readable():
            loop.remove_reader(echo.sock.fileno())
            echo.sock.close()
            if run.connection_closed():
                loop.stop()

    def on_accept() -> None:
        for conn in run.accept_all():
            loop.add_reader(conn.fileno(), on_conn, LineEcho(conn))

    loop.add_reader(run.listener.fileno(), on_accept)
    run.start_loadgen()
    loop.run_forever()
    loop.remove_reader(run.listener.fileno())
    loop.close()
    return run.result()
