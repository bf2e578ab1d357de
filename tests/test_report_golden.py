"""Golden test: the review of the example project, pinned in tests/golden/.

Regenerate after an intended change (new rule, new example code, new report text) with

    UPDATE_GOLDEN=1 python -m pytest tests/test_report_golden.py

and review the diff like code.
"""

from __future__ import annotations

import difflib
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
GOLDEN = ROOT / "tests" / "golden" / "orm-optimization-review-examples.md"
DATE = "2026-01-15"


def review_examples(output: Path) -> str:
    # Exactly what `python3 tools/dev.py review` runs, with a pinned date and another output folder.
    result = subprocess.run(
        [sys.executable, "-m", "flake8_ormreview.cli", "examples", "--output-dir", str(output), "--exit-zero", "--date", DATE],
        cwd=ROOT, capture_output=True, text=True, timeout=600,
    )
    assert result.returncode == 0, result.stderr
    return (output / f"orm-optimization-review-{DATE}.md").read_text(encoding="utf-8")


def test_example_review_matches_golden(tmp_path):
    text = review_examples(tmp_path)
    if os.environ.get("UPDATE_GOLDEN"):
        GOLDEN.parent.mkdir(parents=True, exist_ok=True)
        GOLDEN.write_text(text, encoding="utf-8")
    expected = GOLDEN.read_text(encoding="utf-8")
    diff = "".join(difflib.unified_diff(expected.splitlines(True), text.splitlines(True), "golden", "actual", n=2))
    assert text == expected, "the example review changed (UPDATE_GOLDEN=1 to accept):\n" + diff[:6000]


def test_example_review_is_reproducible(tmp_path):
    assert review_examples(tmp_path / "a") == review_examples(tmp_path / "b")
