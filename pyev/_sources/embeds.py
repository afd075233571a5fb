"""A loop's active Embed watchers.

An Embed is built from an Io, a Prepare and a Fork on the embedding loop
(pyev/_watchers/embed.py), which the loop already counts and stops. The
Embed itself is listed here, so that ``verify()`` counts it and ``close()``
stops it like any other watcher.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from .._watchers.embed import Embed


class EmbedSource:
    """The active Embed watchers of one loop."""

    __slots__ = ("watchers",)

    def __init__(self) -> None:
        self.watchers: list[Embed] = []

    def add(self, w: Embed) -> None:
        self.watchers.append(w)

    def remove(self, w: Embed) -> None:
        if w in self.watchers:
            self.watchers.remove(w)

    # -- loop life cycle --

    def active_watchers(self) -> list[Embed]:
        return list(self.watchers)

    def after_fork(self) -> None:
        pass  # each Embed's Fork watcher passes the fork on

    def close(self) -> None:
        self.watchers.clear()
