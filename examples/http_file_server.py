"""The articles' HTTP file server on pyev: files are served from memory and
reloaded when they change on disk, noticed by one ``ev.Stat`` watcher per
cached file instead of the articles' five-second polling timer.

    python examples/http_file_server.py --root sample.html --port 8081
    python examples/http_file_server.py --root public/ --port 8081
    curl -i http://127.0.0.1:8081/

--root names a file or a folder. A file is served at "/" and at "/NAME"; a
folder's files at their paths below it, a folder's "index.html" for the
folder itself. Nothing else is served, and no directory listings. Like the
article's (and unlike its C, which stops at the first NUL byte), every byte
of a file is served; every served file is held in memory, so this is for
small sites.

The cache. A file is read on its first request and kept, with an
``ev.Stat`` watcher on its real path. The watcher's callback reloads the
file when its identity, size, mtime or ctime differ from the loaded copy,
and drops it when it is gone, so the next request after a change gets the
new content; "Loading file" and "Reloading file" lines on stderr say so, as
the article's do. An atime-only change (our own read of the file, on some
mounts) causes no reload, or every reload would cause the next one. At most
MAX_CACHED_FILES files are kept, each watcher costing up to two inotify
watches; the least recently requested one goes first.

Which paths are served. The request target must be a path ("/..."); the
query is ignored. It is percent-decoded once, then split at "/": a ".."
segment (also "%2e%2e", or "..%2f" after decoding) or a NUL byte is a 400.
The joined path is resolved with ``os.path.realpath``, so symlinks are
followed, and is served only if the result is the root or inside it: a
symlink in the folder pointing outside it is a 404, as is anything that is
not a regular file (a FIFO is opened non-blocking, so it cannot hang the
loop either).

HTTP/1.1 as far as a file server needs it. GET and HEAD; other methods get
405 with "Allow: GET, HEAD". Requests are answered in order, several per
read if they were pipelined. Connections persist unless the client sends
"Connection: close", or speaks HTTP/1.0 without "Connection: keep-alive".
A malformed request is a 400, another HTTP major version a 505, a request
line over MAX_HEAD bytes a 414, a longer head a 431; after any of these, or
after a request with a body (which is never read), the connection is closed. Closing is lingering: our
side is shut down after the response, then the client's input is discarded
until it closes or LINGER seconds pass, because closing with unread input
makes the kernel send a reset that can destroy the response in flight.

Connections. One ``ev.Io`` watcher per connection, its events recomputed
after every callback: READ while the connection may send requests and less
than MAX_OUTPUT bytes of responses are queued (a client pipelining requests
without reading the responses is not read from), WRITE while output is
queued. One ``ev.Timer`` per connection closes it when idle for
--idle-timeout seconds, re-armed with ``again()`` on every read (libev's
idiom for resettable timeouts). Running out of file descriptors pauses
accepting for EMFILE_PAUSE seconds; SIGINT and SIGTERM close everything and
exit with status 0.
"""

from __future__ import annotations

import argparse
import errno
import http
import mimetypes
import os
import re
import signal
import socket
import stat
import sys
import urllib.parse
from collections import OrderedDict
from email.utils import formatdate
from typing import Final, NamedTuple

import pyev as ev

SERVER_NAME: Final = "pyev-http-file-server"
MAX_HEAD: Final = 8 * 1024  # request line and headers, in bytes
MAX_OUTPUT: Final = 1024 * 1024  # queued response bytes above which a client is not read from
MAX_CACHED_FILES: Final = 1024
READ_SIZE: Final = 64 * 1024
ACCEPTS_PER_WAKEUP: Final = 64
EMFILE_PAUSE: Final = 0.1  # seconds without accepting after running out of fds
LINGER: Final = 2.0  # seconds a client gets to close after we did
OUT_OF_RESOURCES: Final = frozenset({errno.EMFILE, errno.ENFILE, errno.ENOBUFS, errno.ENOMEM})
CONNECTION_ABORTED: Final = frozenset({errno.ECONNABORTED, errno.EPROTO, errno.EPERM})

