"""A line echo server in the prefork model: N worker processes, one loop each.

    python examples/prefork.py --port 8080               # os.cpu_count() workers
    python examples/prefork.py --port 8080 --reuseport   # a socket per worker
    printf 'Hello!\\n' | nc localhost 8080                # You said Hello!

Every core. In CPython only one thread of a process runs Python code at a
time (the GIL), so a single process, however many threads it has, serves on
about one core. A process has an interpreter and a GIL of its own, though.
This server forks --workers processes (by default one per CPU), each running
its own event loop and serving its own connections; the kernel schedules them
on different cores, so with enough clients every core works. The workers
share nothing but the listening port, so no locks are needed, and a crash
takes down one worker's connections, not the server.

Sharing the port. By default the parent creates the listening socket before
it forks, and every worker watches that same socket. A new connection makes
it readable in all of them; whoever calls accept() first gets it, the others
find nothing and go back to waiting. Which worker gets a connection is up to
the kernel, and the spread is often uneven. With --reuseport every worker
binds a listening socket of its own to the port (SO_REUSEPORT), and the
kernel spreads new connections over them by a hash of the client's address
and port: nobody is woken in vain, and the load is even. The costs: the
port takes connections only once a worker listens ("worker PID ready"), and
the connections still waiting in a worker's queue when it dies are reset.

One loop per process. Each worker uses ev.default_loop(), the loop it
inherited from the parent: pyev re-arms the default loop in a forked child
(a new epoll set and wake-up fd, every watcher registered again). An ev.Fork
watcher, started once in the parent, re-arms the per-process state in each
new worker: its pid (shown in replies with --stats) and its counters.

The parent supervises. It watches each worker's pid with an ev.Child watcher.
A worker that dies is restarted (after a second if it died within a
second of its start, so that one that cannot start does not turn into a
busy fork loop). SIGTERM or SIGINT to the
parent sends SIGTERM to every worker; each closes its connections and exits.
The parent waits for them with the Child watchers, sends SIGKILL to any still
running after --stop-timeout seconds, and exits with status 0. The workers
ignore SIGINT, so a Ctrl-C in the terminal stops the server once, through
the parent. If the parent itself is killed, the workers notice (the write end
of a pipe they all watch closes) and exit too.

The protocol is that of the classic libevent echo server: each line the
client sends ("\\n"-terminated, a "\\r" before it is dropped) comes back as
"You said LINE\\n"; with --stats, as "You said LINE [pid 1234]".

The parent prints "listening on HOST:PORT" on stdout. Log lines go to
stderr: "[prefork] worker 1234 ready", "[prefork] worker 1234 killed by
SIGKILL; restarting".
"""

from __future__ import annotations

import argparse
import errno
import os
import signal
import socket
import sys
import time
import traceback
from collections.abc import Callable

import pyev as ev

# One recv() reads up to this much; a line longer than MAX_LINE closes the
# connection, and while more than HIGH_WATER bytes of replies wait for a
# client that does not read them, its connection is not read either.
RECV_SIZE = 65536
MAX_LINE = 65536
HIGH_WATER = 1 << 20
# A worker that lived shorter than this is restarted only after the delay.
MIN_LIFETIME = 1.0
RESTART_DELAY = 1.0


def log(message: str) -> None:
    print(f"[prefork] {message}", file=sys.stderr, flush=True)


class Connection:
    """One client: reads lines and writes "You said LINE" back, buffering
    what the socket does not take."""

    def __init__(self, loop: ev.Loop, sock: socket.socket, tag: bytes, on_close: Callable[[Connection], None]) -> None:
        self.sock = sock
        self.tag = tag
        self.on_close = on_close
        self.inbuf = bytearray()
        self.outbuf = bytearray()
        self.eof = False
        self.closed = False
        self.watcher = ev.Io(sock, ev.READ, self._ready).start(loop)

    def close(self) -> None:
        self.closed = True
        self.watcher.stop()
        self.sock.close()
        self.on_close(self)

    def _ready(self, watcher: ev.Io, revents: int) -> None:
        if revents & ev.READ:
            self._read()
        if revents & ev.WRITE and not self.closed:
            self._flush()

    def _read(self) -> None:
        try:
            data = self.sock.recv(RECV_SIZE)
        except BlockingIOError:
            return
        except OSError:
            self.close()
            return
        if not data:
            # The client has shut down its side; it may still be reading.
            self.eof = True
        self.inbuf += data
        *lines, rest = self.inbuf.split(b"\n")
        if len(rest) > MAX_LINE:
            self.close()
            return
        self.inbuf = rest
        for line in lines:
            self.outbuf += b"You said " + line.removesuffix(b"\r") + self.tag + b"\n"
        self._flush()

    def _flush(self) -> None:
        """Send what the socket takes now; watch for WRITE while some is left."""
        if self.outbuf:
            try:
                sent = self.sock.send(self.outbuf)
            except BlockingIOError:
                sent = 0
            except OSError:  # the client is gone (EPIPE, ECONNRESET)
                self.close()
                return
            del self.outbuf[:sent]
        events = ev.WRITE if self.outbuf else 0
        if not self.eof and len(self.outbuf) < HIGH_WATER:
            events |= ev.READ
        if events:
            self.watcher.events = events
        else:  # end of input, and every reply sent
            self.close()


