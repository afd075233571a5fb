"""Runs the benchmark suite and writes the report.

    python tests/benchmarks/run.py [--quick] [--repeat N] [--only WORKLOAD[,...]] [--out docs/benchmarks] [--aio]
    python tests/benchmarks/run.py --pyev-python LABEL=PYTHON [--pyev-python LABEL=PYTHON ...] [--quick] ...

Every measurement runs in a fresh process (``workloads.py WORKLOAD LIBRARY``,
which prints one JSON line). Repetitions are interleaved across libraries
(rep 1: pyev, asyncio, uvloop, gevent; rep 2: ...), so a slow stretch of the
machine hits every library about equally instead of one library's whole
series. The report gives each library's median and min-max over the
repetitions, and pyev's ratio to each peer oriented so that > 1 means pyev is
better: pyev/peer for rates, peer/pyev for latencies and bytes.

Writes ``OUT.md`` (tables, machine, targets) and ``OUT.png`` (ratios, log
scale, target marks). ``--quick`` uses small sizes, one repetition unless
``--repeat`` is given, and writes to a temporary directory unless ``--out``
is given, so a smoke check never overwrites the committed report.

The report's "asyncio on pyev" section is written by ``aio.py`` and kept
here; ``--aio`` runs ``aio.py`` after the suite, with the same options. Its
"Watching a tree" section is written by ``trees.py`` and kept here too.

``--pyev-python LABEL=PYTHON``, given once per build, compares builds of pyev
instead of pyev with its peers (``tools/bench_revs.sh`` builds two git
revisions and runs this): the pyev workloads run under each build's
interpreter, repetitions interleaved across builds, and the report (printed,
and written to ``OUT.md`` only if ``--out`` is given; no chart) gives each
build's median and min-max, and each later build's ratio to the first,
oriented so that > 1 means the later build is better.
"""

from __future__ import annotations

import argparse
import datetime as _dt
import json
import os
import platform
import statistics
import subprocess
import sys
import time
from dataclasses import dataclass, field
from importlib import metadata
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[1]
sys.path.insert(0, str(HERE))

import common
import workloads  # noqa: F401  (registers every implementation)

# A workload process that has not finished after this long dumps its threads'
# tracebacks (faulthandler) and exits; run.py waits a little longer.
HANG_AFTER = {"full": 240.0, "quick": 60.0}

# The targets: minimum ratio (pyev better when > 1) against a peer.
RATIO_TARGETS: dict[tuple[str, str], float] = {
    **{(w, "asyncio"): 2.0 for w in common.WORKLOADS if w != "stat_latency"},
    **{(w, "gevent"): 1.0 for w in ("pingpong", "pingpong_idle_fds", "echo")},
    **{(w, "gevent"): 0.5 for w in ("timer_churn", "timer_fire", "idle", "async_send", "signals")},
    ("stat_latency", "gevent"): 1.0,
    ("child_reap", "gevent"): 1.0,
}
# The targets on pyev's own value: at most this many bytes.
ABSOLUTE_TARGETS: dict[str, float] = {"memory_timer": 300.0, "memory_io": 300.0}

PEER_COLORS = {
    "asyncio": "#4c72b0",
    "uvloop": "#55a868",
    "gevent": "#c44e52",
    "watchdog": "#8172b2",
    "watchfiles": "#ccb974",
}

# Extra fields worth a word in the table's notes column.
NOTE_FIELDS = (
    "callbacks",
    "idle_fds",
    "missed",
    "server_cpu_share",
    "loadgen_cpu_share",
    "failed",
    "mechanism",
    "step_ms",
)


@dataclass
class Series:
    workload: str
    library: str  # comparing builds (--pyev-python): the build's label
    results: list[dict[str, Any]] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)

    @property
    def values(self) -> list[float]:
        return [r["value"] for r in self.results]

    @property
    def median(self) -> float | None:
        return statistics.median(self.values) if self.results else None


