"""Running an example program as a child process, and looking at what it did.

Every wait is a deadline loop that checks a condition every 0.02 s and
fails after a generous limit; nothing asserts that anything was fast.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

# Far above how long anything here takes, even on a loaded machine.
DEADLINE = 10.0
TICK = 0.02


def wait_for(condition: Callable[[], bool], what: str, timeout: float = DEADLINE) -> None:
    end = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > end:
            raise AssertionError(f"not within {timeout} s: {what}")
        time.sleep(TICK)


def lines(path: Path) -> list[str]:
    """The complete lines of ``path`` (none if it does not exist yet)."""
    try:
        text = path.read_text()
    except FileNotFoundError:
        return []
    return text.splitlines()[: text.count("\n")]


def pids_in(path: Path) -> list[int]:
    """Every whitespace-separated number on the complete lines of ``path``."""
    return [int(word) for line in lines(path) for word in line.split()]


def alive(pid: int) -> bool:
    """Whether ``pid`` runs. A zombie does not count: an orphan that exits
    waits as one until init reaps it, and some containers' init never does."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except FileNotFoundError:
        return False
    return stat.rpartition(")")[2].split()[0] != "Z"


def group_members(pgid: int) -> list[int]:
    """The live (non-zombie) processes of process group ``pgid``."""
    members = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            fields = (entry / "stat").read_text().rpartition(")")[2].split()
        except (FileNotFoundError, ProcessLookupError):
            continue
        state, pgrp = fields[0], int(fields[2])
        if pgrp == pgid and state != "Z":
            members.append(int(entry.name))
    return members


class Launcher:
    """Starts example programs with stderr (and stdout) in files, and kills
    whatever is left of them and of the processes they started."""

    def __init__(self, tmp_path: Path) -> None:
        self.tmp_path = tmp_path
        self.procs: list[subprocess.Popen[bytes]] = []
        self.pid_files: list[Path] = []
        self.outputs: dict[int, tuple[Path, Path]] = {}

    def start(self, argv: list[str], **kwargs: object) -> subprocess.Popen[bytes]:
        n = len(self.procs)
        out, err = self.tmp_path / f"stdout-{n}", self.tmp_path / f"stderr-{n}"
        with out.open("wb") as stdout, err.open("wb") as stderr:
            proc: subprocess.Popen[bytes] = subprocess.Popen(  # type: ignore[call-overload]
                argv, stdout=stdout, stderr=stderr, cwd=self.tmp_path, **kwargs
            )
        self.procs.append(proc)
        self.outputs[proc.pid] = (out, err)
        return proc

    def python(self, script: Path, *args: str) -> subprocess.Popen[bytes]:
        return self.start([sys.executable, str(script), *args])

    def stderr(self, proc: subprocess.Popen[bytes]) -> str:
        return self.outputs[proc.pid][1].read_text()

    def stdout(self, proc: subprocess.Popen[bytes]) -> str:
        return self.outputs[proc.pid][0].read_text()

    def stderr_lines(self, proc: subprocess.Popen[bytes], containing: str) -> list[str]:
        return [line for line in self.stderr(proc).splitlines() if containing in line]

    def track(self, pid_file: Path) -> Path:
        """Kill the process groups of the pids written to ``pid_file`` at the end."""
        self.pid_files.append(pid_file)
        return pid_file

    def finish(self, proc: subprocess.Popen[bytes], signum: int) -> int:
        """Send ``signum`` and wait for the exit status."""
        proc.send_signal(signum)
        return proc.wait(timeout=DEADLINE)

    def cleanup(self) -> None:
        for proc in self.procs:
            if proc.poll() is None:
                proc.kill()
                proc.wait()
        for pid_file in self.pid_files:
            for pid in pids_in(pid_file):
                for kill in (os.killpg, os.kill):
                    try:
                        kill(pid, signal.SIGKILL)
                    except (ProcessLookupError, PermissionError):
                        pass
