"""Watching a tree: pyev's Tree against watchdog and watchfiles.

    python tests/benchmarks/trees.py [--quick] [--repeat N] [--only ROW[,...]] [--out docs/benchmarks] [--dir DIR]
    python tests/benchmarks/trees.py measure ROW LIBRARY --root TREE    # one measurement, one JSON line

The tree: 10,000 files in 1,000 directories (10 directories of 100, each
holding 10 files), made once per run under ``--dir`` (default /dev/shm, a
tmpfs, when it is one). The rows, each a fresh process per library and
repetition (interleaved: rep 1 pyev, watchdog, watchfiles; rep 2 ...):

- ``start``: from creating the watcher until a change is first seen. The
  process then modifies one file deep in the tree every millisecond until
  the watcher reports it (a thread-based peer places its watches in its own
  thread, after its start call has returned).
- ``memory``: the process' resident memory after it watches the tree (its
  first change seen, then 0.3 s of quiet) minus before the watcher was made
  (libraries imported already). RSS, since the peers' own memory is not
  Python's (watchfiles: Rust).
- ``latency``: 200 writes to a file deep in the tree, 10 ms apart, by a
  thread of the process; for each, the time from just before the write to
  the callback (which sets a ``threading.Event`` the writer waits on).
  Median and p99.
- ``burst``: another process creates 100 new directories with 100 empty
  files each, as fast as it can; files reported (in any event naming them)
  out of 10,000, and when the last one was reported, after the burst ended
  (both processes read CLOCK_MONOTONIC; the writer reads it after closing
  its last file, so a watcher may report that file "before" the end: 0).
  Waits up to 3 s after the burst.
- ``idle``: CPU time per second over 5 s of watching an unchanging tree:
  a thread sleeps through those 5 s while the main thread waits (pyev: in
  ``loop.run``) and sums, from ``/proc/self/task/*/schedstat``, the CPU
  time of every thread but itself (its own wake-up is not the library's).

The libraries: pyev, ``ev.Tree(root, cb)`` on its own loop (inotify);
watchdog, ``Observer`` (inotify, in its own thread) with a recursive
handler; watchfiles, ``watch(root, debounce=1, step=1)`` in a thread (the
issue's setting: its batching window down to 1 ms, so that its latency is
its own), with ``rust_timeout`` 1 s.

The report is a section ("Watching a tree", between ``<!-- trees:start``
and ``<!-- trees:end -->``) of ``OUT.md``: replaced if there, else
appended; ``run.py`` keeps it when it rewrites the rest of the file.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[1]
if str(HERE) not in sys.path:
    sys.path.insert(0, str(HERE))

from common import marked_section, with_marked_section  # noqa: E402

LIBRARIES = ("pyev", "watchdog", "watchfiles")
ROWS = ("start", "memory", "latency", "burst", "idle")
SIZES = {
    "full": {"top": 10, "sub": 100, "files": 10, "writes": 200, "burst_dirs": 100, "burst_files": 100, "idle_s": 5.0},
    "quick": {"top": 2, "sub": 50, "files": 10, "writes": 30, "burst_dirs": 10, "burst_files": 100, "idle_s": 1.0},
}
HANG_AFTER = 120.0
WRITE_SPACING = 0.010
BURST_WAIT = 3.0

perf_counter = time.perf_counter
monotonic = time.monotonic


def rss() -> int:
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")


def cpu_ns_of_others(me: int) -> int:
    """The CPU time (ns, from the scheduler's accounting) of every thread of
    this process but ``me``."""
    total = 0
    for tid in os.listdir("/proc/self/task"):
        if int(tid) == me:
            continue
        try:
            with open(f"/proc/self/task/{tid}/schedstat") as f:
                total += int(f.read().split()[0])
        except (OSError, ValueError, IndexError):
            pass  # a thread that just ended
    return total


def make_tree(root: Path, size: dict[str, float]) -> tuple[int, int]:
    """The tree to watch; (directories, files) made under root."""
    dirs = files = 0
    for i in range(int(size["top"])):
        for j in range(int(size["sub"])):
            d = root / f"t{i}" / f"d{j}"
            d.mkdir(parents=True)
            dirs += 1
            for k in range(int(size["files"])):
                (d / f"f{k}.txt").write_bytes(b"x")
                files += 1
    return dirs, files


def probe_path(root: str) -> str:
    return os.path.join(root, "t0", "d0", "f0.txt")


# --- the libraries, behind one small interface --------------------------------------
#
# A session watches ``root`` and calls ``on_paths(paths)`` with the paths each
# event names (in the library's thread for the peers, in the loop's for pyev).
# ``wait(seconds)`` lets events arrive: pyev runs its loop, the peers sleep.


class PyevSession:
    def __init__(self, root: str, on_paths: Callable[[list[str]], None]) -> None:
        import pyev as ev

        self.ev = ev
        self.loop = ev.Loop()

        def changed(w: Any, revents: int) -> None:
            paths = []
            for c in w.changes:
                paths.append(c.path)
                if c.old_path is not None:
                    paths.append(c.old_path)
            on_paths(paths)

        self.tree = ev.Tree(root, changed).start(self.loop)
        self.wake = ev.Async(lambda w, r: self.loop.break_())
        self.wake.keepalive = False
        self.wake.start(self.loop)

    def wait(self, seconds: float) -> None:
        timer = self.ev.Timer(seconds, lambda w, r: self.loop.break_()).start(self.loop)
        self.loop.run()
        timer.stop()

    def run_until(self, done: threading.Event, limit: float) -> None:
        """Runs the loop until another thread sets ``done`` (and calls ``poke``)."""
        timer = self.ev.Timer(limit, lambda w, r: self.loop.break_()).start(self.loop)
        while not done.is_set() and timer.is_active:
            self.loop.run(self.ev.RUN_ONCE)
        timer.stop()

    def poke(self) -> None:
        self.wake.send()

    def close(self) -> None:
        self.loop.close()


class ThreadedSession:
    """A peer that watches in its own thread: waiting is sleeping, and
    nothing needs a nudge."""

    def wait(self, seconds: float) -> None:
        time.sleep(seconds)

    def run_until(self, done: threading.Event, limit: float) -> None:
        done.wait(limit)

    def poke(self) -> None:
        pass


class WatchdogSession(ThreadedSession):
    def __init__(self, root: str, on_paths: Callable[[list[str]], None]) -> None:
        from watchdog.events import FileSystemEventHandler
        from watchdog.observers import Observer

        class Handler(FileSystemEventHandler):
            def on_any_event(self, event: Any) -> None:
                paths = [event.src_path]
                dest = getattr(event, "dest_path", "")
                if dest:
                    paths.append(dest)
                on_paths([os.fsdecode(p) for p in paths])

        self.observer = Observer()
        self.observer.schedule(Handler(), root, recursive=True)
        self.observer.start()

    def close(self) -> None:
        self.observer.stop()
        self.observer.join()


class WatchfilesSession(ThreadedSession):
    def __init__(self, root: str, on_paths: Callable[[list[str]], None]) -> None:
        import watchfiles

        self.stop_event = threading.Event()

        def run() -> None:
            for changes in watchfiles.watch(
                root,
                debounce=1,
                step=1,
                rust_timeout=1000,
                yield_on_timeout=True,
                stop_event=self.stop_event,
                raise_interrupt=False,
            ):
                if changes:
                    on_paths([path for _, path in changes])

        self.thread = threading.Thread(target=run, daemon=True)
        self.thread.start()

    def close(self) -> None:
        self.stop_event.set()
        self.thread.join(5.0)


SESSIONS: dict[str, Callable[[str, Callable[[list[str]], None]], Any]] = {
    "pyev": PyevSession,
    "watchdog": WatchdogSession,
    "watchfiles": WatchfilesSession,
}


def import_library(library: str) -> None:
    """Imports done before anything is timed or measured."""
    if library == "pyev":
        import pyev  # noqa: F401
    elif library == "watchdog":
        import watchdog.events  # noqa: F401
        import watchdog.observers  # noqa: F401
    else:
        import watchfiles  # noqa: F401


def establish(session: Any, root: str, seen: threading.Event) -> None:
    """Modifies the probe file every millisecond until the watcher reports it."""
    probe = probe_path(root)
    n = 0
    while not seen.is_set():
        n += 1
        with open(probe, "wb") as f:
            f.write(b"y" * (n % 50 + 1))
        session.wait(0.001)


# --- the rows -------------------------------------------------------------------------


def measure_start(library: str, root: str, size: dict[str, float]) -> dict[str, Any]:
    import_library(library)
    seen = threading.Event()
    probe = probe_path(root)

    def on_paths(paths: list[str]) -> None:
        if probe in paths:
            seen.set()

    t0 = perf_counter()
    session = SESSIONS[library](root, on_paths)
    establish(session, root, seen)
    elapsed = perf_counter() - t0
    session.close()
    return {"value": elapsed, "unit": "s"}


def measure_memory(library: str, root: str, size: dict[str, float]) -> dict[str, Any]:
    import_library(library)
    seen = threading.Event()
    probe = probe_path(root)

    def on_paths(paths: list[str]) -> None:
        if probe in paths:
            seen.set()

    before = rss()
    session = SESSIONS[library](root, on_paths)
    establish(session, root, seen)
    session.wait(0.3)
    after = rss()
    session.close()
    return {"value": (after - before) / 2**20, "unit": "MiB"}


def measure_latency(library: str, root: str, size: dict[str, float]) -> dict[str, Any]:
    import_library(library)
    established = threading.Event()
    seen = threading.Event()
    probe = probe_path(root)
    target = os.path.join(root, "t1" if size["top"] > 1 else "t0", "d7", "f3.txt")
    t_write: list[float] = []
    latencies: list[float] = []
    missed = 0

    def on_paths(paths: list[str]) -> None:
        if not established.is_set():
            if probe in paths:
                established.set()
            return
        if target in paths and t_write and not seen.is_set():
            latencies.append(perf_counter() - t_write[-1])
            seen.set()

    session = SESSIONS[library](root, on_paths)
    establish(session, root, established)
    session.wait(0.2)
    done = threading.Event()

    def writer() -> None:
        nonlocal missed
        fd = os.open(target, os.O_WRONLY | os.O_APPEND)
        try:
            for _ in range(int(size["writes"])):
                time.sleep(WRITE_SPACING)
                seen.clear()
                t_write.append(perf_counter())
                os.write(fd, b"z")
                if not seen.wait(1.0):
                    missed += 1
        finally:
            os.close(fd)
            done.set()
            session.poke()

    thread = threading.Thread(target=writer)
    thread.start()
    session.run_until(done, HANG_AFTER)
    thread.join()
    session.close()
    ms = sorted(x * 1000.0 for x in latencies)
    p99 = ms[min(len(ms) - 1, int(round(0.99 * (len(ms) - 1))))] if ms else None
    return {"value": statistics.median(ms) if ms else None, "unit": "ms", "p99": p99, "missed": missed}


BURST_WRITER = r"""
import os, sys, time
root, dirs, files = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
start = time.monotonic()
for d in range(dirs):
    p = os.path.join(root, f"burst{d}")
    os.mkdir(p)
    for f in range(files):
        os.close(os.open(os.path.join(p, f"n{f}"), os.O_CREAT | os.O_WRONLY, 0o644))
print(start, time.monotonic(), flush=True)
"""


def measure_burst(library: str, root: str, size: dict[str, float]) -> dict[str, Any]:
    import_library(library)
    established = threading.Event()
    probe = probe_path(root)
    prefix = os.path.join(root, "burst")
    total = int(size["burst_dirs"]) * int(size["burst_files"])
    reported: set[str] = set()
    last = [0.0]
    all_seen = threading.Event()
    lock = threading.Lock()

    def on_paths(paths: list[str]) -> None:
        if not established.is_set():
            if probe in paths:
                established.set()
            return
        now = monotonic()
        with lock:
            for path in paths:
                if path.startswith(prefix) and os.path.basename(path).startswith("n") and path not in reported:
                    reported.add(path)
                    last[0] = now
            if len(reported) >= total:
                all_seen.set()

    session = SESSIONS[library](root, on_paths)
    establish(session, root, established)
    session.wait(0.2)
    done = threading.Event()
    times: list[float] = []

    def burst() -> None:
        proc = subprocess.run(
            [sys.executable, "-c", BURST_WRITER, root, str(int(size["burst_dirs"])), str(int(size["burst_files"]))],
            capture_output=True,
            text=True,
            check=True,
        )
        times.extend(float(x) for x in proc.stdout.split())
        all_seen.wait(BURST_WAIT)
        done.set()
        session.poke()

    thread = threading.Thread(target=burst)
    thread.start()
    session.run_until(done, HANG_AFTER)
    thread.join()
    session.close()
    for d in range(int(size["burst_dirs"])):
        shutil.rmtree(os.path.join(root, f"burst{d}"), ignore_errors=True)
    started, ended = times
    with lock:
        count = len(reported)
        last_after = (last[0] - ended) * 1000.0 if reported else None
    return {
        "value": 100.0 * count / total,
        "unit": "%",
        "reported": count,
        "total": total,
        "burst_ms": (ended - started) * 1000.0,
        "last_after_ms": last_after,
    }


def measure_idle(library: str, root: str, size: dict[str, float]) -> dict[str, Any]:
    import_library(library)
    established = threading.Event()
    probe = probe_path(root)

    def on_paths(paths: list[str]) -> None:
        if probe in paths:
            established.set()

    session = SESSIONS[library](root, on_paths)
    establish(session, root, established)
    session.wait(0.5)
    seconds = float(size["idle_s"])
    done = threading.Event()
    spent: list[float] = []

    def clock() -> None:
        # The same for every library: this thread sleeps through the
        # measurement while the main thread waits (pyev: in its loop), and
        # counts every thread's CPU time but its own.
        me = threading.get_native_id()
        cpu0, wall0 = cpu_ns_of_others(me), monotonic()
        time.sleep(seconds)
        spent.extend(((cpu_ns_of_others(me) - cpu0) / 1e9, monotonic() - wall0))
        done.set()
        session.poke()

    thread = threading.Thread(target=clock)
    thread.start()
    session.run_until(done, HANG_AFTER)
    thread.join()
    session.close()
    cpu, wall = spent
    return {"value": cpu / wall, "unit": "s/s"}


MEASURES = {
    "start": measure_start,
    "memory": measure_memory,
    "latency": measure_latency,
    "burst": measure_burst,
    "idle": measure_idle,
}


# --- the runner -----------------------------------------------------------------------


def measure(row: str, library: str, root: str, mode: str) -> tuple[dict[str, Any] | None, str]:
    cmd = [sys.executable, str(HERE / "trees.py"), "measure", row, library, "--root", root]
    if mode == "quick":
        cmd.append("--quick")
    try:
        proc = subprocess.run(cmd, capture_output=True, text=True, timeout=HANG_AFTER + 30, cwd=ROOT, check=False)
    except subprocess.TimeoutExpired:
        return None, "timed out"
    if proc.returncode != 0:
        return None, f"exit {proc.returncode}: {proc.stderr.strip()[-2000:]}"
    try:
        return json.loads(proc.stdout.strip().splitlines()[-1]), ""
    except (ValueError, IndexError):
        return None, f"no JSON: {proc.stdout[-500:]} {proc.stderr[-500:]}"


def fmt_row(row: str, results: list[dict[str, Any]]) -> str:
    if not results:
        return "failed"
    vals = [r["value"] for r in results if r["value"] is not None]
    if not vals:
        return "failed"
    med = statistics.median(vals)
    if row == "start":
        return f"{med:.3f} s"
    if row == "memory":
        return f"{med:.2f} MiB"
    if row == "latency":
        p99 = statistics.median(r["p99"] for r in results if r.get("p99") is not None)
        missed = sum(r.get("missed", 0) for r in results)
        return f"{med:.3f} ms ({p99:.3f})" + (f", {missed} missed" if missed else "")
    if row == "burst":
        lasts = [r["last_after_ms"] for r in results if r.get("last_after_ms") is not None]
        last = f", last {max(0.0, statistics.median(lasts)):.0f} ms after" if lasts else ""
        return f"{med:.1f} %{last}"
    return f"{med:.5f} s/s"


def verdict(row: str, series: dict[str, list[dict[str, Any]]]) -> tuple[str, str]:
    """(target, met/missed) for pyev's row against the best peer."""

    def median(lib: str, key: str = "value") -> float | None:
        vals = [r[key] for r in series.get(lib, []) if r.get(key) is not None]
        return statistics.median(vals) if vals else None

    mine = median("pyev")
    peers = [v for v in (median("watchdog"), median("watchfiles")) if v is not None]
    if row == "burst":
        lasts = [r["last_after_ms"] for r in series.get("pyev", []) if r.get("last_after_ms") is not None]
        all_full = all(r["value"] >= 100.0 for r in series.get("pyev", [])) and bool(series.get("pyev"))
        ok = all_full and bool(lasts) and statistics.median(lasts) <= 50.0
        return "100 %, the last within 50 ms", "met" if ok else "**missed**"
    if mine is None or not peers:
        return "-", "not measured"
    best = min(peers)
    ok = mine <= best
    if row == "latency":
        mine99 = median("pyev", "p99")
        peers99 = [v for v in (median("watchdog", "p99"), median("watchfiles", "p99")) if v is not None]
        ok = ok and mine99 is not None and bool(peers99) and mine99 <= min(peers99)
        return "median and p99 at most the best peer's", "met" if ok else "**missed**"
    return "at most the best peer's", "met" if ok else "**missed**"


ROW_TITLES = {
    "start": "start, until a change is first seen",
    "memory": "memory growth while watching (RSS)",
    "latency": "write → callback, median (p99)",
    "burst": "burst of {n} creations in {d} new directories: files reported",
    "idle": "CPU while idle",
}

MARK_START = "<!-- trees:start (written by tests/benchmarks/trees.py; run.py keeps this section) -->"
MARK_END = "<!-- trees:end -->"


def section_of(text: str) -> str:
    """The trees section of a report ("" if none), markers included."""
    return marked_section(text, MARK_START, MARK_END)


def with_section(text: str, section: str) -> str:
    """``text`` with its trees section replaced by ``section`` (appended if none)."""
    return with_marked_section(text, section, MARK_START, MARK_END)


def report(
    results: dict[tuple[str, str], list[dict[str, Any]]],
    errors: dict[tuple[str, str], list[str]],
    rows: list[str],
    mode: str,
    repeat: int,
    size: dict[str, float],
    where: str,
    fs_type: str,
    tree: tuple[int, int],
    minutes: float,
) -> str:
    from run import cpu_model, version

    cmd = "python tests/benchmarks/trees.py" + (" --quick" if mode == "quick" else "")
    cmd += "" if repeat == (1 if mode == "quick" else 5) else f" --repeat {repeat}"
    loads = [r["loadavg_1m"] for res in results.values() for r in res if "loadavg_1m" in r]
    lines = [
        MARK_START,
        "## Watching a tree",
        "",
        f"Made by `{cmd}`" + (" — a QUICK smoke run: not representative." if mode == "quick" else "."),
        (
            f"A tree of {tree[1]:,} files in {tree[0]:,} directories on {fs_type} ({where}), watched by "
            "`ev.Tree` (inotify), watchdog's `Observer` (inotify, own thread) and watchfiles' `watch` "
            "(Rust notify, debounce 1 ms, in a thread). Each cell: the median of "
            f"{repeat} repetition(s), each a fresh process, interleaved across the libraries. "
            "How each row is measured: the docstring of `tests/benchmarks/trees.py`."
        ),
        "",
        (
            f"{cpu_model()}, {os.cpu_count()} cores; Python {sys.version.split()[0]}; "
            f"watchdog {version('watchdog')}, watchfiles {version('watchfiles')}; "
            f"{minutes:.1f} min; 1-min load average "
            + (f"{min(loads):.2f}–{max(loads):.2f}" if loads else "-")
            + "."
        ),
        "",
        "| row | watchdog | watchfiles | pyev | target for pyev | |",
        "| --- | ---: | ---: | ---: | --- | --- |",
    ]
    for row in rows:
        series = {lib: results.get((row, lib), []) for lib in LIBRARIES}
        target, state = verdict(row, series)
        burst = int(size["burst_dirs"] * size["burst_files"])
        title = ROW_TITLES[row].format(n=f"{burst:,}", d=int(size["burst_dirs"]))
        cells = [fmt_row(row, series[lib]) for lib in ("watchdog", "watchfiles", "pyev")]
        lines.append(f"| {title} | {' | '.join(cells)} | {target} | {state} |")
    lines += ["", "Raw values (per repetition, in run order):", ""]
    lines += ["| row | library | values |", "| --- | --- | --- |"]
    for (row, lib), res in results.items():
        vals = []
        for r in res:
            text = "-" if r["value"] is None else f"{r['value']:.4g}"
            if row == "latency" and r.get("p99") is not None:
                text += f" (p99 {r['p99']:.3g})"
            if row == "burst" and r.get("last_after_ms") is not None:
                text += f" (last +{max(0.0, r['last_after_ms']):.0f} ms, burst {r['burst_ms']:.0f} ms)"
            vals.append(text)
        lines.append(f"| {row} | {lib} | {', '.join(vals)} |")
    if errors:
        lines += ["", "Failures:", ""]
        for (row, lib), errs in errors.items():
            for err in errs:
                lines.append(f"- {row} / {lib}: `{err[-300:]}`")
    lines.append(MARK_END)
    return "\n".join(lines)


def filesystem_type(path: str) -> str:
    best, kind = "", "unknown"
    with open("/proc/mounts") as f:
        for line in f:
            _, mount, fstype, *_ = line.split()
            if (path == mount or path.startswith(mount.rstrip("/") + "/")) and len(mount) > len(best):
                best, kind = mount, fstype
    return kind


def main(argv: list[str]) -> int:
    if argv[:1] == ["measure"]:
        parser = argparse.ArgumentParser(prog="trees.py measure")
        parser.add_argument("row", choices=ROWS)
        parser.add_argument("library", choices=LIBRARIES)
        parser.add_argument("--root", required=True)
        parser.add_argument("--quick", action="store_true")
        args = parser.parse_args(argv[1:])
        import faulthandler

        faulthandler.dump_traceback_later(HANG_AFTER, exit=True)
        size = SIZES["quick" if args.quick else "full"]
        result = MEASURES[args.row](args.library, args.root, size)
        print(json.dumps({"row": args.row, "library": args.library, **result}))
        return 0

    from common import run_settings

    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="a small tree and one repetition: a smoke check")
    parser.add_argument("--repeat", type=int, default=0, help="repetitions per library (default 5; --quick: 1)")
    parser.add_argument("--only", default="", help="only these rows (comma-separated prefixes)")
    parser.add_argument("--out", default="", help="report path without suffix (default docs/benchmarks)")
    parser.add_argument("--dir", default="", help="where to make the tree (default /dev/shm if a tmpfs)")
    args = parser.parse_args(argv)
    mode, repeat, out = run_settings(parser, args, ROOT)
    size = SIZES[mode]
    rows = [r for r in ROWS if not args.only or any(r.startswith(p) for p in args.only.split(","))]
    base = args.dir or ("/dev/shm" if filesystem_type("/dev/shm") == "tmpfs" else tempfile.gettempdir())
    workdir = tempfile.mkdtemp(prefix="pyev-trees-bench-", dir=base)
    root = os.path.join(workdir, "tree")
    os.mkdir(root)
    results: dict[tuple[str, str], list[dict[str, Any]]] = {}
    errors: dict[tuple[str, str], list[str]] = {}
    started = time.time()
    try:
        tree = make_tree(Path(root), size)
        for rep in range(repeat):
            for row in rows:
                for lib in LIBRARIES:
                    load = os.getloadavg()[0]
                    res, err = measure(row, lib, root, mode)
                    if res is None:
                        errors.setdefault((row, lib), []).append(err)
                        print(f"rep {rep + 1} {row} {lib}: FAILED {err[-200:]}", file=sys.stderr)
                        continue
                    res["loadavg_1m"] = load
                    results.setdefault((row, lib), []).append(res)
                    print(f"rep {rep + 1} {row} {lib}: {res}", file=sys.stderr)
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
    section = report(
        results, errors, rows, mode, repeat, size, base, filesystem_type(base), tree, (time.time() - started) / 60
    )
    print(section)
    path = out.with_suffix(".md")
    path.write_text(with_section(path.read_text() if path.exists() else "", section))
    print(f"written: {path}", file=sys.stderr)
    return 1 if errors else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
