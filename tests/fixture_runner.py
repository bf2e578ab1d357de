"""Run fixture projects and compare inline ``# error: CODE`` markers with findings.

A fixture is a folder ``tests/fixtures/<CODE>/...`` holding a tiny project.
Every ``.py`` file in it is analysed with an index over that folder, and
findings *of that code* are compared both ways with the markers: a marker that
does not fire fails, and so does a finding on an unmarked line.  An optional
``setup.cfg`` with a ``[flake8]`` section sets the options, as it would for a
real flake8 run.
"""

from __future__ import annotations

import configparser
import os
import re
from argparse import Namespace
from pathlib import Path

from flake8_ormreview.analysis import analyze
from flake8_ormreview.index import ProjectIndex
from flake8_ormreview.options import Options

FIXTURES = Path(__file__).parent / "fixtures"
MARKER = re.compile(r"#\s*error:\s*((?:ORM\d{3}[,\s]*)+)")


def fixture_options(folder: Path) -> Options:
    config = configparser.ConfigParser()
    config.read(folder / "setup.cfg")
    values = {}
    if config.has_section("flake8"):
        for key, value in config.items("flake8"):
            values[key.replace("-", "_")] = value
    return Options.from_namespace(Namespace(**values))


def expected_markers(folder: Path, code: str) -> set[tuple[str, int]]:
    expected = set()
    for path in sorted(folder.rglob("*.py")):
        for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
            match = MARKER.search(line)
            if match and code in re.findall(r"ORM\d{3}", match.group(1)):
                expected.add((str(path.relative_to(folder)), number))
    return expected


def actual_findings(folder: Path, code: str) -> tuple[set[tuple[str, int]], list[str]]:
    options = fixture_options(folder)
    cwd = os.getcwd()
    os.chdir(folder)
    try:
        index = ProjectIndex(["."], cache_dir=None)
        actual, errors = set(), []
        for path in sorted(Path(".").rglob("*.py")):
            rel = str(path)
            for finding in analyze(path.read_text(encoding="utf-8"), rel, index=index, options=options):
                if finding.code == code:
                    actual.add((rel, finding.line))
                if finding.code == "ORM000":
                    errors.append(f"{rel}:{finding.line}: {finding.message}")
        return actual, errors
    finally:
        os.chdir(cwd)


def fixture_codes() -> list[str]:
    return sorted(p.name for p in FIXTURES.iterdir() if p.is_dir() and re.fullmatch(r"ORM\d{3}", p.name))
