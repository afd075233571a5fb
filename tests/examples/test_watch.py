"""examples/watch.py, run as a program: real files, real children, real signals.

The watched command appends a line to a log file per run; the tests count
those lines. "Exactly N runs" is checked after a quiet period that is long
against the debounce, so that a spurious extra run (say, one triggered by
the command's own read of the file) would have shown up.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from .helpers import Launcher, alive, group_members, lines, pids_in, wait_for

WATCH = Path(__file__).resolve().parents[2] / "examples" / "watch.py"

# Long against the debounce (0.1 s; 0.2 s when polling every 0.1 s) plus
# the time to start a shell: any run still to come would have started by then.
QUIET = 0.4

# Logs the run.
LOG_RUN = 'echo run >> "$1"'
# Reads the watched file (updating its atime) and logs the run.
READ_AND_LOG = 'cat "$1" > /dev/null; echo run >> "$2"'
# Logs "LEADER_PID SLEEP_PID" and waits for its background sleep: a run
# with a grandchild in its process group.
LONG_RUN = 'sleep 60 & echo "$$ $!" >> "$1"; echo run >> "$2"; wait'
# argv: PIDFILE MARKER. Logs each SIGTERM to MARKER and carries on.
NOTES_AND_IGNORES_SIGTERM = """
import os, signal, sys, time
def note(signum, frame):
    with open(sys.argv[2], "a") as f:
        f.write("SIGTERM\\n")
signal.signal(signal.SIGTERM, note)
with open(sys.argv[1], "a") as f:
    f.write(f"{os.getpid()}\\n")
while True:
    time.sleep(60)
