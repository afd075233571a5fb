"""examples/threads.py, run as a program: the main thread accepts, worker
threads with a loop each serve; checked with real sockets and signals."""

from __future__ import annotations

import signal
import socket
import subprocess
import sys
import threading

import pytest

from .echo import EXAMPLES, connect, converse, many_clients_round_trip, read_to_eof, round_trips, served_by, start_server
from .helpers import DEADLINE, Launcher

THREADS = EXAMPLES / "threads.py"


def start_threads(launcher: Launcher, *args: str) -> tuple[subprocess.Popen[bytes], int]:
    return start_server(launcher, [sys.executable, str(THREADS), "--port", "0", *args])


def test_help_explains_the_thread_model() -> None:
    result = subprocess.run([sys.executable, str(THREADS), "--help"], capture_output=True, text=True, timeout=30)
    assert result.returncode == 0
    assert "--workers" in result.stdout and "Async" in result.stdout


def test_many_concurrent_clients_each_get_their_own_lines_back(launcher: Launcher) -> None:
    _, port = start_threads(launcher, "--workers", "4")
    many_clients_round_trip(port, clients=40, lines_each=25)


def test_lines_are_reassembled_across_packets_and_split_when_pipelined(launcher: Launcher) -> None:
    _, port = start_threads(launcher)
    with connect(port) as sock:
        sock.sendall(b"one\ntwo\r\nth")
        sock.sendall(b"ree\n")
        sock.shutdown(socket.SHUT_WR)
        assert read_to_eof(sock).splitlines() == [b"You said one", b"You said two", b"You said three"]


def test_a_client_that_sends_everything_before_reading_gets_every_reply(launcher: Launcher) -> None:
    # Megabytes of replies pile up while the client is still sending: the
    # server must buffer them, and wait for WRITE readiness, without losing any.
    _, port = start_threads(launcher, "--workers", "2")
    lines = [b"%06d" % i + b"." * 40 for i in range(60_000)]
    with connect(port) as sock:

        def send_everything() -> None:
            sock.sendall(b"\n".join(lines) + b"\n")
            sock.shutdown(socket.SHUT_WR)

        sender = threading.Thread(target=send_everything)
        sender.start()
        replies = read_to_eof(sock).splitlines()
        sender.join(DEADLINE)
    assert replies == [b"You said " + line for line in lines]


def test_stats_shows_connections_handed_to_the_workers_round_robin(launcher: Launcher) -> None:
    _, port = start_threads(launcher, "--workers", "4", "--stats")
    # Each connection is accepted before the next is made, so the order is exact.
    assert [served_by(port) for _ in range(8)] == [1, 2, 3, 4, 1, 2, 3, 4]
    assert converse(port, b"x\n") == [b"You said x [worker 1]"]


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT], ids=["SIGTERM", "SIGINT"])
def test_a_stop_signal_closes_every_connection_and_exits_0(launcher: Launcher, signum: int) -> None:
    proc, port = start_threads(launcher, "--workers", "3")
    clients = [connect(port) for _ in range(5)]
    try:
        for n, sock in enumerate(clients):
            assert round_trips(sock, [b"hi %d" % n]) == [b"You said hi %d" % n]
        assert launcher.finish(proc, signum) == 0
        for sock in clients:
            assert read_to_eof(sock) == b""  # closed by its worker
    finally:
        for sock in clients:
            sock.close()
    stderr = launcher.stderr(proc)
    assert f"received {signal.Signals(signum).name}: stopping" in stderr
    assert stderr.count("finished after") == 3, stderr
