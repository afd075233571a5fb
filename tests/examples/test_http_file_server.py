"""examples/http_file_server.py, run as a program and talked to over real
sockets: http.client where a well-behaved client is enough, raw bytes where
the test needs exact control (pipelining, malformed requests, traversal).

Every socket has a timeout far above how long anything takes, so a missing
response fails the test instead of hanging it; nothing asserts on timing.
"""

from __future__ import annotations

import http.client
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Self

import pytest

from .helpers import DEADLINE, TICK, Launcher, lines, wait_for

SERVER = Path(__file__).resolve().parents[2] / "examples" / "http_file_server.py"

INDEX = b"<!doctype html><title>pyev</title><p>Served from memory.</p>\n"
NOTES = b"plain notes\n" * 100
SECRET = b"TOP SECRET, outside the root\n"


class Server:
    """A running server: its process and address."""

    def __init__(self, launcher: Launcher, proc: subprocess.Popen[bytes]) -> None:
        self.launcher = launcher
        self.proc = proc
        out = launcher.outputs[proc.pid][0]
        wait_for(lambda: bool(lines(out)) or proc.poll() is not None, "the server prints its address")
        assert lines(out), launcher.stderr(proc)
        first = lines(out)[0]
        assert first.startswith("listening on "), first
        host, _, port = first.removeprefix("listening on ").rpartition(":")
        self.host, self.port = host, int(port)

    def http(self) -> http.client.HTTPConnection:
        return http.client.HTTPConnection(self.host, self.port, timeout=DEADLINE)

    def raw(self) -> RawClient:
        return RawClient(socket.create_connection((self.host, self.port), timeout=DEADLINE))

    def stderr(self) -> str:
        return self.launcher.stderr(self.proc)


class Response:
    def __init__(self, status: int, headers: dict[str, str], body: bytes) -> None:
        self.status = status
        self.headers = headers
        self.body = body


class RawClient:
    """Sends bytes and parses responses off one socket, keeping what it read
    beyond a response for the next one."""

    def __init__(self, sock: socket.socket) -> None:
        self.sock = sock
        self.buffer = b""

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.sock.close()

    def send(self, data: bytes) -> None:
        self.sock.sendall(data)

    def fill(self) -> bool:
        try:
            chunk = self.sock.recv(65536)
        except ConnectionResetError:
            chunk = b""
        self.buffer += chunk
        return bool(chunk)

    def response(self, head_only: bool = False) -> Response:
        while b"\r\n\r\n" not in self.buffer:
            assert self.fill(), f"connection closed within a response head: {self.buffer!r}"
        head, _, self.buffer = self.buffer.partition(b"\r\n\r\n")
        status_line, *header_lines = head.decode("latin-1").split("\r\n")
        version, status, _ = status_line.split(" ", 2)
        assert version == "HTTP/1.1"
        headers = {}
        for line in header_lines:
            name, _, value = line.partition(":")
            headers[name.lower()] = value.strip()
        length = 0 if head_only else int(headers["content-length"])
        while len(self.buffer) < length:
            assert self.fill(), "connection closed within a response body"
        body, self.buffer = self.buffer[:length], self.buffer[length:]
        return Response(int(status), headers, body)

    def closed(self) -> bool:
        """Whether the server closed the connection after what was read."""
        while self.fill():
            pass
        return self.buffer == b""


def get(path: str, *headers: str, method: str = "GET", version: str = "HTTP/1.1") -> bytes:
    lines = [f"{method} {path} {version}", "Host: test", *headers]
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1")


StartServer = Callable[..., Server]


@pytest.fixture
def site(tmp_path: Path) -> Path:
    """A root folder with some files and symlinks, beside a secret file."""
    root = tmp_path / "site"
    (root / "sub").mkdir(parents=True)
    (root / "index.html").write_bytes(INDEX)
    (root / "notes.txt").write_bytes(NOTES)
    (root / "sub" / "style.css").write_bytes(b"p { color: red }\n")
    (root / "sub" / "index.html").write_bytes(b"<p>sub</p>\n")
    (tmp_path / "secret.txt").write_bytes(SECRET)
    (root / "passwd").symlink_to("/etc/passwd")
    (root / "up").symlink_to("../secret.txt")
    (root / "outside").symlink_to(tmp_path)
    (root / "inside").symlink_to("notes.txt")
    (root / "empty").mkdir()
    os.mkfifo(root / "fifo")
    return root


