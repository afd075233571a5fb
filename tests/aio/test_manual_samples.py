"""Every ```python sample of docs/asyncio.md runs, as a program of its own,
and prints what the ```text block right after it (if any) shows.

A sample whose first line is "# Python 3.N+" is skipped on older Pythons.
"""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

MANUAL = Path(__file__).resolve().parents[2] / "docs" / "asyncio.md"
FENCE = re.compile(r"^```(\w*)\n(.*?)^```\n", re.MULTILINE | re.DOTALL)
NEEDS = re.compile(r"# Python 3\.(\d+)\+")
SAMPLE_SECONDS = 30


def samples() -> list[tuple[int, str, str | None]]:
    """(line number, code, expected stdout or None) for each python block."""
    text = MANUAL.read_text()
    blocks = [(text.count("\n", 0, m.start()) + 1, m[1], m[2], m.end()) for m in FENCE.finditer(text)]
    found = []
    for i, (line, lang, body, end) in enumerate(blocks):
        if lang != "python":
            continue
        expected = None
        if i + 1 < len(blocks):
            next_line, next_lang, next_body, _ = blocks[i + 1]
            between = text[end : text.index("```", end)]
            if next_lang == "text" and not between.strip():
                expected = next_body
        found.append((line, body, expected))
    return found


SAMPLES = samples()


def test_the_manual_has_samples_with_their_output() -> None:
    assert len(SAMPLES) >= 10
    assert sum(expected is not None for _, _, expected in SAMPLES) >= 8


@pytest.mark.parametrize(("line", "code", "expected"), SAMPLES, ids=[f"line{line}" for line, _, _ in SAMPLES])
def test_a_sample_of_the_asyncio_manual_runs_and_prints_what_it_shows(
    line: int, code: str, expected: str | None, tmp_path: Path
) -> None:
    needs = NEEDS.match(code)
    if needs and sys.version_info < (3, int(needs[1])):
        # The manual marks it "# Python 3.N+": it uses an asyncio feature
        # (asyncio.run's loop_factory, IsolatedAsyncioTestCase.loop_factory)
        # this interpreter does not have; tools/pythons.sh runs it on 3.12 and 3.13.
        pytest.skip(f"the sample uses an asyncio feature new in Python 3.{needs[1]}")
    script = tmp_path / f"sample_line{line}.py"
    script.write_text(code)
    result = subprocess.run(
        [sys.executable, str(script)], capture_output=True, text=True, timeout=SAMPLE_SECONDS, cwd=tmp_path
    )
    assert result.returncode == 0, result.stderr
    if expected is not None:
        assert result.stdout == expected, result.stderr
