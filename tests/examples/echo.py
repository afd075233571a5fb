"""Clients for the echo servers of examples/threads.py and examples/prefork.py.

Each line sent comes back as "You said LINE", with " [worker N]" or
" [pid N]" before the newline when the server runs with --stats.
"""

from __future__ import annotations

import re
import socket
import subprocess
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from .helpers import DEADLINE, Launcher, wait_for

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"
HOST = "127.0.0.1"


def start_server(launcher: Launcher, argv: list[str], **popen: object) -> tuple[subprocess.Popen[bytes], int]:
    """Start a server; its port, read from "listening on HOST:PORT", its first line."""
    proc = launcher.start(argv, **popen)

    def announced() -> bool:
        if proc.poll() is not None:
            raise AssertionError(f"exited with {proc.returncode}: {launcher.stderr(proc)}")
        return "\n" in launcher.stdout(proc)

    wait_for(announced, "the 'listening on' line")
    first = launcher.stdout(proc).splitlines()[0]
    match = re.fullmatch(r"listening on (\S+):(\d+)", first)
    assert match is not None, first
    assert match[1] == HOST
    return proc, int(match[2])


def connect(port: int) -> socket.socket:
    return socket.create_connection((HOST, port), timeout=DEADLINE)


def read_to_eof(sock: socket.socket) -> bytes:
    chunks = []
    while chunk := sock.recv(65536):
        chunks.append(chunk)
    return b"".join(chunks)


def converse(port: int, payload: bytes) -> list[bytes]:
    """Send ``payload``, shut down the sending side, and return the reply lines
    (the server closes once it has answered every line)."""
    with connect(port) as sock:
        sock.sendall(payload)
        sock.shutdown(socket.SHUT_WR)
        return read_to_eof(sock).splitlines()


def round_trips(sock: socket.socket, lines: list[bytes]) -> list[bytes]:
    """One line at a time, each reply awaited before the next line is sent."""
    replies = []
    with sock.makefile("rb") as reader:
        for line in lines:
            sock.sendall(line + b"\n")
            replies.append(reader.readline().rstrip(b"\n"))
    return replies


def tag_of(reply: bytes) -> int:
    """The number in a --stats reply's " [worker N]" or " [pid N]"."""
    match = re.fullmatch(rb"You said .* \[(?:worker|pid) (\d+)\]", reply)
    assert match is not None, reply
    return int(match[1])


def served_by(port: int) -> int:
    """Which worker (--stats) serves a new connection."""
    (reply,) = converse(port, b"who\n")
    return tag_of(reply)


def many_clients_round_trip(port: int, clients: int, lines_each: int) -> None:
    """``clients`` connections, all open at once, each doing ``lines_each``
    round trips with lines of its own; every reply must be its own line's."""
    everyone_connected = threading.Barrier(clients, timeout=DEADLINE)

    def client(n: int) -> None:
        with connect(port) as sock:
            everyone_connected.wait()
            lines = [f"client {n} line {i} ".encode() + b"x" * (n * 37 % 300) for i in range(lines_each)]
            assert round_trips(sock, lines) == [b"You said " + line for line in lines]

    with ThreadPoolExecutor(clients) as pool:
        for result in [pool.submit(client, n) for n in range(clients)]:
            result.result(timeout=DEADLINE)


def until(collect: Callable[[], set[int]], enough: Callable[[set[int]], bool], what: str) -> set[int]:
    """Call ``collect`` until the union of what it returned is ``enough``."""
    seen: set[int] = set()

    def done() -> bool:
        seen.update(collect())
        return enough(seen)

    wait_for(done, what)
    return seen
