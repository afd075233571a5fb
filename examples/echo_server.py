"""The line echo server of the libevent articles, on pyev: every complete line
a client sends comes back as "You said <line>".

    python examples/echo_server.py --port 8080
    $ telnet localhost 8080
    Hello!
    You said Hello!

The reply format is the articles' (``evbuffer_add_printf(evreturn, "You said
%s\\n", req)``): the line without its LF or CRLF, after "You said ". Only
complete lines are answered; a line still unterminated when the client stops
sending is dropped, as ``evbuffer_readline`` would leave it.

How it is built. The listening socket has one ``ev.Io`` READ watcher that
accepts, non-blocking, until ``accept`` would block (at most
ACCEPTS_PER_WAKEUP at a time, so that connected clients are not starved by a
flood of new ones). Each connection has one ``ev.Io`` watcher whose
``events`` are recomputed from the connection's state after every callback:

- READ while the client may still send and its pending output is below
  --max-output. A client that sends but does not read is thus not read from
  either; its lines wait in the kernel's buffers and its TCP window closes
  (back-pressure), instead of our memory growing.
- WRITE while output is queued. Replies are sent at once when the socket
  takes them; WRITE is only watched for what it did not take.

Both buffers are bounded: the input holds at most one partial line
(--max-line) plus one read, the output at most --max-output plus one reply.
Complete lines are only answered while the output is below its limit.

Closing. EOF from the client (a close or a half-close): the lines already
received are answered, then the connection is closed. ECONNRESET or EPIPE:
closed at once. A line longer than --max-line: an error reply, then our side
is shut down and the client's input is read and discarded until it closes
too, or LINGER seconds pass. Closing with unread input would make the kernel
send a reset, which can destroy the error reply before the client reads it.

Running out of file descriptors (EMFILE, ENFILE) leaves the connection in
the listen queue, so the level-triggered accept watcher would fire in a busy
loop. The watcher is stopped instead, and an ``ev.Timer`` starts it again
after EMFILE_PAUSE seconds.

SIGINT and SIGTERM (``ev.Signal`` watchers) close the listener and every
connection; with no active watcher left, ``loop.run()`` returns and the
program exits with status 0.
"""

from __future__ import annotations

import argparse
import errno
import signal
import socket
import sys
from typing import Final

import pyev as ev

REPLY_PREFIX: Final = b"You said "
READ_SIZE: Final = 64 * 1024
ACCEPTS_PER_WAKEUP: Final = 64
EMFILE_PAUSE: Final = 0.1  # seconds without accepting after running out of fds
LINGER: Final = 2.0  # seconds a rejected client gets to close its side
OUT_OF_RESOURCES: Final = frozenset({errno.EMFILE, errno.ENFILE, errno.ENOBUFS, errno.ENOMEM})
# Errors of one aborted connection, not of the listening socket.
CONNECTION_ABORTED: Final = frozenset({errno.ECONNABORTED, errno.EPROTO, errno.EPERM})


def log(message: str) -> None:
    print(f"[echo] {message}", file=sys.stderr, flush=True)


class Client:
    """One connection: its socket, its two buffers and the one Io watcher
    whose events follow them."""

    def __init__(self, server: Server, sock: socket.socket, name: str) -> None:
        self.server = server
        self.sock = sock
        self.name = name
        self.inbuf = bytearray()
        self.outbuf = bytearray()
        self.receiving = True  # until EOF
        self.rejected = False  # a line was too long: no more replies
        self.shut_down = False  # our side is shut down, input is discarded
        self.watcher = ev.Io(sock, ev.READ, self.on_ready)
        self.linger = ev.Timer(LINGER, self.on_linger_timeout)

    def start(self, loop: ev.Loop) -> None:
        self.watcher.start(loop)

    def on_ready(self, watcher: ev.Io, revents: int) -> None:
        try:
            if revents & ev.READ:
                self.receive()
            self.pump()
            self.update()
        except OSError as exc:  # ECONNRESET, EPIPE, ETIMEDOUT...
            self.close(exc.strerror or str(exc))

    def receive(self) -> None:
        try:
            data = self.sock.recv(READ_SIZE)
        except BlockingIOError:
            return
        if not data:
            self.receiving = False
            del self.inbuf[self.inbuf.rfind(b"\n") + 1 :]  # an unterminated last line is not answered
        elif not self.rejected:
            self.inbuf += data

    def pump(self) -> None:
        """Answers complete lines and sends, as long as the socket takes it."""
        while True:
            self.answer()
            if not self.outbuf or not self.send():
                return

    def answer(self) -> None:
        """Turns complete lines into replies while the output has room."""
        if self.rejected:
            return
        max_line, max_output = self.server.max_line, self.server.max_output
        inbuf, outbuf = self.inbuf, self.outbuf
        start = 0
        while len(outbuf) < max_output:
            end = inbuf.find(b"\n", start)
            if end < 0:
                break
            line = inbuf[start:end].removesuffix(b"\r")
            start = end + 1
            if len(line) > max_line:
                self.reject()
                return
            outbuf += REPLY_PREFIX
            outbuf += line
            outbuf += b"\n"
        del inbuf[:start]
        # The partial line may end with the CR of a CRLF, which is not counted.
        if len(inbuf) > max_line + 1 and inbuf.find(b"\n") < 0:
            self.reject()

    def reject(self) -> None:
        log(f"{self.name}: line longer than {self.server.max_line} bytes, closing")
        self.rejected = True
        self.inbuf.clear()
        self.outbuf += b"error: line longer than %d bytes\n" % self.server.max_line

    def send(self) -> bool:
        """Sends what the socket takes; True if the output is now empty."""
        try:
            sent = self.sock.send(self.outbuf)
        except BlockingIOError:
            return False
        del self.outbuf[:sent]
        return not self.outbuf

    def update(self) -> None:
        """Closes the connection, or sets the watcher's events, by the state."""
        if self.outbuf:
            events = ev.WRITE
            if self.receiving and (self.rejected or len(self.outbuf) < self.server.max_output):
                events |= ev.READ
            self.watcher.events = events
        elif not self.receiving:
            self.close("closed by peer")
        elif self.rejected:
            if not self.shut_down:
                self.shut_down = True
                self.sock.shutdown(socket.SHUT_WR)
                self.linger.start(self.server.loop)
            self.watcher.events = ev.READ
        else:
            self.watcher.events = ev.READ

    def on_linger_timeout(self, timer: ev.Timer, revents: int) -> None:
        self.close("did not close after the error")

    def close(self, reason: str) -> None:
        self.watcher.stop()  # before the fd is closed
        self.linger.stop()
        self.sock.close()
        self.server.clients.discard(self)
        log(f"{self.name}: {reason}")