class ProcessState:
    """What belongs to one process, and so must be re-armed in a new worker."""

    def __init__(self) -> None:
        self.pid = os.getpid()
        self.connections = 0

    def watch_forks(self, loop: ev.Loop) -> None:
        fork = ev.Fork(self._forked)
        fork.keepalive = False  # it must not keep the parent's loop running
        fork.start(loop)

    def _forked(self, watcher: ev.Fork, revents: int) -> None:
        # Called once, in the child's first loop iteration after fork().
        self.pid = os.getpid()
        self.connections = 0
        log(f"worker {self.pid} ready")


class Worker:
    """A worker process's part: accept on the listening socket and serve."""

    def __init__(self, loop: ev.Loop, listener: socket.socket, lifeline: int, state: ProcessState, *, stats: bool) -> None:
        self.loop = loop
        self.listener = listener
        self.state = state
        self.stats = stats
        self.connections: set[Connection] = set()
        self.accepting = ev.Io(listener, ev.READ, self._accept)
        self.terminate = ev.Signal(signal.SIGTERM, self._terminated)
        self.lifeline = ev.Io(lifeline, ev.READ, self._orphaned)

    def start(self) -> None:
        self.terminate.start(self.loop)
        self.lifeline.start(self.loop)
        self.accepting.start(self.loop)

    def _accept(self, watcher: ev.Io, revents: int) -> None:
        # One connection per wake-up (nginx's "multi_accept off"): with a
        # shared socket, a worker that took the whole queue would starve the
        # others.
        try:
            sock, _ = self.listener.accept()
        except BlockingIOError:
            return  # another worker was faster
        except OSError as exc:
            if exc.errno in (errno.EMFILE, errno.ENFILE):
                # The socket stays readable; out of fds, another worker may cope.
                log(f"worker {self.state.pid}: accept: {exc.strerror}")
            return
        sock.setblocking(False)
        self.state.connections += 1
        tag = f" [pid {self.state.pid}]".encode() if self.stats else b""
        self.connections.add(Connection(self.loop, sock, tag, self.connections.discard))

    def _terminated(self, watcher: ev.Signal, revents: int) -> None:
        self.stop()

    def _orphaned(self, watcher: ev.Io, revents: int) -> None:
        log(f"worker {self.state.pid}: the parent is gone")
        self.stop()

    def stop(self) -> None:
        """Close everything; then nothing is active and run() returns."""
        log(f"worker {self.state.pid}: stopping after {self.state.connections} connections")
        self.accepting.stop()
        self.terminate.stop()
        self.lifeline.stop()
        for connection in list(self.connections):
            connection.close()
        self.listener.close()


