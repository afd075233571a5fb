"""The binary heap of Periodic watchers (Timers have their own, in C:
``TimerHeap`` in pyev/_c/heap.c, which removes a stopped timer at once).

Entries are ``(deadline, sequence, watcher)`` tuples kept in a plain list
ordered by ``heapq`` (in C). Stopping a watcher does not search the heap: the
watcher forgets its entry (``watcher._entry = None``) and the entry becomes
*dead*; dead entries are skipped when they reach the top and swept out when
they make up over half the heap (and number over 64), so start and stop
stay O(log n) amortised with no Python-level sift (timer churn benchmark).
The hot operations are in C (``HeapBase`` in pyev/_c/heap.c).

Invariants (checked by ``Loop.verify``):
  H1. ``heap`` satisfies the heap property.
  H2. An entry ``e`` is live iff ``e[2]._entry is e``; every active watcher
      of the heap's kind has exactly one live entry.
  H3. ``dead`` equals the number of entries that are not live.
  H4. Sequence numbers are unique, so comparisons never reach the watcher.
"""

from __future__ import annotations

import heapq
from typing import Any

from ._core import HeapBase

Entry = tuple[float, int, Any]


class PeriodicHeap(HeapBase):
    # heap, dead and _seq, and the hot push / forget / next_deadline, are
    # in the C base (pyev/_c/heap.c); the rest stays here.
    __slots__ = ()

    def _sweep(self) -> None:
        self.heap = [e for e in self.heap if e[2]._entry is e]
        heapq.heapify(self.heap)
        self.dead = 0

    def live(self) -> list[Any]:
        """The watchers with a live entry, in no particular order."""
        return [e[2] for e in self.heap if e[2]._entry is e]

    def rebuild(self, entries: list[Entry]) -> None:
        self.heap = entries
        heapq.heapify(entries)
        self.dead = 0

    def verify(self, kind: str) -> None:
        heap = self.heap
        for i in range(1, len(heap)):
            assert heap[(i - 1) // 2] <= heap[i], f"{kind} heap order broken at index {i} (H1)"
        dead = sum(1 for e in heap if e[2]._entry is not e)
        assert dead == self.dead, f"{kind} heap counts {self.dead} dead entries, found {dead} (H3)"
        seqs = [e[1] for e in heap]
        assert len(set(seqs)) == len(seqs), f"{kind} heap has duplicate sequence numbers (H4)"
