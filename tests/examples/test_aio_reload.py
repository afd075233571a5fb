"""examples/aio_reload.py, run as a program: an asyncio line server whose
configuration is reloaded by a pyev Stat watcher (the file changed) and a
pyev Signal watcher (SIGHUP), on one pyev.aio loop.

Each behaviour runs with the file watched by inotify and by stat polling.
Every wait is a deadline loop (tests/examples/helpers.py); nothing asserts
that anything was fast.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from .echo import start_server
from .helpers import DEADLINE, Launcher, wait_for

RELOAD = Path(__file__).resolve().parents[2] / "examples" / "aio_reload.py"
WATCHING = {"inotify": [], "poll": ["--poll", "--interval", "0.1", "--debounce", "0.2"]}


class Server:
    """A running aio_reload.py: its process, config file and address."""

    def __init__(self, launcher: Launcher, config: Path, *args: str) -> None:
        self.launcher = launcher
        self.config = config
        self.proc, self.port = start_server(
            launcher, [sys.executable, str(RELOAD), "--config", str(config), "--port", "0", *args]
        )

    def log(self, containing: str) -> list[str]:
        return self.launcher.stderr_lines(self.proc, containing)

    def wait_for_log(self, containing: str, count: int = 1) -> None:
        wait_for(lambda: len(self.log(containing)) >= count, f"{count} stderr line(s) with {containing!r}")

    def connect(self) -> Client:
        return Client(socket.create_connection(("127.0.0.1", self.port), timeout=DEADLINE))


class Client:
    def __init__(self, sock: socket.socket) -> None:
        self.sock = sock
        self.reader = sock.makefile("rb")

    def ask(self, line: str) -> str:
        self.sock.sendall(line.encode() + b"\n")
        return self.reader.readline().decode().rstrip("\n")

    def close(self) -> None:
        self.reader.close()
        self.sock.close()


def replace_atomically(path: Path, text: str) -> None:
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(text)
    os.replace(tmp, path)


@pytest.fixture(params=list(WATCHING))
def start(request: pytest.FixtureRequest, launcher: Launcher, tmp_path: Path) -> Iterator[Callable[..., Server]]:
    """``start(text, *args)`` writes the config file and runs the example on
    it, its file watched by inotify or by polling (the fixture's param)."""

    def run(text: str, *args: str) -> Server:
        config = tmp_path / "greeter.conf"
        config.write_text(text)
        return Server(launcher, config, *WATCHING[request.param], *args)

    yield run


def test_help_shows_the_options() -> None:
    result = subprocess.run(
        [sys.executable, str(RELOAD), "--help"], check=False, capture_output=True, text=True, timeout=DEADLINE
    )
    assert result.returncode == 0
    for option in ("--config", "--port", "--poll", "--interval", "--debounce"):
        assert option in result.stdout


def test_lines_are_answered_with_the_configured_greeting(start: Callable[..., Server]) -> None:
    server = start("# a comment\n\ngreeting = Good morning\n")
    assert server.log("config ") and "greeting='Good morning'" in server.log("config ")[0]
    client = server.connect()
    try:
        assert client.ask("world") == "Good morning, world"
        assert client.ask("again") == "Good morning, again"
    finally:
        client.close()


def test_a_changed_file_and_a_sighup_each_reload_the_configuration(
    start: Callable[..., Server], launcher: Launcher
) -> None:
    server = start("greeting = Hello\n")
    client = server.connect()  # one connection, open across both reloads
    try:
        assert client.ask("world") == "Hello, world"

        replace_atomically(server.config, "greeting = Hi\nshout = yes\n")
        server.wait_for_log("reloaded (file changed): greeting='Hi' shout=yes")
        assert client.ask("world") == "HI, WORLD"

        server.proc.send_signal(signal.SIGHUP)
        server.wait_for_log("reloaded (SIGHUP): greeting='Hi' shout=yes")
        assert client.ask("still here") == "HI, STILL HERE"
    finally:
        client.close()
    assert launcher.finish(server.proc, signal.SIGTERM) == 0


def test_sighup_reloads_a_change_the_file_watcher_has_not_reported(launcher: Launcher, tmp_path: Path) -> None:
    config = tmp_path / "greeter.conf"
    config.write_text("greeting = Hello\n")
    # Polled once a minute: only SIGHUP can bring the change in time.
    server = Server(launcher, config, "--poll", "--interval", "60")
    client = server.connect()
    try:
        assert client.ask("a") == "Hello, a"
        replace_atomically(config, "greeting = Howdy\n")
        server.proc.send_signal(signal.SIGHUP)
        server.wait_for_log("reloaded (SIGHUP): greeting='Howdy'")
        assert client.ask("b") == "Howdy, b"
        assert server.log("file changed") == []
    finally:
        client.close()
    assert launcher.finish(server.proc, signal.SIGINT) == 0


def test_a_broken_config_keeps_the_old_one_and_says_why(start: Callable[..., Server]) -> None:
    server = start("greeting = Hello\n")
    client = server.connect()
    try:
        replace_atomically(server.config, "greeting = Hi\nvolume = 11\n")
        server.wait_for_log("failed, keeping greeting='Hello'")
        assert "unknown key 'volume'" in server.log("failed")[0]
        assert client.ask("world") == "Hello, world"

        server.config.unlink()
        server.proc.send_signal(signal.SIGHUP)
        server.wait_for_log("reload (SIGHUP) failed")
        assert client.ask("world") == "Hello, world"

        server.config.write_text("greeting = Back\n")  # the file reappears
        server.wait_for_log("reloaded (file changed): greeting='Back'")
        assert client.ask("world") == "Back, world"
    finally:
        client.close()


@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM], ids=["SIGINT", "SIGTERM"])
def test_sigint_and_sigterm_close_open_connections_and_exit_0(
    start: Callable[..., Server], launcher: Launcher, signum: signal.Signals
) -> None:
    server = start("greeting = Bye\n")
    client = server.connect()
    try:
        assert client.ask("now") == "Bye, now"
        assert launcher.finish(server.proc, signum) == 0
        assert client.reader.read() == b""  # the server closed the connection
    finally:
        client.close()
    assert server.log("shutting down, 1 connection(s) open")
    assert "Traceback" not in launcher.stderr(server.proc)


def test_a_config_that_cannot_be_loaded_at_start_exits_1(tmp_path: Path) -> None:
    result = subprocess.run(
        [sys.executable, str(RELOAD), "--config", str(tmp_path / "missing.conf")],
        check=False,
        capture_output=True,
        text=True,
        timeout=DEADLINE,
    )
    assert result.returncode == 1
    assert "cannot load" in result.stderr and "missing.conf" in result.stderr
    assert result.stdout == ""