def measure(
    workload: str, library: str, mode: str, python: str = sys.executable
) -> tuple[dict[str, Any] | None, str]:
    """One fresh-process measurement: (result, "") or (None, what went wrong)."""
    cmd = [
        python,
        "tests/benchmarks/workloads.py",
        workload,
        library,
        "--hang-after",
        str(HANG_AFTER[mode]),
    ]
    if mode == "quick":
        cmd.append("--quick")
    load = os.getloadavg()[0]
    try:
        proc = subprocess.run(
            cmd,
            check=False,
            cwd=ROOT,
            capture_output=True,
            text=True,
            timeout=HANG_AFTER[mode] + 30,
        )
    except subprocess.TimeoutExpired as e:
        err = e.stderr.decode() if isinstance(e.stderr, bytes) else (e.stderr or "")
        return None, f"timed out after {HANG_AFTER[mode] + 30:.0f} s\n{err}"
    if proc.returncode != 0:
        return None, f"exit status {proc.returncode}\n{proc.stderr}"
    try:
        result: dict[str, Any] = json.loads(proc.stdout.strip().splitlines()[-1])
    except (IndexError, json.JSONDecodeError):
        return None, f"no JSON line on stdout\n{proc.stdout}\n{proc.stderr}"
    result["loadavg_1m"] = load
    return result, ""


def select_workloads(only: str | None) -> list[str]:
    if not only:
        return list(common.WORKLOADS)
    chosen = []
    for want in only.split(","):
        match = [w for w in common.WORKLOADS if w == want or w.startswith(want)]
        if not match:
            sys.exit(f"run.py: no workload matches {want!r} (have: {', '.join(common.WORKLOADS)})")
        chosen += [w for w in match if w not in chosen]
    return chosen


def contenders(name: str, builds: dict[str, str] | None) -> list[tuple[str, str, str]]:
    """(series label, library, interpreter) of each series of a workload, in
    run order: the libraries, or with ``builds`` (label: interpreter) pyev
    under each build."""
    if builds:
        return [(label, "pyev", python) for label, python in builds.items()]
    return [(lib, lib, sys.executable) for lib in common.libraries_for(name)]


def run_all(
    names: list[str], repeat: int, mode: str, builds: dict[str, str] | None = None
) -> dict[tuple[str, str], Series]:
    series: dict[tuple[str, str], Series] = {}
    for name in names:
        runs = contenders(name, builds)
        for lib, _, _ in runs:
            series[name, lib] = Series(name, lib)
        for rep in range(1, repeat + 1):
            for lib, library, python in runs:
                t0 = time.perf_counter()
                result, error = measure(name, library, mode, python)
                s = series[name, lib]
                took = time.perf_counter() - t0
                if result is None:
                    s.errors.append(error)
                    print(
                        f"{name:18} {lib:10} rep {rep}: FAILED ({took:.1f} s)\n"
                        + indent(error.strip()[-3000:]),
                        flush=True,
                    )
                else:
                    result["rep"] = rep
                    s.results.append(result)
                    print(
                        f"{name:18} {lib:10} rep {rep}: {fmt(result['value'])} "
                        f"{result['unit']} ({took:.1f} s)",
                        flush=True,
                    )
    return series


# --- numbers -----------------------------------------------------------------


def fmt(v: float | None) -> str:
    if v is None:
        return "-"
    a = abs(v)
    if a >= 1e6:
        return f"{v / 1e6:.2f}M"
    if a >= 1e4:
        return f"{v / 1e3:.0f}k"
    if a >= 1e3:
        return f"{v / 1e3:.1f}k"
    if a >= 100:
        return f"{v:.0f}"
    if a >= 10:
        return f"{v:.1f}"
    if a >= 1:
        return f"{v:.2f}"
    return f"{v:.3f}"


def indent(text: str) -> str:
    return "\n".join("    " + line for line in text.splitlines())


def advantage(name: str, mine: float | None, theirs: float | None) -> float | None:
    """How many times better ``mine`` is than ``theirs`` (> 1: mine is better)."""
    if mine is None or theirs is None or mine <= 0 or theirs <= 0:
        return None
    return mine / theirs if common.WORKLOADS[name].higher_is_better else theirs / mine


def ratio(
    series: dict[tuple[str, str], Series], name: str, peer: str, mine: str = "pyev"
) -> float | None:
    """``mine``'s advantage over ``peer`` (> 1: mine is better), of the medians."""
    a, b = series.get((name, mine)), series.get((name, peer))
    return advantage(name, a.median if a else None, b.median if b else None)


def rep_ratios(
    series: dict[tuple[str, str], Series], name: str, peer: str, mine: str
) -> list[float]:
    """The same per repetition: rep i of both ran side by side (interleaved)."""
    theirs = {r["rep"]: r["value"] for r in series[name, peer].results}
    pairs = [advantage(name, r["value"], theirs.get(r["rep"])) for r in series[name, mine].results]
    return [x for x in pairs if x is not None]


@dataclass
class Verdict:
    workload: str
    target: str
    actual: str
    met: bool | None  # None: could not be judged (a measurement failed)


