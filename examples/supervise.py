"""Keep commands running: a small process supervisor built from pyev watchers.

    python examples/supervise.py -- python -m http.server 8000
    python examples/supervise.py --cmd 'python -m http.server' --cmd 'python worker.py'
    python examples/supervise.py --config programs.toml

A config file holds one [[program]] table per program. Only name and command
are required; the other fields default to the command-line options:

    [[program]]
    name = "web"
    command = ["python", "-m", "http.server", "8000"]
    restart = "always"          # or "on-failure" (not after exit code 0), "never"
    backoff_initial = 0.1
    backoff_max = 30.0
    max_fast_failures = 5
    fast_seconds = 1.0
    stop_timeout = 5.0

Programs given with --cmd or after '--' are named after their executable.

Restarts: an exited program is started again after a delay that starts at
--backoff-initial and doubles after each fast failure in a row, up to
--backoff-max. A run shorter than --fast-seconds is a fast failure; after
--max-fast-failures of them in a row (0: never) the supervisor gives up on
the program. A longer run resets the count and the delay.

Signals: SIGHUP is forwarded to every running program and the supervisor
keeps going. SIGTERM and SIGINT are forwarded too, and begin a graceful stop:
no more restarts, and a program still running --stop-timeout seconds later
gets SIGKILL (its whole process group). Then the supervisor exits with
status 0. If instead every program comes to an end by itself (gave up, or
exited under its restart policy), it exits with 1 if any of them gave up,
else 0.

Each program runs in a session of its own, so a Ctrl-C in the terminal
reaches the supervisor alone, which passes it on once. Every exit is seen at
once by an ev.Child watcher for that pid (a pidfd on Linux), not by polling.
Run as PID 1 (in a container), the supervisor also reaps orphaned processes.

Log lines go to stderr: "[supervise] NAME: started pid N",
"[supervise] NAME: exited with code 1; restarting in 0.2 s",
"[supervise] NAME: killed by SIGKILL", "[supervise] NAME: giving up after 5
fast failures".
"""

from __future__ import annotations

import argparse
import enum
import math
import os
import shlex
import signal
import subprocess
import sys
import time
import tomllib
from collections.abc import Callable
from dataclasses import dataclass, fields, replace
from typing import Any

import pyev as ev

USAGE = "%(prog)s [options] [--config FILE] [--cmd 'CMD ARG...']... [-- CMD ARG...]"
RESTART_POLICIES = ("always", "on-failure", "never")
# 2.0**n overflows for n > 1023, and long before that the delay is at its
# cap: 2**60 times any sensible --backoff-initial is past any --backoff-max.
MAX_DOUBLINGS = 60


def log(message: str) -> None:
    print(f"[supervise] {message}", file=sys.stderr, flush=True)


class ConfigError(Exception):
    pass


@dataclass(frozen=True)
class Policy:
    """How one program is restarted and stopped."""

    restart: str = "always"
    backoff_initial: float = 0.1
    backoff_max: float = 30.0
    max_fast_failures: int = 5
    fast_seconds: float = 1.0
    stop_timeout: float = 5.0

    def check(self) -> None:
        if self.restart not in RESTART_POLICIES:
            raise ConfigError(f"restart must be one of {', '.join(RESTART_POLICIES)}, not {self.restart!r}")
        for name in ("backoff_initial", "backoff_max", "fast_seconds", "stop_timeout"):
            value = getattr(self, name)
            if not math.isfinite(value) or value < 0:
                raise ConfigError(f"{name} must be a finite number >= 0, not {value}")
        if self.max_fast_failures < 0:
            raise ConfigError(f"max_fast_failures must be >= 0, not {self.max_fast_failures}")

    def delay(self, fast_failures: int) -> float:
        """The restart delay after this many fast failures in a row."""
        doublings = min(max(fast_failures - 1, 0), MAX_DOUBLINGS)
        return min(self.backoff_initial * 2.0**doublings, self.backoff_max)


@dataclass(frozen=True)
class ProgramSpec:
    name: str
    command: list[str]
    policy: Policy


# -- the configuration ------------------------------------------------------


