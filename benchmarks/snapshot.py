#!/usr/bin/env python3
"""Every finding on the benchmark projects, to prove an optimisation changed nothing.

    .venv/bin/python benchmarks/snapshot.py save before      # before the change
    .venv/bin/python benchmarks/snapshot.py compare before   # after: prints every difference

Runs ``analyze()`` in-process over every ``.py`` file of each project in
``benchmarks/_projects/`` (fetched by ``fetch_projects.py``), with a fresh
index and no cache, and stores ``path:line:col: CODE message`` lines under
``benchmarks/_results/snapshot-<name>-<project>.txt``.  ``compare`` exits 1
when a finding appeared or disappeared.  Also prints the in-process analysis
CPU time per project (index build and per-file analysis), a quick signal
between full ``run.py`` benchmarks.
"""

from __future__ import annotations

import argparse
import ast
import os
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.dirname(HERE))
sys.path.insert(0, HERE)
from projects import PROJECTS  # noqa: E402

PROJECTS_DIR = os.path.join(HERE, "_projects")
RESULTS = os.path.join(HERE, "_results")


def source_files(root: str) -> list[str]:
    found = []
    for dirpath, dirnames, filenames in os.walk(root):
        dirnames[:] = sorted(d for d in dirnames if not d.startswith("."))
        found += [os.path.normpath(os.path.join(dirpath, name)) for name in sorted(filenames) if name.endswith(".py")]
    return found


def cpu_seconds() -> float:
    """This process's CPU time plus that of its reaped children (the index parses in one)."""
    times = os.times()
    return times.user + times.system + times.children_user + times.children_system


def findings_for(project_dir: str) -> tuple[list[str], float, float]:
    from flake8_ormreview.analysis import analyze
    from flake8_ormreview.index import ProjectIndex
    from flake8_ormreview.options import Options

    previous = os.getcwd()
    os.chdir(project_dir)
    try:
        options = Options()
        started = cpu_seconds()
        index = ProjectIndex(roots=list(options.source_roots), cache_dir=None)
        index.ensure_fresh()
        built = cpu_seconds()
        lines = []
        for path in source_files("."):
            try:
                with open(path, encoding="utf-8") as handle:
                    source = handle.read()
                tree = ast.parse(source)
            except (SyntaxError, UnicodeDecodeError, ValueError):
                continue
            for finding in analyze(source, path, index=index, options=options, tree=tree):
                lines.append(f"{path}:{finding.line}:{finding.col}: {finding.code} {finding.message}")
        return lines, built - started, cpu_seconds() - built
    finally:
        os.chdir(previous)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("action", choices=("save", "compare"))
    parser.add_argument("name", help="snapshot name, e.g. 'before'")
    parser.add_argument("projects", nargs="*", help="default: every fetched project")
    args = parser.parse_args()
    sys.setrecursionlimit(10_000)
    os.makedirs(RESULTS, exist_ok=True)
    status = 0
    for project in PROJECTS:
        if args.projects and project.name not in args.projects:
            continue
        project_dir = os.path.join(PROJECTS_DIR, project.name)
        if not os.path.isdir(project_dir):
            print(f"{project.name}: not fetched (run benchmarks/fetch_projects.py)")
            continue
        lines, index_cpu, analysis_cpu = findings_for(project_dir)
        stored = os.path.join(RESULTS, f"snapshot-{args.name}-{project.name}.txt")
        print(f"{project.name}: {len(lines)} findings; CPU s: index {index_cpu:.2f}, analysis {analysis_cpu:.2f}")
        if args.action == "save":
            with open(stored, "w", encoding="utf-8") as handle:
                handle.write("\n".join(lines) + "\n")
            continue
        with open(stored, encoding="utf-8") as handle:
            before = set(handle.read().splitlines()) - {""}
        now = set(lines)
        for line in sorted(before - now):
            print(f"  - {line}")
        for line in sorted(now - before):
            print(f"  + {line}")
        status |= before != now
    return status


if __name__ == "__main__":
    sys.exit(main())