class Server:
    """The listening socket, its accept watcher, the signal watchers and the
    set of connected clients."""

    def __init__(self, loop: ev.Loop, sock: socket.socket, max_line: int, max_output: int) -> None:
        self.loop = loop
        self.sock = sock
        self.max_line = max_line
        self.max_output = max_output
        self.clients: set[Client] = set()
        self.accept_watcher = ev.Io(sock, ev.READ, self.on_accept)
        self.resume_timer = ev.Timer(EMFILE_PAUSE, self.on_resume)
        self.signal_watchers = [ev.Signal(signum, self.on_signal) for signum in (signal.SIGINT, signal.SIGTERM)]

    def start(self) -> None:
        self.accept_watcher.start(self.loop)
        for watcher in self.signal_watchers:
            watcher.start(self.loop)

    def on_accept(self, watcher: ev.Io, revents: int) -> None:
        for _ in range(ACCEPTS_PER_WAKEUP):
            try:
                sock, address = self.sock.accept()
            except BlockingIOError:
                return
            except OSError as exc:
                if exc.errno in CONNECTION_ABORTED:
                    continue
                if exc.errno not in OUT_OF_RESOURCES:
                    raise
                log(f"accept: {exc.strerror}; not accepting for {EMFILE_PAUSE} s")
                self.accept_watcher.stop()
                self.resume_timer.start(self.loop)
                return
            sock.setblocking(False)
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            client = Client(self, sock, f"{address[0]}:{address[1]}")
            self.clients.add(client)
            client.start(self.loop)
            log(f"{client.name}: connected")

    def on_resume(self, timer: ev.Timer, revents: int) -> None:
        self.accept_watcher.start(self.loop)

    def on_signal(self, watcher: ev.Signal, revents: int) -> None:
        log(f"{signal.Signals(watcher.signum).name}: closing {len(self.clients)} connection(s)")
        self.close()

    def close(self) -> None:
        for watcher in (self.accept_watcher, self.resume_timer, *self.signal_watchers):
            watcher.stop()
        self.sock.close()
        for client in list(self.clients):
            client.close("server shutting down")


def listen(host: str, port: int) -> socket.socket:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.create_server((host, port), family=family, backlog=socket.SOMAXCONN)
    sock.setblocking(False)
    return sock


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--host", default="127.0.0.1", help="address to listen on (default 127.0.0.1)")
    parser.add_argument("--port", type=int, default=0, help="port to listen on; 0 picks a free one (default)")
    parser.add_argument(
        "--max-line", type=int, default=64 * 1024, help="longest line accepted, in bytes (default 65536)"
    )
    parser.add_argument(
        "--max-output",
        type=int,
        default=256 * 1024,
        help="pending reply bytes above which a client is not read from (default 262144)",
    )
    args = parser.parse_args(argv)
    if args.max_line < 1 or args.max_output < 1:
        parser.error("--max-line and --max-output must be positive")

    loop = ev.default_loop()
    sock = listen(args.host, args.port)
    server = Server(loop, sock, args.max_line, args.max_output)
    server.start()
    host, port = sock.getsockname()[:2]
    print(f"listening on {host}:{port}", flush=True)
    loop.run()
    return 0


if __name__ == "__main__":
    sys.exit(main())
