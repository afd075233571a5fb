"""Internal event sources: the kernel mechanisms behind Async, Signal,
Child, Stat and Tree, each with a native form and a portable fallback, and
the list of a loop's active Embed watchers.

A loop holds each source as a typed member (``Loop._signals``,
``_children``, ``_files``, ``_trees``, ``_embeds``), made by the first start of one of
its watchers and kept until the loop closes. A source keeps its own
per-watcher state (which watchers it has, and e.g. the inotify watches each
Stat holds); the loop asks every source only what ``Source`` declares, in
one place (``Loop._open_sources``). The wake-up (``wakeup.py``) is not one
of them: it has no watchers of its own, and the C core reads it.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Protocol

if TYPE_CHECKING:
    from .._watchers.base import Watcher


class Source(Protocol):
    """What a loop calls on each of its event sources."""

    def active_watchers(self) -> Sequence[Watcher]:
        """A snapshot of the source's active watchers: ``verify()`` counts
        them, and ``close()`` stops each (which removes it from the source)."""

    def after_fork(self) -> None:
        """In a forked child, while the loop is rebuilt: replace what the
        source shares with the parent (a signalfd, an inotify fd, the
        signal pipe)."""

    def close(self) -> None:
        """Release this process' fds and subscriptions. Called when the loop
        closes (after its watchers were stopped) and when an unclosed loop is
        collected (with watchers still listed). The loop closes its backend
        right after, so kernel registrations need not be undone one by one."""
