"""``python -m pyev``: the version, the backends and the kernel features in use."""

from __future__ import annotations

import os
import platform
import sys

import pyev as ev

from . import _linux
from ._sources import children


def _feature(name: str, available: bool, note: str) -> str:
    return f"  {name:<9} {'yes' if available else 'no ':<4} {note}"


def report() -> str:
    supported = ev.supported_backends()
    recommended = ev.recommended_backends()
    with ev.Loop() as loop:
        chosen = loop.backend
    lines = [
        f"pyev {ev.__version__} on Python {platform.python_version()}, {platform.system()} {platform.release()}",
        f"supported backends:   {', '.join(b.name or '' for b in ev.Backend if b in supported)}",
        f"recommended backends: {', '.join(b.name or '' for b in ev.Backend if b in recommended)}",
        f"Loop() uses:          {chosen.name}",
        "kernel features (used by default; Loop(signalfd=False, inotify=False) forces the fallbacks):",
        _feature("epoll", _linux.AVAILABLE, "the EPOLL backend (cffi)"),
        _feature("signalfd", _linux.AVAILABLE, "Signal watchers, while the loop polls"),
        _feature("inotify", _linux.AVAILABLE, "Stat watchers (else polling)"),
        _feature("pidfd", children.USE_PIDFD, "Child watchers with pid > 0 (else SIGCHLD + waitpid)"),
        _feature("eventfd", hasattr(os, "eventfd"), "the wake-up fd of Async.send"),
    ]
    return "\n".join(lines)


def main() -> int:
    print(report())
    return 0


if __name__ == "__main__":
    sys.exit(main())
