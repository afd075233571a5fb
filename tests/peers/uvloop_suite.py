"""Run uvloop's own test suite, its asyncio classes, on stock asyncio and on pyev.aio.

    python tests/peers/uvloop_suite.py -j2                  # both loops, and the difference
    python tests/peers/uvloop_suite.py --loop pyev -v       # pyev.aio only, with failures
    python tests/peers/uvloop_suite.py -m test_tcp -m test_udp
    python tests/peers/uvloop_suite.py --install-deps       # pip install what is missing first

The suite is the ``tests/`` folder of the sdist of the installed uvloop
version, fetched at run time with ``pip download --no-deps --no-binary
:all:`` and unpacked into a cache outside the repository
(``$PYEV_PEERS_CACHE``, else ``~/.cache/pyev-peers``); ``--sdist`` (or
``$PYEV_UVLOOP_SDIST``) names a downloaded sdist or an unpacked one instead.
uvloop must be installed (the suite's ``_testbase`` imports it), and so must
what its modules import: psutil, pyOpenSSL, and aiohttp (else its tests
skip). ``pip install -e '.[peers]'`` installs them all.

Only the classes deriving from ``uvloop._testbase.AIOTestCase`` run (the
``Test_AIO_*`` ones): once as they are, on stock asyncio (the baseline), and
once on pyev.aio. The suite's files are never edited; only the loop is
chosen, from the worker: ``AIOTestCase.new_loop`` returns a pyev.aio loop,
the default policy's loop factory does too (for ``asyncio.new_event_loop()``
inside tests), test_signals' ``NEW_LOOP`` (code for a child interpreter)
builds one, and ``is_asyncio_loop()`` answers True, as pyev.aio runs
asyncio's own transports.

Tests that assert asyncio internals pyev.aio replaces are in EXCLUDE, each
with its reason; they are skipped for pyev.aio only. The exit status is 1 if
a test that passes on stock asyncio does not on pyev.aio.

Each module runs in its own process under a time cap (``--cap``), each test
under ``--test-cap``; a module that hits either is reported with the test
that was running.
"""

from __future__ import annotations

import argparse
import importlib.metadata
import importlib.util
import json
import os
import pathlib
import shutil
import subprocess
import sys
import tarfile
import tempfile
import time
from typing import Any

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent))
import _peerlib  # noqa: E402

HERE = pathlib.Path(__file__).resolve().parent

# Import name -> requirement: what the suite's AIO modules import.
DEPS = {"uvloop": "uvloop>=0.19", "psutil": "psutil", "OpenSSL": "pyOpenSSL", "aiohttp": "aiohttp"}

# The longest-running modules, started first by a parallel run.
SLOW = {"test_tcp", "test_process", "test_unix", "test_signals", "test_context"}

# Test id suffix ("test_tcp.Test_AIO_TCP.test_x", or a class) -> why
# pyev.aio is not expected to pass it. Skipped for pyev.aio only.
EXCLUDE: dict[str, str] = {}

# Tests the harness cannot run on either loop. Skipped for both.
HARNESS_SKIP: dict[str, str] = {}


# -- the suite ---------------------------------------------------------------


def _cache_dir(arg: str | None) -> pathlib.Path:
    if arg:
        return pathlib.Path(arg)
    if os.environ.get("PYEV_PEERS_CACHE"):
        return pathlib.Path(os.environ["PYEV_PEERS_CACHE"])
    base = os.environ.get("XDG_CACHE_HOME") or os.path.expanduser("~/.cache")
    return pathlib.Path(base) / "pyev-peers"


def _unpack_tests(sdist: pathlib.Path, dest: pathlib.Path) -> None:
    """The ``tests/`` folder of the sdist tarball ``sdist``, as ``dest/tests``."""
    dest.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=dest) as tmp, tarfile.open(sdist) as tar:
        members = [m for m in tar.getmembers() if m.name.split("/")[1:2] == ["tests"]]
        if not members:
            raise SystemExit(f"{sdist}: no tests/ folder in it")
        if hasattr(tarfile, "data_filter"):
            tar.extractall(tmp, members=members, filter="data")
        else:  # pragma: no cover (Python before 3.11.4)
            tar.extractall(tmp, members=members)
        top = members[0].name.split("/")[0]
        if (dest / "tests").exists():
            shutil.rmtree(dest / "tests")
        os.replace(pathlib.Path(tmp) / top / "tests", dest / "tests")


