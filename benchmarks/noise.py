#!/usr/bin/env python3
"""Count flake8-ormreview findings per code per real project (the noise study).

    python3 benchmarks/fetch_projects.py          # once: the pinned projects
    .venv/bin/python benchmarks/noise.py          # table of findings per code per project
    .venv/bin/python benchmarks/noise.py --sample ORM201 --project wagtail   # the fixed-seed sample

Every project is linted with the real ``flake8`` command line from its
unpacked folder (``--isolated --select=ORM --jobs=2``, the model index rooted
at the project's lint target), exactly as a user would run the plugin.  The
sample of a code is every finding when there are fewer than 20, otherwise 20
drawn with ``random.Random(SEED)`` from the findings sorted by location, so
``docs/noise.md``'s classified samples can be re-drawn.
"""

from __future__ import annotations

import argparse
import collections
import json
import os
import random
import re
import subprocess
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
sys.path.insert(0, HERE)
from projects import Project, by_name  # noqa: E402

RESULTS = os.path.join(HERE, "_results", "noise-findings.json")
SEED = 20261128
SAMPLE_SIZE = 20
FORMAT = "%(path)s:%(row)d:%(col)d: %(code)s %(text)s"
LINE = re.compile(r"^(?P<path>.+?):(?P<row>\d+):(?P<col>\d+): (?P<code>ORM\d{3}) (?P<text>.*)$")


def flake8_command() -> list[str]:
    venv_flake8 = os.path.join(ROOT, ".venv", "bin", "flake8")
    return [venv_flake8] if os.path.exists(venv_flake8) else [sys.executable, "-m", "flake8"]


def source_root(project: Project) -> str:
    """The folder that holds the top-level package, so modules get their import names.

    ``wagtail/`` is itself the package: its root is the project folder (``wagtail.models``),
    while ``src/`` only holds packages (``oscar.apps...``).
    """
    if os.path.exists(os.path.join(project.folder, project.lint_target, "__init__.py")):
        return os.path.dirname(project.lint_target) or "."
    return project.lint_target


def findings(project: Project) -> list[tuple[str, int, int, str, str]]:
    if not os.path.isdir(project.folder):
        raise SystemExit(f"{project.name}: not fetched; run python3 benchmarks/fetch_projects.py")
    command = [*flake8_command(), "--isolated", "--select=ORM", "--jobs=2", f"--format={FORMAT}",
               f"--orm-source-roots={source_root(project)}", project.lint_target]
    run = subprocess.run(command, cwd=project.folder, capture_output=True, text=True)
    if run.returncode not in (0, 1):
        raise SystemExit(f"{project.name}: flake8 failed ({run.returncode}):\n{run.stderr}")
    found = []
    for line in run.stdout.splitlines():
        match = LINE.match(line)
        if match:
            found.append((match["path"], int(match["row"]), int(match["col"]), match["code"], match["text"]))
    return sorted(found)


def save(per_project: dict[str, list], path: str) -> None:
    stored = {}
    if os.path.exists(path):
        with open(path, encoding="utf-8") as saved:
            stored = json.load(saved)
    stored.update(per_project)
    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    with open(path, "w", encoding="utf-8") as out:
        json.dump(stored, out, indent=0)


def sample(items: list, size: int = SAMPLE_SIZE) -> list:
    if len(items) < size:
        return list(items)
    return sorted(random.Random(SEED).sample(items, size))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--project", action="append", help="project name (repeatable; default: all)")
    parser.add_argument("--sample", metavar="CODE", help="print the fixed-seed sample of this code's findings")
    parser.add_argument("--all", metavar="CODE", help="print every finding of this code")
    parser.add_argument("--cached", action="store_true",
                        help=f"reuse the findings the last run saved in {os.path.relpath(RESULTS, ROOT)}")
    parser.add_argument("--results", default=RESULTS, help="where findings are saved and --cached reads them")
    args = parser.parse_args(argv)
    projects = by_name(args.project)
    if args.cached:
        with open(args.results, encoding="utf-8") as saved:
            stored = json.load(saved)
        per_project = {p.name: [tuple(f) for f in stored[p.name]] for p in projects}
    else:
        per_project = {project.name: findings(project) for project in projects}
        save(per_project, args.results)
    if args.sample or args.all:
        code = args.sample or args.all
        for name, found in per_project.items():
            of_code = [f for f in found if f[3] == code]
            chosen = sample(of_code) if args.sample else of_code
            print(f"## {name}: {code} {len(chosen)} of {len(of_code)}")
            for path, row, col, _, text in chosen:
                print(f"{path}:{row}:{col}: {text}")
        return 0
    counts = {name: collections.Counter(f[3] for f in found) for name, found in per_project.items()}
    codes = sorted(set().union(*counts.values()))
    names = list(per_project)
    print("| code | " + " | ".join(names) + " | total |")
    print("|---|" + "---:|" * (len(names) + 1))
    for code in codes:
        row = [counts[name][code] for name in names]
        print(f"| {code} | " + " | ".join(str(n) for n in row) + f" | {sum(row)} |")
    totals = [sum(counts[name].values()) for name in names]
    print("| **all** | " + " | ".join(str(n) for n in totals) + f" | {sum(totals)} |")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