HEAD_END: Final = re.compile(rb"\r?\n\r?\n")
TOKEN: Final = re.compile(rb"[!#$%&'*+\-.^_`|~0-9A-Za-z]+")
VERSION: Final = re.compile(rb"HTTP/([0-9])\.([0-9])")
FORBIDDEN_IN_HEAD: Final = re.compile(rb"[\x00\r]")  # NUL, or a CR not ending a line


def log(message: str) -> None:
    print(f"[http] {message}", file=sys.stderr, flush=True)


class HttpError(Exception):
    """A request answered with an error status, and the connection closed."""

    def __init__(self, status: int) -> None:
        super().__init__(status)
        self.status = status


class Request(NamedTuple):
    method: str
    target: bytes
    version: tuple[int, int]
    headers: dict[str, str]  # names in lower case; repeated headers joined with ", "


def parse_head(head: bytes) -> Request:
    """The request line and headers, without the empty line ending them."""
    lines = [line.removesuffix(b"\r") for line in head.split(b"\n")]
    if any(FORBIDDEN_IN_HEAD.search(line) for line in lines):
        raise HttpError(400)
    parts = lines[0].split(b" ")
    if len(parts) != 3 or not TOKEN.fullmatch(parts[0]):
        raise HttpError(400)
    method, target, version = parts
    match = VERSION.fullmatch(version)
    if match is None:
        raise HttpError(400)
    if match[1] != b"1":
        raise HttpError(505)
    headers: dict[str, str] = {}
    for line in lines[1:]:
        name, colon, value = line.partition(b":")
        if not colon or not TOKEN.fullmatch(name):  # also a folded (indented) line
            raise HttpError(400)
        key = name.decode("ascii").lower()
        text = value.strip(b" \t").decode("latin-1")
        if key in headers:
            if key in ("host", "content-length"):
                raise HttpError(400)
            text = f"{headers[key]}, {text}"
        headers[key] = text
    if match[2] != b"0" and "host" not in headers:
        raise HttpError(400)  # RFC 9112, 3.2: an HTTP/1.1 request without Host
    return Request(method.decode("ascii"), target, (1, int(match[2])), headers)


def wants_keep_alive(request: Request) -> bool:
    tokens = {token.strip().lower() for token in request.headers.get("connection", "").split(",")}
    if request.version >= (1, 1):
        return "close" not in tokens
    return "keep-alive" in tokens


def has_body(request: Request) -> bool:
    """Whether a body follows; raises HttpError(400) for a bad Content-Length."""
    if "transfer-encoding" in request.headers:
        return True
    length = request.headers.get("content-length")
    if length is None:
        return False
    if not length.isdigit() or not length.isascii():
        raise HttpError(400)
    return int(length) > 0


class CachedFile(NamedTuple):
    body: bytes
    key: tuple[int, ...]  # what makes a change worth a reload
    headers: bytes  # Content-Type, Content-Length, Last-Modified


def change_key(st: os.stat_result) -> tuple[int, ...]:
    return (st.st_dev, st.st_ino, st.st_size, st.st_mtime_ns, st.st_ctime_ns)


def read_file(path: str) -> CachedFile | None:
    """The file at ``path``, or None if it is not a readable regular file."""
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK)  # a FIFO must not block the loop
    except OSError:
        return None
    try:
        st = os.fstat(fd)
        if not stat.S_ISREG(st.st_mode):
            return None
        with open(fd, "rb", closefd=False) as f:
            body = f.read()
    except OSError:
        return None
    finally:
        os.close(fd)
    content_type = mimetypes.guess_type(path)[0] or "application/octet-stream"
    headers = (
        f"Content-Type: {content_type}\r\n"
        f"Content-Length: {len(body)}\r\n"
        f"Last-Modified: {formatdate(st.st_mtime, usegmt=True)}\r\n"
    )
    return CachedFile(body, change_key(st), headers.encode("latin-1"))