def verdicts(series: dict[tuple[str, str], Series], names: list[str]) -> list[Verdict]:
    out = []
    for name in names:
        for (w, peer), want in RATIO_TARGETS.items():
            if w != name:
                continue
            r = ratio(series, name, peer)
            out.append(
                Verdict(
                    name,
                    f">= {want:g}x {peer}",
                    "-" if r is None else f"{r:.2f}x",
                    None if r is None else r >= want,
                )
            )
        if name in ABSOLUTE_TARGETS:
            mine = series.get((name, "pyev"))
            m = mine.median if mine else None
            limit = ABSOLUTE_TARGETS[name]
            out.append(
                Verdict(
                    name,
                    f"<= {limit:g} {common.WORKLOADS[name].unit} (pyev)",
                    "-" if m is None else f"{m:.0f}",
                    None if m is None else m <= limit,
                )
            )
    return out


# --- report ------------------------------------------------------------------


def cpu_model() -> str:
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def version(dist: str) -> str:
    try:
        return metadata.version(dist)
    except metadata.PackageNotFoundError:
        return "not installed"


def machine_rows(
    started: float, finished: float, load_start: tuple[float, ...], load_end: tuple[float, ...]
) -> list[tuple[str, str]]:
    libs = ", ".join(
        f"{d} {version(d)}" for d in ("pyev", "gevent", "uvloop", "watchdog", "watchfiles")
    )
    return [
        ("CPU", f"{cpu_model()}, {os.cpu_count()} cores"),
        ("Kernel", f"{platform.system()} {platform.release()}"),
        ("Python", f"{platform.python_implementation()} {platform.python_version()}"),
        ("Libraries", libs),
        ("Date", _dt.datetime.fromtimestamp(started).astimezone().strftime("%Y-%m-%d %H:%M %Z")),
        ("Run time", f"{(finished - started) / 60:.1f} min"),
        (
            "Load average (1/5/15 min)",
            (
                f"start {' / '.join(f'{x:.2f}' for x in load_start)}, "
                f"end {' / '.join(f'{x:.2f}' for x in load_end)}"
            ),
        ),
    ]


def notes(s: Series) -> str:
    if not s.results:
        return ""
    parts = []
    for key in NOTE_FIELDS:
        vals = [r[key] for r in s.results if key in r]
        if not vals:
            continue
        if all(isinstance(v, int) and not isinstance(v, bool) for v in vals):
            lo, hi = min(vals), max(vals)
            parts.append(f"{key} {lo:,}" if lo == hi else f"{key} {lo:,}–{hi:,}")
        elif all(isinstance(v, float) for v in vals):
            lo, hi = min(vals), max(vals)
            parts.append(f"{key} {fmt(lo)}" if lo == hi else f"{key} {fmt(lo)}–{fmt(hi)}")
        else:
            parts.append(f"{key} {vals[0]}")
    return ", ".join(parts)


def busy_note(series: dict[tuple[str, str], Series], over: str = "libraries") -> list[str]:
    """A warning when other processes competed for the CPU during the run."""
    loads = [r["loadavg_1m"] for s in series.values() for r in s.results]
    cores = os.cpu_count() or 1
    if not loads or max(loads) <= cores:
        return []
    return [
        (
            f"**The machine was busy:** the 1-minute load average reached {max(loads):.1f} "
            f"on {cores} cores (this suite adds about 1), so other processes competed for "
            "the CPU. That widens the spreads below; the interleaving spreads the disturbance "
            f"over all {over}, but single ratios can still be off by tens of percent."
        ),
        "",
    ]


def failures_and_raw_values(
    series: dict[tuple[str, str], Series], column: str = "library"
) -> list[str]:
    """The report's last sections: each failed process' error, and every value."""
    lines = []
    failed = [s for s in series.values() if s.errors]
    if failed:
        lines += ["", "## Failures", ""]
        for s in failed:
            for err in s.errors:
                lines += [
                    f"`{s.workload}` / `{s.library}`:",
                    "",
                    "```",
                    err.strip()[-4000:],
                    "```",
                    "",
                ]

    lines += [
        "",
        "## Raw values",
        "",
        (
            "Each value with, in brackets, the machine's 1-minute load average when its "
            "process started (other work on the machine shows up here)."
        ),
        "",
        f"| workload | {column} | values in run order |",
        "| --- | --- | --- |",
    ]
    for (name, lib), s in series.items():
        raw = ", ".join(f"{fmt(r['value'])} ({r['loadavg_1m']:.1f})" for r in s.results)
        lines.append(f"| {name} | {lib} | {raw} |")
    return lines


