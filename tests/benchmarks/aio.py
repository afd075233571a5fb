"""asyncio on pyev: stock asyncio, uvloop and pyev.aio running the same asyncio code.

    python tests/benchmarks/aio.py [--quick] [--repeat N] [--only ROW[,...]] [--out docs/benchmarks]
                                   [--json PATH] [--no-pin] [--default-malloc]
    python tests/benchmarks/aio.py measure ROW LOOP [--quick] [--no-pin]   # one measurement, one JSON line

The three loops are ``asyncio.new_event_loop()`` (the epoll selector loop),
``uvloop.new_event_loop()`` and ``pyev.aio.new_event_loop()``. Every row is
the same asyncio code on each (``call_soon``, ``call_later``, tasks,
``call_soon_threadsafe``, Protocols, streams), so the difference is the
loop's own cost.

The conventions are ``run.py``'s: every measurement is a fresh process
(``aio.py measure ROW LOOP`` prints one JSON object), repetitions are
interleaved across the loops (rep 1: asyncio, uvloop, pyev.aio; rep 2: ...),
the report gives medians and min-max, and the fd rows use ``loadgen.py`` in
a separate process (pinned to another CPU than the server's, and with
glibc's malloc thresholds fixed: see ``PIN`` and ``MALLOC_TUNABLES``). The
fd rows also report the server's CPU time per request. The ratios are pyev.aio/asyncio and pyev.aio/uvloop
(every row is a rate: > 1 means pyev.aio is faster), each with the min-max
of the per-repetition ratios, which shows how noisy the row was.

The report is a section ("asyncio on pyev", between ``<!-- aio:start`` and
``<!-- aio:end -->``) of ``OUT.md``: replaced if there, else appended.
``run.py`` keeps it when it rewrites the rest of the file.
"""

from __future__ import annotations

import argparse
import asyncio
import faulthandler
import json
import os
import platform
import random
import statistics
import subprocess
import sys
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[1]
if str(HERE) not in sys.path:
    sys.path.insert(0, str(HERE))

from common import marked_section, noop, perf_counter, run_settings, with_marked_section  # noqa: E402
from fds import BACKLOG, EchoRun  # noqa: E402

