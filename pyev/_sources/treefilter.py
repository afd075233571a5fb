"""Which paths a Tree watcher looks at and reports.

Three layers, applied to every entry under the root (never to the root
itself, which is what the user asked for):

1. **Ignored** (the defaults unless ``default_ignore=False``, plus the
   user's ``ignore`` globs): neither reported nor, for a directory, looked
   into. A pattern without a ``/`` matches the entry's name; one with a
   ``/`` matches its path relative to the root (``build/*.o``).
2. **The user's filter**, when given. Glob patterns (same rules) select the
   paths to report; directories that do not match are still looked into,
   so ``"*.py"`` reports the Python files of the whole tree. A callable
   ``filter(path, is_dir) -> bool`` decides alone: False skips the path,
   and for a directory everything under it.
3. Everything else is reported.

The defaults are what version control, language tooling and editors leave
in a project tree and file-watching tools skip: a change there is never the
user's edit.
"""

from __future__ import annotations

import fnmatch
import re
from collections.abc import Callable, Iterable
from typing import Final

# The verdicts: skip the entry (and what is under it), look into it without
# reporting it, or report it.
SKIP: Final = 0
SILENT: Final = 1
REPORT: Final = 2

DEFAULT_IGNORE: Final[tuple[str, ...]] = (
    # version control
    ".git",
    ".hg",
    ".svn",
    ".bzr",
    "_darcs",
    "CVS",
    # caches, environments and dependencies of language tools
    "__pycache__",
    "*.py[cod]",
    ".mypy_cache",
    ".pytest_cache",
    ".ruff_cache",
    ".hypothesis",
    ".tox",
    ".nox",
    ".venv",
    "node_modules",
    # IDE state
    ".idea",
    # editors' swap, backup, lock and temporary files
    "*.swp",
    "*.swo",
    "*.swx",
    "*~",
    ".#*",
    "#*#",
    "4913",  # vim's probe of whether the directory is writable
    "*.kate-swp",
    "*___jb_tmp___",
    "*___jb_old___",
    ".goutputstream-*",
    ".DS_Store",
)

Judge = Callable[[str, str, bool], int]
UserFilter = Callable[[str, bool], object]


def _compile(patterns: Iterable[str]) -> tuple[re.Pattern[str] | None, re.Pattern[str] | None]:
    """One regex for the name patterns, one for the relative-path patterns."""
    names: list[str] = []
    paths: list[str] = []
    for pattern in patterns:
        (paths if "/" in pattern.strip("/") else names).append(fnmatch.translate(pattern.strip("/")))
    name_re = re.compile("|".join(names)) if names else None
    path_re = re.compile("|".join(paths)) if paths else None
    return name_re, path_re


def check_patterns(what: str, patterns: object) -> tuple[str, ...]:
    """A tuple of glob patterns from a str or an iterable of str."""
    if isinstance(patterns, str):
        patterns = (patterns,)
    if isinstance(patterns, (bytes, bytearray)) or not isinstance(patterns, Iterable):
        raise TypeError(f"{what} must be a glob pattern (str) or an iterable of them, not {type(patterns).__name__}")
    found = tuple(patterns)
    for pattern in found:
        if not isinstance(pattern, str):
            raise TypeError(f"{what} patterns must be str, not {type(pattern).__name__}")
        if not pattern.strip("/") or "\0" in pattern:
            raise ValueError(f"{what} pattern {pattern!r} is empty or contains a NUL character")
    return found


def make_judge(
    root: str, user_filter: tuple[str, ...] | UserFilter | None, ignore: tuple[str, ...], default_ignore: bool
) -> Judge:
    """``judge(name, path, is_dir)`` for the entries under ``root``: SKIP,
    SILENT or REPORT."""
    ignored_name, ignored_path = _compile((DEFAULT_IGNORE if default_ignore else ()) + ignore)
    cut = len(root) + (0 if root.endswith("/") else 1)
    ignore_name = ignored_name.match if ignored_name is not None else None
    ignore_path = ignored_path.match if ignored_path is not None else None

    def ignored(name: str, path: str) -> bool:
        return (ignore_name is not None and ignore_name(name) is not None) or (
            ignore_path is not None and ignore_path(path[cut:]) is not None
        )

    if user_filter is None:
        if ignore_path is None and ignore_name is not None:
            match = ignore_name

            def judge(name: str, path: str, is_dir: bool) -> int:
                return SKIP if match(name) is not None else REPORT

            return judge

        def judge_ignored(name: str, path: str, is_dir: bool) -> int:
            return SKIP if ignored(name, path) else REPORT

        return judge_ignored

    if callable(user_filter):
        decide = user_filter

        def judge_callable(name: str, path: str, is_dir: bool) -> int:
            if ignored(name, path):
                return SKIP
            return REPORT if decide(path, is_dir) else SKIP

        return judge_callable

    wanted_name, wanted_path = _compile(user_filter)
    want_name = wanted_name.match if wanted_name is not None else None
    want_path = wanted_path.match if wanted_path is not None else None

    def judge_globs(name: str, path: str, is_dir: bool) -> int:
        if ignored(name, path):
            return SKIP
        if (want_name is not None and want_name(name) is not None) or (
            want_path is not None and want_path(path[cut:]) is not None
        ):
            return REPORT
        return SILENT if is_dir else SKIP

    return judge_globs