def write_markdown(
    path: Path,
    series: dict[tuple[str, str], Series],
    names: list[str],
    mode: str,
    repeat: int,
    machine: list[tuple[str, str]],
    chart_name: str,
) -> None:
    peers = [p for p in PEER_COLORS if any((n, p) in series for n in names)]
    lines = [
        "# pyev benchmarks",
        "",
        f"Made by `python tests/benchmarks/run.py{' --quick' if mode == 'quick' else ''}"
        f"{'' if repeat == 5 else f' --repeat {repeat}'}`"
        + (
            " — a QUICK smoke run with small sizes: not representative." if mode == "quick" else "."
        ),
        (
            f"Each measurement is a fresh process; {repeat} repetition(s), interleaved across "
            "libraries. What each workload measures and how: "
            "`tests/benchmarks/README.md` in the repository."
        ),
        "",
        "## Machine",
        "",
        "| | |",
        "| --- | --- |",
        *[f"| {k} | {v} |" for k, v in machine],
        "",
        *busy_note(series),
        "## pyev relative to each peer",
        "",
        (
            "Each cell is **how many times better pyev is** than that peer (medians): "
            "pyev/peer for rates, peer/pyev for latencies (ms) and memory (bytes). "
            "**> 1 means pyev is better**; n/a: the peer has no such facility."
        ),
        "",
        "| workload | pyev median | " + " | ".join(peers) + " |",
        "| --- | ---: | " + " | ".join("---:" for _ in peers) + " |",
    ]
    for name in names:
        mine = series.get((name, "pyev"))
        cells = []
        for p in peers:
            if (name, p) not in series:
                cells.append("n/a")
                continue
            r = ratio(series, name, p)
            cells.append("failed" if r is None else f"{r:.2f}x")
        m = mine.median if mine else None
        head = "failed" if m is None else f"{fmt(m)} {common.WORKLOADS[name].unit}"
        lines.append(f"| {name} | {head} | " + " | ".join(cells) + " |")

    lines += ["", f"![pyev's advantage per workload and peer, log scale]({chart_name})"]
    lines += ["", "## Workloads", ""]
    lines += [f"- `{n}` ({common.WORKLOADS[n].unit}): {common.WORKLOADS[n].what}" for n in names]
    lines += [
        "",
        "## Targets",
        "",
        "| workload | target | actual | |",
        "| --- | --- | ---: | --- |",
    ]
    vs = verdicts(series, names)
    for v in vs:
        mark = {True: "met", False: "**missed**", None: "not measured"}[v.met]
        lines.append(f"| {v.workload} | {v.target} | {v.actual} | {mark} |")
    met = sum(v.met is True for v in vs)
    lines += ["", f"{met} of {len(vs)} targets met."]

    lines += [
        "",
        "## All measurements",
        "",
        "Median and min–max over the repetitions; ratio as above (> 1: pyev better).",
        "",
        "| workload | library | median | min–max | unit | ratio | notes |",
        "| --- | --- | ---: | ---: | --- | ---: | --- |",
    ]
    for name in names:
        for lib in common.LIBRARIES + common.STAT_PEERS:
            s = series.get((name, lib))
            unit = common.WORKLOADS[name].unit
            if s is None:
                if lib in common.LIBRARIES:
                    lines.append(f"| {name} | {lib} | n/a | | | | no such facility |")
                continue
            if not s.results:
                lines.append(f"| {name} | {lib} | failed | | {unit} | | see Failures |")
                continue
            r = None if lib == "pyev" else ratio(series, name, lib)
            spread = f"{fmt(min(s.values))}–{fmt(max(s.values))}"
            fails = f" ({len(s.errors)} failed)" if s.errors else ""
            lines.append(
                f"| {name} | {lib} | {fmt(s.median)} | {spread} | {unit} | "
                f"{'' if r is None else f'{r:.2f}x'} | {notes(s)}{fails} |"
            )

    lines += failures_and_raw_values(series)
    # The "asyncio on pyev" and "Watching a tree" sections are aio.py's and
    # trees.py's: kept from the previous report.
    import aio
    import trees

    previous = path.read_text() if path.exists() else ""
    kept = [section for section in (aio.section_of(previous), trees.section_of(previous)) if section]
    path.write_text("\n".join(lines) + "\n" + "".join(f"\n{section}\n" for section in kept))


