"""The binary heap shared by Timer and Periodic watchers.

Entries are ``(deadline, sequence, watcher)`` tuples kept in a plain list
ordered by ``heapq`` (in C). Stopping a watcher does not search the heap: the
watcher forgets its entry (``watcher._entry = None``) and the entry becomes
*dead*; dead entries are skipped when they reach the top and swept out when
they make up over half the heap, so start and stop stay O(log n) amortised
with no Python-level sift (timer churn benchmark).

Invariants (checked by ``Loop.verify``):
  H1. ``heap`` satisfies the heap property.
  H2. An entry ``e`` is live iff ``e[2]._entry is e``; every active watcher
      of the heap's kind has exactly one live entry.
  H3. ``dead`` equals the number of entries that are not live.
  H4. Sequence numbers are unique, so comparisons never reach the watcher.
"""

from __future__ import annotations

import heapq
from typing import Any, Final

_SWEEP_MIN: Final = 64  # below this many dead entries sweeping is not worth it
_heappush = heapq.heappush

Entry = tuple[float, int, Any]


class TimerHeap:
    __slots__ = ("heap", "dead", "_seq")

    def __init__(self) -> None:
        self.heap: list[Entry] = []
        self.dead = 0
        self._seq = 0

    def push(self, deadline: float, watcher: Any) -> Entry:
        seq = self._seq = self._seq + 1
        entry = (deadline, seq, watcher)
        _heappush(self.heap, entry)
        return entry

    def forget(self) -> None:
        """Account for one entry whose watcher has just dropped it."""
        dead = self.dead = self.dead + 1
        if dead > _SWEEP_MIN and 2 * dead > len(self.heap):
            self._sweep()

    def _sweep(self) -> None:
        self.heap = [e for e in self.heap if e[2]._entry is e]
        heapq.heapify(self.heap)
        self.dead = 0

    def next_deadline(self) -> float | None:
        heap = self.heap
        while heap:
            top = heap[0]
            if top[2]._entry is top:
                return float(top[0])
            heapq.heappop(heap)
            self.dead -= 1
        return None

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
