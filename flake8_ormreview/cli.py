"""``orm-review [PATH ...]``: review a whole repository in one command and write the dated review.

Files: every ``.py``, ``.pyw``, ``.pyx``, ``.pxd`` and ``.ipynb`` under the
paths, found and excluded by flake8's own machinery (its configuration
files, ``exclude``/``extend-exclude``, ``per-file-ignores``, ``select``...).
Python files (and Cython files in plain Python syntax) run through flake8
itself, with every installed plugin; Cython files run through the
line-preserving transform of :mod:`.cython`; notebooks through the
nbqa-compatible conversion of :mod:`.notebooks`.  Every finding goes through
flake8's style guide, so selection and ``# noqa`` work the same everywhere.
"""

from __future__ import annotations

import argparse
import ast
import contextlib
import os
import sys
from typing import Any, Iterator, Sequence

from flake8.formatting.base import BaseFormatter
from flake8.main.application import Application

from . import __version__
from .analysis import analyze
from .cython import to_python
from .index import get_index
from .notebooks import Notebook, load_notebook
from .options import Options
from .registry import get_rule
from .report.records import make_record, read_source, style_checks_selected
from .report.writer import ReportError, review_date, write_review

PATTERNS = ["*.py", "*.pyw", "*.pyx", "*.pxd", "*.ipynb"]
CYTHON = (".pyx", ".pxd")
PASSED_THROUGH = ("select", "extend_select", "ignore", "extend_ignore", "exclude")


class _Collector(BaseFormatter):
    """A silent flake8 formatter that keeps every reported violation."""

    def after_init(self) -> None:
        self.violations: list[Any] = []

    def handle(self, error: Any) -> None:
        self.violations.append(error)

    def start(self) -> None:
        pass

    def stop(self) -> None:
        pass


