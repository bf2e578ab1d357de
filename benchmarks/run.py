#!/usr/bin/env python3
"""Measure what flake8-ormreview costs on real code bases.

    python3 benchmarks/fetch_projects.py        # once: the pinned projects
    .venv/bin/python benchmarks/run.py          # all projects, 3 repeats
    .venv/bin/python benchmarks/run.py django-oscar --repeat 5 --markdown

Three virtualenvs under ``benchmarks/_envs/`` keep the comparison clean:
``plain`` (flake8 only), ``bugbear`` (flake8 + flake8-bugbear) and
``ormreview`` (flake8 + this package, reinstalled from the checkout on every
run).  Every flake8 run uses ``--isolated --jobs=2`` and the same
``--select`` (every plugin's codes on), from the project folder.

Per project and configuration, the median of the repeats of:
- wall time;
- CPU time: user + system of the flake8 process and its reaped worker
  processes (``os.wait4`` rusage);
- peak memory: ``ru_maxrss`` from the same rusage, i.e. the largest single
  process of the tree (main process or a worker), plus, when psutil is
  importable, the largest sum of RSS over the whole tree sampled every 50 ms;
- the plugin three times: cold (``.orm-review-cache/`` deleted first), warm
  (the run right after: index and stored findings reused) and warm index
  only (``.orm-review-cache/findings/`` deleted: every file analysed again,
  as after a plugin upgrade or an options change);
- an editor-style call, ``flake8 - --stdin-display-name <models module>``,
  fed the project's largest models module, with and without the plugin
  (warm), and once more with the plugin fed that module plus one comment line
  (an edited buffer: no stored findings, analysed).

The budget (issue "performance budget"): cold-index overhead no larger than
bugbear's, warm-index overhead at most half of bugbear's, peak memory at most
1.5x plain flake8's, the stdin call at most 1.3x plain flake8's.  The
warm-index-only run and the edited-buffer call are printed against the same
limits, marked "(no budget)".  No unit test is timed; this script is the only place timings are taken.

The overheads are judged per repeat: this shared machine's speed drifts by
10-30% within minutes, more than the differences being judged, so every
repeat runs plain flake8, bugbear and the plugin (cold, then warm, then warm
index) back to back in a shuffled order, and a budget line compares the two
overheads within each repeat.  The "measured" and "limit" columns are the
medians of the overheads over the repeats; the verdict is decided by the
median of the per-repeat difference (the "paired" column), with how many
repeats were within the limit.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import venv
from dataclasses import asdict, dataclass, field

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
ENVS = os.path.join(HERE, "_envs")
RESULTS = os.path.join(HERE, "_results")
sys.path.insert(0, HERE)
from projects import Project, by_name  # noqa: E402

FLAKE8 = "flake8==7.5.0"
BUGBEAR = "flake8-bugbear==26.10.27"
SELECT = "--select=E,W,F,C90,B,ORM"
BASE_ARGS = ["--isolated", SELECT]
CACHE_DIRNAME = ".orm-review-cache"

ENV_PACKAGES = {"plain": [FLAKE8], "bugbear": [FLAKE8, BUGBEAR], "ormreview": [FLAKE8, "setuptools>=64", "wheel"]}

try:
    import psutil  # optional: tree-sum RSS sampling
except ImportError:  # pragma: no cover
    psutil = None


# -- environments ------------------------------------------------------------------------


def env_bin(name: str, tool: str) -> str:
    return os.path.join(ENVS, name, "bin", tool)


def pip(name: str, *args: str) -> None:
    subprocess.check_call([env_bin(name, "python"), "-m", "pip", "install", "--quiet",
                           "--disable-pip-version-check", *args])


def ensure_envs() -> None:
    for name, packages in ENV_PACKAGES.items():
        stamp = os.path.join(ENVS, name, ".benchmark-packages")
        wanted = " ".join(packages)
        if not os.path.exists(env_bin(name, "python")):
            venv.EnvBuilder(with_pip=True, clear=True).create(os.path.join(ENVS, name))
        if not os.path.exists(stamp) or open(stamp).read() != wanted:
            pip(name, *packages)
            with open(stamp, "w") as handle:
                handle.write(wanted)
    # Always the checkout as it is now, not editable (the way users install it),
    # built from a copy so no stale build/ folder leaks old modules in.
    with tempfile.TemporaryDirectory() as scratch:
        copy = os.path.join(scratch, "src")
        shutil.copytree(ROOT, copy, ignore=shutil.ignore_patterns(
            ".git", ".venv", "benchmarks", "build", "dist", "*.egg-info", "__pycache__", ".orm-review-cache"))
        pip("ormreview", "--no-deps", "--force-reinstall", "--no-build-isolation", copy)


# -- measuring ---------------------------------------------------------------------------


@dataclass
class Sample:
    wall: float
    cpu: float
    maxrss_mb: float
    tree_rss_mb: float | None
    output_lines: int


def _tree_rss(pid: int) -> int:
    try:
        process = psutil.Process(pid)
        total = process.memory_info().rss
        for child in process.children(recursive=True):
            try:
                total += child.memory_info().rss
            except psutil.Error:
                pass
        return total
    except psutil.Error:
        return 0


def measure(command: list[str], cwd: str, stdin_path: str | None = None, text: str | None = None) -> Sample:
    """Run ``command`` once in a fresh process; its own and its workers' rusage.

    Its stdin is the file ``stdin_path``, or ``text``, or empty.
    """
    if text is not None:
        with tempfile.NamedTemporaryFile("w", suffix=".py", delete=False, encoding="utf-8") as handle:
            handle.write(text)
        try:
            return measure(command, cwd, handle.name)
        finally:
            os.unlink(handle.name)
    with tempfile.TemporaryFile() as out, open(stdin_path or os.devnull, "rb") as stdin:
        start = time.perf_counter()
        process = subprocess.Popen(command, cwd=cwd, stdin=stdin, stdout=out, stderr=subprocess.STDOUT)
        peak_tree = 0
        stop = threading.Event()

        def sample() -> None:
            nonlocal peak_tree
            while not stop.is_set():
                peak_tree = max(peak_tree, _tree_rss(process.pid))
                stop.wait(0.05)

        sampler = threading.Thread(target=sample, daemon=True) if psutil else None
        if sampler:
            sampler.start()
        _, _, usage = os.wait4(process.pid, 0)
        wall = time.perf_counter() - start
        process.returncode = 0  # reaped by wait4
        stop.set()
        if sampler:
            sampler.join()
        out.seek(0)
        text = out.read().decode("utf-8", "replace")
    if "Traceback" in text:
        raise SystemExit(f"flake8 crashed in {cwd}: {' '.join(command)}\n{text[-3000:]}")
    return Sample(
        wall=wall,
        cpu=usage.ru_utime + usage.ru_stime,
        maxrss_mb=usage.ru_maxrss / 1024,  # Linux: kilobytes
        tree_rss_mb=peak_tree / 2**20 if psutil else None,
        output_lines=text.count("\n"),
    )


@dataclass
class Result:
    samples: list[Sample] = field(default_factory=list)

    def median(self, attribute: str) -> float:
        values = [getattr(s, attribute) for s in self.samples if getattr(s, attribute) is not None]
        return statistics.median(values) if values else float("nan")


CONFIGS = ("plain", "bugbear", "ormreview-cold", "ormreview-warm", "ormreview-warm-index",
           "stdin-plain", "stdin-ormreview", "stdin-ormreview-edited")
FINDINGS_DIRNAME = "findings"  # flake8_ormreview.findings_cache.FINDINGS_DIRNAME


def lint_command(env: str, project: Project, jobs: int) -> list[str]:
    return [env_bin(env, "flake8"), *BASE_ARGS, f"--jobs={jobs}", project.lint_target]


def stdin_command(env: str, project: Project) -> list[str]:
    return [env_bin(env, "flake8"), *BASE_ARGS, "-", "--stdin-display-name", project.models_module]


def count_py(project: Project) -> int:
    target = os.path.join(project.folder, project.lint_target)
    return sum(name.endswith(".py") for _, _, names in os.walk(target) for name in names)


def bench_project(project: Project, repeat: int, jobs: int, stdin_only: bool = False) -> dict[str, Result]:
    cwd = project.folder
    cache = os.path.join(cwd, CACHE_DIRNAME)
    models = os.path.join(cwd, project.models_module)
    results = {name: Result() for name in CONFIGS}
    measure(lint_command("plain", project, jobs), cwd)  # warm the OS file cache, discarded
    if stdin_only:
        measure(lint_command("ormreview", project, jobs), cwd)  # the warm index and findings the calls use
    order = random.Random(f"{project.name} {repeat}")  # shuffled, the same on every run
    for _ in range(0 if stdin_only else repeat):
        # Back to back, in a shuffled order: the repeat's overheads are compared with each other.
        for env in order.sample(["plain", "bugbear", "ormreview"], 3):
            if env != "ormreview":
                results[env].samples.append(measure(lint_command(env, project, jobs), cwd))
                continue
            shutil.rmtree(cache, ignore_errors=True)
            results["ormreview-cold"].samples.append(measure(lint_command("ormreview", project, jobs), cwd))
            results["ormreview-warm"].samples.append(measure(lint_command("ormreview", project, jobs), cwd))
            # Warm index, no stored findings: every file analysed (a plugin upgrade, a changed option).
            shutil.rmtree(os.path.join(cache, FINDINGS_DIRNAME), ignore_errors=True)
            results["ormreview-warm-index"].samples.append(measure(lint_command("ormreview", project, jobs), cwd))
    with open(models, encoding="utf-8") as handle:
        original = handle.read()
    for number in range(max(repeat, 5)):
        results["stdin-plain"].samples.append(measure(stdin_command("plain", project), cwd, models))
        results["stdin-ormreview"].samples.append(measure(stdin_command("ormreview", project), cwd, models))
        edited = f"{original}\n# edit {number} {time.time()}\n"  # a buffer no run has seen: analysed
        results["stdin-ormreview-edited"].samples.append(measure(stdin_command("ormreview", project), cwd, text=edited))
    return results


# -- reporting ---------------------------------------------------------------------------


def orm_findings(project: Project, jobs: int) -> tuple[int, int]:
    """(ORM findings, ORM000 findings) of one plugin run over the project."""
    command = [env_bin("ormreview", "flake8"), "--isolated", "--select=ORM", f"--jobs={jobs}", project.lint_target]
    text = subprocess.run(command, cwd=project.folder, capture_output=True, text=True).stdout
    lines = [line for line in text.splitlines() if ": ORM" in line]
    return len(lines), sum(": ORM000 " in line for line in lines)


@dataclass
class Verdict:
    what: str
    measured: float  # the median over the repeats
    limit: float
    ok: bool
    paired: float | None = None  # the median over the repeats of (measured - limit) within each repeat
    within: int = 0  # repeats whose own measurement was within their own limit
    repeats: int = 0


def overheads(result: Result, plain: Result, clock: str) -> list[float]:
    """Per repeat: ``result``'s time minus plain flake8's in the same repeat."""
    return [getattr(s, clock) - getattr(p, clock) for s, p in zip(result.samples, plain.samples)]


def paired_verdict(what: str, measured: list[float], limits: list[float]) -> Verdict:
    differences = [m - l for m, l in zip(measured, limits)]
    paired = statistics.median(differences)
    return Verdict(what, statistics.median(measured), statistics.median(limits), paired <= 0, paired,
                   sum(d <= 0 for d in differences), len(differences))


def verdicts(results: dict[str, Result]) -> list[Verdict]:
    """Every budget line: the time overheads judged per repeat, the ratios on their medians."""
    plain, bugbear = results["plain"], results["bugbear"]
    cold, warm = results["ormreview-cold"], results["ormreview-warm"]
    warm_index = results["ormreview-warm-index"]
    lines = []
    for clock, label in (("wall", "wall"), ("cpu", "CPU")):
        limit = overheads(bugbear, plain, clock)
        lines.append(paired_verdict(f"cold overhead, {label} s (<= bugbear's)", overheads(cold, plain, clock), limit))
    for clock, label in (("wall", "wall"), ("cpu", "CPU")):
        limit = [value / 2 for value in overheads(bugbear, plain, clock)]
        lines.append(paired_verdict(f"warm overhead, {label} s (<= bugbear's / 2)", overheads(warm, plain, clock), limit))
    rss = max(r.median("maxrss_mb") for r in (cold, warm, warm_index)) / plain.median("maxrss_mb")
    stdin = results["stdin-ormreview"].median("wall") / results["stdin-plain"].median("wall")
    edited = results["stdin-ormreview-edited"].median("wall") / results["stdin-plain"].median("wall")
    lines += [
        Verdict("peak RSS vs plain (<= 1.5x)", rss, 1.5, rss <= 1.5),
        Verdict("stdin call vs plain (<= 1.3x)", stdin, 1.3, stdin <= 1.3),
        paired_verdict("(no budget) warm index, no stored findings: CPU s overhead",
                       overheads(warm_index, plain, "cpu"), overheads(bugbear, plain, "cpu")),
        Verdict("(no budget) stdin call, edited buffer, vs plain", edited, 1.3, edited <= 1.3),
    ]
    return lines


def render(project: Project, files: int, results: dict[str, Result], findings: tuple[int, int], markdown: bool) -> str:
    plain = results["plain"]
    rows = []
    for name in CONFIGS:
        result = results[name]
        base = results["stdin-plain"] if name.startswith("stdin") else plain
        tree = result.median("tree_rss_mb")
        rows.append([
            name,
            f"{result.median('wall'):.2f}",
            f"{result.median('wall') / base.median('wall'):.2f}x",
            f"{result.median('cpu'):.2f}",
            f"{result.median('cpu') / base.median('cpu'):.2f}x",
            f"{result.median('maxrss_mb'):.0f}",
            f"{result.median('maxrss_mb') / base.median('maxrss_mb'):.2f}x",
            "-" if tree != tree else f"{tree:.0f}",
        ])
    header = ["config", "wall s", "wall/plain", "CPU s", "CPU/plain", "max RSS MB", "RSS/plain", "tree RSS MB"]
    title = (f"{project.name} ({project.requirement}, {project.framework}, {files} .py files in "
             f"{project.lint_target}/; stdin: {project.models_module}); ORM findings: {findings[0]}, ORM000: {findings[1]}")
    added_cold = results["ormreview-cold"].median("wall") - plain.median("wall")
    added_warm = results["ormreview-warm"].median("wall") - plain.median("wall")
    added = (f"flake8-ormreview adds {added_warm:+.2f} s ({added_warm / plain.median('wall'):+.0%}) warm, "
             f"{added_cold:+.2f} s ({added_cold / plain.median('wall'):+.0%}) cold to a plain "
             f"{plain.median('wall'):.2f} s flake8 --jobs=2 run on {project.name} ({files} files); "
             f"bugbear adds {results['bugbear'].median('wall') - plain.median('wall'):+.2f} s")
    budget = [[line.what, f"{line.measured:.2f}", f"{line.limit:.2f}",
               "-" if line.paired is None else f"{line.paired:+.2f} ({line.within} of {line.repeats} within)",
               "ok" if line.ok else "OVER"] for line in verdicts(results)]
    return "\n".join([title, "", table(header, rows, markdown), "", added, "",
                      table(["budget", "measured", "limit", "paired: median of measured - limit per repeat", "verdict"],
                            budget, markdown), ""])


def render_stdin(project: Project, results: dict[str, Result], markdown: bool) -> str:
    base = results["stdin-plain"]
    rows = [[name, f"{results[name].median('wall'):.2f}", f"{results[name].median('wall') / base.median('wall'):.2f}x",
             f"{results[name].median('cpu'):.2f}", f"{results[name].median('maxrss_mb'):.0f}"]
            for name in ("stdin-plain", "stdin-ormreview", "stdin-ormreview-edited")]
    title = f"{project.name} (stdin: {project.models_module})"
    return "\n".join([title, "", table(["config", "wall s", "wall/plain", "CPU s", "max RSS MB"], rows, markdown), ""])


def table(header: list[str], rows: list[list[str]], markdown: bool) -> str:
    if markdown:
        lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
        lines += ["| " + " | ".join(row) + " |" for row in rows]
        return "\n".join(lines)
    widths = [max(len(str(c)) for c in column) for column in zip(header, *rows)]
    fmt = "  ".join(f"{{:<{w}}}" for w in widths)
    return "\n".join([fmt.format(*header), fmt.format(*("-" * w for w in widths))] + [fmt.format(*row) for row in rows])


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("names", nargs="*", help="project names (default: all fetched)")
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--jobs", type=int, default=2)
    parser.add_argument("--markdown", action="store_true", help="markdown tables (for docs/performance.md)")
    parser.add_argument("--stdin-only", action="store_true", help="only the editor-style calls (after one warm-up lint)")
    args = parser.parse_args(argv)
    projects = [p for p in by_name(args.names) if os.path.isdir(p.folder)]
    if not projects:
        raise SystemExit("no project fetched: run benchmarks/fetch_projects.py first")
    ensure_envs()
    print(f"python {sys.version.split()[0]}, {os.cpu_count()} CPUs, {FLAKE8}, {BUGBEAR}, "
          f"--jobs={args.jobs}, median of {args.repeat} (stdin: {max(args.repeat, 5)}); "
          f"peak memory: ru_maxrss of the largest process{' + psutil tree-sum sampling' if psutil else ''}\n")
    os.makedirs(RESULTS, exist_ok=True)
    summary = {}
    for project in projects:
        results = bench_project(project, args.repeat, args.jobs, args.stdin_only)
        if args.stdin_only:
            print(render_stdin(project, results, args.markdown), flush=True)
            continue
        findings = orm_findings(project, args.jobs)
        print(render(project, count_py(project), results, findings, args.markdown), flush=True)
        summary[project.name] = {name: [asdict(s) for s in result.samples] for name, result in results.items()}
    with open(os.path.join(RESULTS, "latest.json"), "w") as handle:
        json.dump(summary, handle, indent=1)
    return 0


if __name__ == "__main__":
    sys.exit(main())
