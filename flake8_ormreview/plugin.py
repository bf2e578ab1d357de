"""The flake8 adapter: options in, ``(line, col, message, type)`` tuples out."""

from __future__ import annotations

import ast
import gc
from typing import Any, Iterator

from . import __version__, findings_cache
from .analysis import analyze, prepare as prepare_analysis
from .index import get_index, mark_all_stale
from .options import FLAKE8_OPTIONS, Options


class OrmReviewChecker:
    name = "flake8-ormreview"
    version = __version__
    options = Options()

    def __init__(self, tree: ast.Module, filename: str, lines: list[str]) -> None:
        self.tree = tree
        self.filename = filename
        self.lines = lines

    @classmethod
    def add_options(cls, manager: Any) -> None:
        for flag, default, help_text, extra in FLAKE8_OPTIONS:
            manager.add_option(flag, default=default, parse_from_config=True, help=help_text, **extra)

    @classmethod
    def parse_options(cls, options: Any) -> None:
        cls.options = Options.from_namespace(options)
        mark_all_stale()  # a new run (or a new editor request): re-stat the project
        try:
            index = get_index(cls.options.source_roots)
            index.while_extracting = prepare_analysis  # a cold index is parsed in children: load the rules meanwhile
            index.refresh_if_stale()
            findings_cache.prune(index)
            if not findings_cache.has_findings(index):
                # Most files will be analysed: resolve the index and load the rules here, in the
                # main process, so forked --jobs workers inherit them (spawned workers do it lazily).
                # A warm run mostly reads stored findings and may never need them.
                index.ensure_fresh()
                prepare_analysis()
                if forks_workers(options):
                    # CPython's recipe before fork(): what is alive now (flake8, the plugins, the
                    # index, the rules) lives until the run ends, so the workers' full collections
                    # skip it instead of walking (and copying) it in every worker.  Collected
                    # first: no garbage is frozen.
                    gc.collect()
                    gc.freeze()
        except Exception:  # noqa: BLE001 - analysis reports ORM000 per file if it really fails
            pass

    def run(self) -> Iterator[tuple[int, int, str, type]]:
        # With stdin, ``filename`` is the display name: the text comes from ``lines``.
        source = "".join(self.lines)
        for finding in analyze(source, self.filename, options=self.options, tree=self.tree):
            yield finding.line, finding.col, f"{finding.code} {finding.message}", type(self)


def forks_workers(options: Any) -> bool:
    """Whether flake8 checks the files in forked ``--jobs`` workers (``auto`` or more than one)."""
    jobs = str(getattr(options, "jobs", "1"))
    return jobs == "auto" or (jobs.isdigit() and int(jobs) > 1)