@pytest.fixture
def start(launcher: Launcher) -> StartServer:
    """``start(*args)`` runs the server; the launcher fixture kills it at the
    end in any case."""

    def run(*args: str) -> Server:
        return Server(launcher, launcher.start([sys.executable, str(SERVER), *args]))

    return run


def test_help_runs() -> None:
    out = subprocess.run(
        [sys.executable, str(SERVER), "--help"], check=True, capture_output=True, text=True, timeout=DEADLINE
    )
    assert "--root" in out.stdout


def test_get_serves_the_file_with_its_headers(start: StartServer, site: Path) -> None:
    server = start("--root", str(site))
    conn = server.http()
    try:
        for path, body, content_type in [
            ("/index.html", INDEX, "text/html"),
            ("/", INDEX, "text/html"),
            ("/notes.txt", NOTES, "text/plain"),
            ("/sub/style.css", b"p { color: red }\n", "text/css"),
            ("/sub/", b"<p>sub</p>\n", "text/html"),
            ("/inside", NOTES, "text/plain"),  # a symlink within the root: typed by its target
            ("/notes.txt?query=ignored", NOTES, "text/plain"),
        ]:
            conn.request("GET", path)
            response = conn.getresponse()
            assert (path, response.status) == (path, 200)
            assert response.read() == body
            assert response.getheader("Content-Length") == str(len(body))
            assert response.getheader("Content-Type") == content_type
            assert response.getheader("Date")
            assert response.getheader("Last-Modified")
    finally:
        conn.close()


def test_head_sends_the_headers_without_the_body(start: StartServer, site: Path) -> None:
    server = start("--root", str(site))
    with server.raw() as client:
        client.send(get("/notes.txt", method="HEAD") + get("/index.html"))
        head = client.response(head_only=True)
        assert head.status == 200
        assert head.headers["content-length"] == str(len(NOTES))
        assert head.headers["content-type"] == "text/plain"
        # Had the HEAD response carried a body, this one would not parse.
        assert client.response().body == INDEX


def test_keep_alive_serves_two_requests_on_one_connection(start: StartServer, site: Path) -> None:
    server = start("--root", str(site))
    conn = server.http()
    try:
        conn.request("GET", "/index.html")
        first = conn.getresponse()
        assert first.read() == INDEX
        assert first.getheader("Connection") == "keep-alive"
        sock = conn.sock
        conn.request("GET", "/notes.txt")
        assert conn.getresponse().read() == NOTES
        assert conn.sock is sock  # not reconnected
    finally:
        conn.close()


def test_pipelined_requests_are_answered_in_order(start: StartServer, site: Path) -> None:
    server = start("--root", str(site))
    with server.raw() as client:
        client.send(
            get("/notes.txt") + get("/index.html", method="HEAD") + get("/missing") + get("/sub/style.css") + get("/")
        )
        assert client.response().body == NOTES
        assert client.response(head_only=True).headers["content-length"] == str(len(INDEX))
        assert client.response().status == 404
        assert client.response().body == b"p { color: red }\n"
        assert client.response().body == INDEX


def test_many_pipelined_requests_are_all_answered(start: StartServer, site: Path) -> None:
    server = start("--root", str(site))
    with server.raw() as client:
        # Far more response bytes than are queued before the server stops reading.
        client.send(get("/notes.txt") * 2000)
        for _ in range(2000):
            assert client.response().body == NOTES


def test_connection_close_is_honoured(start: StartServer, site: Path) -> None:
    server = start("--root", str(site))
    with server.raw() as client:
        client.send(get("/index.html", "Connection: close") + get("/notes.txt"))
        response = client.response()
        assert (response.body, response.headers["connection"]) == (INDEX, "close")
        assert client.closed()  # and the pipelined second request is not answered