def parse_args(argv: Sequence[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="orm-review",
        description="Review the database layer of a repository and write orm-optimization-review-YYYY-MM-DD.md.",
    )
    parser.add_argument("paths", nargs="*", default=["."], help="files or folders to review (default: .)")
    parser.add_argument("--output-dir", help="where to write the review (default: the orm-review-dir option, else .)")
    parser.add_argument("--date", default="", help="review date YYYY-MM-DD (default: the orm-review-date option, else today)")
    parser.add_argument("--html", action="store_true", help="also write an HTML rendering of the review")
    parser.add_argument("--exit-zero", action="store_true", help="exit 0 even when there are findings")
    parser.add_argument(
        "--merge", action="store_true", help="merge into the day's review instead of replacing it (for pre-commit's file batches)"
    )
    parser.add_argument("--config", help="flake8 configuration file to use")
    for name in PASSED_THROUGH:
        flag = "--" + name.replace("_", "-")
        parser.add_argument(flag, action="append", default=[], help=f"as flake8's {flag}")
    parser.add_argument("--jobs", "-j", help="as flake8's --jobs")
    parser.add_argument(
        "--list-rules", action="store_true", help="print every rule (code, name, severity, category, summary) and exit"
    )
    parser.add_argument("--version", action="version", version=f"orm-review (flake8-ormreview) {__version__}")
    return parser.parse_args(list(argv))


def flake8_argv(args: argparse.Namespace, files: Sequence[str], roots: Sequence[str] = ()) -> list[str]:
    argv = ["--filename=" + ",".join(PATTERNS)]
    if roots:
        argv.append("--orm-source-roots=" + ",".join(roots))
    if args.config:
        argv.append(f"--config={args.config}")
    for name in PASSED_THROUGH:
        for value in getattr(args, name):
            argv.append(f"--{name.replace('_', '-')}={value}")
    if not args.select:
        argv.append("--extend-select=ORM")  # an ORM review even where the config says select = E,F
    if args.jobs:
        argv.append(f"--jobs={args.jobs}")
    return argv + list(files)


def discover(app: Application) -> list[str]:
    from flake8.discover_files import expand_paths

    options = app.options
    return sorted(
        os.path.normpath(path)
        for path in expand_paths(
            paths=options.filenames,
            stdin_display_name=options.stdin_display_name,
            filename_patterns=PATTERNS,
            exclude=options.exclude,
        )
        if path != "-" and os.path.isfile(path)
    )


def source_roots(files: Sequence[str]) -> list[str]:
    """The import roots of the reviewed files: the folder above each top-level package.

    ``examples/django_shop/shop/models.py`` (``shop`` is a package) has the root
    ``examples/django_shop``, so ``from shop.models import Book`` resolves in
    the model index.  Deeper roots come first: the index uses the first root
    that contains a file.
    """
    roots = set()
    for path in files:
        folder = os.path.dirname(os.path.abspath(path))
        while os.path.exists(os.path.join(folder, "__init__.py")) and os.path.dirname(folder) != folder:
            folder = os.path.dirname(folder)
        roots.add(os.path.relpath(folder))
    return sorted(roots, key=lambda root: (-len(os.path.abspath(root).split(os.sep)), root))


@contextlib.contextmanager
def _index_deferred() -> Iterator[None]:
    """Parse options without building the model index (the roots are decided after discovery)."""
    from .plugin import OrmReviewChecker

    original = OrmReviewChecker.__dict__["parse_options"]

    def store_only(cls: type, options: Any) -> None:
        cls.options = Options.from_namespace(options)  # type: ignore[attr-defined]

    OrmReviewChecker.parse_options = classmethod(store_only)  # type: ignore[method-assign, assignment]
    try:
        yield
    finally:
        OrmReviewChecker.parse_options = original  # type: ignore[method-assign]


def read_text(path: str) -> str | None:
    return read_source(path)


def parses(source: str) -> bool:
    try:
        ast.parse(source)
        return True
    except (SyntaxError, ValueError, RecursionError, MemoryError):
        return False


class Review:
    def __init__(self, args: argparse.Namespace) -> None:
        self.args = args
        self.app = Application()
        with _index_deferred():
            self.app.initialize(flake8_argv(args, args.paths))
        self.files = discover(self.app)
        self.roots: list[str] = []
        if list(getattr(self.app.options, "orm_source_roots", ["."]) or ["."]) == ["."] and self.files:
            # No orm-source-roots configured: index the reviewed files' own import roots.
            self.roots = source_roots(self.files)
            self.app = Application()
            self.app.initialize(flake8_argv(args, args.paths, self.roots))
        self.collector = _Collector(self.app.options)
        self.app.formatter = self.collector
        self.app.make_guide()
        self.options = Options.from_namespace(self.app.options)
        self.notebooks: dict[str, Notebook] = {}
        self.sources: dict[str, tuple[str | None, str | None]] = {}  # path -> (source as written, analysed Python)

    def report(self, code: str, path: str, line: int, col: int, text: str, physical: str) -> None:
        """Hand a finding to flake8's style guide (selection, per-file-ignores, noqa)."""
        assert self.app.guide is not None
        self.app.guide.handle_error(code, path, line, col, text, physical)

    def run(self) -> list[str]:
        files = self.files
        for path in self.args.paths:
            if not os.path.exists(path):
                self.collector.handle(
                    _violation("E902", os.path.normpath(path), 1, 1, "FileNotFoundError: No such file or directory")
                )
        python, cython, notebooks = [], [], []
        for path in files:
            if path.endswith(".ipynb"):
                notebooks.append(path)
                continue
            source = read_text(path)
            if path.endswith(CYTHON) and source is not None and not parses(source):
                cython.append(path)
            else:
                python.append(path)
            self.sources[path] = (source, None)
        if python:
            self.run_flake8(python)
        for path in cython:
            self.review_cython(path)
        for path in notebooks:
            self.review_notebook(path)
        return files

    def run_flake8(self, files: list[str]) -> None:
        self.app.options.filenames = files
        self.app.make_file_checker_manager(flake8_argv(self.args, files, self.roots))
        self.app.run_checks()
        self.app.report_errors()
        # --select=ORM hides E999: a file that does not parse must still be reported.
        from flake8.style_guide import Decision

        assert self.app.guide is not None
        if self.app.guide.decider.decision_for("E999") is Decision.Selected:
            return  # flake8 reported them itself
        seen = {(v.filename, v.code[:2]) for v in self.collector.violations}
        for path in files:
            source = self.sources[path][0]
            if source is None or (os.path.normpath(path), "E9") in seen or (path, "E9") in seen:
                continue
            try:
                ast.parse(source)
            except SyntaxError as exc:
                self.collector.handle(_violation("E999", path, exc.lineno or 1, exc.offset or 1, f"SyntaxError: {exc.msg}"))
            except (ValueError, RecursionError, MemoryError) as exc:
                self.collector.handle(_violation("E902", path, 1, 1, f"{type(exc).__name__}: cannot parse"))

    def review_cython(self, path: str) -> None:
        source = self.sources[path][0] or ""
        transformed = to_python(source)
        self.sources[path] = (source, transformed.text)
        lines = source.splitlines()
        if transformed.error:
            message = get_rule("ORM000").format(error=transformed.error)
            self.report("ORM000", path, 1, 0, message, lines[0] + "\n" if lines else "\n")
            return
        for finding in analyze(transformed.text, path, options=self.options):
            physical = lines[finding.line - 1] + "\n" if 0 < finding.line <= len(lines) else "\n"
            self.report(finding.code, path, finding.line, finding.col, finding.message, physical)

    def review_notebook(self, path: str) -> None:
        notebook = load_notebook(path)
        self.notebooks[path] = notebook
        if notebook.error:
            self.collector.handle(_violation("E902", path, 1, 1, notebook.error))
            print(f"orm-review: {path}: {notebook.error}", file=sys.stderr)
            return
        text_lines = notebook.text.splitlines()
        self.sources[path] = (notebook.text, notebook.text)
        for error in notebook.cell_errors:
            cell_lines = notebook.cell_source(error.cell).splitlines()
            physical = cell_lines[error.line - 1] if 0 < error.line <= len(cell_lines) else ""
            # Cell errors carry their own (cell, line in cell); raw_line() encodes them for the record.
            self.collector.handle(_violation("E999", path, error.line, error.col, error.message, physical, cell=error.cell))
        if not notebook.text:
            return
        for finding in analyze(notebook.text, path, options=self.options):
            physical = text_lines[finding.line - 1] + "\n" if 0 < finding.line <= len(text_lines) else "\n"
            self.report(finding.code, path, finding.line, finding.col, finding.message, physical)

    def findings(self) -> list[tuple[str, int, int, int, str, str]]:
        """(path, cell, line, col, code, text), sorted; notebook lines mapped to their cells."""
        result = set()
        for violation in self.collector.violations:
            path = os.path.normpath(violation.filename)
            cell = getattr(violation, "cell", 0)
            line = violation.line_number
            if path in self.notebooks and not cell:
                cell, line = self.notebooks[path].locate(line)
            result.add((path, cell, line, violation.column_number, violation.code, violation.text))
        return sorted(result)

    def records(self, files: list[str], findings: list[tuple[str, int, int, int, str, str]]) -> dict[str, dict[str, Any]]:
        try:
            index = get_index(self.options.source_roots)
        except Exception:  # noqa: BLE001
            index = None
        by_path: dict[str, list[tuple[int, int, str, str]]] = {path: [] for path in files}
        for path, cell, line, col, code, text in findings:
            by_path.setdefault(path, []).append((line if not cell else self.raw_line(path, cell, line), col, code, text))
        records = {}
        checked = style_checks_selected(self.app.options)
        for path, items in by_path.items():
            if path in self.notebooks:
                notebook = self.notebooks[path]
                records[path] = make_record(
                    path,
                    notebook.text or None,
                    items,
                    index,
                    line_map=lambda ln, nb=notebook: self.cell_of(nb, ln),
                    suffix=".ipynb",
                    style_checked=checked,
                )
                continue
            source, analysed = self.sources.get(path, (None, None))
            records[path] = make_record(path, source, items, index, analysed_source=analysed, style_checked=checked)
        return records

    @staticmethod
    def cell_of(notebook: Notebook, line: int) -> tuple[int, int]:
        if line < 0:  # a cell that did not parse: encoded as -(cell * 100000 + line)
            return (-line) // 100000, (-line) % 100000
        return notebook.locate(line)

    def raw_line(self, path: str, cell: int, line: int) -> int:
        notebook = self.notebooks[path]
        for number, (c, ln) in enumerate(notebook.lines, 1):
            if (c, ln) == (cell, line):
                return number
        return -(cell * 100000 + line)


def _violation(code: str, path: str, line: int, col: int, text: str, physical: str = "", cell: int = 0) -> Any:
    from flake8.violation import Violation

    class CellViolation(Violation):
        pass

    violation = CellViolation(code, path, line, col, text, physical)
    violation.cell = cell  # type: ignore[attr-defined]
    return violation


def list_rules() -> int:
    from .registry import all_rules

    for rule in all_rules():
        print(f"{rule.code}  {rule.name:<40} {rule.severity.value:<8} {rule.category.value:<15} {rule.summary}")
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    try:
        return run(argv)
    except BrokenPipeError:  # output piped into `head`: stop quietly
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 1
    except KeyboardInterrupt:
        print("orm-review: interrupted", file=sys.stderr)
        return 130


def run(argv: Sequence[str] | None = None) -> int:
    args = parse_args(sys.argv[1:] if argv is None else argv)
    if args.list_rules:
        return list_rules()
    try:
        review = Review(args)
    except SystemExit as exc:  # flake8 rejected an option
        return int(exc.code or 2) if isinstance(exc.code, int) else 2
    options = review.options
    try:
        date = review_date(args.date or options.review_date)
    except ReportError as exc:
        print(str(exc), file=sys.stderr)
        return 2
    files = review.run()
    findings = review.findings()
    for path, cell, line, col, code, text in findings:
        where = f"{path}:cell_{cell}:{line}" if cell else f"{path}:{line}"
        print(f"{where}:{col}: {code} {text}")
    directory = args.output_dir or options.review_dir or "."
    try:
        written = write_review(
            review.records(files, findings),
            directory,
            date,
            list(args.paths),
            html=args.html or options.review_html,
            merge=args.merge,
        )
    except ReportError as exc:
        print(str(exc), file=sys.stderr)
        return 2
    print(f"orm-review: wrote {written.markdown}" + (f" and {written.html}" if written.html else ""), file=sys.stderr)
    if args.exit_zero:
        return 0
    return 1 if findings else 0


if __name__ == "__main__":
    raise SystemExit(main())
