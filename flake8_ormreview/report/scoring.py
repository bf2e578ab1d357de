"""The Performance Score and the four dashboard grades (documented in docs/report.md)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Iterable

from .records import ReportFinding, severity_of

SEVERITY_WEIGHT = {"critical": 5, "major": 2, "minor": 1}
SEVERITY_ORDER = {"critical": 0, "major": 1, "minor": 2}
FLAKE8_FAMILIES = ("E", "W", "F", "C")


def is_performance(code: str) -> bool:
    return code.startswith(("ORM1", "ORM2"))


def performance_score(findings: Iterable[ReportFinding], models: int, query_sites: int) -> int:
    """``floor(100 * S / (S + P))``; 100 only without ORM1xx/ORM2xx findings.

    ``P`` is the sum of the findings' severity weights (critical 5, major 2,
    minor 1); ``S = max(1, models + query sites)`` is the amount of ORM code.
    Adding a finding or raising its severity only grows ``P``, so the score
    never goes up; a project with findings is capped at 99.
    """
    penalty = sum(SEVERITY_WEIGHT[severity_of(f.code)] for f in findings if is_performance(f.code))
    if penalty == 0:
        return 100
    size = max(1, models + query_sites)
    return min(99, (100 * size) // (size + penalty))


@dataclass
class Grade:
    letter: str
    counts: dict[str, int]
    worst: ReportFinding | None

    @property
    def summary(self) -> str:
        return ", ".join(f"{self.counts[s]} {s}" for s in ("critical", "major", "minor"))


def grade(findings: list[ReportFinding]) -> Grade:
    """A: nothing; B: only minor; C: major but no critical; D: 1-2 critical; F: 3 or more critical."""
    counts = {"critical": 0, "major": 0, "minor": 0}
    for finding in findings:
        counts[severity_of(finding.code)] += 1
    if counts["critical"] >= 3:
        letter = "F"
    elif counts["critical"]:
        letter = "D"
    elif counts["major"]:
        letter = "C"
    elif counts["minor"]:
        letter = "B"
    else:
        letter = "A"
    worst = (
        min(findings, key=lambda f: (SEVERITY_ORDER[severity_of(f.code)], f.code, f.path, f.cell, f.line, f.col))
        if findings
        else None
    )
    return Grade(letter, counts, worst)


def flake8_counts(findings: Iterable[ReportFinding]) -> dict[str, int]:
    counts = {family: 0 for family in FLAKE8_FAMILIES}
    for finding in findings:
        if finding.code[:1] in counts and not finding.code.startswith("ORM"):
            counts[finding.code[:1]] += 1
    return counts