def test_http_1_0_closes_unless_keep_alive_is_asked(start: StartServer, site: Path) -> None:
    server = start("--root", str(site))
    with server.raw() as client:
        client.send(get("/index.html", version="HTTP/1.0"))
        assert client.response().headers["connection"] == "close"
        assert client.closed()
    with server.raw() as client:
        for _ in range(2):
            client.send(get("/index.html", "Connection: Keep-Alive", version="HTTP/1.0"))
            response = client.response()
            assert (response.body, response.headers["connection"]) == (INDEX, "keep-alive")


def test_a_missing_file_is_404_and_the_connection_stays(start: StartServer, site: Path) -> None:
    server = start("--root", str(site))
    with server.raw() as client:
        client.send(get("/nope.html"))
        assert client.response().status == 404
        client.send(get("/sub/nope/", method="HEAD"))
        assert client.response(head_only=True).status == 404
        for path in ["/empty/", "/empty", "/fifo"]:  # no listings; a FIFO does not hang the server
            client.send(get(path))
            assert client.response().status == 404, path
        client.send(get("/index.html"))
        assert client.response().body == INDEX


def test_other_methods_get_405_with_allow(start: StartServer, site: Path) -> None:
    server = start("--root", str(site))
    with server.raw() as client:
        for method in ["POST", "PUT", "DELETE", "OPTIONS", "PATCH"]:
            client.send(get("/index.html", method=method) + get("/index.html"))
            response = client.response()
            assert (method, response.status) == (method, 405)
            assert response.headers["allow"] == "GET, HEAD"
            assert client.response().body == INDEX


MALFORMED = [
    b"GARBAGE\r\n\r\n",
    b"GET /\r\n\r\n",
    b"GET / HTTP/1.1\r\n\r\n",  # HTTP/1.1 without Host
    b"GET / HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n",
    b"GET / HTTP/1.1\r\nHost: test\r\nno colon here\r\n\r\n",
    b"GET / HTTP/1.1\r\nHost: test\r\n folded\r\n\r\n",
    b"GET / HTTX/1.1\r\nHost: test\r\n\r\n",
    b"GET  / HTTP/1.1\r\nHost: test\r\n\r\n",
    b"GET / HTTP/1.1\r\nHost: test\r\nContent-Length: -1\r\n\r\n",
    b"GET index.html HTTP/1.1\r\nHost: test\r\n\r\n",
    b"GET / HTTP/1.1\r\nHost: te\x00st\r\n\r\n",
    b"GET / HTTP/1.1\r\nHost: test\rX: y\r\n\r\n",  # a bare CR
]


def test_malformed_requests_get_400_and_the_connection_is_closed(start: StartServer, site: Path) -> None:
    server = start("--root", str(site))
    for request in MALFORMED:
        with server.raw() as client:
            client.send(request)
            response = client.response()
            assert (request, response.status, response.headers["connection"]) == (request, 400, "close")
            assert client.closed(), request


def test_a_request_head_over_8_kib_is_rejected(start: StartServer, site: Path) -> None:
    server = start("--root", str(site))
    long_line = get("/" + "a" * 10_000)
    long_headers = get("/index.html", *[f"X-Filler-{i}: {'b' * 100}" for i in range(100)])
    endless_line = b"GET /" + b"c" * 100_000  # no end of head at all
    for request, statuses in [(long_line, (414, 400)), (long_headers, (431, 400)), (endless_line, (414, 400))]:
        with server.raw() as client:
            client.send(request)
            assert client.response().status in statuses, request[:40]
            assert client.closed()
    with server.raw() as client:  # just under the limit is fine
        request = get("/index.html", "X-Filler: " + "d" * 8000)
        assert len(request) < 8 * 1024
        client.send(request)
        assert client.response().body == INDEX


