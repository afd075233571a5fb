"""A line echo server in memcached's thread model: one loop per thread.

    python examples/threads.py --port 8080 --workers 4
    printf 'Hello!\\n' | nc localhost 8080          # You said Hello!

The model. The main thread runs the default loop, which watches the
listening socket and the signals. It accepts each connection and hands it to
one of --workers worker threads, round-robin. Every worker runs a loop of its
own and serves its connections from then on; the main thread never touches
them again.

A loop belongs to the thread that runs it, and from another thread only
Async.send() is safe. So the hand-off is "a queue plus a notification", as
memcached does it with libevent: the main thread puts the socket into the
worker's queue (a queue.SimpleQueue, which does the locking) and calls
send() on the worker's ev.Async watcher. That wakes the worker's loop; its
Async callback takes everything out of the queue and starts an ev.Io watcher
for each new socket. Sends coalesce, so the callback always drains the whole
queue. Stopping is the same message: a None in the queue means "finish".

The protocol is that of the classic libevent echo server: each line the
client sends ("\\n"-terminated, a "\\r" before it is dropped) comes back as
"You said LINE\\n". With --stats the reply names the worker thread that
served it: "You said LINE [worker 2]".

SIGINT and SIGTERM stop the server: the main thread stops accepting and
closes the listening socket, tells every worker to finish (each closes its
connections and its loop), waits for the threads, and exits with status 0.

Threads and cores: in CPython with a GIL only one thread runs Python code at
a time. The worker loops still overlap their waiting, but for serving on
every core use processes (see prefork.py), or a free-threaded Python, where
these loops run in parallel unchanged.
"""

from __future__ import annotations

import argparse
import errno
import itertools
import queue
import signal
import socket
import sys
import threading
from collections.abc import Callable

import pyev as ev

# One recv() reads up to this much; a line longer than MAX_LINE closes the
# connection, and while more than HIGH_WATER bytes of replies wait for a
# client that does not read them, its connection is not read either.
RECV_SIZE = 65536
MAX_LINE = 65536
HIGH_WATER = 1 << 20
# After accept() fails for lack of file descriptors, accepting pauses this
# long: the listening socket stays readable, and retrying at once would spin.
ACCEPT_PAUSE = 1.0


def log(message: str) -> None:
    print(f"[threads] {message}", file=sys.stderr, flush=True)


class Connection:
    """One client, on the loop of the thread that serves it: reads lines and
    writes "You said LINE" back, buffering what the socket does not take."""

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


class Worker:
    """A thread with its own loop, serving the connections handed to it."""

    def __init__(self, number: int, *, stats: bool) -> None:
        self.number = number
        self.tag = f" [worker {number}]".encode() if stats else b""
        self.loop = ev.Loop()
        self.inbox: queue.SimpleQueue[socket.socket | None] = queue.SimpleQueue()
        self.connections: set[Connection] = set()
        self.served = 0
        # Started here, before the thread exists: a send() to a watcher that
        # is not yet active would be lost. From Thread.start() on, the loop
        # and its watchers belong to the worker thread alone.
        self.notify = ev.Async(self._notified).start(self.loop)
        self.thread = threading.Thread(target=self._run, name=f"worker-{number}")

    # -- called from the main thread --

    def hand(self, sock: socket.socket) -> None:
        self.inbox.put(sock)
        self.notify.send()

    def finish(self) -> None:
        self.inbox.put(None)
        self.notify.send()

    # -- the worker thread --

    def _run(self) -> None:
        with self.loop:  # closes the loop when run() returns
            self.loop.run()
        log(f"worker {self.number}: finished after {self.served} connections")

    def _notified(self, watcher: ev.Async, revents: int) -> None:
        while True:
            try:
                sock = self.inbox.get_nowait()
            except queue.Empty:
                return
            if sock is None:
                self._stop()
                return
            self.served += 1
            self.connections.add(Connection(self.loop, sock, self.tag, self.connections.discard))

    def _stop(self) -> None:
        for connection in list(self.connections):
            connection.close()
        # Nothing is left active now, so run() returns.
        self.notify.stop()


class Server:
    """The main thread's part: accept, hand out round-robin, and stop."""

    def __init__(self, loop: ev.Loop, listener: socket.socket, workers: list[Worker]) -> None:
        self.loop = loop
        self.listener = listener
        self.workers = workers
        self.next_worker = itertools.cycle(workers)
        self.accepting = ev.Io(listener, ev.READ, self._accept)
        self.pause = ev.Timer(ACCEPT_PAUSE, self._resume)
        self.signals = [ev.Signal(signum, self._stop) for signum in (signal.SIGINT, signal.SIGTERM)]

    def start(self) -> None:
        for worker in self.workers:
            worker.thread.start()
        for watcher in self.signals:
            watcher.start(self.loop)
        self.accepting.start(self.loop)

    def _accept(self, watcher: ev.Io, revents: int) -> None:
        while True:
            try:
                sock, _ = self.listener.accept()
            except BlockingIOError:
                return
            except OSError as exc:
                if exc.errno in (errno.EMFILE, errno.ENFILE, errno.ENOBUFS, errno.ENOMEM):
                    log(f"accept: {exc.strerror}; pausing for {ACCEPT_PAUSE:g} s")
                    self.accepting.stop()
                    self.pause.start(self.loop)
                    return
                continue  # this one connection failed (ECONNABORTED and the like)
            sock.setblocking(False)
            next(self.next_worker).hand(sock)

    def _resume(self, watcher: ev.Timer, revents: int) -> None:
        self.accepting.start(self.loop)

    def _stop(self, watcher: ev.Signal, revents: int) -> None:
        log(f"received {signal.Signals(watcher.signum).name}: stopping")
        self.accepting.stop()
        self.pause.stop()
        self.listener.close()
        for w in self.signals:
            w.stop()
        for worker in self.workers:
            worker.finish()


def listen(host: str, port: int) -> socket.socket:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((host, port))
    sock.listen(socket.SOMAXCONN)
    sock.setblocking(False)
    return sock


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--host", default="127.0.0.1", help="address to listen on (default 127.0.0.1)")
    parser.add_argument("--port", type=int, default=0, help="port to listen on; 0 picks a free one (default 0)")
    parser.add_argument("--workers", type=int, default=4, metavar="N", help="worker threads (default 4)")
    parser.add_argument("--stats", action="store_true", help="name the serving worker in every reply")
    args = parser.parse_args(argv)
    if args.workers < 1:
        parser.error("--workers must be at least 1")

    try:
        listener = listen(args.host, args.port)
    except OSError as exc:
        parser.error(f"cannot listen on {args.host}:{args.port}: {exc.strerror}")
    host, port = listener.getsockname()[:2]
    print(f"listening on {host}:{port}", flush=True)

    loop = ev.default_loop()
    workers = [Worker(number, stats=args.stats) for number in range(1, args.workers + 1)]
    server = Server(loop, listener, workers)
    try:
        server.start()
        loop.run()
    finally:
        # Normally every worker has been told by now; after an exception
        # this tells them, so that the joins below return.
        for worker in workers:
            worker.finish()
        for worker in workers:
            if worker.thread.is_alive():
                worker.thread.join()
        loop.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
