"""Per-file review records: the findings, the inventory and the implementation examples.

A record is JSON-serialisable.  The formatter and the ``orm-review`` command
build one per reviewed file while the file (or nbqa's temporary copy) still
exists; the report is then built from the records alone, so concurrent runs
can merge theirs through the sidecar file, keyed by path.
"""

from __future__ import annotations

import ast
from dataclasses import dataclass
from typing import Any, Callable, Iterable

from ..registry import RULES, all_rules
from .examples import build_example, construct_end
from .inventory import build_inventory, empty_inventory, file_suffix


@dataclass(frozen=True, order=True)
class ReportFinding:
    path: str  # as shown in the report: "shop/views.py", "nb.ipynb"
    line: int  # line in the file, or in the notebook cell
    col: int
    code: str
    message: str
    cell: int = 0  # 1-based notebook code cell, 0 for plain files
    end_line: int = 0

    @property
    def location(self) -> str:
        if self.cell:
            return f"{self.path}:cell_{self.cell}:{self.line}"
        return f"{self.path}:{self.line}"

    @property
    def span(self) -> str:
        """``path:lines X-Y`` (notebooks ``nb.ipynb:cell_N:L``)."""
        if self.cell:
            return self.location
        return f"{self.path}:lines {self.line}-{max(self.line, self.end_line)}"


def severity_of(code: str) -> str:
    """'critical' / 'major' / 'minor' for ORM codes; flake8's own codes by family."""
    all_rules()
    rule = RULES.get(code)
    if rule is not None:
        return rule.severity.value
    if code.startswith("E9") or code.startswith("F"):
        return "major"
    return "minor"


def read_source(path: str) -> str | None:
    """A file's text as Python reads it (PEP 263 coding cookie, BOM); ``None`` when unreadable."""
    import io
    import tokenize

    try:
        with open(path, "rb") as handle:
            raw = handle.read()
    except OSError:
        return None
    try:
        encoding, _ = tokenize.detect_encoding(io.BytesIO(raw).readline)
    except (SyntaxError, LookupError):
        encoding = "utf-8"
    try:
        return raw.decode(encoding, errors="replace")
    except LookupError:
        return raw.decode("utf-8", errors="replace")


def source_lines(source: str) -> list[str]:
    return source.splitlines()


def make_record(
    display_path: str,
    source: str | None,
    findings: Iterable[tuple[int, int, str, str]],
    index: Any = None,
    line_map: Callable[[int], tuple[int, int]] | None = None,
    suffix: str | None = None,
    analysed_source: str | None = None,
    style_checked: bool = True,
) -> dict[str, Any]:
    """The record of one reviewed file.

    ``style_checked`` says whether the run's selection included flake8's own
    E/W/F checks (the review's Flake8 checklist item cannot pass otherwise).

    ``findings`` are ``(line, col, code, message)`` in the analysed text;
    ``line_map`` maps such a line to ``(cell, line in cell)`` for notebooks.
    ``source`` is what the user wrote (shown in examples); ``analysed_source``
    the Python the analysis parsed (a Cython transform or notebook
    conversion, line for line), used for the inventory and the AST.
    """
    parse_text = analysed_source if analysed_source is not None else source
    tree = None
    if parse_text is not None:
        try:
            tree = ast.parse(parse_text)
        except (SyntaxError, ValueError, RecursionError, MemoryError):
            tree = None
    if parse_text is None:
        inventory = empty_inventory(suffix or file_suffix(display_path))
        inventory["parsed"] = False
    else:
        inventory = (
            build_inventory(parse_text, display_path, index, tree)
            if tree is not None
            else empty_inventory(suffix or file_suffix(display_path))
        )
        if tree is None:
            inventory["parsed"] = False
    if suffix:
        inventory["suffix"] = suffix
    lines = source_lines(source or "")
    items = []
    for line, col, code, message in sorted(set(findings)):
        cell, shown_line = line_map(line) if line_map else (0, line)
        item: dict[str, Any] = {
            "line": shown_line,
            "col": col,
            "code": code,
            "message": message,
            "cell": cell,
            "end_line": shown_line,
        }
        if code.startswith("ORM") and severity_of(code) == "critical":
            rule = RULES.get(code)
            example = build_example(lines, tree, line, col, code, message, display_path, rule.good_example if rule else "")
            item["example"] = example
        if not cell and tree is not None and 1 <= line <= len(lines):
            item["end_line"] = construct_end(tree, line)
        items.append(item)
    return {"path": display_path, "inventory": inventory, "findings": items, "style_checked": style_checked}


def style_checks_selected(options: Any) -> bool:
    """Did this flake8 run select pycodestyle's and pyflakes' checks (E/W/F)?"""
    try:
        from flake8.style_guide import Decision, DecisionEngine

        engine = DecisionEngine(options)
        return all(engine.decision_for(code) is Decision.Selected for code in ("E501", "W291", "F401"))
    except Exception:  # noqa: BLE001 - an unknown flake8: assume the default selection
        return True


def findings_of(records: dict[str, dict[str, Any]]) -> list[ReportFinding]:
    result = []
    for path, record in records.items():
        for item in record.get("findings", []):
            result.append(
                ReportFinding(
                    path, item["line"], item["col"], item["code"], item["message"], item.get("cell", 0), item.get("end_line", 0)
                )
            )
    return sorted(result)
