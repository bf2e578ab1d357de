"""flake8 formatter ``orm-review``: flake8's normal lines, plus the dated review.

Terminal output is exactly flake8's default ``path:row:col: CODE text``, so
CI logs, pre-commit and editors read it unchanged.  Findings are collected in
``handle()`` and every file's record is made in ``finished()`` (while nbqa's
temporary copy of a notebook still exists); the review is written in
``stop()``.  All of these run in flake8's main process, also with ``--jobs``.

No review is written for stdin runs (``flake8 -``: editors, python-lsp-server
with ``format = orm-review`` in the config) nor from flake8's legacy API,
which never calls ``start()``.
"""

from __future__ import annotations

import os
import re
import sys
from typing import Any

from flake8.formatting.default import Default

from ..options import Options

# flake8 imports every installed formatter at start-up, also when another one
# is chosen: the report machinery (markdown, the review builder) is imported
# by the methods that run only when ``--format=orm-review`` is in use.

NBQA_TEMP = re.compile(r"^(?P<stem>.+).{8}_nbqa_ipynb\.py$")
NBQA_SEPARATOR = "# %%NBQA-CELL-SEP"


def nbqa_notebook_for(path: str) -> str | None:
    """The notebook an nbqa temporary file was made from (``nb3k_x9a2_nbqa_ipynb.py`` -> ``nb.ipynb``)."""
    match = NBQA_TEMP.match(os.path.basename(path))
    if not match:
        return None
    notebook = os.path.join(os.path.dirname(path), match.group("stem") + ".ipynb")
    return notebook if os.path.exists(notebook) else None


def nbqa_kept_cells(notebook: str) -> list[int]:
    """Numbers of the code cells nbqa writes into its temporary file (it skips empty and all-magic cells)."""
    import json

    try:
        with open(notebook, encoding="utf-8") as handle:
            cells = json.load(handle).get("cells", [])
    except (OSError, ValueError, AttributeError):
        return []
    try:
        from nbqa.save_code_source import _should_ignore_code_cell as ignored  # the exact rule, when importable
    except Exception:  # noqa: BLE001 - nbqa internals move; fall back to its documented behaviour
        ignored = None
    kept = []
    number = 0
    for cell in cells:
        if not isinstance(cell, dict) or cell.get("cell_type") != "code":
            continue
        number += 1
        source = cell.get("source", "")
        lines = source if isinstance(source, list) else str(source).splitlines(True)
        try:
            skip = ignored(lines, [], [], cell.get("metadata", {}).get("tags", [])) if ignored else _skipped(lines)
        except Exception:  # noqa: BLE001
            skip = _skipped(lines)
        if not skip:
            kept.append(number)
    return kept


def _skipped(lines: list[str]) -> bool:
    text = "".join(lines)
    return not text.strip() or all(line.lstrip().startswith(("%", "?", "!")) for line in lines if line.strip())


def nbqa_cell_map(text: str, kept: list[int] | None = None) -> list[tuple[int, int]]:
    """Per line of nbqa's temporary file (index = line - 1): (cell, line in cell); separators map to line 0.

    The k-th separator starts the k-th cell nbqa kept (``kept``), which is
    the k-th code cell only when nbqa skipped none.
    """
    mapping = []
    separators = 0
    cell = 0
    offset = 0
    for number, line in enumerate(text.splitlines(), 1):
        if line.startswith(NBQA_SEPARATOR):
            separators += 1
            cell = kept[separators - 1] if kept and separators <= len(kept) else separators
            offset = number
        mapping.append((cell, number - offset))
    return mapping


class OrmReviewFormatter(Default):
    """flake8's default lines on the terminal; the dated markdown review on ``stop()``."""

    def after_init(self) -> None:
        # Not super().after_init(): it would take "orm-review" itself as the line format.
        self.started = False
        self.records: dict[str, dict[str, Any]] = {}
        self.current: list[tuple[int, int, str, str]] = []
        self.style_checked = True

    def start(self) -> None:
        super().start()
        self.started = True
        from .records import style_checks_selected

        self.style_checked = style_checks_selected(self.options)

    def beginning(self, filename: str) -> None:
        self.current = []

    def handle(self, error: Any) -> None:
        super().handle(error)
        self.current.append((error.line_number, error.column_number, error.code, error.text))

    def finished(self, filename: str) -> None:
        if not self.writes_report:
            return
        try:
            self.records.update(self.record_for(filename, self.current))
        except Exception as exc:  # noqa: BLE001 - the terminal output must survive a report bug
            print(f"orm-review: could not review {filename} for the report ({type(exc).__name__})", file=sys.stderr)
        self.current = []

    @property
    def writes_report(self) -> bool:
        filenames = getattr(self.options, "filenames", None) or []
        return self.started and "-" not in filenames

    def record_for(self, filename: str, findings: list[tuple[int, int, str, str]]) -> dict[str, dict[str, Any]]:
        from ..index import get_index
        from .records import make_record, read_source

        options = Options.from_namespace(self.options)
        try:
            index = get_index(options.source_roots)
        except Exception:  # noqa: BLE001
            index = None
        notebook = nbqa_notebook_for(filename)
        source = read_source(filename)
        display = os.path.normpath(notebook if notebook else filename)
        if notebook and source is not None:
            mapping = nbqa_cell_map(source, nbqa_kept_cells(notebook))

            def line_map(line: int) -> tuple[int, int]:
                return mapping[line - 1] if 1 <= line <= len(mapping) else (0, line)

            return {
                display: make_record(
                    display, source, findings, index, line_map=line_map, suffix=".ipynb", style_checked=self.style_checked
                )
            }
        analysed = None
        if source is not None and display.endswith((".pyx", ".pxd")):
            from ..cython import to_python

            analysed = to_python(source).text
        return {
            display: make_record(display, source, findings, index, analysed_source=analysed, style_checked=self.style_checked)
        }

    def stop(self) -> None:
        super().stop()
        if not self.writes_report:
            return
        options = Options.from_namespace(self.options)
        paths = list(getattr(self.options, "filenames", None) or ["."])
        notebooks = {nbqa_notebook_for(p) for p in paths}
        if any(notebooks):  # under nbqa the paths are its temporary files: name the notebooks
            paths = sorted({os.path.normpath(nb) for nb in notebooks if nb})
        from .writer import ReportError, write_review

        try:
            write_review(self.records, options.review_dir, options.review_date, paths, html=options.review_html)
        except ReportError as exc:
            print(str(exc), file=sys.stderr)
            raise SystemExit(1) from None