LOOPS = ("asyncio", "uvloop", "pyev.aio")
# The fd rows pin the server and the load generator to two different CPUs
# (when there are two), so that a run never has them share one core.
_CPUS = sorted(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else []
PIN: tuple[int, int] | None = (_CPUS[0], _CPUS[1]) if len(_CPUS) >= 2 else None
# glibc's malloc serves asyncio's 256 KiB recv buffer (the selector
# transports' max_size) either from the heap or, depending on what the
# process allocated before, with mmap + mremap + munmap on every read: a
# coin toss per process, worth up to 3x on the fd rows of stock asyncio and
# pyev.aio alike. Every measurement process gets fixed thresholds, so that
# all take the heap path (--default-malloc: leave malloc alone).
MALLOC_TUNABLES = "glibc.malloc.mmap_threshold=1048576:glibc.malloc.trim_threshold=8388608"
HANG_AFTER = {"full": 240.0, "quick": 60.0}

SIZES: dict[str, dict[str, float]] = {
    "full": {
        "call_soon": 500_000,
        "call_soon_batch": 1_000,
        "timer_churn": 100_000,
        "sleep0": 200_000,
        "sleep0_tasks": 10,
        "threadsafe": 200_000,
        "fd_seconds": 2.0,
    },
    "quick": {
        "call_soon": 50_000,
        "call_soon_batch": 1_000,
        "timer_churn": 10_000,
        "sleep0": 20_000,
        "sleep0_tasks": 10,
        "threadsafe": 20_000,
        "fd_seconds": 0.5,
    },
}


@dataclass(frozen=True)
class Row:
    name: str
    unit: str
    what: str
    scheduling: bool  # a pure scheduling row (the uvloop moonshot applies)
    min_vs_asyncio: float = 1.0  # the target ratio against stock asyncio


ROWS: dict[str, Row] = {
    r.name: r
    for r in (
        Row(
            "call_soon",
            "callbacks/s",
            "a callback queues 1,000 call_soon callbacks and itself, each iteration, until N ran",
            True,
        ),
        Row(
            "timer_churn",
            "call_later+cancel/s",
            "a callback does 100,000 call_later (0.5-60 s) then cancels them in shuffled order; "
            "then one more iteration",
            True,
            1.5,
        ),
        Row("sleep0", "switches/s", "10 tasks each awaiting asyncio.sleep(0) in a loop, N in all", True),
        Row(
            "threadsafe",
            "calls/s",
            "a thread calls call_soon_threadsafe N times, then once with loop.stop",
            True,
            1.5,
        ),
        Row("echo_protocol_1", "requests/s", "TCP line echo, asyncio.Protocol, 1 connection", False),
        Row("echo_protocol_100", "requests/s", "TCP line echo, asyncio.Protocol, 100 connections", False),
        Row("echo_streams_1", "requests/s", "TCP line echo, asyncio streams, 1 connection", False),
        Row("echo_streams_100", "requests/s", "TCP line echo, asyncio streams, 100 connections", False),
        Row(
            "http_100",
            "requests/s",
            "HTTP/1.1 keep-alive hello world on asyncio.Protocol, 100 connections",
            False,
        ),
    )
}


# --- the loops ---------------------------------------------------------------


def new_loop(name: str) -> asyncio.AbstractEventLoop:
    if name == "uvloop":
        import uvloop

        return uvloop.new_event_loop()
    if name == "pyev.aio":
        import pyev.aio

        return pyev.aio.new_event_loop()
    if name == "asyncio":
        return asyncio.new_event_loop()
    raise ValueError(f"unknown loop {name!r} (have: {', '.join(LOOPS)})")


Result = tuple[float, dict[str, Any]]


# --- scheduling rows -----------------------------------------------------------


def call_soon_row(loop: asyncio.AbstractEventLoop, size: dict[str, float]) -> Result:
    n = int(size["call_soon"])
    batch = int(size["call_soon_batch"])
    call_soon = loop.call_soon
    count = 0
    left = n

    def cb() -> None:
        nonlocal count
        count += 1

    def producer() -> None:
        nonlocal left
        for _ in range(min(batch, left)):
            call_soon(cb)
        left -= batch
        call_soon(producer if left > 0 else loop.stop)

    call_soon(producer)
    t0 = perf_counter()
    loop.run_forever()
    dt = perf_counter() - t0
    assert count == n, (count, n)
    return n / dt, {"n": n, "batch": batch}


def timer_churn_row(loop: asyncio.AbstractEventLoop, size: dict[str, float]) -> Result:
    n = int(size["timer_churn"])
    rng = random.Random(1)
    afters = [rng.uniform(0.5, 60.0) for _ in range(n)]
    order = list(range(n))
    rng.shuffle(order)
    t0 = 0.0

    def churn() -> None:
        nonlocal t0
        call_later = loop.call_later
        hs: list[asyncio.TimerHandle] = []
        append = hs.append
        t0 = perf_counter()
        for after in afters:
            append(call_later(after, noop))
        for i in order:
            hs[i].cancel()
        # One more iteration: the one in which asyncio drops the cancelled handles.
        loop.call_soon(loop.stop)

    loop.call_soon(churn)
    loop.run_forever()
    return n / (perf_counter() - t0), {"n": n}


def sleep0_row(loop: asyncio.AbstractEventLoop, size: dict[str, float]) -> Result:
    n = int(size["sleep0"])
    tasks = int(size["sleep0_tasks"])
    each = n // tasks

    async def worker() -> None:
        for _ in range(each):
            await asyncio.sleep(0)

    async def main() -> float:
        t0 = perf_counter()
        await asyncio.gather(*(worker() for _ in range(tasks)))
        return perf_counter() - t0

    dt = loop.run_until_complete(main())
    return each * tasks / dt, {"n": each * tasks, "tasks": tasks}


def threadsafe_row(loop: asyncio.AbstractEventLoop, size: dict[str, float]) -> Result:
    n = int(size["threadsafe"])
    callbacks = 0
    sender_s = 0.0

    def on_call() -> None:
        nonlocal callbacks
        callbacks += 1

    def sender() -> None:
        nonlocal sender_s
        send = loop.call_soon_threadsafe
        t = perf_counter()
        for _ in range(n):
            send(on_call)
        sender_s = perf_counter() - t
        send(loop.stop)

    thread = threading.Thread(target=sender)
    t0 = perf_counter()
    thread.start()
    loop.run_forever()
    dt = perf_counter() - t0
    thread.join()
    assert callbacks == n, (callbacks, n)
    return n / dt, {"n": n, "sender_s": round(sender_s, 3)}


# --- fd rows: servers under loadgen.py ----------------------------------------


class EchoProtocol(asyncio.Protocol):
    """Echoes each complete line; keeps an incomplete rest for the next read."""

    def __init__(self, closed: Any) -> None:
        self.closed = closed
        self.pending = b""
        self.transport: Any = None

    def connection_made(self, transport: Any) -> None:
        self.transport = transport

    def data_received(self, data: bytes) -> None:
        if self.pending:
            data = self.pending + data
        cut = data.rfind(b"\n") + 1
        self.pending = data[cut:]
        if cut:
            self.transport.write(data[:cut])

    def connection_lost(self, exc: BaseException | None) -> None:
        self.closed()


HELLO = b"Hello, world!\n"
HTTP_OK = (
    b"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: %d\r\n\r\n" % len(HELLO) + HELLO
)
HTTP_NOT_FOUND = b"HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\n\r\n"
HTTP_BAD = b"HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"


class HttpHello(asyncio.Protocol):
    """A minimal HTTP/1.1 server: GET / answers hello world, anything else
    404; keep-alive unless ``Connection: close`` or HTTP/1.0 without
    ``keep-alive``; pipelined requests answered in order; no request bodies."""

    def __init__(self, closed: Any) -> None:
        self.closed = closed
        self.buf = b""
        self.transport: Any = None

    def connection_made(self, transport: Any) -> None:
        self.transport = transport

    def data_received(self, data: bytes) -> None:
        buf = self.buf + data if self.buf else data
        while True:
            end = buf.find(b"\r\n\r\n")
            if end < 0:
                break
            head, buf = buf[:end], buf[end + 4 :]
            request_line, _, headers = head.partition(b"\r\n")
            parts = request_line.split(b" ")
            if len(parts) != 3 or not parts[2].startswith(b"HTTP/1."):
                self.transport.write(HTTP_BAD)
                self.transport.close()
                return
            method, path, version = parts
            keep_alive = version == b"HTTP/1.1"
            for line in headers.split(b"\r\n"):
                name, _, value = line.partition(b":")
                if name.strip().lower() == b"connection":
                    keep_alive = value.strip().lower() == b"keep-alive"
            ok = method == b"GET" and path == b"/"
            self.transport.write(HTTP_OK if ok else HTTP_NOT_FOUND)
            if not keep_alive:
                self.transport.close()
                return
        self.buf = buf

    def connection_lost(self, exc: BaseException | None) -> None:
        self.closed()


def serve_row(
    loop: asyncio.AbstractEventLoop, size: dict[str, float], conns: int, kind: str
) -> Result:
    """A server of ``kind`` (protocol, streams, http) under loadgen.py with
    ``conns`` connections; stops when the load generator has closed them."""
    asyncio.set_event_loop(loop)
    pin = PIN if size.get("pin", 1) else None
    if pin:
        os.sched_setaffinity(0, {pin[0]})
    run = EchoRun(
        {"echo_conns": conns, "echo_seconds": size["fd_seconds"]},
        ("--http",) if kind == "http" else (),
    )
    all_closed = loop.create_future()

    def closed() -> None:
        if run.connection_closed() and not all_closed.done():
            all_closed.set_result(None)

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while True:
                line = await reader.readline()
                if not line:
                    break
                writer.write(line)
                await writer.drain()
        except ConnectionError:
            pass
        finally:
            writer.close()
            closed()

    async def main() -> None:
        server: asyncio.AbstractServer
        if kind == "streams":
            server = await asyncio.start_server(handle, sock=run.listener, backlog=BACKLOG)
        else:
            proto = HttpHello if kind == "http" else EchoProtocol
            server = await loop.create_server(lambda: proto(closed), sock=run.listener, backlog=BACKLOG)
        cpu0 = time.process_time()
        run.start_loadgen()
        if pin:
            assert run.proc is not None
            os.sched_setaffinity(run.proc.pid, {pin[1]})
        await all_closed
        cpu[0] = time.process_time() - cpu0
        server.close()
        await server.wait_closed()

    cpu = [0.0]
    loop.run_until_complete(main())
    rate, extra = run.result()
    # The server's own CPU cost, whichever side was the bottleneck.
    extra["server_us_per_request"] = round(cpu[0] / max(extra["requests"], 1) * 1e6, 2)
    return rate, extra


def measure_row(row: str, loop_name: str, size: dict[str, float]) -> Result:
    loop = new_loop(loop_name)
    try:
        if row == "call_soon":
            return call_soon_row(loop, size)
        if row == "timer_churn":
            return timer_churn_row(loop, size)
        if row == "sleep0":
            return sleep0_row(loop, size)
        if row == "threadsafe":
            return threadsafe_row(loop, size)
        kind, _, conns = row.rpartition("_")
        return serve_row(loop, size, int(conns), kind.removeprefix("echo_"))
    finally:
        loop.close()


def measure_main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="aio.py measure", description="one measurement, one JSON line")
    parser.add_argument("row", choices=list(ROWS))
    parser.add_argument("loop", choices=LOOPS)
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--hang-after", type=float, default=HANG_AFTER["full"])
    parser.add_argument("--no-pin", action="store_true", help="fd rows: leave CPU placement to the scheduler")
    args = parser.parse_args(argv)
    faulthandler.dump_traceback_later(args.hang_after, exit=True)
    size = {**SIZES["quick" if args.quick else "full"], "pin": 0 if args.no_pin else 1}
    value, extra = measure_row(args.row, args.loop, size)
    if not ROWS[args.row].scheduling:
        extra["pinned"] = bool(PIN and not args.no_pin)
    extra["glibc_tunables"] = os.environ.get("GLIBC_TUNABLES", "")
    faulthandler.cancel_dump_traceback_later()
    r = ROWS[args.row]
    out = {"workload": r.name, "library": args.loop, "value": value, "unit": r.unit, "higher_is_better": True}
    print(json.dumps({**out, **extra}), flush=True)
    return 0


