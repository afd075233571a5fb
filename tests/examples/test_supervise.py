"""examples/supervise.py, run as a program: real children, real signals.

The supervised programs are tiny shell or Python scripts that log what
happened to them (a start, a signal received) in files under tmp_path.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from .helpers import DEADLINE, Launcher, alive, lines, pids_in, wait_for

SUPERVISE = Path(__file__).resolve().parents[2] / "examples" / "supervise.py"

# argv: MARKER PIDFILE. Logs each SIGTERM/SIGINT/SIGHUP it gets to MARKER;
# exits 0 on SIGTERM or SIGINT. Writes its pid once its handlers are set.
TRAPPER = """
import os, signal, sys, time
marker, pidfile = sys.argv[1], sys.argv[2]
def note(signum, frame):
    with open(marker, "a") as f:
        f.write(signal.Signals(signum).name + "\\n")
    if signum != signal.SIGHUP:
        sys.exit(0)
for signum in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
    signal.signal(signum, note)
with open(pidfile, "a") as f:
    f.write(f"{os.getpid()}\\n")
while True:
    time.sleep(60)
"""

# argv: PIDFILE. Ignores SIGTERM; writes its pid once it does.
IGNORER = """
import os, signal, sys, time
signal.signal(signal.SIGTERM, signal.SIG_IGN)
with open(sys.argv[1], "a") as f:
    f.write(f"{os.getpid()}\\n")
while True:
    time.sleep(60)
"""

# argv: LOG. Logs its start (monotonic clock) and exits 3 at once.
FAILER = """
import sys, time
with open(sys.argv[1], "a") as f:
    f.write(f"{time.monotonic()}\\n")
