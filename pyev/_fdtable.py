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
  F1. Every watcher in ``slots[fd].watchers`` is an active Io with that fd,
      on this loop, listed once.
  F2. ``slots[fd].kmask`` is what the backend was last told for fd.
  F3. A slot is in ``changes`` iff its ``dirty`` flag is set.
  F4. A slot with no watchers and kmask 0 is dirty or gone.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from ._backends import BackendImpl

if TYPE_CHECKING:
    from ._watchers.io import Io


class FdSlot:
    __slots__ = ("watchers", "kmask", "dirty", "reopened")

    def __init__(self) -> None:
        # A tuple, replaced on change: smaller than a list (memory_io
        # benchmark), and the poll may iterate it while callbacks change it.
        self.watchers: tuple[Io, ...] = ()
        self.kmask = 0
        self.dirty = False
        self.reopened = True


class FdTable:
    __slots__ = ("slots", "changes", "backend")

    def __init__(self, backend: BackendImpl) -> None:
        self.slots: dict[int, FdSlot] = {}
        self.changes: list[int] = []
        self.backend = backend

    def add(self, w: Io) -> None:
        fd = w._fd
        slot = self.slots.get(fd)
        if slot is None:
            slot = self.slots[fd] = FdSlot()
        elif not slot.watchers:
            slot.reopened = True
        slot.watchers += (w,)
        if not slot.dirty:
            slot.dirty = True
            self.changes.append(fd)

    def remove(self, w: Io) -> None:
        fd = w._fd
        slot = self.slots[fd]
        slot.watchers = tuple(x for x in slot.watchers if x is not w)
        if not slot.dirty:
            slot.dirty = True
            self.changes.append(fd)

    def touch(self, fd: int) -> None:
        slot = self.slots[fd]
        if not slot.dirty:
            slot.dirty = True
            self.changes.append(fd)

    def flush(self) -> list[int]:
        """Push pending changes to the backend; return fds it refused."""
        failed: list[int] = []
        slots = self.slots
        backend = self.backend
        for fd in self.changes:
            slot = slots[fd]
            slot.dirty = False
            want = 0
            for w in slot.watchers:
                want |= w._events
            if want != slot.kmask or (slot.reopened and want):
                try:
                    backend.modify(fd, slot.kmask, want, slot.reopened)
                except OSError:
                    slot.kmask = 0
                    failed.append(fd)
                    continue
                slot.kmask = want
            slot.reopened = False
            if not slot.watchers and not slot.kmask:
                del slots[fd]
        self.changes.clear()
        return failed

    def reregister_all(self) -> None:
        """After fork: make every slot register afresh at the next flush."""
        for fd, slot in self.slots.items():
            if slot.kmask and not any(w._events for w in slot.watchers):
                # Nothing wants it any more: the rebuilt kernel set must not keep it.
                try:
                    self.backend.modify(fd, slot.kmask, 0, False)
                except OSError:
                    pass
            slot.kmask = 0
            slot.reopened = True
            if not slot.dirty:
                slot.dirty = True
                self.changes.append(fd)

    def verify(self, loop: object) -> None:
        for fd, slot in self.slots.items():
            seen = set()
            for w in slot.watchers:
                assert w._fd == fd, f"Io watcher for fd {w._fd} listed under fd {fd} (F1)"
                assert w._active and w._loop is loop, f"inactive Io watcher listed under fd {fd} (F1)"
                assert id(w) not in seen, f"Io watcher listed twice under fd {fd} (F1)"
                seen.add(id(w))
            assert slot.dirty == (fd in self.changes), f"fd {fd} dirty flag disagrees with change list (F3)"
            if not slot.watchers and not slot.kmask:
                assert slot.dirty, f"fd {fd} has an empty clean slot (F4)"
        assert len(set(self.changes)) == len(self.changes), "fd listed twice in change list (F3)"