class FileCache:
    """Real path -> file contents, each kept fresh by an ev.Stat watcher."""

    def __init__(self, loop: ev.Loop) -> None:
        self.loop = loop
        self.files: OrderedDict[str, CachedFile] = OrderedDict()
        self.watchers: dict[str, ev.Stat] = {}

    def get(self, path: str) -> CachedFile | None:
        cached = self.files.get(path)
        if cached is not None:
            self.files.move_to_end(path)
            return cached
        cached = read_file(path)
        if cached is None:
            return None
        log(f"Loading file: {path} ({len(cached.body)} bytes)")
        if len(self.files) >= MAX_CACHED_FILES:
            self.drop(next(iter(self.files)))
        self.files[path] = cached
        self.watchers[path] = self.watch(path)
        return cached

    def watch(self, path: str) -> ev.Stat:
        def changed(watcher: ev.Stat, revents: int) -> None:
            self.refresh(path, watcher.attr)

        return ev.Stat(path, changed).start(self.loop)

    def refresh(self, path: str, attr: os.stat_result | None) -> None:
        cached = self.files[path]
        if attr is not None and change_key(attr) == cached.key:
            return
        fresh = read_file(path)
        if fresh is None:
            log(f"Dropping file: {path}")
            self.drop(path)
        elif fresh.key != cached.key:
            log(f"Reloading file: {path} ({len(fresh.body)} bytes)")
            self.files[path] = fresh

    def drop(self, path: str) -> None:
        self.watchers.pop(path).stop()
        del self.files[path]

    def close(self) -> None:
        for watcher in self.watchers.values():
            watcher.stop()
        self.watchers.clear()
        self.files.clear()


class Site:
    """Maps request targets to files under the root, and never outside it."""

    def __init__(self, root: str, cache: FileCache) -> None:
        self.root = os.path.realpath(root)
        self.root_prefix = os.path.join(self.root, "")  # with one trailing "/"
        self.root_is_file = not os.path.isdir(self.root)
        self.file_name = os.path.basename(os.path.abspath(root))  # as given, maybe a symlink
        self.cache = cache

    def lookup(self, target: bytes) -> CachedFile | None:
        """The file for ``target``; None for 404; raises HttpError(400)."""
        if not target.startswith(b"/"):
            raise HttpError(400)  # not origin-form: "*", "http://host/...", "../x"
        decoded = urllib.parse.unquote_to_bytes(target.partition(b"?")[0])
        if b"\0" in decoded:
            raise HttpError(400)
        segments = [os.fsdecode(part) for part in decoded.split(b"/") if part not in (b"", b".")]
        if ".." in segments:
            raise HttpError(400)
        if self.root_is_file:
            if segments not in ([], [self.file_name]):
                return None
            return self.cache.get(self.root)
        path = self.resolve(os.path.join(self.root, *segments))
        if path is None:
            return None
        cached = self.cache.get(path)
        if cached is None and os.path.isdir(path):
            index = self.resolve(os.path.join(path, "index.html"))
            cached = self.cache.get(index) if index else None
        return cached

    def resolve(self, path: str) -> str | None:
        """The real path of ``path`` if it is inside the root, else None."""
        real = os.path.realpath(path)
        return real if real == self.root or real.startswith(self.root_prefix) else None