class Supervisor:
    """The parent: keeps --workers worker processes running, and stops them."""

    def __init__(self, loop: ev.Loop, args: argparse.Namespace, listener: socket.socket, state: ProcessState) -> None:
        self.loop = loop
        self.args = args
        # With --reuseport this socket is bound but never listens: it holds
        # the port for the workers' sockets and takes no connections itself.
        self.listener = listener
        self.state = state
        self.children: dict[int, tuple[ev.Child, float]] = {}
        self.stopping = False
        self.signals = [ev.Signal(signum, self._stop) for signum in (signal.SIGTERM, signal.SIGINT)]
        self.respawn = ev.Timer(RESTART_DELAY, self._respawn)
        self.kill_timer = ev.Timer(args.stop_timeout, self._kill)
        # Each worker watches the read end; when the parent dies, the kernel
        # closes the write end and the workers see end-of-file.
        self.lifeline_r, self.lifeline_w = os.pipe()

    def start(self) -> None:
        for watcher in self.signals:
            watcher.start(self.loop)
        self._top_up()

    def _top_up(self) -> None:
        while len(self.children) < self.args.workers:
            self._spawn()

    def _spawn(self) -> None:
        pid = os.fork()
        if pid == 0:
            # The worker never returns into the parent's code, even on error.
            try:
                status = self._serve()
            except BaseException:
                traceback.print_exc()
                status = 1
            os._exit(status)
        child = ev.Child(pid, self._exited).start(self.loop)
        self.children[pid] = (child, time.monotonic())

    def _serve(self) -> int:
        """Run a worker in this freshly forked child; its exit status."""
        if self.args.reuseport:
            listener = listen(self.args.host, self.listener.getsockname()[1], reuseport=True)
            self.listener.close()
        else:
            listener = self.listener
        os.close(self.lifeline_w)
        worker = Worker(self.loop, listener, self.lifeline_r, self.state, stats=self.args.stats)
        worker.start()  # SIGTERM has a watcher from here on: none is lost
        self._abandon()
        # Python's handler is back on SIGINT now (it raises KeyboardInterrupt);
        # a worker leaves Ctrl-C to the parent.
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        self.loop.run()
        return 0

    def _abandon(self) -> None:
        """In a worker: drop the parent's watchers, which the loop inherited."""
        inherited: list[ev.Watcher] = [*self.signals, *(child for child, _ in self.children.values())]
        self.respawn.stop()
        self.kill_timer.stop()
        # A restart forks inside one of the parent's callbacks, so more of
        # the parent's events may be pending here; stopping the watchers
        # drops them too. (pyev leaves the kernel objects it shares with the
        # parent alone until this process' loop is re-armed, so stopping them
        # here does not disturb the parent.)
        for watcher in inherited:
            watcher.stop()

    def _exited(self, child: ev.Child, revents: int) -> None:
        child.stop()
        _, started = self.children.pop(child.rpid)
        status = describe_exit(child)
        if self.stopping:
            log(f"worker {child.rpid} {status}")
            if not self.children:
                self._done()
        elif time.monotonic() - started < MIN_LIFETIME:
            log(f"worker {child.rpid} {status}; restarting in {RESTART_DELAY:g} s")
            self.respawn.start(self.loop)  # nothing if already due
        else:
            log(f"worker {child.rpid} {status}; restarting")
            self._top_up()

    def _respawn(self, timer: ev.Timer, revents: int) -> None:
        self._top_up()

    def _stop(self, watcher: ev.Signal, revents: int) -> None:
        if self.stopping:
            return
        self.stopping = True
        log(f"received {signal.Signals(watcher.signum).name}: stopping {len(self.children)} workers")
        self.respawn.stop()
        self._send_all(signal.SIGTERM)
        if self.children:
            self.kill_timer.start(self.loop)
        else:
            self._done()

    def _kill(self, timer: ev.Timer, revents: int) -> None:
        log(f"{len(self.children)} workers still running after {self.args.stop_timeout:g} s: sending SIGKILL")
        self._send_all(signal.SIGKILL)

    def _send_all(self, signum: int) -> None:
        for pid in self.children:
            try:
                os.kill(pid, signum)
            except ProcessLookupError:
                pass  # exited; its Child watcher is about to say so

    def _done(self) -> None:
        # With these stopped nothing keeps the loop running, and run() returns.
        self.kill_timer.stop()
        for watcher in self.signals:
            watcher.stop()

    def kill_children(self) -> None:
        """After an exception in the parent: leave no worker behind."""
        self._send_all(signal.SIGKILL)


def describe_exit(child: ev.Child) -> str:
    if child.term_signal is not None:
        return f"killed by {signal.Signals(child.term_signal).name}"
    return f"exited with status {child.exit_code}"


def listen(host: str, port: int, *, reuseport: bool, backlog: int | None = socket.SOMAXCONN) -> socket.socket:
    """A non-blocking TCP socket bound to host:port, listening unless backlog is None."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    if reuseport:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
    sock.bind((host, port))
    if backlog is not None:
        sock.listen(backlog)
    sock.setblocking(False)
    return sock


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--host", default="127.0.0.1", help="address to listen on (default 127.0.0.1)")
    parser.add_argument("--port", type=int, default=0, help="port to listen on; 0 picks a free one (default 0)")
    parser.add_argument(
        "--workers", type=int, default=os.cpu_count() or 1, metavar="N", help="worker processes (default: one per CPU)"
    )
    parser.add_argument("--reuseport", action="store_true", help="a listening socket per worker (SO_REUSEPORT)")
    parser.add_argument("--stats", action="store_true", help="name the serving worker's pid in every reply")
    parser.add_argument(
        "--stop-timeout",
        type=float,
        default=5.0,
        metavar="SECONDS",
        help="on SIGTERM/SIGINT, SIGKILL workers still running after this long (default 5)",
    )
    args = parser.parse_args(argv)
    if args.workers < 1:
        parser.error("--workers must be at least 1")
    if not args.stop_timeout >= 0:
        parser.error("--stop-timeout must be a number >= 0")

    try:
        listener = listen(args.host, args.port, reuseport=args.reuseport, backlog=None if args.reuseport else socket.SOMAXCONN)
    except OSError as exc:
        parser.error(f"cannot listen on {args.host}:{args.port}: {exc.strerror}")
    host, port = listener.getsockname()[:2]
    # Flushed before the first fork, or each child would inherit the buffer.
    print(f"listening on {host}:{port}", flush=True)

    loop = ev.default_loop()
    state = ProcessState()
    state.watch_forks(loop)
    supervisor = Supervisor(loop, args, listener, state)
    try:
        supervisor.start()
        loop.run()
    finally:
        supervisor.kill_children()  # none are left, unless by an exception
        loop.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
