"""examples/prefork.py, run as a program: worker processes with a loop each,
supervised by the parent; checked with real sockets, signals and processes.

The server runs in a session of its own, and the fixture kills that whole
process group at the end, so no worker outlives a failed test. Worker pids
come from the "worker PID ready" lines that each worker's Fork watcher logs.
"""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from .echo import EXAMPLES, converse, many_clients_round_trip, served_by, start_server, until
from .helpers import Launcher, alive, wait_for

PREFORK = EXAMPLES / "prefork.py"

Server = tuple[subprocess.Popen[bytes], int]


@pytest.fixture
def start(launcher: Launcher) -> Iterator[Callable[..., Server]]:
    procs: list[subprocess.Popen[bytes]] = []

    def start_prefork(*args: str) -> Server:
        proc, port = start_server(
            launcher, [sys.executable, str(PREFORK), "--port", "0", *args], start_new_session=True
        )
        procs.append(proc)
        return proc, port

    try:
        yield start_prefork
    finally:
        for proc in procs:
            try:
                os.killpg(proc.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass


def ready_pids(launcher: Launcher, proc: subprocess.Popen[bytes]) -> list[int]:
    return [int(pid) for pid in re.findall(r"worker (\d+) ready", launcher.stderr(proc))]


def wait_ready(launcher: Launcher, proc: subprocess.Popen[bytes], n: int) -> list[int]:
    wait_for(lambda: len(ready_pids(launcher, proc)) >= n, f"{n} workers ready")
    return ready_pids(launcher, proc)


def reaped(pid: int) -> bool:
    return not Path(f"/proc/{pid}").exists()


def burst(port: int, connections: int) -> set[int]:
    """The pids (--stats) serving ``connections`` simultaneous connections."""
    with ThreadPoolExecutor(connections) as pool:
        return set(pool.map(lambda _: served_by(port), range(connections)))


def test_help_explains_how_every_core_is_used() -> None:
    result = subprocess.run([sys.executable, str(PREFORK), "--help"], capture_output=True, text=True, timeout=30)
    assert result.returncode == 0
    assert "--reuseport" in result.stdout and "core" in result.stdout


@pytest.mark.parametrize("mode", [[], ["--reuseport"]], ids=["shared-socket", "reuseport"])
def test_many_concurrent_clients_each_get_their_own_lines_back(
    launcher: Launcher, start: Callable[..., Server], mode: list[str]
) -> None:
    proc, port = start("--workers", "3", *mode)
    wait_ready(launcher, proc, 3)  # with --reuseport, nobody listens before
    many_clients_round_trip(port, clients=30, lines_each=20)
    assert converse(port, b"a\r\nb\nc") == [b"You said a", b"You said b"]  # "c" has no newline


def test_reuseport_spreads_connections_over_the_workers(launcher: Launcher, start: Callable[..., Server]) -> None:
    proc, port = start("--workers", "3", "--reuseport", "--stats")
    # Each worker binds its own socket: before all are ready, one may take all.
    workers = set(wait_ready(launcher, proc, 3))
    # The kernel picks a socket by a hash of the client's port: 60 connections
    # all landing on one of three workers would take a broken hash.
    seen = {served_by(port) for _ in range(60)}
    assert len(seen) > 1
    assert seen <= workers  # the Fork watcher gave every worker its own pid


def test_a_shared_socket_is_served_by_more_than_one_worker(launcher: Launcher, start: Callable[..., Server]) -> None:
    proc, port = start("--workers", "3", "--stats")
    workers = set(wait_ready(launcher, proc, 3))
    # Who wins each accept() is up to the kernel: keep making bursts of
    # simultaneous connections until a second worker has taken one.
    seen = until(lambda: burst(port, 12), lambda pids: len(pids) > 1, "a second worker accepting")
    assert seen <= workers


def test_a_killed_worker_is_restarted_and_service_continues(launcher: Launcher, start: Callable[..., Server]) -> None:
    proc, port = start("--workers", "2", "--stats")
    originals = wait_ready(launcher, proc, 2)
    # Each original is killed in turn. (The parent's watcher for the first
    # was inherited by the second worker, which dropped it: the parent must
    # still see the first one's death.)
    for n, victim in enumerate(originals, 1):
        os.kill(victim, signal.SIGKILL)
        wait_for(lambda: f"worker {victim} killed by SIGKILL; restarting" in launcher.stderr(proc), "the death logged")
        wait_for(lambda: reaped(victim), f"worker {victim} reaped")
        wait_ready(launcher, proc, 2 + n)
    workers = ready_pids(launcher, proc)
    replacements = set(workers[2:])
    assert len(replacements) == 2 and not replacements & set(originals)
    assert all(alive(pid) for pid in replacements)
    assert proc.poll() is None
    seen = until(lambda: burst(port, 6), lambda pids: pids == replacements, "both replacements serving")
    assert seen == replacements


@pytest.mark.parametrize(
    ("signum", "mode"),
    [(signal.SIGTERM, []), (signal.SIGINT, ["--reuseport"])],
    ids=["SIGTERM-shared-socket", "SIGINT-reuseport"],
)
def test_a_stop_signal_stops_every_worker_and_exits_0(
    launcher: Launcher, start: Callable[..., Server], signum: int, mode: list[str]
) -> None:
    proc, port = start("--workers", "3", *mode)
    workers = wait_ready(launcher, proc, 3)
    assert converse(port, b"hello\n") == [b"You said hello"]
    assert launcher.finish(proc, signum) == 0
    stderr = launcher.stderr(proc)
    assert f"received {signal.Signals(signum).name}: stopping 3 workers" in stderr
    for pid in workers:
        assert f"worker {pid} exited with status 0" in stderr
        assert reaped(pid)  # the parent waited for each before exiting
    assert "restarting" not in stderr


def test_a_worker_that_ignores_sigterm_is_killed_after_the_stop_timeout(
    launcher: Launcher, start: Callable[..., Server]
) -> None:
    proc, _ = start("--workers", "2", "--stop-timeout", "0.5")
    stuck, other = wait_ready(launcher, proc, 2)
    os.kill(stuck, signal.SIGSTOP)  # a stopped process handles no SIGTERM, but SIGKILL kills it
    assert launcher.finish(proc, signal.SIGTERM) == 0
    stderr = launcher.stderr(proc)
    assert "1 workers still running after 0.5 s: sending SIGKILL" in stderr
    assert f"worker {stuck} killed by SIGKILL" in stderr
    assert f"worker {other} exited with status 0" in stderr
    assert reaped(stuck) and reaped(other)


def test_workers_exit_when_the_parent_is_killed(launcher: Launcher, start: Callable[..., Server]) -> None:
    proc, _ = start("--workers", "2")
    workers = wait_ready(launcher, proc, 2)
    proc.kill()
    proc.wait()
    for pid in workers:
        wait_for(lambda: not alive(pid), f"orphaned worker {pid} exits")
    assert launcher.stderr(proc).count("the parent is gone") == 2