def build_origin(python: str) -> str:
    """Which Python and which pyev a build's interpreter runs the workloads
    with (imported as workloads.py imports it: this folder first on sys.path)."""
    code = (
        "import platform, importlib.metadata as m, pyev; "
        "print(platform.python_implementation(), platform.python_version() + ',', "
        "'pyev', m.version('pyev'), 'from', pyev.__path__[0])"
    )
    proc = subprocess.run(
        [python, "-c", code], cwd=HERE, capture_output=True, text=True, check=False
    )
    if proc.returncode != 0:
        sys.exit(f"run.py: {python} cannot import pyev:\n{proc.stderr}")
    return proc.stdout.strip()


def builds_markdown(
    series: dict[tuple[str, str], Series],
    names: list[str],
    mode: str,
    repeat: int,
    labels: list[str],
    machine: list[tuple[str, str]],
) -> str:
    """The report comparing builds of pyev: each build's median (min-max),
    and each later build's advantage over the first (``labels[0]``)."""
    base, later = labels[0], labels[1:]

    def cell(s: Series) -> str:
        if not s.results:
            return "failed"
        if len(s.values) == 1:
            return fmt(s.median)
        return f"{fmt(s.median)} ({fmt(min(s.values))}–{fmt(max(s.values))})"

    def ratio_cell(name: str, label: str) -> str:
        r = ratio(series, name, base, mine=label)
        if r is None:
            return "-"
        per_rep = rep_ratios(series, name, base, label)
        spread = f" ({min(per_rep):.2f}–{max(per_rep):.2f})" if len(per_rep) > 1 else ""
        return f"**{r:.2f}x**{spread}"

    lines = [
        "# pyev builds compared",
        "",
        (
            "The benchmark suite's pyev workloads"
            + (" with QUICK (small) sizes: not representative" if mode == "quick" else "")
            + f". Each measurement is a fresh process; {repeat} repetition(s)"
            + (
                f", interleaved across builds ({', '.join(f'`{b}`' for b in labels * 2)}, ...)."
                if repeat > 1
                else "."
            )
        ),
        "",
        "| | |",
        "| --- | --- |",
        *[f"| {k} | {v} |" for k, v in machine],
        "",
        *busy_note(series, over="builds"),
        (
            "Each build: median (min–max) over the repetitions. "
            + " ".join(
                f"`{label} vs {base}`: how many times better `{label}` is (medians; "
                f"{label}/{base} for rates, {base}/{label} for latencies and bytes), "
                "**> 1 means it is better**"
                for label in later
            )
            + (
                "; in brackets the min–max of the per-repetition ratios (repetition i of "
                "both ran side by side): a bracket that straddles 1.00 means the difference "
                "is within this run's noise."
                if repeat > 1
                else "."
            )
        ),
        "",
        "| workload | unit | "
        + " | ".join([*labels, *(f"{label} vs {base}" for label in later)])
        + " |",
        "| --- | --- | " + " | ".join("---:" for _ in labels + later) + " |",
    ]
    for name in names:
        row = [cell(series[name, label]) for label in labels]
        row += [ratio_cell(name, label) for label in later]
        lines.append(f"| {name} | {common.WORKLOADS[name].unit} | " + " | ".join(row) + " |")
    lines += failures_and_raw_values(series, column="build")
    return "\n".join(lines) + "\n"


def write_chart(
    path: Path, series: dict[tuple[str, str], Series], names: list[str], title: str
) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    rows = [n for n in names if any(ratio(series, n, p) for p in PEER_COLORS)]
    if not rows:
        return
    peers = [p for p in PEER_COLORS if any((n, p) in series for n in rows)]
    width = 0.8 / len(peers)
    fig, ax = plt.subplots(figsize=(max(8.0, 1.1 * len(rows) + 2), 5.5))
    for i, peer in enumerate(peers):
        xs, ys = [], []
        for j, name in enumerate(rows):
            r = ratio(series, name, peer)
            if r is not None:
                xs.append(j - 0.4 + width * (i + 0.5))
                ys.append(r)
        ax.bar(xs, ys, width, label=f"vs {peer}", color=PEER_COLORS[peer])
    marked = False
    for (name, peer), want in RATIO_TARGETS.items():
        if name in rows and peer in peers:
            x = rows.index(name) - 0.4 + width * (peers.index(peer) + 0.5)
            ax.hlines(
                want,
                x - width / 2,
                x + width / 2,
                colors="black",
                linewidth=2.2,
                label="_nolegend_" if marked else "target",
            )
            marked = True
    ax.axhline(1.0, color="grey", linewidth=0.8, linestyle="--")
    ax.set_yscale("log")
    ax.set_xticks(range(len(rows)))
    ax.set_xticklabels(rows, rotation=30, ha="right")
    ax.set_ylabel("pyev advantage (x): > 1 means pyev is better")
    ax.set_title(title, fontsize=10)
    ax.legend(fontsize=8, ncol=3)
    ax.grid(axis="y", which="both", alpha=0.25)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


