"""What the peer-suite harnesses share (cpython_asyncio.py, uvloop_suite.py).

Parent side: each module of a suite runs in a worker process of its own
under a time cap; a worker writes each test's id to a progress file as the
test starts and its outcome as it ends (so that a hang names its test), and
all outcomes to a JSON file at the end. A worker that dies in a test (also
by the per-test cap, ``$PYEV_PEERS_TEST_CAP``) is started again without the
tests that have an outcome (``$PYEV_PEERS_DONE``).
Worker side: a unittest result class that records one outcome per test, and
the skipping of tests named in a table.

Outcomes: pass, fail, error, skip, "excluded" for a test skipped with a
reason that starts with "pyev.aio:" (the harness's EXCLUDE table), and
"timeout" or "crash" for a test its worker died in.
"""

from __future__ import annotations

import concurrent.futures
import faulthandler
import itertools
import json
import os
import pathlib
import subprocess
import sys
import tempfile
import time
import unittest
from collections.abc import Iterator, Mapping
from typing import Any

ROOT = pathlib.Path(__file__).resolve().parent.parent.parent

Results = dict[str, dict[str, Any]]


# -- parent side -------------------------------------------------------------


def run_module(script: pathlib.Path, args: list[str], cap: float, verbose: bool, test_cap: float = 0) -> dict[str, Any]:
    """``python SCRIPT *ARGS RESULT.json PROGRESS`` under ``cap`` seconds,
    each test under ``test_cap`` (``$PYEV_PEERS_TEST_CAP``; 0: no cap).

    A worker that dies in a test (a hang stopped by the per-test cap, or a
    crash) is started again, told (``$PYEV_PEERS_DONE``) to leave out the
    tests that already have an outcome, the dead one included, while the
    module's time lasts."""
    deadline = time.monotonic() + cap
    merged: dict[str, Any] = {"outcomes": {}, "details": {}, "loops": 0, "running": []}
    t0 = time.monotonic()
    timed_out = False
    with tempfile.TemporaryDirectory() as tmp:
        done_file = pathlib.Path(tmp) / "done"
        env = dict(os.environ, PYTHONPATH=os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")])))
        env["PYEV_PEERS_DONE"] = str(done_file)
        env["PYEV_PEERS_TEST_CAP"] = str(test_cap)
        for attempt in itertools.count():
            out = pathlib.Path(tmp) / f"result{attempt}.json"
            progress = pathlib.Path(tmp) / f"progress{attempt}"
            done_file.write_text("".join(t + "\n" for t in merged["outcomes"]))
            cmd = [sys.executable, str(script), *args, str(out), str(progress)]
            try:
                proc = subprocess.run(
                    cmd, env=env, capture_output=True, text=True, timeout=max(1.0, deadline - time.monotonic())
                )
                stderr = proc.stderr
            except subprocess.TimeoutExpired as exc:
                proc = None
                timed_out = True
                stderr = exc.stderr.decode() if isinstance(exc.stderr, bytes) else (exc.stderr or "")
            if verbose and proc is not None and proc.returncode not in (0, 1):
                print(stderr[-3000:], file=sys.stderr)
            if out.exists():
                result = json.loads(out.read_text())
                merged["outcomes"].update(result["outcomes"])
                merged["details"].update(result["details"])
                merged["loops"] += result.get("loops", 0)
                break
            # What the progress file saw: the outcomes so far, and the test
            # that was running (it gets "timeout", or "crash" if the worker died).
            running = []
            lines = progress.read_text().splitlines() if progress.exists() else []
            for line in lines:
                entry = json.loads(line)
                if "done" in entry:
                    merged["outcomes"][entry["done"]] = entry["outcome"]
                elif "start" in entry:
                    running = [entry["start"]]
            running = [t for t in running if t not in merged["outcomes"]]
            # faulthandler's per-test watchdog (Result's test_cap) prints "Timeout (h:mm:ss)!".
            hung = timed_out or "Timeout (" in stderr
            status = proc.returncode if proc else "?"
            why = stderr[-3000:] if stderr.strip() else f"the worker exited with status {status}"
            for test in running:
                merged["outcomes"][test] = "timeout" if hung else "crash"
                merged["details"][test] = why
            merged["running"] += running
            merged["crashed"] = True
            merged["stderr"] = stderr[-3000:]
            if timed_out or not running:
                break  # the module's time is up, or the worker died outside a test
    merged["timed_out"] = timed_out
    merged["elapsed"] = time.monotonic() - t0
    return merged


def drop_done(suite: unittest.TestSuite, strip: str) -> unittest.TestSuite:
    """``suite`` less the tests listed in ``$PYEV_PEERS_DONE`` (see run_module)."""
    path = os.environ.get("PYEV_PEERS_DONE")
    done = set(pathlib.Path(path).read_text().splitlines()) if path and os.path.exists(path) else set()
    if not done:
        return suite
    keep = unittest.TestSuite()
    for test in iter_tests(suite):
        if test.id().removeprefix(strip) not in done:
            keep.addTest(test)
    return keep


def summary(outcomes: Mapping[str, str]) -> dict[str, int]:
    counts: dict[str, int] = {}
    for outcome in outcomes.values():
        counts[outcome] = counts.get(outcome, 0) + 1
    return counts


def totals(results: Results) -> dict[str, int]:
    total: dict[str, int] = {}
    for res in results.values():
        for k, v in summary(res["outcomes"]).items():
            total[k] = total.get(k, 0) + v
    return total


def report(loop: str, module: str, res: dict[str, Any], verbose: bool) -> None:
    counts = summary(res["outcomes"])
    note = ""
    if res["timed_out"]:
        note = " MODULE TIMED OUT"
    elif res.get("crashed"):
        note = " WORKER DIED"
    if note:
        note += f" (in: {res.get('running')})"
    print(f"[{loop}] {module:28s} {res['elapsed']:6.1f}s loops={res.get('loops', '?')} {counts}{note}", flush=True)
    if res.get("crashed") and not res.get("running"):
        # Died outside any test: say why.
        print("      " + (res.get("stderr") or "").strip().replace("\n", "\n      ")[-1500:], flush=True)
    if verbose:
        for test, outcome in sorted(res["outcomes"].items()):
            if outcome not in ("pass", "skip", "excluded"):
                print(f"    {outcome}: {test}")
                detail = res["details"].get(test) or res.get("stderr") or ""
                print("      " + detail.strip().replace("\n", "\n      ")[-1500:])


def run_modules(
    loop: str,
    modules: list[str],
    worker_args: Any,
    script: pathlib.Path,
    cap: float,
    verbose: bool,
    jobs: int = 1,
    slow: frozenset[str] | set[str] = frozenset(),
    test_cap: float = 0,
) -> Results:
    """Every module on ``loop``, ``jobs`` at a time; ``worker_args(module)``
    gives a worker's arguments before the result and progress paths."""
    results = {}
    # Slowest first, so that a parallel run is not left waiting on one.
    order = sorted(modules, key=lambda m: m not in slow)
    with concurrent.futures.ThreadPoolExecutor(max(1, jobs)) as pool:
        done = pool.map(lambda m: (m, run_module(script, worker_args(m), cap, verbose, test_cap)), order)
        for module, res in done:
            results[module] = res
            report(loop, module, res, verbose)
    return {m: results[m] for m in modules}


def only_stock_passes(stock: Results, peer: Results) -> list[str]:
    """``test: outcome`` for each test the baseline passes and pyev.aio does
    not (an excluded test counts as passed; one that never ran is "missing")."""
    missing = []
    for module, res in stock.items():
        got_res = peer[module]
        for test, outcome in res["outcomes"].items():
            got = got_res["outcomes"].get(test, "missing")
            if outcome == "pass" and got not in ("pass", "excluded"):
                missing.append(f"{test}: {got}")
    return missing


# -- worker side -------------------------------------------------------------


class Result(unittest.TextTestResult):
    """One outcome per test id (less ``strip``), and a progress file."""

    def __init__(self, *args: Any, progress: str, strip: str, test_cap: float = 0, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._test_cap = test_cap
        self.outcomes: dict[str, str] = {}
        self.details: dict[str, str] = {}
        self._strip = strip
        self._progress = open(progress, "a", buffering=1)  # noqa: SIM115

    def _key(self, test: Any) -> str:
        name = test.id() if hasattr(test, "id") else str(test)
        return str(name).removeprefix(self._strip)

    def startTest(self, test: unittest.TestCase) -> None:
        self._progress.write(json.dumps({"start": self._key(test)}) + "\n")
        if self._test_cap:
            # A test that hangs: dump every thread's stack and exit (the
            # parent reports the test as "timeout" and keeps the outcomes so far).
            faulthandler.dump_traceback_later(self._test_cap, exit=True)
        super().startTest(test)

    def stopTest(self, test: unittest.TestCase) -> None:
        super().stopTest(test)
        if self._test_cap:
            faulthandler.cancel_dump_traceback_later()
        key = self._key(test)
        if key in self.outcomes:
            self._progress.write(json.dumps({"done": key, "outcome": self.outcomes[key]}) + "\n")

    def addSuccess(self, test: unittest.TestCase) -> None:
        super().addSuccess(test)
        self.outcomes.setdefault(self._key(test), "pass")

    def addFailure(self, test: unittest.TestCase, err: Any) -> None:
        super().addFailure(test, err)
        self.outcomes[self._key(test)] = "fail"
        self.details[self._key(test)] = self.failures[-1][1]

    def addError(self, test: unittest.TestCase, err: Any) -> None:
        super().addError(test, err)
        key = self._key(test)
        self.outcomes[key] = "error"
        self.details[key] = self.errors[-1][1]

    def addSkip(self, test: unittest.TestCase, reason: str) -> None:
        super().addSkip(test, reason)
        self.outcomes[self._key(test)] = "excluded" if reason.startswith("pyev.aio:") else "skip"

    def addExpectedFailure(self, test: unittest.TestCase, err: Any) -> None:
        super().addExpectedFailure(test, err)
        self.outcomes[self._key(test)] = "pass"

    def addUnexpectedSuccess(self, test: unittest.TestCase) -> None:
        super().addUnexpectedSuccess(test)
        self.outcomes[self._key(test)] = "fail"

    def addSubTest(self, test: unittest.TestCase, subtest: Any, err: Any) -> None:
        super().addSubTest(test, subtest, err)
        if err is not None:
            key = self._key(test)
            failed = issubclass(err[0], test.failureException)
            self.outcomes[key] = "fail" if failed else "error"
            self.details[key] = self._exc_info_to_string(err, test)  # type: ignore[attr-defined]


def iter_tests(suite: unittest.TestSuite) -> Iterator[Any]:
    for t in suite:
        if isinstance(t, unittest.TestSuite):
            yield from iter_tests(t)
        else:
            yield t


def skip_listed(suite: unittest.TestSuite, table: Mapping[str, str], prefix: str, strip: str) -> None:
    """Skip each test whose id (less ``strip``) is a key of ``table`` or
    starts with a key and a dot, with reason ``PREFIX: table[key]``."""
    for test in iter_tests(suite):
        key = test.id().removeprefix(strip)
        for pattern, reason in table.items():
            if key == pattern or key.startswith(pattern + "."):
                method = getattr(test, test._testMethodName)
                skipped = unittest.skip(f"{prefix}: {reason}")(method)
                setattr(test, test._testMethodName, skipped)


def run_suite(suite: unittest.TestSuite, progress: str, strip: str) -> Any:
    """Run ``suite`` in this process; the result has ``outcomes`` and
    ``details``. A test that takes longer than ``$PYEV_PEERS_TEST_CAP``
    seconds (if set and not 0) makes the process dump its stacks and exit."""
    test_cap = float(os.environ.get("PYEV_PEERS_TEST_CAP") or 0)
    runner = unittest.TextTestRunner(
        stream=sys.stderr,
        verbosity=0,
        resultclass=lambda *a, **k: Result(*a, progress=progress, strip=strip, test_cap=test_cap, **k),
    )
    return runner.run(suite)


def write_result(out: str, result: Any, **extra: Any) -> None:
    with open(out, "w") as f:
        json.dump({"outcomes": result.outcomes, "details": result.details, **extra}, f)