class Connection:
    """One client: its socket, buffers, Io watcher and idle timer."""

    def __init__(self, server: Server, sock: socket.socket, name: str) -> None:
        self.server = server
        self.sock = sock
        self.name = name
        self.inbuf = bytearray()
        self.outbuf = bytearray()
        self.receiving = True  # until EOF
        self.finishing = False  # the last response is queued: close after it
        self.shut_down = False  # our side is shut down, input is discarded
        self.watcher = ev.Io(sock, ev.READ, self.on_ready)
        self.timer = ev.Timer(server.idle_timeout, self.on_timeout, repeat=server.idle_timeout)

    def start(self, loop: ev.Loop) -> None:
        self.watcher.start(loop)
        self.timer.again(loop)

    def on_ready(self, watcher: ev.Io, revents: int) -> None:
        try:
            if revents & ev.READ:
                self.receive()
            self.pump()
            self.update()
        except OSError as exc:  # from the socket: read_file handles its own
            if not (isinstance(exc, ConnectionError) or exc.errno == errno.ENOTCONN):  # the client left
                log(f"{self.name}: {exc}")
            self.close()

    def receive(self) -> None:
        try:
            data = self.sock.recv(READ_SIZE)
        except BlockingIOError:
            return
        if not data:
            self.receiving = False
        elif not self.finishing:
            self.inbuf += data
            self.timer.again()

    def pump(self) -> None:
        """Answers requests and sends, as long as the socket takes it."""
        while True:
            self.handle_requests()
            if not self.outbuf or not self.send():
                return

    def handle_requests(self) -> None:
        """Answers the complete requests in the input, in order, while the
        output has room."""
        inbuf = self.inbuf
        while not self.finishing and len(self.outbuf) < MAX_OUTPUT:
            while inbuf[:2] == b"\r\n" or inbuf[:1] == b"\n":  # RFC 9112, 2.2
                del inbuf[: 2 if inbuf[0] == 0x0D else 1]
            match = HEAD_END.search(inbuf, 0, MAX_HEAD + 4)
            if match is None or match.start() > MAX_HEAD:
                if len(inbuf) > MAX_HEAD:
                    self.respond_error(431 if b"\n" in inbuf[:MAX_HEAD] else 414)
                elif inbuf and not self.receiving:
                    self.respond_error(400)  # EOF within a request head
                return
            head = bytes(inbuf[: match.start()])
            del inbuf[: match.end()]
            try:
                self.respond(parse_head(head))
            except HttpError as error:
                self.respond_error(error.status)

    def respond(self, request: Request) -> None:
        keep_alive = wants_keep_alive(request) and not has_body(request)
        if request.method not in ("GET", "HEAD"):
            self.respond_text(405, keep_alive=keep_alive, extra=b"Allow: GET, HEAD\r\n")
            return
        head_only = request.method == "HEAD"
        cached = self.server.site.lookup(request.target)
        if cached is None:
            self.respond_text(404, keep_alive=keep_alive, head_only=head_only)
        else:
            self.queue(200, cached.headers, cached.body, keep_alive=keep_alive, head_only=head_only)

    def respond_error(self, status: int) -> None:
        """A response after which the connection is closed."""
        self.respond_text(status, keep_alive=False)

    def respond_text(self, status: int, *, keep_alive: bool, head_only: bool = False, extra: bytes = b"") -> None:
        """A response whose body is the status line, as text."""
        body = b"%d %s\n" % (status, http.HTTPStatus(status).phrase.encode())
        headers = extra + b"Content-Type: text/plain; charset=utf-8\r\nContent-Length: %d\r\n" % len(body)
        self.queue(status, headers, body, keep_alive=keep_alive, head_only=head_only)

    def queue(self, status: int, headers: bytes, body: bytes, *, keep_alive: bool, head_only: bool) -> None:
        """Appends a response; ``headers`` include Content-Type and Content-Length."""
        outbuf = self.outbuf
        outbuf += b"HTTP/1.1 %d %s\r\n" % (status, http.HTTPStatus(status).phrase.encode())
        outbuf += self.server.common_headers()
        outbuf += headers
        if keep_alive:
            outbuf += b"Connection: keep-alive\r\n\r\n"
        else:
            outbuf += b"Connection: close\r\n\r\n"
            self.finishing = True
            self.inbuf.clear()
        if not head_only:
            outbuf += body

    def send(self) -> bool:
        """Sends what the socket takes; True if the output is now empty."""
        try:
            sent = self.sock.send(self.outbuf)
        except BlockingIOError:
            return False
        del self.outbuf[:sent]
        self.timer.again()  # a slow reader of a long response is not idle
        return not self.outbuf

    def update(self) -> None:
        """Closes the connection, or sets the watcher's events, by the state."""
        if self.outbuf:
            events = ev.WRITE
            if self.receiving and (self.finishing or len(self.outbuf) < MAX_OUTPUT):
                events |= ev.READ
            self.watcher.events = events
        elif not self.receiving:
            self.close()
        elif self.finishing:
            if not self.shut_down:
                self.shut_down = True
                self.sock.shutdown(socket.SHUT_WR)
                self.timer.repeat = LINGER
                self.timer.again()
            self.watcher.events = ev.READ
        else:
            self.watcher.events = ev.READ

    def on_timeout(self, timer: ev.Timer, revents: int) -> None:
        self.close()

    def close(self) -> None:
        self.watcher.stop()  # before the fd is closed
        self.timer.stop()
        self.sock.close()
        self.server.connections.discard(self)