sys.exit(3)
"""


def start_supervise(launcher: Launcher, *args: str) -> subprocess.Popen[bytes]:
    return launcher.python(SUPERVISE, *args)


def test_help_shows_the_usage() -> None:
    result = subprocess.run(
        [sys.executable, str(SUPERVISE), "--help"], check=False, capture_output=True, text=True, timeout=30
    )
    assert result.returncode == 0
    assert "--cmd" in result.stdout and "[[program]]" in result.stdout
    for option in (
        "--config",
        "--backoff-initial",
        "--backoff-max",
        "--max-fast-failures",
        "--fast-seconds",
        "--stop-timeout",
    ):
        assert option in result.stdout


def test_a_fast_failing_program_is_restarted_with_doubling_delays_then_given_up(
    launcher: Launcher, tmp_path: Path
) -> None:
    log = tmp_path / "starts"
    proc = start_supervise(
        launcher, "--backoff-initial", "0.05", "--max-fast-failures", "4", "--", sys.executable, "-c", FAILER, str(log)
    )
    assert proc.wait(timeout=DEADLINE) == 1

    starts = [float(line) for line in lines(log)]
    assert len(starts) == 4
    delays = [0.05, 0.1, 0.2]
    for earlier, later, delay in zip(starts, starts[1:], delays):
        assert later - earlier >= delay
    name = os.path.basename(sys.executable)
    restarting = launcher.stderr_lines(proc, "restarting in")
    assert restarting == [f"[supervise] {name}: exited with code 3; restarting in {d:g} s" for d in delays]
    assert len(launcher.stderr_lines(proc, f"[supervise] {name}: started pid ")) == 4
    assert launcher.stderr(proc).splitlines()[-1] == f"[supervise] {name}: giving up after 4 fast failures"


def test_the_delay_stops_doubling_at_backoff_max(launcher: Launcher, tmp_path: Path) -> None:
    proc = start_supervise(
        launcher,
        "--backoff-initial",
        "0.02",
        "--backoff-max",
        "0.05",
        "--max-fast-failures",
        "5",
        "--",
        "sh",
        "-c",
        "exit 1",
    )
    assert proc.wait(timeout=DEADLINE) == 1
    delays = [line.rpartition("restarting in ")[2] for line in launcher.stderr_lines(proc, "restarting in")]
    assert delays == ["0.02 s", "0.04 s", "0.05 s", "0.05 s"]


def test_a_long_run_resets_the_fast_failure_count(launcher: Launcher, tmp_path: Path) -> None:
    log = tmp_path / "runs"
    # The second run lasts 0.6 s, longer than --fast-seconds; all others fail at once.
    script = 'echo run >> "$1"; [ "$(wc -l < "$1")" -eq 2 ] && sleep 0.6; exit 1'
    proc = start_supervise(
        launcher,
        *("--fast-seconds", "0.3", "--max-fast-failures", "2", "--backoff-initial", "0.05"),
        *("--", "sh", "-c", script, "sh", str(log)),
    )
    assert proc.wait(timeout=DEADLINE) == 1
    # fast (1), long (count reset to 0), fast (1), fast (2): give up.
    assert len(lines(log)) == 4
    assert launcher.stderr_lines(proc, "giving up after 2 fast failures")


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT], ids=["SIGTERM", "SIGINT"])
def test_a_stop_signal_is_forwarded_and_the_supervisor_exits_0(
    launcher: Launcher, tmp_path: Path, signum: signal.Signals
) -> None:
    marker, pids = tmp_path / "marker", launcher.track(tmp_path / "pids")
    proc = start_supervise(launcher, "--", sys.executable, "-c", TRAPPER, str(marker), str(pids))
    wait_for(lambda: len(pids_in(pids)) == 1, "the program runs")
    (pid,) = pids_in(pids)

    assert launcher.finish(proc, signum) == 0
    assert lines(marker) == [signum.name]
    assert not alive(pid)
    assert launcher.stderr_lines(proc, "exited with code 0")
    assert not launcher.stderr_lines(proc, "restarting")


def test_a_program_that_ignores_sigterm_is_killed_after_the_stop_timeout(launcher: Launcher, tmp_path: Path) -> None:
    pids = launcher.track(tmp_path / "pids")
    proc = start_supervise(launcher, "--stop-timeout", "0.3", "--", sys.executable, "-c", IGNORER, str(pids))
    wait_for(lambda: len(pids_in(pids)) == 1, "the program runs")
    (pid,) = pids_in(pids)

    signalled = time.monotonic()
    assert launcher.finish(proc, signal.SIGTERM) == 0
    assert time.monotonic() - signalled >= 0.3
    assert not alive(pid)
    assert launcher.stderr_lines(proc, "still running after 0.3 s; sending SIGKILL")
    assert launcher.stderr_lines(proc, "killed by SIGKILL")


def test_sighup_is_forwarded_and_the_program_keeps_running(launcher: Launcher, tmp_path: Path) -> None:
    marker, pids = tmp_path / "marker", launcher.track(tmp_path / "pids")
    proc = start_supervise(launcher, "--", sys.executable, "-c", TRAPPER, str(marker), str(pids))
    wait_for(lambda: len(pids_in(pids)) == 1, "the program runs")

    proc.send_signal(signal.SIGHUP)
    wait_for(lambda: lines(marker) == ["SIGHUP"], "the program gets SIGHUP")
    proc.send_signal(signal.SIGHUP)
    wait_for(lambda: lines(marker) == ["SIGHUP", "SIGHUP"], "the program gets SIGHUP again")
    assert proc.poll() is None
    assert len(pids_in(pids)) == 1  # the same process all along
    assert len(launcher.stderr_lines(proc, "forwarding SIGHUP")) == 2

    assert launcher.finish(proc, signal.SIGTERM) == 0
    assert lines(marker) == ["SIGHUP", "SIGHUP", "SIGTERM"]


def test_a_config_file_names_programs_and_sets_their_policies(launcher: Launcher, tmp_path: Path) -> None:
    marker, pids, flaky_log = tmp_path / "marker", launcher.track(tmp_path / "pids"), tmp_path / "flaky"
    config = tmp_path / "programs.toml"
    config.write_text(
        f"""
[[program]]
name = "web"
command = [{sys.executable!r}, "-c", '''{TRAPPER}''', {str(marker)!r}, {str(pids)!r}]