"""


def start_watch(launcher: Launcher, *args: str) -> subprocess.Popen[bytes]:
    return launcher.python(WATCH, *args)


def runs_logged(log: Path, n: int) -> Callable[[], bool]:
    return lambda: len(lines(log)) >= n


def assert_settled_at(launcher: Launcher, proc: subprocess.Popen[bytes], log: Path, runs: int) -> None:
    """Exactly ``runs`` runs happened, each with its status lines, and no more come."""
    wait_for(lambda: len(launcher.stderr_lines(proc, "exited with status")) >= runs, f"{runs} runs end")
    time.sleep(QUIET)
    assert len(lines(log)) == runs, launcher.stderr(proc)
    assert len(launcher.stderr_lines(proc, "] run #")) == runs
    assert len(launcher.stderr_lines(proc, "exited with status")) == runs


def write_in_place(path: Path, text: str) -> None:
    path.write_text(text)


def replace_atomically(path: Path, text: str) -> None:
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(text)
    os.replace(tmp, path)


def delete_and_recreate(path: Path, text: str) -> None:
    path.unlink()
    path.write_text(text)


def rename_to_backup_then_write(path: Path, text: str) -> None:
    os.replace(path, path.with_name(path.name + "~"))
    path.write_text(text)


EDITS = [write_in_place, replace_atomically, delete_and_recreate, rename_to_backup_then_write]
# Polling needs a debounce longer than its interval to fold a burst seen over two polls.
WATCHING = {"inotify": [], "poll": ["--poll", "--interval", "0.1", "--debounce", "0.2"]}


def test_help_shows_the_usage() -> None:
    result = subprocess.run(
        [sys.executable, str(WATCH), "--help"], check=False, capture_output=True, text=True, timeout=30
    )
    assert result.returncode == 0
    assert "PATH... -- CMD" in result.stdout
    for option in (
        "--filter",
        "--ignore",
        "--debounce",
        "--interval",
        "--poll",
        "--grace",
        "--clear",
        "--restart",
        "--queue",
        "--postpone",
    ):
        assert option in result.stdout


def test_a_command_line_without_a_command_is_refused() -> None:
    result = subprocess.run(
        [sys.executable, str(WATCH), "file"], check=False, capture_output=True, text=True, timeout=30
    )
    assert result.returncode == 2
    assert "'--'" in result.stderr


@pytest.mark.parametrize("watching", list(WATCHING))
@pytest.mark.parametrize("edit", EDITS, ids=lambda edit: edit.__name__)
def test_each_edit_runs_the_command_exactly_once_more(
    launcher: Launcher, tmp_path: Path, edit: Callable[[Path, str], None], watching: str
) -> None:
    watched, log = tmp_path / "watched.txt", tmp_path / "log"
    watched.write_text("first\n")
    proc = start_watch(
        launcher, *WATCHING[watching], str(watched), "--", "sh", "-c", READ_AND_LOG, "sh", str(watched), str(log)
    )
    wait_for(runs_logged(log, 1), "the first run")
    assert launcher.stderr_lines(proc, "[watch] run #1: sh -c ")

    edit(watched, "second version\n")
    wait_for(runs_logged(log, 2), "a run after the first edit")
    wait_for(lambda: len(launcher.stderr_lines(proc, "exited with status 0")) >= 2, "the second run ends")
    edit(watched, "third\n")
    assert_settled_at(launcher, proc, log, 3)

    assert launcher.finish(proc, signal.SIGINT) == 0


def test_edits_closer_together_than_the_debounce_run_once_after_the_last(launcher: Launcher, tmp_path: Path) -> None:
    watched, log = tmp_path / "watched.txt", tmp_path / "log"
    watched.write_text("0\n")
    proc = start_watch(
        launcher, "--debounce", "0.3", str(watched), "--", "sh", "-c", READ_AND_LOG, "sh", str(watched), str(log)
    )
    wait_for(runs_logged(log, 1), "the first run")
    wait_for(lambda: bool(launcher.stderr_lines(proc, "exited with status")), "the first run ends")

    # 0.08 s apart, 0.4 s in all: longer than the debounce, so only a timer
    # re-armed by each change (Timer.again) makes it one run.
    for n in range(1, 7):
        if n > 1:
            time.sleep(0.08)
        replace_atomically(watched, f"{n}\n" * n)
    assert_settled_at(launcher, proc, log, 2)


def test_atime_and_mode_changes_do_not_run_the_command(launcher: Launcher, tmp_path: Path) -> None:
    watched, log = tmp_path / "watched.txt", tmp_path / "log"
    watched.write_text("text\n")
    proc = start_watch(launcher, str(watched), "--", "sh", "-c", READ_AND_LOG, "sh", str(watched), str(log))
    wait_for(runs_logged(log, 1), "the first run")

    st = watched.stat()
    os.utime(watched, ns=(st.st_atime_ns + 10**12, st.st_mtime_ns))  # atime only (and ctime)
    os.chmod(watched, 0o600)
    assert_settled_at(launcher, proc, log, 1)

    watched.write_text("a real change\n")
    assert_settled_at(launcher, proc, log, 2)


def test_a_change_stops_the_running_command_and_its_process_group(launcher: Launcher, tmp_path: Path) -> None:
    watched, log, pids = tmp_path / "watched.txt", tmp_path / "log", launcher.track(tmp_path / "pids")
    watched.write_text("1\n")
    proc = start_watch(launcher, str(watched), "--", "sh", "-c", LONG_RUN, "sh", str(pids), str(log))
    wait_for(lambda: len(pids_in(pids)) == 2, "the first run reports its pids")
    leader, sleeper = pids_in(pids)
    assert group_members(leader) != []

    watched.write_text("2\n")
    wait_for(lambda: len(pids_in(pids)) == 4, "the second run reports its pids")
    wait_for(lambda: not alive(leader) and not alive(sleeper), "the first run's processes are gone")
    with pytest.raises(ProcessLookupError):
        os.kill(leader, 0)  # exited and reaped by watch.py
    assert group_members(leader) == []
    assert launcher.stderr_lines(proc, "exited with status SIGTERM")
    new_leader, new_sleeper = pids_in(pids)[2:]
    assert alive(new_leader) and alive(new_sleeper)

    assert launcher.finish(proc, signal.SIGTERM) == 0
    wait_for(lambda: group_members(new_leader) == [], "the second run's group is gone")


def test_a_run_that_ignores_sigterm_is_killed_after_the_grace(launcher: Launcher, tmp_path: Path) -> None:
    watched, log, pids = tmp_path / "watched.txt", tmp_path / "log", launcher.track(tmp_path / "pids")
    watched.write_text("1\n")
    stubborn = "trap '' TERM; " + LONG_RUN
    proc = start_watch(launcher, "--grace", "0.3", str(watched), "--", "sh", "-c", stubborn, "sh", str(pids), str(log))
    wait_for(lambda: len(pids_in(pids)) == 2, "the first run reports its pids")
    leader, _ = pids_in(pids)

    edited = time.monotonic()
    watched.write_text("2\n")
    wait_for(lambda: len(pids_in(pids)) == 4, "the second run reports its pids")
    assert time.monotonic() - edited >= 0.3
    assert not alive(leader) and group_members(leader) == []
    assert launcher.stderr_lines(proc, "exited with status SIGKILL")

    assert launcher.finish(proc, signal.SIGINT) == 0
    assert group_members(pids_in(pids)[2]) == []


def test_queue_lets_the_run_finish_then_runs_once_more(launcher: Launcher, tmp_path: Path) -> None:
    watched, log, go = tmp_path / "watched.txt", tmp_path / "log", tmp_path / "go"
    watched.write_text("1\n")
    # Each run logs "start", waits until the test creates `go`, logs "end".
    command = 'echo start >> "$1"; while [ ! -e "$2" ]; do sleep 0.02; done; echo end >> "$1"'
    proc = start_watch(launcher, "--queue", str(watched), "--", "sh", "-c", command, "sh", str(log), str(go))
    wait_for(runs_logged(log, 1), "the first run starts")

    watched.write_text("2\n")
    time.sleep(0.3)
    watched.write_text("three\n")  # a second burst, queued as well
    time.sleep(0.3)
    assert lines(log) == ["start"]  # the first run was left alone
    go.touch()
    wait_for(lambda: len(launcher.stderr_lines(proc, "exited with status 0")) >= 2, "two runs end")
    time.sleep(QUIET)
    assert lines(log) == ["start", "end", "start", "end"]
    assert len(launcher.stderr_lines(proc, "] run #")) == 2


def test_postpone_waits_for_the_first_change(launcher: Launcher, tmp_path: Path) -> None:
    watched, log = tmp_path / "watched.txt", tmp_path / "log"
    watched.write_text("1\n")
    proc = start_watch(
        launcher, "--postpone", str(watched), "--", "sh", "-c", READ_AND_LOG, "sh", str(watched), str(log)
    )
    wait_for(lambda: bool(launcher.stderr_lines(proc, "waiting for a change")), "watch.py is ready")

    watched.write_text("2\n")
    assert_settled_at(launcher, proc, log, 1)


@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM], ids=["SIGINT", "SIGTERM"])
def test_a_signal_stops_the_run_and_leaves_no_child_behind(
    launcher: Launcher, tmp_path: Path, signum: signal.Signals
) -> None:
    watched, log, pids = tmp_path / "watched.txt", tmp_path / "log", launcher.track(tmp_path / "pids")
    watched.write_text("1\n")
    proc = start_watch(launcher, str(watched), "--", "sh", "-c", LONG_RUN, "sh", str(pids), str(log))
    wait_for(lambda: len(pids_in(pids)) == 2, "the run reports its pids")
    leader, sleeper = pids_in(pids)

    assert launcher.finish(proc, signum) == 0
    assert not alive(leader) and not alive(sleeper)
    assert group_members(leader) == []
    assert launcher.stderr_lines(proc, "exited with status SIGTERM")


def test_a_second_sigint_skips_the_grace(launcher: Launcher, tmp_path: Path) -> None:
    watched, pids, marker = tmp_path / "watched.txt", launcher.track(tmp_path / "pids"), tmp_path / "marker"
    watched.write_text("1\n")
    command = [sys.executable, "-c", NOTES_AND_IGNORES_SIGTERM, str(pids), str(marker)]
    proc = start_watch(launcher, "--grace", "60", str(watched), "--", *command)
    wait_for(lambda: len(pids_in(pids)) == 1, "the run reports its pid")
    (pid,) = pids_in(pids)

    proc.send_signal(signal.SIGINT)
    wait_for(lambda: lines(marker) == ["SIGTERM"], "the run gets SIGTERM")
    assert launcher.finish(proc, signal.SIGINT) == 0  # long before the 60 s grace
    assert not alive(pid)
    assert launcher.stderr_lines(proc, "exited with status SIGKILL")


@pytest.mark.parametrize("watching", list(WATCHING))
def test_a_change_deep_in_a_tree_runs_the_command_again(launcher: Launcher, tmp_path: Path, watching: str) -> None:
    project, log = tmp_path / "project", tmp_path / "log"
    (project / "src" / "pkg" / "sub").mkdir(parents=True)
    module = project / "src" / "pkg" / "sub" / "mod.py"
    module.write_text("x = 1\n")
    proc = start_watch(
        launcher, *WATCHING[watching], str(project), "--", "sh", "-c", 'echo run >> "$1"', "sh", str(log)
    )
    wait_for(runs_logged(log, 1), "the first run")
    wait_for(lambda: bool(launcher.stderr_lines(proc, "exited with status")), "the first run ends")

    module.write_text("x = 2\n")
    wait_for(runs_logged(log, 2), "a run after the edit deep in the tree")
    wait_for(lambda: len(launcher.stderr_lines(proc, "exited with status")) >= 2, "the second run ends")
    (project / "src" / "new" / "deeper").mkdir(parents=True)
    (project / "src" / "new" / "deeper" / "added.py").write_text("y = 1\n")
    assert_settled_at(launcher, proc, log, 3)
    assert launcher.finish(proc, signal.SIGINT) == 0


@pytest.mark.parametrize("watching", list(WATCHING))
def test_a_command_writing_its_caches_into_the_tree_does_not_run_itself_again(
    launcher: Launcher, tmp_path: Path, watching: str
) -> None:
    project, log = tmp_path / "project", tmp_path / "log"
    project.mkdir()
    (project / "test_x.py").write_text("def test(): pass\n")
    # What pytest and friends leave behind: bytecode, a cache directory, a swap file.
    caches = (
        'mkdir -p "$1/__pycache__" "$1/.pytest_cache/v"; date +%N > "$1/__pycache__/test_x.cpython-311.pyc";'
        ' date +%N > "$1/.pytest_cache/v/lastfailed"; date +%N > "$1/.test_x.py.swp"; echo run >> "$2"'
    )
    proc = start_watch(
        launcher, *WATCHING[watching], str(project), "--", "sh", "-c", caches, "sh", str(project), str(log)
    )
    assert_settled_at(launcher, proc, log, 1)
    (project / "test_x.py").write_text("def test(): assert True\n")
    assert_settled_at(launcher, proc, log, 2)
    assert launcher.finish(proc, signal.SIGINT) == 0


def test_filter_watches_only_the_matching_files(launcher: Launcher, tmp_path: Path) -> None:
    project, log = tmp_path / "project", tmp_path / "log"
    (project / "pkg").mkdir(parents=True)
    proc = start_watch(
        launcher, "--filter", "*.py", "--filter", "*.toml", str(project), "--", "sh", "-c", LOG_RUN, "sh", str(log)
    )
    wait_for(runs_logged(log, 1), "the first run")
    (project / "pkg" / "notes.txt").write_text("not a match\n")
    (project / "README").write_text("no match either\n")
    assert_settled_at(launcher, proc, log, 1)
    (project / "pkg" / "mod.py").write_text("a match\n")
    assert_settled_at(launcher, proc, log, 2)
    (project / "pyproject.toml").write_text("[project]\n")
    assert_settled_at(launcher, proc, log, 3)
    assert launcher.finish(proc, signal.SIGINT) == 0


def test_ignore_skips_more_besides_the_defaults(launcher: Launcher, tmp_path: Path) -> None:
    project, log = tmp_path / "project", tmp_path / "log"
    (project / "build").mkdir(parents=True)
    (project / "src").mkdir()
    proc = start_watch(
        launcher, "--ignore", "build", "--ignore", "*.log", str(project), "--", "sh", "-c", LOG_RUN, "sh", str(log)
    )
    wait_for(runs_logged(log, 1), "the first run")
    (project / "build" / "out.o").write_text("object\n")
    (project / "src" / "run.log").write_text("log\n")
    (project / ".git").mkdir()
    (project / ".git" / "index").write_text("a default ignore\n")
    assert_settled_at(launcher, proc, log, 1)
    (project / "src" / "main.c").write_text("int main;\n")
    assert_settled_at(launcher, proc, log, 2)
    assert launcher.finish(proc, signal.SIGINT) == 0


def test_a_directory_is_watched_for_its_entries(launcher: Launcher, tmp_path: Path) -> None:
    watched, log = tmp_path / "dir", tmp_path / "log"
    watched.mkdir()
    proc = start_watch(
        launcher, str(watched), "--", "sh", "-c", 'ls "$1" > /dev/null; echo run >> "$2"', "sh", str(watched), str(log)
    )
    wait_for(runs_logged(log, 1), "the first run")

    (watched / "new.txt").write_text("an entry appears\n")
    wait_for(runs_logged(log, 2), "a run after the entry appeared")
    wait_for(lambda: len(launcher.stderr_lines(proc, "exited with status 0")) >= 2, "the second run ends")
    (watched / "new.txt").unlink()
    assert_settled_at(launcher, proc, log, 3)


def test_a_path_that_does_not_exist_yet_is_watched_for(launcher: Launcher, tmp_path: Path) -> None:
    watched, log = tmp_path / "later.txt", tmp_path / "log"
    proc = start_watch(launcher, "--postpone", str(watched), "--", "sh", "-c", 'echo run >> "$1"', "sh", str(log))
    wait_for(lambda: bool(launcher.stderr_lines(proc, "waiting for a change")), "watch.py is ready")
    assert launcher.stderr_lines(proc, "does not exist (yet)")

    watched.write_text("here now\n")
    assert_settled_at(launcher, proc, log, 1)


def test_status_lines_and_clear(launcher: Launcher, tmp_path: Path) -> None:
    watched = tmp_path / "watched.txt"
    watched.write_text("1\n")
    proc = start_watch(launcher, "--clear", str(watched), "--", "sh", "-c", "echo output; exit 3")
    wait_for(lambda: bool(launcher.stderr_lines(proc, "exited with status")), "the run ends")

    assert launcher.stderr(proc).splitlines() == [
        "[watch] run #1: sh -c 'echo output; exit 3'",
        "[watch] exited with status 3",
    ]
    assert launcher.stdout(proc).startswith("\x1b[H\x1b[2J")
    assert "output" in launcher.stdout(proc)
    assert launcher.finish(proc, signal.SIGINT) == 0
