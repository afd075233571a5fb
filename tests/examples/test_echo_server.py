"""examples/echo_server.py, run as a program and talked to over real sockets.

Every client socket has a timeout far above how long anything takes, so a
missing reply fails the test instead of hanging it. Sleeps between sends only
make the kernel deliver the pieces separately; nothing asserts on timing.
"""

from __future__ import annotations

import resource
import select
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from .helpers import DEADLINE, Launcher, lines, wait_for

ECHO = Path(__file__).resolve().parents[2] / "examples" / "echo_server.py"

# How long a server that still reads its client's input would certainly take
# to read some: far above one loop iteration.
STALLED = 0.5


class Echo:
    """A running echo server: its process and address."""

    def __init__(self, launcher: Launcher, proc: subprocess.Popen[bytes]) -> None:
        self.launcher = launcher
        self.proc = proc
        out = launcher.outputs[proc.pid][0]
        wait_for(lambda: bool(lines(out)) or proc.poll() is not None, "the server prints its address")
        assert lines(out), launcher.stderr(proc)
        first = lines(out)[0]
        assert first.startswith("listening on "), first
        host, _, port = first.removeprefix("listening on ").rpartition(":")
        self.address = (host, int(port))

    def connect(self) -> socket.socket:
        sock = socket.create_connection(self.address, timeout=DEADLINE)
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        return sock


StartEcho = Callable[..., "Echo"]


@pytest.fixture
def start(launcher: Launcher) -> StartEcho:
    """``start(*args, **popen_kwargs)`` runs the server; the launcher fixture
    kills it at the end in any case."""

    def run(*args: str, **kwargs: object) -> Echo:
        return Echo(launcher, launcher.start([sys.executable, str(ECHO), *args], **kwargs))

    return run


def read_exactly(sock: socket.socket, n: int) -> bytes:
    data = bytearray()
    while len(data) < n:
        chunk = sock.recv(min(n - len(data), 65536))
        if not chunk:
            break
        data += chunk
    return bytes(data)


def read_to_eof(sock: socket.socket) -> bytes:
    data = bytearray()
    while chunk := sock.recv(65536):
        data += chunk
    return bytes(data)


def exchange(sock: socket.socket, send: bytes, expect: bytes) -> None:
    sock.sendall(send)
    assert read_exactly(sock, len(expect)) == expect


def test_help_runs() -> None:
    out = subprocess.run(
        [sys.executable, str(ECHO), "--help"], check=True, capture_output=True, text=True, timeout=DEADLINE
    )
    assert "--max-line" in out.stdout


def test_a_line_is_answered_in_the_articles_format(start: StartEcho) -> None:
    server = start()
    with server.connect() as sock:
        exchange(sock, b"Hello!\n", b"You said Hello!\n")
        exchange(sock, b"with CRLF\r\n", b"You said with CRLF\n")
        exchange(sock, b"\n", b"You said \n")


def test_several_lines_in_one_send_are_answered_in_order(start: StartEcho) -> None:
    server = start()
    with server.connect() as sock:
        exchange(sock, b"one\ntwo\nthree\n", b"You said one\nYou said two\nYou said three\n")


def test_a_line_split_across_sends_is_answered_once_complete(start: StartEcho) -> None:
    server = start()
    with server.connect() as sock:
        for piece in (b"Hel", b"lo, ", b"wor", b"ld\nsec", b"ond\n"):
            sock.sendall(piece)
            time.sleep(0.05)
        sock.shutdown(socket.SHUT_WR)
        assert read_to_eof(sock) == b"You said Hello, world\nYou said second\n"


def test_many_concurrent_clients_each_get_their_own_replies(start: StartEcho) -> None:
    server = start()
    clients = [server.connect() for _ in range(60)]
    try:
        for round_ in range(3):
            for i, sock in enumerate(clients):
                sock.sendall(f"client {i} round {round_}\n".encode())
        for i, sock in enumerate(clients):
            expected = b"".join(f"You said client {i} round {r}\n".encode() for r in range(3))
            assert read_exactly(sock, len(expected)) == expected
    finally:
        for sock in clients:
            sock.close()


def test_half_close_gets_the_replies_then_eof_and_a_partial_line_is_dropped(start: StartEcho) -> None:
    server = start()
    with server.connect() as sock:
        sock.sendall(b"a\nb\nunterminated")
        sock.shutdown(socket.SHUT_WR)
        assert read_to_eof(sock) == b"You said a\nYou said b\n"


