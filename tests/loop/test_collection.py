"""An unreferenced loop is collected, with its watchers and its kernel fds,
even while watchers are active and pending."""

from __future__ import annotations

import gc
import os
import weakref
from typing import Any

import pyev as ev


class Sentinel:
    """Watchers do not support weak references; their ``data`` does, and
    it dies with the watcher that holds the only reference to it."""


def noop(w: Any, revents: int) -> None:
    pass


def _open_fds() -> set[str]:
    return set(os.listdir("/proc/self/fd"))


def test_an_unreferenced_loop_with_active_and_pending_watchers_is_collected(backend: ev.Backend) -> None:
    r, w = os.pipe()
    gc.collect()
    fds_before = _open_fds()
    try:
        sentinels = [Sentinel() for _ in range(8)]

        def build() -> weakref.ref[ev.Loop]:
            loop = ev.Loop(backend=backend)

            def on_timer(t: ev.Timer, revents: int) -> None:
                loop.now()  # a cycle through the callback as well

            for k in range(4):
                ev.Timer(10.0 + k, on_timer, data=sentinels[k]).start(loop)
            ev.Timer(5.0, on_timer, repeat=1.0, data=sentinels[4]).start(loop)
            ev.Io(r, ev.READ, noop, data=sentinels[5]).start(loop)
            ev.Idle(noop, data=sentinels[6]).start(loop)
            pending = ev.Timer(-1.0, on_timer, data=sentinels[7]).start(loop)
            pending.feed(ev.CUSTOM)
            loop.run(ev.RUN_NOWAIT)  # the fd table and backend hold the Io now
            pending.feed(ev.CUSTOM)
            assert loop.pending_count == 1
            return weakref.ref(loop)

        ref = build()
        watched = [weakref.ref(s) for s in sentinels]
        del sentinels
        gc.collect()
        assert ref() is None
        assert [x() for x in watched] == [None] * 8
        # The loop's kernel objects went with it.
        assert _open_fds() == fds_before
    finally:
        os.close(r)
        os.close(w)