class Server:
    """The listening socket, its accept watcher, the signal watchers, the
    site and the open connections."""

    def __init__(self, loop: ev.Loop, sock: socket.socket, site: Site, idle_timeout: float) -> None:
        self.loop = loop
        self.sock = sock
        self.site = site
        self.idle_timeout = idle_timeout
        self.connections: set[Connection] = set()
        self.accept_watcher = ev.Io(sock, ev.READ, self.on_accept)
        self.resume_timer = ev.Timer(EMFILE_PAUSE, self.on_resume)
        self.signal_watchers = [ev.Signal(signum, self.on_signal) for signum in (signal.SIGINT, signal.SIGTERM)]
        self.date_second = -1
        self.date = b""

    def start(self) -> None:
        self.accept_watcher.start(self.loop)
        for watcher in self.signal_watchers:
            watcher.start(self.loop)

    def common_headers(self) -> bytes:
        """Date and Server; Date formatted once per second of the loop's time."""
        second = int(self.loop.now())
        if second != self.date_second:
            self.date_second = second
            self.date = f"Date: {formatdate(second, usegmt=True)}\r\nServer: {SERVER_NAME}\r\n".encode()
        return self.date

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
            connection = Connection(self, sock, f"{address[0]}:{address[1]}")
            self.connections.add(connection)
            connection.start(self.loop)

    def on_resume(self, timer: ev.Timer, revents: int) -> None:
        self.accept_watcher.start(self.loop)

    def on_signal(self, watcher: ev.Signal, revents: int) -> None:
        log(f"{signal.Signals(watcher.signum).name}: closing {len(self.connections)} connection(s)")
        self.close()

    def close(self) -> None:
        for watcher in (self.accept_watcher, self.resume_timer, *self.signal_watchers):
            watcher.stop()
        self.sock.close()
        for connection in list(self.connections):
            connection.close()
        self.site.cache.close()


def listen(host: str, port: int) -> socket.socket:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.create_server((host, port), family=family, backlog=socket.SOMAXCONN)
    sock.setblocking(False)
    return sock


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--root", default=".", help="the file or folder to serve (default: the current folder)")
    parser.add_argument("--host", default="127.0.0.1", help="address to listen on (default 127.0.0.1)")
    parser.add_argument("--port", type=int, default=0, help="port to listen on; 0 picks a free one (default)")
    parser.add_argument(
        "--idle-timeout", type=float, default=30.0, help="seconds before an idle connection is closed (default 30)"
    )
    args = parser.parse_args(argv)
    if not os.path.exists(args.root):
        parser.error(f"--root {args.root}: no such file or folder")
    if not args.idle_timeout > 0:
        parser.error("--idle-timeout must be positive")

    loop = ev.default_loop()
    site = Site(args.root, FileCache(loop))
    sock = listen(args.host, args.port)
    server = Server(loop, sock, site, args.idle_timeout)
    server.start()
    host, port = sock.getsockname()[:2]
    print(f"listening on {host}:{port}", flush=True)
    loop.run()
    return 0


if __name__ == "__main__":
    sys.exit(main())