def _field_value(name: str, value: object, expected: type) -> object:
    if expected is float:
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise ConfigError(f"{name} must be a number, not {value!r}")
        return float(value)
    if expected is int and (isinstance(value, bool) or not isinstance(value, int)):
        raise ConfigError(f"{name} must be an integer, not {value!r}")
    if expected is str and not isinstance(value, str):
        raise ConfigError(f"{name} must be a string, not {value!r}")
    return value


_POLICY_TYPES: dict[str, type] = {f.name: type(f.default) for f in fields(Policy)}


def _program_from_table(table: dict[str, Any], defaults: Policy) -> ProgramSpec:
    name = table.get("name")
    if not isinstance(name, str) or not name:
        raise ConfigError("name must be a non-empty string")
    command = table.get("command")
    if not isinstance(command, list) or not command or not all(isinstance(word, str) and word for word in command):
        raise ConfigError(f"{name}: command must be a non-empty list of non-empty strings")
    overrides: dict[str, Any] = {}
    for key, value in table.items():
        if key in ("name", "command"):
            continue
        if key not in _POLICY_TYPES:
            known = ", ".join(["name", "command", *_POLICY_TYPES])
            raise ConfigError(f"{name}: unknown field {key!r} (known: {known})")
        overrides[key] = _field_value(f"{name}: {key}", value, _POLICY_TYPES[key])
    policy = replace(defaults, **overrides)
    try:
        policy.check()
    except ConfigError as exc:
        raise ConfigError(f"{name}: {exc}") from None
    return ProgramSpec(name, list(command), policy)


def load_config(path: str, defaults: Policy) -> list[ProgramSpec]:
    """The [[program]] tables of a TOML file."""
    try:
        with open(path, "rb") as f:
            data = tomllib.load(f)
    except OSError as exc:
        raise ConfigError(f"{path}: {exc.strerror}") from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path}: {exc}") from None
    extra = set(data) - {"program"}
    if extra:
        raise ConfigError(f"{path}: unknown top-level key(s): {', '.join(sorted(extra))}")
    tables = data.get("program")
    if not isinstance(tables, list) or not tables:
        raise ConfigError(f"{path}: no [[program]] table")
    specs = []
    for number, table in enumerate(tables, 1):
        try:
            specs.append(_program_from_table(table, defaults))
        except ConfigError as exc:
            raise ConfigError(f"{path}: program #{number}: {exc}") from None
    return specs


def _unique_name(base: str, taken: set[str]) -> str:
    name, n = base, 1
    while name in taken:
        n += 1
        name = f"{base}-{n}"
    return name


