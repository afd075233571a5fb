"""asyncio's reader/writer table on pyev Io watchers, and the selector view.

asyncio keeps, per fd, a (reader, writer) pair of Handles in its selector's
key data, and the selector's mask follows the pair. Here the pair lives in
an ``FdEntry`` and the mask is the ``events`` of one ``Io`` watcher per fd,
changed in place (pyev defers the change to its next poll, so add/remove
churn within one iteration costs no system call).

``SelectorView`` is what transports still read of ``loop._selector``:
``get_key``/``get_map`` for their ``__repr__`` (``_test_selector_event``),
and ``close()`` from ``BaseSelectorEventLoop.close``.
"""

from __future__ import annotations

import selectors
from collections.abc import Iterator, Mapping
from typing import TYPE_CHECKING, Any

from .. import READ, WRITE, Io

if TYPE_CHECKING:
    from asyncio import Handle


def fileobj_to_fd(fileobj: Any) -> int:
    """selectors' own conversion (and error texts): an int or ``fileno()``."""
    if isinstance(fileobj, int):
        fd = fileobj
    else:
        try:
            fd = int(fileobj.fileno())
        except (AttributeError, TypeError, ValueError):
            raise ValueError(f"Invalid file object: {fileobj!r}") from None
    if fd < 0:
        raise ValueError(f"Invalid file descriptor: {fd}")
    return fd


class FdEntry:
    """One fd's asyncio handles and the Io watcher that serves them."""

    __slots__ = ("fileobj", "fd", "reader", "writer", "io")

    def __init__(self, fileobj: Any, fd: int, io: Io) -> None:
        self.fileobj = fileobj
        self.fd = fd
        self.reader: Handle | None = None
        self.writer: Handle | None = None
        self.io = io

    @property
    def mask(self) -> int:
        return (READ if self.reader is not None else 0) | (WRITE if self.writer is not None else 0)

    def key(self) -> selectors.SelectorKey:
        return selectors.SelectorKey(self.fileobj, self.fd, self.mask, (self.reader, self.writer))


class _KeyMap(Mapping[Any, selectors.SelectorKey]):
    def __init__(self, fds: dict[int, FdEntry]) -> None:
        self._fds = fds

    def __len__(self) -> int:
        return len(self._fds)

    def __iter__(self) -> Iterator[Any]:
        return (entry.fileobj for entry in list(self._fds.values()))

    def __getitem__(self, fileobj: Any) -> selectors.SelectorKey:
        try:
            return self._fds[fileobj_to_fd(fileobj)].key()
        except (KeyError, ValueError):
            raise KeyError(f"{fileobj!r} is not registered") from None


class SelectorView:
    """The read-only part of a selector that asyncio's transports use."""

    def __init__(self, fds: dict[int, FdEntry]) -> None:
        self._map = _KeyMap(fds)

    def get_key(self, fileobj: Any) -> selectors.SelectorKey:
        return self._map[fileobj]

    def get_map(self) -> Mapping[Any, selectors.SelectorKey]:
        return self._map

    def close(self) -> None:
        pass  # the Io watchers are the loop's; EventLoop.close stops them