def test_an_overlong_line_gets_an_error_and_the_connection_is_closed(start: StartEcho) -> None:
    server = start("--max-line", "100")
    with server.connect() as sock:
        exchange(sock, b"x" * 100 + b"\n", b"You said " + b"x" * 100 + b"\n")
        sock.sendall(b"y" * 101 + b"\n")
        assert read_to_eof(sock) == b"error: line longer than 100 bytes\n"
    with server.connect() as sock:  # without a newline, and more than one read's worth
        sock.sendall(b"z" * 200_000)
        assert read_to_eof(sock) == b"error: line longer than 100 bytes\n"
    with server.connect() as sock:
        exchange(sock, b"still serving\n", b"You said still serving\n")


def test_the_default_line_limit_is_64_kib(start: StartEcho) -> None:
    server = start()
    with server.connect() as sock:
        line = b"k" * 65536
        exchange(sock, line + b"\r\n", b"You said " + line + b"\n")
        sock.sendall(line + b"k\n")
        assert read_to_eof(sock) == b"error: line longer than 65536 bytes\n"


def test_clients_leaving_mid_line_do_not_disturb_others(start: StartEcho) -> None:
    server = start()
    with server.connect() as stays:
        exchange(stays, b"before\n", b"You said before\n")
        leaves = server.connect()
        leaves.sendall(b"half a li")
        leaves.close()
        resets = server.connect()
        resets.sendall(b"half a li")
        # SO_LINGER 0: close() sends a reset instead of a FIN.
        resets.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, b"\x01\x00\x00\x00\x00\x00\x00\x00")
        resets.close()
        exchange(stays, b"after\n", b"You said after\n")
    wait_for(lambda: len(server.launcher.stderr_lines(server.proc, "connected")) >= 3, "three connections seen")
    with server.connect() as sock:
        exchange(sock, b"new client\n", b"You said new client\n")


def test_a_client_that_does_not_read_is_not_read_from_until_it_does(start: StartEcho) -> None:
    server = start("--max-output", "4096")
    line = b"p" * 99 + b"\n"
    burst = line * 100
    with socket.socket() as sock:
        # Small buffers on our side, so that the stall comes early.
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, 64 * 1024)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 64 * 1024)
        sock.connect(server.address)
        sock.setblocking(False)
        sent = 0
        # Far more than the kernel buffers on both sides hold: the server must
        # stop reading long before, or this client is never blocked.
        while sent < 256 * 1024 * 1024:
            try:
                sent += sock.send(burst[sent % len(line) :])
            except BlockingIOError:
                # Stalled for good once the server, which may just be behind,
                # has not read anything for a while.
                if not select.select([], [sock], [], STALLED)[1]:
                    break
        else:
            pytest.fail("the server kept reading from a client that never read its replies")
        sock.setblocking(True)
        sock.settimeout(DEADLINE)
        reply = b"You said " + line
        assert read_exactly(sock, len(reply) * (sent // len(line))) == reply * (sent // len(line))
        if sent % len(line):
            sock.sendall(line[sent % len(line) :])  # completes the partial last line
            assert read_exactly(sock, len(reply)) == reply
        exchange(sock, b"done\n", b"You said done\n")


def test_running_out_of_file_descriptors_pauses_accepting_without_losing_clients(start: StartEcho) -> None:
    limit = 24

    def low_fd_limit() -> None:
        resource.setrlimit(resource.RLIMIT_NOFILE, (limit, limit))

    server = start(preexec_fn=low_fd_limit)
    clients = [server.connect() for _ in range(limit + 10)]
    try:
        for i, sock in enumerate(clients):
            sock.sendall(f"client {i}\n".encode())
        # Those beyond the limit wait in the listen queue; as the first ones
        # leave, their descriptors are reused for the rest.
        for i, sock in enumerate(clients):
            expected = f"You said client {i}\n".encode()
            assert read_exactly(sock, len(expected)) == expected
            sock.close()
    finally:
        for sock in clients:
            sock.close()
    assert server.launcher.stderr_lines(server.proc, "not accepting for")


def closed_by_server(sock: socket.socket) -> bool:
    """EOF, or a reset if the server closed with our input unread."""
    try:
        return sock.recv(1) == b""
    except ConnectionResetError:
        return True


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT])
def test_a_signal_closes_every_connection_and_exits_0(start: StartEcho, signum: int) -> None:
    server = start()
    clients = [server.connect() for _ in range(5)]
    try:
        for sock in clients:
            exchange(sock, b"hi\n", b"You said hi\n")
        clients[0].sendall(b"partial")
        assert server.launcher.finish(server.proc, signum) == 0
        assert all(closed_by_server(sock) for sock in clients)
    finally:
        for sock in clients:
            sock.close()
    assert f"{signal.Signals(signum).name}: closing 5 connection(s)" in server.launcher.stderr(server.proc)