# --- the runner ----------------------------------------------------------------


def measure(row: str, loop_name: str, mode: str, opts: argparse.Namespace) -> tuple[dict[str, Any] | None, str]:
    """One fresh-process measurement: (result, "") or (None, what went wrong)."""
    cmd = [sys.executable, str(Path(__file__).relative_to(ROOT)), "measure", row, loop_name]
    cmd += ["--hang-after", str(HANG_AFTER[mode])] + (["--quick"] if mode == "quick" else [])
    cmd += ["--no-pin"] if opts.no_pin else []
    env = dict(os.environ)
    if not opts.default_malloc:
        env["GLIBC_TUNABLES"] = MALLOC_TUNABLES
    load = os.getloadavg()[0]
    try:
        proc = subprocess.run(
            cmd, check=False, cwd=ROOT, capture_output=True, text=True, timeout=HANG_AFTER[mode] + 30, env=env
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


Series = dict[tuple[str, str], list[dict[str, Any]]]


def run_all(
    rows: list[str], repeat: int, mode: str, opts: argparse.Namespace
) -> tuple[Series, dict[tuple[str, str], list[str]]]:
    from run import fmt, indent

    series: Series = {(r, lp): [] for r in rows for lp in LOOPS}
    errors: dict[tuple[str, str], list[str]] = {}
    for row in rows:
        for rep in range(1, repeat + 1):
            for lp in LOOPS:
                t0 = time.perf_counter()
                result, error = measure(row, lp, mode, opts)
                took = time.perf_counter() - t0
                if result is None:
                    errors.setdefault((row, lp), []).append(error)
                    print(f"{row:18} {lp:9} rep {rep}: FAILED ({took:.1f} s)\n{indent(error.strip()[-3000:])}")
                else:
                    result["rep"] = rep
                    series[row, lp].append(result)
                    print(f"{row:18} {lp:9} rep {rep}: {fmt(result['value'])} {result['unit']} ({took:.1f} s)")
                sys.stdout.flush()
    return series, errors


def median(results: list[dict[str, Any]]) -> float | None:
    return statistics.median(r["value"] for r in results) if results else None


def ratios(series: Series, row: str, peer: str) -> tuple[float | None, list[float]]:
    """pyev.aio/peer of the medians, and the per-repetition ratios (the
    repetitions are interleaved, so rep i of both ran side by side)."""
    mine, theirs = series[row, "pyev.aio"], series[row, peer]
    m, t = median(mine), median(theirs)
    whole = m / t if m and t else None
    by_rep = {r.get("rep"): r["value"] for r in theirs}
    per_rep = [a["value"] / by_rep[a.get("rep")] for a in mine if by_rep.get(a.get("rep"), 0) > 0]
    return whole, per_rep


@dataclass
class Verdict:
    row: str
    target: str
    actual: str
    state: str  # "met", "within noise", "**missed**", "not measured", "moonshot: ..."


def verdicts(series: Series, rows: list[str]) -> list[Verdict]:
    out = []
    for row in rows:
        r = ROWS[row]
        whole, per_rep = ratios(series, row, "asyncio")
        want = r.min_vs_asyncio
        if whole is None:
            out.append(Verdict(row, f">= {want:g}x asyncio", "-", "not measured"))
        else:
            if whole >= want:
                state = "met"
            elif want == 1.0 and per_rep and max(per_rep) >= 1.0:
                state = "within noise"  # some repetitions have pyev.aio ahead
            else:
                state = "**missed**"
            out.append(Verdict(row, f">= {want:g}x asyncio", f"{whole:.2f}x", state))
        if r.scheduling:
            u, _ = ratios(series, row, "uvloop")
            state = "not measured" if u is None else ("reached" if u >= 1.0 else "not reached")
            out.append(Verdict(row, "moonshot: >= 1x uvloop", "-" if u is None else f"{u:.2f}x", state))
    return out


MARK_START = "<!-- aio:start (written by tests/benchmarks/aio.py; run.py keeps this section) -->"
MARK_END = "<!-- aio:end -->"


def section_of(text: str) -> str:
    """The aio section of a report ("" if none), markers included."""
    return marked_section(text, MARK_START, MARK_END)


def with_section(text: str, section: str) -> str:
    """``text`` with its aio section replaced by ``section`` (appended if none)."""
    return with_marked_section(text, section, MARK_START, MARK_END)


def markdown(
    series: Series,
    errors: dict[tuple[str, str], list[str]],
    rows: list[str],
    mode: str,
    repeat: int,
    started: float,
    finished: float,
    opts: argparse.Namespace,
) -> str:
    from run import cpu_model, fmt, version

    def cell(results: list[dict[str, Any]]) -> str:
        if not results:
            return "failed"
        vals = [r["value"] for r in results]
        return f"{fmt(statistics.median(vals))} ({fmt(min(vals))}–{fmt(max(vals))})"

    def ratio_cell(row: str, peer: str) -> str:
        whole, per_rep = ratios(series, row, peer)
        if whole is None:
            return "-"
        return f"**{whole:.2f}x** ({min(per_rep):.2f}–{max(per_rep):.2f})"

    def notes(row: str, lp: str) -> str:
        res = series[row, lp]
        parts = []
        for key in ("server_cpu_share", "loadgen_cpu_share"):
            vals = [r[key] for r in res if key in r]
            if vals:
                parts.append(f"{key.split('_')[0]} {min(vals):.2f}–{max(vals):.2f}")
        return ", ".join(parts)

    cmd = "python tests/benchmarks/aio.py" + (" --quick" if mode == "quick" else "")
    cmd += "" if repeat == (1 if mode == "quick" else 5) else f" --repeat {repeat}"
    cmd += " --no-pin" if opts.no_pin else ""
    cmd += " --default-malloc" if opts.default_malloc else ""
    setup = [
        "server and load generator pinned to two CPUs" if PIN and not opts.no_pin else "no CPU pinning",
        "glibc's malloc left alone" if opts.default_malloc else f"`GLIBC_TUNABLES={MALLOC_TUNABLES}` (why: `aio.py`)",
    ]
    loads = [r["loadavg_1m"] for res in series.values() for r in res]
    lines = [
        MARK_START,
        "## asyncio on pyev",
        "",
        f"Made by `{cmd}`" + (" — a QUICK smoke run: not representative." if mode == "quick" else "."),
        (
            "The same asyncio code on three loops: `asyncio.new_event_loop()` (epoll selector), "
            "`uvloop.new_event_loop()` and `pyev.aio.new_event_loop()`. Each measurement is a fresh "
            f"process; {repeat} repetition(s), interleaved across the loops. Cells: median "
            "(min–max) in ops/s; ratios: pyev.aio/peer of the medians (min–max of the "
            "per-repetition ratios), > 1 means pyev.aio is faster. "
            "What each row does: `tests/benchmarks/README.md`."
        ),
        "",
        (
            f"{cpu_model()}, {os.cpu_count()} cores; {platform.python_implementation()} "
            f"{platform.python_version()}; uvloop {version('uvloop')}; "
            + _dt_string(started)
            + f"; {(finished - started) / 60:.1f} min; 1-min load average "
            + (f"{min(loads):.2f}–{max(loads):.2f}" if loads else "-")
            + f"; {'; '.join(setup)}."
        ),
        "",
        "| row | unit | asyncio | uvloop | pyev.aio | pyev.aio/asyncio | pyev.aio/uvloop |",
        "| --- | --- | ---: | ---: | ---: | ---: | ---: |",
    ]
    for row in rows:
        cells = [cell(series[row, lp]) for lp in LOOPS]
        lines.append(
            f"| {row} | {ROWS[row].unit} | " + " | ".join(cells)
            + f" | {ratio_cell(row, 'asyncio')} | {ratio_cell(row, 'uvloop')} |"
        )
    lines += ["", "Rows:", ""]
    lines += [f"- `{r}`: {ROWS[r].what}." for r in rows]
    fd_rows = [r for r in rows if not ROWS[r].scheduling]
    if fd_rows:

        def us(row: str, lp: str) -> list[float]:
            return [r["server_us_per_request"] for r in series[row, lp] if "server_us_per_request" in r]

        def us_cell(row: str, lp: str) -> str:
            v = us(row, lp)
            return f"{statistics.median(v):.1f} ({min(v):.1f}–{max(v):.1f})" if v else "-"

        def us_ratio(row: str, peer: str) -> str:
            mine, theirs = us(row, "pyev.aio"), us(row, peer)
            return f"{statistics.median(theirs) / statistics.median(mine):.2f}x" if mine and theirs else "-"

        lines += [
            "",
            (
                "The fd rows' server CPU time per request (µs; median, min–max), which does not "
                "depend on which side was the bottleneck, and its ratio peer/pyev.aio (> 1: "
                "pyev.aio spends less); then the CPU shares (CPU time / wall time) of server and "
                "load generator (`loadgen.py`, another process): near 1.00 marks the bottleneck."
            ),
            "",
            "| row | asyncio µs | uvloop µs | pyev.aio µs | asyncio/pyev.aio | uvloop/pyev.aio |",
            "| --- | ---: | ---: | ---: | ---: | ---: |",
        ]
        lines += [
            f"| {r} | " + " | ".join(us_cell(r, lp) for lp in LOOPS)
            + f" | {us_ratio(r, 'asyncio')} | {us_ratio(r, 'uvloop')} |"
            for r in fd_rows
        ]
        lines += ["", "| row | asyncio | uvloop | pyev.aio |", "| --- | --- | --- | --- |"]
        lines += [f"| {r} | " + " | ".join(notes(r, lp) for lp in LOOPS) + " |" for r in fd_rows]
    vs = verdicts(series, rows)
    lines += ["", "Targets:", "", "| row | target | actual | |", "| --- | --- | ---: | --- |"]
    lines += [f"| {v.row} | {v.target} | {v.actual} | {v.state} |" for v in vs]
    if errors:
        lines += ["", "Failures:", ""]
        for (row, lp), errs in errors.items():
            for err in errs:
                lines += [f"`{row}` / `{lp}`:", "", "```", err.strip()[-3000:], "```", ""]
    lines += ["", "Raw values in run order (1-minute load average at the start of each):", ""]
    lines += ["| row | loop | values |", "| --- | --- | --- |"]
    for (row, lp), res in series.items():
        raw = ", ".join(f"{fmt(r['value'])} ({r['loadavg_1m']:.1f})" for r in res)
        lines.append(f"| {row} | {lp} | {raw} |")
    lines.append(MARK_END)
    return "\n".join(lines)


def _dt_string(t: float) -> str:
    import datetime as _dt

    return _dt.datetime.fromtimestamp(t).astimezone().strftime("%Y-%m-%d %H:%M %Z")


def select_rows(only: str | None) -> list[str]:
    if not only:
        return list(ROWS)
    chosen: list[str] = []
    for want in only.split(","):
        match = [r for r in ROWS if r == want or r.startswith(want)]
        if not match:
            sys.exit(f"aio.py: no row matches {want!r} (have: {', '.join(ROWS)})")
        chosen += [r for r in match if r not in chosen]
    return chosen


def main(argv: list[str]) -> int:
    if argv[:1] == ["measure"]:
        return measure_main(argv[1:])
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="small sizes, 1 repetition")
    parser.add_argument("--repeat", type=int, help="repetitions per loop (default 5; quick 1)")
    parser.add_argument("--only", help="comma-separated rows (a prefix matches: echo)")
    parser.add_argument(
        "--out", help="report path without suffix (default docs/benchmarks; quick: a temporary directory)"
    )
    parser.add_argument("--json", help="also write every measurement to this JSON file")
    parser.add_argument("--no-pin", action="store_true", help="fd rows: do not pin server and load generator")
    parser.add_argument(
        "--default-malloc", action="store_true", help="no fixed glibc malloc thresholds (see MALLOC_TUNABLES)"
    )
    args = parser.parse_args(argv)
    mode, repeat, out = run_settings(parser, args, ROOT)
    rows = select_rows(args.only)

    started = time.time()
    series, errors = run_all(rows, repeat, mode, args)
    finished = time.time()

    md = out.with_suffix(".md")
    old = md.read_text() if md.exists() else ""
    md.write_text(with_section(old, markdown(series, errors, rows, mode, repeat, started, finished, args)))
    if args.json:
        Path(args.json).write_text(
            json.dumps([r for res in series.values() for r in res], indent=1) + "\n"
        )
    print(f"\nwrote the 'asyncio on pyev' section of {md}\n")
    print(f"{'row':18} {'asyncio':>9} {'uvloop':>9} {'pyev.aio':>9}  {'/asyncio':>20}  {'/uvloop':>20}")
    from run import fmt

    for row in rows:
        meds = [fmt(median(series[row, lp])) for lp in LOOPS]
        cols = []
        for peer in ("asyncio", "uvloop"):
            whole, per_rep = ratios(series, row, peer)
            cols.append("-" if whole is None else f"{whole:.2f}x ({min(per_rep):.2f}-{max(per_rep):.2f})")
        print(f"{row:18} {meds[0]:>9} {meds[1]:>9} {meds[2]:>9}  {cols[0]:>20}  {cols[1]:>20}")
    print()
    for v in verdicts(series, rows):
        print(f"  {v.row:18} {v.target:24} {v.actual:>7}  {v.state.strip('*')}")
    failures = sum(len(e) for e in errors.values())
    if failures:
        print(f"{failures} measurement(s) failed: see {md}")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