[[program]]
name = "flaky"
command = ["sh", "-c", 'echo run >> "$1"; exit 2', "sh", {str(flaky_log)!r}]
max_fast_failures = 2
backoff_initial = 0.05
"""
    )
    proc = start_supervise(launcher, "--config", str(config))
    wait_for(
        lambda: bool(launcher.stderr_lines(proc, "[supervise] flaky: giving up after 2 fast failures")),
        "flaky gives up",
    )
    wait_for(lambda: len(pids_in(pids)) == 1, "web runs")
    assert len(lines(flaky_log)) == 2
    assert launcher.stderr_lines(proc, "[supervise] flaky: exited with code 2; restarting in 0.05 s")
    assert proc.poll() is None  # web still runs

    assert launcher.finish(proc, signal.SIGTERM) == 0
    assert lines(marker) == ["SIGTERM"]
    assert len(launcher.stderr_lines(proc, "[supervise] web: started pid ")) == 1
    assert launcher.stderr_lines(proc, "[supervise] web: exited with code 0")


@pytest.mark.parametrize(
    ("content", "complaint"),
    [
        ('[[program]]\nname = "x"\ncommand = ["true"]\nrestart_delay = 3\n', "unknown field 'restart_delay'"),
        ('[[program]]\nname = "x"\ncommand = "true"\n', "command must be a non-empty list"),
        ('[[program]]\nname = "x"\ncommand = ["true"]\nrestart = "sometimes"\n', "restart must be one of"),
        ("[[program]\n", "programs.toml"),
        ("", "no [[program]] table"),
    ],
    ids=["unknown-field", "command-not-a-list", "bad-restart", "bad-toml", "empty"],
)
def test_a_bad_config_is_refused(tmp_path: Path, content: str, complaint: str) -> None:
    config = tmp_path / "programs.toml"
    config.write_text(content)
    result = subprocess.run(
        [sys.executable, str(SUPERVISE), "--config", str(config)],
        check=False,
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert result.returncode == 2
    assert complaint in result.stderr


def test_cmd_is_repeatable(launcher: Launcher, tmp_path: Path) -> None:
    pids = launcher.track(tmp_path / "pids")
    script = f"echo $$ >> {pids}; exec sleep 60"
    proc = start_supervise(launcher, "--cmd", f"sh -c '{script}'", "--cmd", f"sh -c '{script}'")
    wait_for(lambda: len(pids_in(pids)) == 2, "both programs run")
    wait_for(lambda: bool(launcher.stderr_lines(proc, "[supervise] sh-2: started pid ")), "the second is logged")
    assert len(launcher.stderr_lines(proc, "[supervise] sh: started pid ")) == 1

    assert launcher.finish(proc, signal.SIGTERM) == 0
    assert len(launcher.stderr_lines(proc, "killed by SIGTERM")) == 2
    assert not any(alive(pid) for pid in pids_in(pids))


def test_a_command_that_cannot_start_counts_as_a_fast_failure(launcher: Launcher, tmp_path: Path) -> None:
    proc = start_supervise(
        launcher, "--backoff-initial", "0.02", "--max-fast-failures", "2", "--", str(tmp_path / "missing")
    )
    assert proc.wait(timeout=DEADLINE) == 1
    assert len(launcher.stderr_lines(proc, "missing: failed to start: No such file or directory")) == 2
    assert launcher.stderr_lines(proc, "missing: giving up after 2 fast failures")


def _can_unshare_pid() -> bool:
    unshare = shutil.which("unshare")
    if unshare is None:
        return False
    probe = [unshare, "--pid", "--fork", "--kill-child", "true"]
    result = subprocess.run(probe, check=False, capture_output=True, timeout=30)
    return result.returncode == 0


def _children(pid: int) -> list[int]:
    children = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            fields = (entry / "stat").read_text().rpartition(")")[2].split()
        except (FileNotFoundError, ProcessLookupError):
            continue
        if int(fields[1]) == pid:
            children.append(int(entry.name))
    return children


@pytest.mark.skipif(not _can_unshare_pid(), reason="needs unshare --pid (a PID namespace)")
def test_as_pid_1_it_reaps_orphans(launcher: Launcher, tmp_path: Path) -> None:
    # The subshell backgrounds a sleep and exits: the sleep is orphaned and
    # re-parented to the namespace's PID 1, the supervisor, which must reap it.
    script = "(sleep 0.2 &); exec sleep 60"
    proc = launcher.start(
        ["unshare", "--pid", "--fork", "--kill-child", sys.executable, str(SUPERVISE), "--", "sh", "-c", script]
    )
    wait_for(lambda: bool(launcher.stderr_lines(proc, "reaped orphan pid")), "the orphan is reaped")
    assert launcher.stderr_lines(proc, "running as PID 1: reaping orphans")
    assert launcher.stderr_lines(proc, "(exited with code 0)")
    assert not launcher.stderr_lines(proc, "sh: exited")  # the program itself still runs

    (supervisor,) = _children(proc.pid)  # its pid outside the namespace
    os.kill(supervisor, signal.SIGTERM)
    assert proc.wait(timeout=DEADLINE) == 0
    assert launcher.stderr_lines(proc, "sh: killed by SIGTERM")
    assert not launcher.stderr_lines(proc, "reaped orphan pid 2 (")  # its own program is not an orphan