def parse_args(argv: list[str]) -> list[ProgramSpec]:
    parser = argparse.ArgumentParser(
        usage=USAGE, description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--config", metavar="FILE", help="a TOML file of [[program]] tables")
    parser.add_argument(
        "--cmd", action="append", default=[], metavar="'CMD ARG...'", help="a command in shell words (repeatable)"
    )
    parser.add_argument("--restart", choices=RESTART_POLICIES, default="always", help="restart policy (default always)")
    parser.add_argument(
        "--backoff-initial", type=float, default=0.1, metavar="SECONDS", help="first restart delay (default 0.1)"
    )
    parser.add_argument(
        "--backoff-max", type=float, default=30.0, metavar="SECONDS", help="longest restart delay (default 30)"
    )
    parser.add_argument(
        "--max-fast-failures",
        type=int,
        default=5,
        metavar="N",
        help="give up after N fast failures in a row; 0: never (default 5)",
    )
    parser.add_argument(
        "--fast-seconds", type=float, default=1.0, metavar="SECONDS", help="a shorter run is a fast failure (default 1)"
    )
    parser.add_argument(
        "--stop-timeout",
        type=float,
        default=5.0,
        metavar="SECONDS",
        help="on SIGTERM/SIGINT, SIGKILL what still runs after this long (default 5)",
    )

    # Everything after the first "--" is a command, never options.
    if "--" in argv:
        split = argv.index("--")
        own, command = argv[:split], argv[split + 1 :]
    else:
        own, command = argv, []
    args = parser.parse_args(own)
    defaults = Policy(
        restart=args.restart,
        backoff_initial=args.backoff_initial,
        backoff_max=args.backoff_max,
        max_fast_failures=args.max_fast_failures,
        fast_seconds=args.fast_seconds,
        stop_timeout=args.stop_timeout,
    )
    try:
        defaults.check()
        specs = load_config(args.config, defaults) if args.config else []
    except ConfigError as exc:
        parser.error(str(exc))
    commands = []
    for words in args.cmd:
        try:
            commands.append(shlex.split(words))
        except ValueError as exc:
            parser.error(f"--cmd {words!r}: {exc}")
    if command:
        commands.append(command)
    taken = {spec.name for spec in specs}
    if len(taken) != len(specs):
        parser.error("program names in the config must be unique")
    for words in commands:
        if not words:
            parser.error("empty command")
        name = _unique_name(os.path.basename(words[0]), taken)
        taken.add(name)
        specs.append(ProgramSpec(name, words, defaults))
    if not specs:
        parser.error("nothing to supervise: give --config, --cmd or '-- CMD'")
    return specs


# -- supervision ------------------------------------------------------------


class State(enum.Enum):
    RUNNING = "running"
    WAITING = "waiting"  # the restart timer is armed
    DONE = "done"  # will not run again


def describe_status(child: ev.Child) -> str:
    if child.term_signal is not None:
        return f"killed by {signal.Signals(child.term_signal).name}"
    return f"exited with code {child.exit_code}"


class Program:
    """One supervised program: its process, restart timer and stop timer.
    ``on_done`` is called once it will not run again."""

    def __init__(self, loop: ev.Loop, spec: ProgramSpec, on_done: Callable[[Program], None]) -> None:
        self.loop = loop
        self.spec = spec
        self.policy = spec.policy
        self.on_done = on_done
        self.state = State.WAITING
        self.proc: subprocess.Popen[bytes] | None = None
        self.last_pid = 0  # kept after the exit, unlike proc
        self.started_at = 0.0
        self.fast_failures = 0
        self.gave_up = False
        self.stopping = False
        self.restart_timer = ev.Timer(0.0, self._restart_due)
        self.kill_timer = ev.Timer(self.policy.stop_timeout, self._stop_timeout)

    def log(self, message: str) -> None:
        log(f"{self.spec.name}: {message}")

    def start(self) -> None:
        self.started_at = time.monotonic()
        try:
            # A session of its own: the terminal's signals reach only the
            # supervisor, and the stop timeout can kill the whole group.
            self.proc = subprocess.Popen(self.spec.command, start_new_session=True)
        except OSError as exc:
            self._ended(f"failed to start: {exc.strerror}", success=False)
            return
        self.state = State.RUNNING
        self.last_pid = self.proc.pid
        ev.Child(self.proc.pid, self._exited).start(self.loop)
        self.log(f"started pid {self.proc.pid}")

    def send(self, signum: int) -> None:
        """Forward a signal to the program's process, if it runs."""
        if self.proc is not None:
            try:
                os.kill(self.proc.pid, signum)
            except ProcessLookupError:
                pass  # exited; its Child watcher is about to say so

    def stop(self, signum: int) -> None:
        """Graceful stop: no restart; ``signum`` now, SIGKILL after the stop timeout."""
        self.stopping = True
        if self.state is State.WAITING:
            self.restart_timer.stop()
            self._done()
        elif self.state is State.RUNNING:
            self.send(signum)
            if not self.kill_timer.is_active:
                self.kill_timer.start(self.loop)

    def _stop_timeout(self, timer: ev.Timer, revents: int) -> None:
        if self.proc is not None:
            self.log(f"still running after {self.policy.stop_timeout:g} s; sending SIGKILL")
            try:
                os.killpg(self.proc.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass

    def _exited(self, child: ev.Child, revents: int) -> None:
        child.stop()
        self.kill_timer.stop()
        proc, self.proc = self.proc, None
        assert proc is not None and proc.pid == child.rpid
        # pyev reaped it; tell Popen, or it would wait for the pid later on.
        proc.returncode = os.waitstatus_to_exitcode(child.rstatus)
        self._ended(describe_status(child), success=child.exit_code == 0)

    def _ended(self, status: str, *, success: bool) -> None:
        """Log how the run ended and decide what comes next."""
        policy = self.policy
        if self.stopping:
            self.log(status)
            self._done()
            return
        if policy.restart == "never" or (policy.restart == "on-failure" and success):
            self.log(f"{status}; not restarting ({policy.restart})")
            self._done()
            return
        if time.monotonic() - self.started_at < policy.fast_seconds:
            self.fast_failures += 1
        else:
            self.fast_failures = 0
        if policy.max_fast_failures and self.fast_failures >= policy.max_fast_failures:
            self.log(status)
            self.log(f"giving up after {self.fast_failures} fast failures")
            self.gave_up = True
            self._done()
            return
        delay = policy.delay(self.fast_failures)
        self.log(f"{status}; restarting in {delay:g} s")
        self.state = State.WAITING
        self.restart_timer.set(delay)
        self.restart_timer.start(self.loop)

    def _restart_due(self, timer: ev.Timer, revents: int) -> None:
        self.start()

    def _done(self) -> None:
        self.state = State.DONE
        self.on_done(self)


class Supervisor:
    """The programs, and the signal watchers that forward to them."""

    STOP_SIGNALS = (signal.SIGTERM, signal.SIGINT)

    def __init__(self, loop: ev.Loop, specs: list[ProgramSpec]) -> None:
        self.loop = loop
        self.programs = [Program(loop, spec, self._program_done) for spec in specs]
        self.signals = [ev.Signal(signum, self._stop) for signum in self.STOP_SIGNALS]
        self.signals.append(ev.Signal(signal.SIGHUP, self._forward))
        self.orphans = ev.Child(0, self._reaped)
        self.stopping = False
        self.exit_status = 0

    def start(self) -> None:
        for w in self.signals:
            w.start(self.loop)
        if os.getpid() == 1:
            # PID 1 inherits every orphaned process of the container, and
            # only PID 1 can reap them: unreaped they stay zombies for good.
            # Child(0) reaps *every* child of this process, though, taking
            # the status that subprocess.run() or Popen.wait() elsewhere in
            # the process would wait for. Our own programs are safe (pyev
            # still hands each status to the Child(pid) watcher for it), but
            # a supervisor that is not PID 1 gets no orphans, so it has no
            # reason to take that risk.
            log("running as PID 1: reaping orphans")
            self.orphans.start(self.loop)  # the default loop, as Child(0) requires
        for program in self.programs:
            program.start()

    def _reaped(self, child: ev.Child, revents: int) -> None:
        # Our programs' exits come here too, before or after their own watchers'.
        if all(program.last_pid != child.rpid for program in self.programs):
            log(f"reaped orphan pid {child.rpid} ({describe_status(child)})")

    def _forward(self, w: ev.Signal, revents: int) -> None:
        name = signal.Signals(w.signum).name
        for program in self.programs:
            if program.state is State.RUNNING:
                program.log(f"forwarding {name}")
                program.send(w.signum)

    def _stop(self, w: ev.Signal, revents: int) -> None:
        if not self.stopping:
            log(f"received {signal.Signals(w.signum).name}: stopping")
            self.stopping = True
        for program in self.programs:
            if program.state is not State.DONE:
                program.stop(w.signum)

    def _program_done(self, program: Program) -> None:
        if all(p.state is State.DONE for p in self.programs):
            if not self.stopping and any(p.gave_up for p in self.programs):
                self.exit_status = 1
            # Nothing is left to supervise: with these stopped no watcher
            # is active, and loop.run() returns (or, if every program ended
            # during start(), does not even block).
            for w in self.signals:
                w.stop()
            self.orphans.stop()


def main(argv: list[str] | None = None) -> int:
    specs = parse_args(sys.argv[1:] if argv is None else argv)
    # The default loop: only there may Child(0) watch for orphans.
    loop = ev.default_loop()
    supervisor = Supervisor(loop, specs)
    try:
        supervisor.start()
        loop.run()
    finally:
        for program in supervisor.programs:
            if program.proc is not None:  # left by an exception: leave nothing behind
                try:
                    os.killpg(program.proc.pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass
        loop.close()
    return supervisor.exit_status


if __name__ == "__main__":
    sys.exit(main())