def compare_builds(
    parser: argparse.ArgumentParser,
    args: argparse.Namespace,
    names: list[str],
    mode: str,
    repeat: int,
) -> int:
    """--pyev-python: the pyev workloads under each build, the report printed."""
    if args.aio:
        parser.error("--aio does not go with --pyev-python")
    builds: dict[str, str] = {}
    for spec in args.pyev_python:
        label, eq, python = spec.partition("=")
        if not (label and eq and python) or label in builds:
            parser.error(f"--pyev-python {spec!r}: want LABEL=PYTHON, a different LABEL each time")
        builds[label] = python
    # Asked now, so a build without pyev fails before the run, not after it.
    origins = [(f"Build `{label}`", build_origin(python)) for label, python in builds.items()]
    names = [n for n in names if "pyev" in common.IMPLS[n]]

    started, load_start = time.time(), os.getloadavg()
    series = run_all(names, repeat, mode, builds)
    finished, load_end = time.time(), os.getloadavg()

    machine = [
        row
        for row in machine_rows(started, finished, load_start, load_end)
        if row[0] not in ("Python", "Libraries")  # the runner's, not the builds'
    ] + origins
    report = builds_markdown(series, names, mode, repeat, list(builds), machine)
    print("\n" + report, end="")
    if args.out:
        md = Path(args.out).with_suffix(".md")
        md.write_text(report)
        print(f"\nwrote {md}")
    failures = sum(len(s.errors) for s in series.values())
    if failures:
        print(f"{failures} measurement(s) failed: see Failures above")
    return 1 if failures else 0


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--quick", action="store_true", help="small sizes, 1 repetition: a ~1 minute smoke check"
    )
    parser.add_argument("--repeat", type=int, help="repetitions per library (default 5; quick 1)")
    parser.add_argument("--only", help="comma-separated workloads (a prefix matches: memory)")
    parser.add_argument(
        "--out",
        help="report path without suffix (default docs/benchmarks; quick: a temporary directory)",
    )
    parser.add_argument(
        "--aio", action="store_true", help="then run aio.py (asyncio on pyev) into the same report"
    )
    parser.add_argument(
        "--pyev-python",
        action="append",
        metavar="LABEL=PYTHON",
        help=(
            "compare builds of pyev instead of pyev with its peers: the pyev workloads under "
            "this interpreter, labelled LABEL; once per build, the first being the baseline"
        ),
    )
    args = parser.parse_args(argv)
    mode, repeat, out = common.run_settings(parser, args, ROOT)
    names = select_workloads(args.only)
    if args.pyev_python:
        return compare_builds(parser, args, names, mode, repeat)

    started, load_start = time.time(), os.getloadavg()
    series = run_all(names, repeat, mode)
    finished, load_end = time.time(), os.getloadavg()

    machine = machine_rows(started, finished, load_start, load_end)
    md, png = out.with_suffix(".md"), out.with_suffix(".png")
    write_markdown(md, series, names, mode, repeat, machine, png.name)
    title = (
        f"pyev vs peers ({'quick' if args.quick else f'median of {repeat}'}), "
        f"{cpu_model()} x{os.cpu_count()}, Python {platform.python_version()}, "
        f"{machine[4][1]}"
    )
    write_chart(png, series, names, title)
    print(f"\nwrote {md} and {png}")
    vs = verdicts(series, names)
    for v in vs:
        print(
            f"  {v.workload:18} {v.target:28} {v.actual:>8}  "
            f"{ {True: 'met', False: 'MISSED', None: 'not measured'}[v.met] }"
        )
    failures = sum(len(s.errors) for s in series.values())
    if failures:
        print(f"{failures} measurement(s) failed: see {md}")
    status = 1 if failures else 0
    if args.aio:
        import aio

        aio_args = ["--out", str(out), "--repeat", str(repeat)] + (["--quick"] if args.quick else [])
        status |= aio.main(aio_args)
    return status


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
