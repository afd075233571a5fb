"""fd -> Io watchers, and the interest changes waiting for the kernel.

Watchers change interest by marking their fd dirty; ``flush`` tells the
backend once per iteration, right before polling ("defer, then flush"), so
``Io.events`` may be changed at any time and a stop+start within one
iteration costs no system call.

A slot whose watcher list became empty may be closed and its number reused
by a new file before the next flush; the first start on an empty slot marks
it ``reopened`` so that the backend registers the fd afresh instead of
trusting its cached registration.

Invariants (checked by ``Loop.verify``):
  F1. Every watcher in slot fd's watchers is an active Io with that fd,
      on this loop, listed once.
  F2. Slot fd's ``kmask`` is what the backend was last told for fd.
  F3. A slot is in ``changes`` iff its ``dirty`` flag is set.
  F4. A slot with no watchers and kmask 0 is dirty or gone.
"""

from __future__ import annotations

from typing import Any

from ._core import FdTableBase

__all__ = ["FdTable"]


class FdTable(FdTableBase):
    """The table itself is C (FdTableBase in pyev/_c/fdtable.c: an array indexed
    by fd, memory_io benchmark); ``verify`` stays here."""

    __slots__ = ()

    def verify(self, loop: Any) -> None:
        changes = self.changes
        for fd, watchers, kmask, dirty, _reopened in self.snapshot():
            seen = set()
            for w in watchers:
                assert w._fd == fd, f"Io watcher for fd {w._fd} listed under fd {fd} (F1)"
                assert w._active and w._loop is loop, f"inactive Io watcher listed under fd {fd} (F1)"
                assert id(w) not in seen, f"Io watcher listed twice under fd {fd} (F1)"
                seen.add(id(w))
            assert dirty == (fd in changes), f"fd {fd} dirty flag disagrees with change list (F3)"
            if not watchers and not kmask:
                assert dirty, f"fd {fd} has an empty clean slot (F4)"
        assert len(set(changes)) == len(changes), "fd listed twice in change list (F3)"
