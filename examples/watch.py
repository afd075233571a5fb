"""Run a command, and run it again whenever something changes in the
watched trees: a small entr/watchexec built from pyev watchers.

    python examples/watch.py src -- python -m pytest -q
    python examples/watch.py --clear --filter '*.py' . -- python app.py
    python examples/watch.py --queue --postpone notes.md -- make html

Each PATH gets one ev.Tree watcher: a directory is watched with everything
under it, at any depth, including directories created later; a file PATH
watches that file. What version control, caches and editors leave in a
tree (.git, __pycache__, node_modules, swap and backup files: the
Tree.DEFAULT_IGNORE patterns) is never a change, so a command that writes
its caches into the tree (pytest, mypy) does not trigger itself. --ignore
GLOB skips more; --filter GLOB watches only the files it matches (a
pattern without a "/" matches file names at any depth, one with a "/" the
path under PATH). Both may be given several times.

What counts as a change: whatever the Tree reports: a file or directory
added, deleted or moved, a file written (or touched). Reading a file,
changing its permissions or owner does not count.

Editors' atomic saves (a new file renamed over the old one, delete and
recreate, rename to a backup then write a new file) are changes like any
other; the debounce folds their steps into one run.

A PATH that does not exist yet is watched for with an ev.Stat watcher; once
it appears, that counts as a change and a Tree takes over. A watched tree
that disappears (deleted, moved away) counts as a change too, and is
watched for again: its return is another change.

Debounce: one ev.Timer with ``repeat`` = --debounce, re-armed with
Timer.again() on every change, so it fires once the trees have been
quiet that long (the resettable-timeout idiom of libev's manual).

Stopping a run: the command starts in a new session, so it leads its own
process group and everything it starts (a shell's pipeline, a server's
workers) is in that group. Stopping sends SIGTERM to the group, then SIGKILL
to the group if the command has not exited after --grace seconds. The exit
is seen by an ev.Child watcher (a pidfd on Linux), not by polling. When the
command exits while being stopped, what is left of its group had its SIGTERM
with it and is killed at once: those processes are not our children, so
their exits cannot be waited for, and no run may outlive the next one's
start.

--restart (default) stops a running command when a change comes and starts
it again; --queue lets it finish and then runs it once more if changes came
meanwhile. Ctrl-C (SIGINT) or SIGTERM stops the current run as above and
exits with status 0; a second one skips the grace period.

One status line per run goes to stderr: "[watch] run #N: CMD", then
"[watch] exited with status S" (an exit code, or the signal's name).
"""

from __future__ import annotations

import argparse
import math
import os
import shlex
import signal
import subprocess
import sys
from collections.abc import Callable
from dataclasses import dataclass

import pyev as ev

USAGE = "%(prog)s [options] PATH... -- CMD [ARG...]"
CLEAR_SCREEN = "\x1b[H\x1b[2J\x1b[3J"  # home, erase screen, erase scrollback


def log(message: str) -> None:
    print(f"[watch] {message}", file=sys.stderr, flush=True)


@dataclass(frozen=True)
class Options:
    paths: list[str]
    command: list[str]
    filters: list[str]
    ignores: list[str]
    debounce: float
    interval: float
    poll: bool
    grace: float
    clear: bool
    queue: bool
    postpone: bool


def _seconds(minimum: float, *, inclusive: bool) -> Callable[[str], float]:
    def parse(text: str) -> float:
        try:
            value = float(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"not a number: {text!r}") from None
        if not math.isfinite(value) or value < minimum or (value == minimum and not inclusive):
            relation = ">=" if inclusive else ">"
            raise argparse.ArgumentTypeError(f"must be a finite number {relation} {minimum:g}, not {text}")
        return value

    return parse


