#!/usr/bin/env python3
"""Cold overhead against flake8-bugbear's, in paired rounds (this machine's speed drifts).

    .venv/bin/python benchmarks/paired.py django-oscar --rounds 12

``run.py`` measures every configuration a few times in a row; on this shared
2-core machine the CPU time of one command drifts by 10-15% within minutes,
more than the difference it is asked to judge.  Here every round runs plain
flake8, flake8 with bugbear and flake8 with this plugin on a cold index (the
``run.py`` environments and command lines, ``--jobs=2``) in a shuffled order,
and the overheads are compared within the round.  Prints each round, the
median overheads over plain flake8 and the median of ``cold - bugbear`` per
round, with how many rounds the plugin was the cheaper of the two, for CPU
time and for wall time.
"""

from __future__ import annotations

import argparse
import os
import random
import resource
import shutil
import statistics
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
from projects import by_name  # noqa: E402
from run import CACHE_DIRNAME, ensure_envs, lint_command  # noqa: E402

CONFIGS = {"plain": "plain", "bugbear": "bugbear", "cold": "ormreview"}


def measure(command: list[str], cwd: str) -> dict[str, float]:
    """User + system time of ``command`` and every process it reaped, and its wall time."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    started = time.perf_counter()
    subprocess.run(command, cwd=cwd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=False)
    wall = time.perf_counter() - started
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    return {"CPU": (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime), "wall": wall}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("project", help="one of benchmarks/projects.py")
    parser.add_argument("--rounds", type=int, default=12)
    parser.add_argument("--jobs", type=int, default=2)
    args = parser.parse_args()
    project = by_name([args.project])[0]
    ensure_envs()
    order = random.Random(20261128)
    rounds = []
    for number in range(1, args.rounds + 1):
        measured = {}
        for config in order.sample(list(CONFIGS), len(CONFIGS)):
            if config == "cold":
                shutil.rmtree(os.path.join(project.folder, CACHE_DIRNAME), ignore_errors=True)
            measured[config] = measure(lint_command(CONFIGS[config], project, args.jobs), project.folder)
        rounds.append(measured)
        print(f"round {number}: " + ", ".join(f"{name} {times['CPU']:.2f} s CPU, {times['wall']:.2f} s wall"
                                             for name, times in measured.items()), flush=True)
    for clock in ("CPU", "wall"):
        bugbear = statistics.median(r["bugbear"][clock] - r["plain"][clock] for r in rounds)
        cold = statistics.median(r["cold"][clock] - r["plain"][clock] for r in rounds)
        paired = [r["cold"][clock] - r["bugbear"][clock] for r in rounds]
        cheaper = sum(difference <= 0 for difference in paired)
        print(f"{project.name}, --jobs={args.jobs}, {len(rounds)} rounds, {clock} s over plain flake8 (median): "
              f"bugbear {bugbear:+.2f}, flake8-ormreview cold {cold:+.2f}; "
              f"cold - bugbear per round: median {statistics.median(paired):+.2f}, plugin cheaper in {cheaper} of {len(rounds)}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