def _suite_root(version: str, sdist: str | None, cache: pathlib.Path) -> pathlib.Path:
    """A folder holding uvloop's ``tests`` package, for ``version``."""
    sdist = sdist or os.environ.get("PYEV_UVLOOP_SDIST")
    if sdist:
        path = pathlib.Path(sdist).resolve()
        if path.is_dir():
            if not (path / "tests").is_dir():
                raise SystemExit(f"{path}: no tests/ folder in it")
            return path
        root = cache / f"uvloop-from-{path.name}"
        _unpack_tests(path, root)
        return root
    root = cache / f"uvloop-{version}"
    if (root / "tests" / "__init__.py").exists():
        return root
    with tempfile.TemporaryDirectory() as tmp:
        cmd = [sys.executable, "-m", "pip", "download", "-q", "--no-deps", "--no-binary", ":all:"]
        cmd += ["-d", tmp, f"uvloop=={version}"]
        print("fetching the suite:", " ".join(cmd[2:]), flush=True)
        subprocess.run(cmd, check=True)
        (tarball,) = pathlib.Path(tmp).glob("uvloop-*.tar.gz")
        _unpack_tests(tarball, root)
    return root


def _modules(root: pathlib.Path) -> list[str]:
    """The suite's modules that have asyncio classes."""
    files = sorted((root / "tests").glob("test_*.py"))
    return [p.stem for p in files if "AIOTestCase" in p.read_text(encoding="utf-8")]


def _check_deps(install: bool) -> str:
    """uvloop's version; with ``install``, pip-installs what is missing first."""
    missing = [req for name, req in DEPS.items() if importlib.util.find_spec(name) is None]
    if missing and install:
        subprocess.run([sys.executable, "-m", "pip", "install", "-q", *missing], check=True)
        importlib.invalidate_caches()
        missing = [req for name, req in DEPS.items() if importlib.util.find_spec(name) is None]
    if any(req.startswith("uvloop") for req in missing):
        raise SystemExit("uvloop is not installed: pip install -e '.[peers]' (or run with --install-deps)")
    if missing:
        print(f"warning: not installed: {', '.join(missing)} (their modules fail or skip on both loops)")
    return importlib.metadata.version("uvloop")


# -- running -----------------------------------------------------------------


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--loop", choices=("both", "stock", "pyev"), default="both")
    ap.add_argument("-m", "--module", action="append", help="run only these modules (test_tcp, ...)")
    ap.add_argument("-j", "--jobs", type=int, default=1, help="modules run at once (default 1)")
    ap.add_argument("--cap", type=float, default=300.0, help="seconds per module process (default 300)")
    ap.add_argument("--test-cap", type=float, default=60.0, help="seconds per test (default 60; 0: none)")
    ap.add_argument("-v", "--verbose", action="store_true", help="print failures")
    ap.add_argument("--json", help="write all outcomes here")
    ap.add_argument("--sdist", help="uvloop sdist (.tar.gz) or unpacked sdist folder to take tests/ from")
    ap.add_argument("--cache", help="where the suite is kept (default $PYEV_PEERS_CACHE or ~/.cache/pyev-peers)")
    ap.add_argument("--install-deps", action="store_true", help="pip install uvloop and the suite's imports if missing")
    args = ap.parse_args()

    version = _check_deps(args.install_deps)
    root = _suite_root(version, args.sdist, _cache_dir(args.cache))
    modules = args.module or _modules(root)
    py = ".".join(map(str, sys.version_info[:3]))
    print(f"Python {py}, uvloop {version}, suite {root / 'tests'}", flush=True)

    loops = ["stock", "pyev"] if args.loop == "both" else [args.loop]
    all_results: dict[str, _peerlib.Results] = {}
    for loop in loops:
        t0 = time.monotonic()

        def worker_args(module: str, loop: str = loop) -> list[str]:
            return [loop, str(root), module]

        worker = HERE / "_uvloop_worker.py"
        all_results[loop] = _peerlib.run_modules(
            loop, modules, worker_args, worker, args.cap, args.verbose, args.jobs, SLOW, args.test_cap
        )
        print(f"[{loop}] total {_peerlib.totals(all_results[loop])} in {time.monotonic() - t0:.0f}s", flush=True)
    if args.json:
        pathlib.Path(args.json).write_text(json.dumps(all_results, indent=1))
    if args.loop == "both":
        missing = _peerlib.only_stock_passes(all_results["stock"], all_results["pyev"])
        print(f"passed by stock asyncio but not by pyev.aio: {len(missing)}")
        for line in missing:
            print("   ", line)
        return 1 if missing else 0
    res: Any = all_results[loops[0]]
    bad = sum(v for k, v in _peerlib.totals(res).items() if k not in ("pass", "skip", "excluded"))
    hung = [m for m, r in res.items() if r["timed_out"] or r.get("crashed")]
    return 1 if bad or hung else 0


if __name__ == "__main__":
    sys.exit(main())