def parse_args(argv: list[str]) -> Options:
    parser = argparse.ArgumentParser(
        usage=USAGE, description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("paths", nargs="*", metavar="PATH", help="directory trees or files to watch")
    parser.add_argument(
        "--filter",
        dest="filters",
        action="append",
        default=[],
        metavar="GLOB",
        help="watch only the files matching GLOB (several: any of them), e.g. '*.py'",
    )
    parser.add_argument(
        "--ignore",
        dest="ignores",
        action="append",
        default=[],
        metavar="GLOB",
        help="skip what matches GLOB too, besides .git, __pycache__, node_modules, swap and backup files",
    )
    parser.add_argument(
        "--debounce",
        type=_seconds(0.0, inclusive=False),
        default=0.1,
        metavar="SECONDS",
        help="run once the paths have been quiet this long (default 0.1)",
    )
    parser.add_argument(
        "--interval",
        type=_seconds(0.1, inclusive=True),
        default=0.5,
        metavar="SECONDS",
        help="polling interval where inotify cannot be used, or with --poll (default 0.5)",
    )
    parser.add_argument("--poll", action="store_true", help="poll the trees instead of using inotify")
    parser.add_argument(
        "--grace",
        type=_seconds(0.0, inclusive=True),
        default=2.0,
        metavar="SECONDS",
        help="time between SIGTERM and SIGKILL when stopping a run (default 2)",
    )
    parser.add_argument("--clear", action="store_true", help="clear the screen before each run")
    mode = parser.add_mutually_exclusive_group()
    mode.add_argument(
        "--restart",
        dest="queue",
        action="store_false",
        default=False,
        help="on a change, stop the running command (default)",
    )
    mode.add_argument(
        "--queue",
        dest="queue",
        action="store_true",
        default=False,
        help="on a change, let it finish, then run once more",
    )
    parser.add_argument("--postpone", action="store_true", help="do not run until the first change")

    # Everything after the first "--" is the command, never options.
    if "--" in argv:
        split = argv.index("--")
        own, command = argv[:split], argv[split + 1 :]
    else:
        own, command = argv, []
    args = parser.parse_args(own)
    if not args.paths:
        parser.error("no PATH to watch")
    if not command:
        parser.error("no command: put it after '--'")
    for pattern in args.filters + args.ignores:
        if not pattern.strip("/"):
            parser.error(f"empty pattern: {pattern!r}")
    return Options(
        paths=args.paths,
        command=command,
        filters=args.filters,
        ignores=args.ignores,
        debounce=args.debounce,
        interval=args.interval,
        poll=args.poll,
        grace=args.grace,
        clear=args.clear,
        queue=args.queue,
        postpone=args.postpone,
    )


def describe_status(child: ev.Child) -> str:
    if child.term_signal is not None:
        return signal.Signals(child.term_signal).name
    return str(child.exit_code)


def kill_group(pgid: int, signum: int) -> None:
    try:
        os.killpg(pgid, signum)
    except ProcessLookupError:
        pass  # the whole group is gone already


class Runner:
    """Runs the command, one run at a time, and stops a run: SIGTERM to its
    process group, SIGKILL after the grace period. ``on_exit`` is called when
    a run has ended."""

    def __init__(self, loop: ev.Loop, options: Options, on_exit: Callable[[], None]) -> None:
        self.loop = loop
        self.command = options.command
        self.clear = options.clear
        self.on_exit = on_exit
        self.runs = 0
        self.proc: subprocess.Popen[bytes] | None = None
        self.stopping = False
        self.kill_timer = ev.Timer(options.grace, self._grace_over)

    @property
    def running(self) -> bool:
        return self.proc is not None

    def start(self) -> None:
        assert self.proc is None
        self.runs += 1
        if self.clear:
            sys.stdout.write(CLEAR_SCREEN)
            sys.stdout.flush()
        log(f"run #{self.runs}: {shlex.join(self.command)}")
        try:
            # A new session: its own process group, and no terminal signals
            # (the terminal's Ctrl-C reaches us; we pass it on).
            self.proc = subprocess.Popen(self.command, start_new_session=True)
        except OSError as exc:
            log(f"cannot run {self.command[0]!r}: {exc.strerror}")
            return
        ev.Child(self.proc.pid, self._exited).start(self.loop)

    def stop(self) -> None:
        """Begin stopping the run (nothing if none, or already stopping)."""
        if self.proc is None or self.stopping:
            return
        self.stopping = True
        kill_group(self.proc.pid, signal.SIGTERM)
        self.kill_timer.start(self.loop)

    def kill(self) -> None:
        """Kill the run's process group now."""
        if self.proc is not None:
            self.kill_timer.stop()
            kill_group(self.proc.pid, signal.SIGKILL)

    def _grace_over(self, timer: ev.Timer, revents: int) -> None:
        self.kill()

    def _exited(self, child: ev.Child, revents: int) -> None:
        child.stop()
        self.kill_timer.stop()
        proc, self.proc = self.proc, None
        assert proc is not None and proc.pid == child.rpid
        # pyev reaped it; tell Popen, or it would wait for the pid later on.
        proc.returncode = os.waitstatus_to_exitcode(child.rstatus)
        log(f"exited with status {describe_status(child)}")
        if self.stopping:
            self.stopping = False
            kill_group(proc.pid, signal.SIGKILL)
        self.on_exit()


class Watch:
    """Tree watchers (Stat watchers for paths still missing), the debounce
    timer and the signal watchers, deciding when the Runner starts and stops."""

    def __init__(self, loop: ev.Loop, options: Options) -> None:
        self.loop = loop
        self.options = options
        self.runner = Runner(loop, options, on_exit=self._run_ended)
        self.trees: list[ev.Tree] = []
        self.waiting: list[ev.Stat] = []  # paths that do not exist yet
        # Started and re-armed by again() only; `after` is never used.
        self.debounce = ev.Timer(0.0, self._settled, repeat=options.debounce)
        self.signals = [ev.Signal(signum, self._quit) for signum in (signal.SIGINT, signal.SIGTERM)]
        self.rerun = False  # a change came that the running command has not seen
        self.quitting = False

    def start(self) -> None:
        for w in self.signals:
            w.start(self.loop)
        # Watch before the first run, so that no change after it is missed.
        for path in self.options.paths:
            self._watch(path)
        if self.options.postpone:
            log(f"waiting for a change to {len(self.options.paths)} path(s)")
        else:
            self.runner.start()

    def _watch(self, path: str) -> None:
        options = self.options
        tree = ev.Tree(
            path,
            self._changed,
            filter=options.filters or None,
            ignore=options.ignores,
            interval=options.interval,
        )
        try:
            tree.start(self.loop)
        except (FileNotFoundError, NotADirectoryError):
            self.waiting.append(ev.Stat(path, self._appeared, interval=options.interval).start(self.loop))
        else:
            self.trees.append(tree)

    def _appeared(self, stat: ev.Stat, revents: int) -> None:
        if stat.attr is None:
            return
        stat.stop()
        self.waiting.remove(stat)
        self._watch(os.fsdecode(stat.path))
        self.debounce.again(self.loop)

    def _changed(self, tree: ev.Tree, revents: int) -> None:
        if tree.changes:
            self.debounce.again(self.loop)

    def _settled(self, timer: ev.Timer, revents: int) -> None:
        timer.stop()
        if not self.runner.running:
            self.runner.start()
        else:
            self.rerun = True
            if not self.options.queue:
                self.runner.stop()

    def _run_ended(self) -> None:
        if self.quitting:
            self.loop.break_(ev.BREAK_ALL)
        elif self.rerun:
            self.rerun = False
            self.runner.start()

    def _quit(self, w: ev.Signal, revents: int) -> None:
        if self.quitting:
            self.runner.kill()  # asked twice: no more grace
            return
        self.quitting = True
        for w in [*self.trees, *self.waiting]:
            w.stop()
        self.debounce.stop()
        if self.runner.running:
            self.runner.stop()
        else:
            self.loop.break_(ev.BREAK_ALL)


def main(argv: list[str] | None = None) -> int:
    options = parse_args(sys.argv[1:] if argv is None else argv)
    for path in options.paths:
        if not os.path.exists(path):
            log(f"{path} does not exist (yet); watching for it")
    with ev.Loop(inotify=not options.poll) as loop:
        watch = Watch(loop, options)
        try:
            watch.start()
            loop.run()
        finally:
            watch.runner.kill()  # only does anything if we leave by an exception
    return 0


if __name__ == "__main__":
    sys.exit(main())