TRAVERSALS = [
    "/../secret.txt",
    "/sub/../../secret.txt",
    "/%2e%2e/secret.txt",
    "/%2E%2E%2Fsecret.txt",
    "/..%2fsecret.txt",
    "/sub/%2e%2e/%2e%2e/secret.txt",
    "/%252e%252e/secret.txt",  # double encoding is a literal name
    "/..\\secret.txt",
    "/etc/passwd",
    "//etc/passwd",
    "/%2fetc/passwd",
    "/passwd",  # symlink to /etc/passwd inside the root
    "/up",  # symlink to ../secret.txt
    "/outside/secret.txt",  # symlink to the root's parent
    "/index.html%00.txt",
    "/index.html\x00",
    "http://test/../secret.txt",
    "../secret.txt",
    "*",
]


def test_paths_outside_the_root_are_never_served(start: StartServer, site: Path) -> None:
    server = start("--root", str(site))
    for path in TRAVERSALS:
        with server.raw() as client:
            client.send(get(path))
            response = client.response()
            assert response.status in (400, 404), (path, response.status)
            assert SECRET not in response.body
            assert b"root:" not in response.body
    assert "secret" not in server.stderr()  # never even loaded


def test_a_file_root_is_served_at_slash_and_at_its_name_only(start: StartServer, site: Path) -> None:
    server = start("--root", str(site / "notes.txt"))
    with server.raw() as client:
        for path in ["/", "/notes.txt", "/?x=1"]:
            client.send(get(path))
            assert client.response().body == NOTES, path
        for path in ["/index.html", "/notes.txt/x", "/../secret.txt", "/up"]:
            client.send(get(path))
            response = client.response()
            assert response.status in (400, 404), path
            if response.status == 400:
                break  # and the connection is closed


def fetch(server: Server, path: str) -> Response:
    with server.raw() as client:
        client.send(get(path))
        return client.response()


def served_within_deadline(server: Server, path: str, body: bytes | None) -> None:
    """Polls GET until ``path`` serves ``body`` (None: 404)."""

    def served() -> bool:
        response = fetch(server, path)
        return response.body == body if body is not None else response.status == 404

    wait_for(served, f"{path} serves {body!r}")


def test_a_changed_file_is_served_on_the_next_request(start: StartServer, site: Path) -> None:
    server = start("--root", str(site))
    page = site / "index.html"
    assert fetch(server, "/index.html").body == INDEX
    page.write_bytes(b"<p>edited in place</p>\n")
    served_within_deadline(server, "/index.html", b"<p>edited in place</p>\n")
    assert "Reloading file" in server.stderr()

    replacement = site / "index.html.tmp"
    replacement.write_bytes(b"<p>replaced atomically, longer</p>\n")
    os.replace(replacement, page)
    served_within_deadline(server, "/index.html", b"<p>replaced atomically, longer</p>\n")

    page.unlink()
    served_within_deadline(server, "/index.html", None)
    page.write_bytes(b"<p>back</p>\n")
    served_within_deadline(server, "/index.html", b"<p>back</p>\n")


def test_a_same_size_change_is_served_too(start: StartServer, site: Path) -> None:
    server = start("--root", str(site))
    page = site / "notes.txt"
    assert fetch(server, "/notes.txt").body == NOTES
    time.sleep(TICK)  # a later mtime even on a coarse clock
    changed = NOTES.upper()
    page.write_bytes(changed)
    served_within_deadline(server, "/notes.txt", changed)


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT])
def test_a_signal_closes_every_connection_and_exits_0(start: StartServer, site: Path, signum: int) -> None:
    server = start("--root", str(site))
    clients = [server.raw() for _ in range(3)]
    try:
        for client in clients:
            client.send(get("/index.html"))
            assert client.response().body == INDEX
        assert server.launcher.finish(server.proc, signum) == 0
        assert all(client.closed() for client in clients)
    finally:
        for client in clients:
            client.sock.close()
    assert f"{signal.Signals(signum).name}: closing 3 connection(s)" in server.stderr()


def test_an_idle_connection_is_closed_after_the_idle_timeout(start: StartServer, site: Path) -> None:
    server = start("--root", str(site), "--idle-timeout", "0.2")
    with server.raw() as idle, server.raw() as partial, server.raw() as served:
        partial.send(b"GET /index.html HTTP/1.1\r\nHost: te")
        served.send(get("/index.html"))
        assert served.response().body == INDEX
        assert idle.closed()
        assert partial.closed()
        assert served.closed()
