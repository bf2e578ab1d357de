#!/usr/bin/env python3
"""The cold index build alone, with one or two extraction children, in alternating fresh processes.

    .venv/bin/python benchmarks/index_build.py django-oscar --rounds 10

Each measurement is a new Python process that imports flake8 and its
default plugins (so the forked children copy a flake8-sized heap), deletes
the project's ``.orm-review-cache/``, then refreshes and resolves the index
and loads the rules, as ``parse_options`` does on a cold run.  It prints the
median wall time and CPU time (this process and its children) per number
of extraction children.  The build runs before flake8 starts its workers,
so its wall time is part of every cold run's.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
from projects import by_name  # noqa: E402

MEASURE = r"""
import os, resource, shutil, sys, time
sys.path.insert(0, sys.argv[3])
import flake8.main.application, pycodestyle, pyflakes.checker  # a flake8-sized heap, as in a real run
import flake8_ormreview.index as index_module
from flake8_ormreview.analysis import prepare

index_module.EXTRACTION_CHILDREN = int(sys.argv[1])
os.chdir(sys.argv[2])
shutil.rmtree(index_module.CACHE_DIRNAME, ignore_errors=True)


def cpu():
    own, children = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + children.ru_utime + children.ru_stime


started_cpu, started = cpu(), time.perf_counter()
index = index_module.ProjectIndex([sys.argv[4]], index_module.CACHE_DIRNAME)
index.while_extracting = prepare
index.ensure_fresh()
prepare()
print(f"{time.perf_counter() - started:.4f} {cpu() - started_cpu:.4f}")
"""


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("project", help="one of benchmarks/projects.py")
    parser.add_argument("--rounds", type=int, default=10)
    args = parser.parse_args()
    project = by_name([args.project])[0]
    checkout = os.path.dirname(HERE)
    samples: dict[int, list[tuple[float, float]]] = {1: [], 2: []}
    for number in range(args.rounds):
        for children in (1, 2) if number % 2 == 0 else (2, 1):
            command = [sys.executable, "-c", MEASURE, str(children), project.folder, checkout, project.lint_target]
            wall, cpu = map(float, subprocess.run(command, check=True, capture_output=True, text=True).stdout.split())
            samples[children].append((wall, cpu))
    for children, measured in samples.items():
        print(f"{project.name}, {children} extraction child{'ren' if children > 1 else ''}, median of {args.rounds}: "
              f"wall {statistics.median(w for w, _ in measured):.3f} s, CPU {statistics.median(c for _, c in measured):.3f} s")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
