"""Jupyter notebooks as Python, line for line, the way nbqa converts them.

Code cells are numbered from 1 across code cells (markdown cells do not
count), exactly like nbqa's ``nb.ipynb:cell_N:L`` locations.  IPython magics
(``%time``, ``!pip``, ``x = !ls``, ``obj?``) become a blank line (``pass`` when
indented, so the block stays valid) and a cell magic (``%%bash``) blanks its
whole cell: every other line keeps its number inside its cell.  A cell that
still does not parse is reported once (E999) and left out of the analysis;
the other cells are analysed together, as the kernel would run them.
"""

from __future__ import annotations

import ast
import json
import re
from dataclasses import dataclass, field

MAGIC_ASSIGN = re.compile(r"^(\s*)([A-Za-z_][\w\.]*(?:\s*,\s*[A-Za-z_][\w\.]*)*)\s*=\s*[%!]")
MAGIC_LINE = re.compile(r"^\s*(?:%|!|\?)|^[^#'\"]*\?\s*$")


@dataclass
class CellError:
    cell: int
    line: int
    col: int
    message: str


@dataclass
class Notebook:
    path: str
    text: str = ""  # the analysable Python: every code cell, magics blanked
    lines: list[tuple[int, int]] = field(default_factory=list)  # per text line: (cell, line in cell)
    cells: dict[int, str] = field(default_factory=dict)  # cell number -> its converted source
    error: str = ""  # the notebook itself could not be read
    cell_errors: list[CellError] = field(default_factory=list)

    def locate(self, line: int) -> tuple[int, int]:
        """(cell, line in cell) of a line of :attr:`text`."""
        if 1 <= line <= len(self.lines):
            return self.lines[line - 1]
        return (0, line)

    def cell_source(self, cell: int) -> str:
        return self.cells.get(cell, "")


def _source(cell: dict) -> str:
    source = cell.get("source", "")
    if isinstance(source, list):
        return "".join(str(part) for part in source)
    return str(source)


def blank_magics(source: str) -> str:
    """The cell with IPython syntax replaced line for line."""
    lines = source.splitlines()
    if lines and lines[0].lstrip().startswith("%%"):
        return "\n" * len(lines)
    result = []
    for line in lines:
        indent = line[: len(line) - len(line.lstrip())]
        assignment = MAGIC_ASSIGN.match(line)
        if assignment:
            result.append(f"{assignment.group(1)}{assignment.group(2)} = None")
        elif MAGIC_LINE.match(line) and line.strip():
            result.append(f"{indent}pass" if indent else "")
        else:
            result.append(line)
    return "".join(line + "\n" for line in result)  # one "\n" per line: splitlines() gives them all back


def convert(data: object, path: str = "notebook.ipynb") -> Notebook:
    notebook = Notebook(path)
    if not isinstance(data, dict) or not isinstance(data.get("cells"), list):
        notebook.error = "not a Jupyter notebook (no 'cells' list)"
        return notebook
    text_lines: list[str] = []
    number = 0
    for cell in data["cells"]:
        if not isinstance(cell, dict) or cell.get("cell_type") != "code":
            continue
        number += 1
        converted = blank_magics(_source(cell))
        notebook.cells[number] = converted
        try:
            ast.parse(converted)
        except SyntaxError as exc:
            notebook.cell_errors.append(CellError(number, exc.lineno or 1, (exc.offset or 1), f"SyntaxError: {exc.msg}"))
            continue
        except (ValueError, RecursionError, MemoryError) as exc:
            notebook.cell_errors.append(CellError(number, 1, 1, f"{type(exc).__name__}: cell cannot be parsed"))
            continue
        for offset, line in enumerate(converted.splitlines(), 1):
            text_lines.append(line)
            notebook.lines.append((number, offset))
    notebook.text = "\n".join(text_lines) + ("\n" if text_lines else "")
    return notebook


def load_notebook(path: str) -> Notebook:
    """Read and convert a notebook; never raises (``error`` says what went wrong)."""
    try:
        with open(path, encoding="utf-8") as handle:
            data = json.load(handle)
    except OSError as exc:
        return Notebook(path, error=f"cannot read notebook: {exc.strerror or type(exc).__name__}")
    except ValueError as exc:
        return Notebook(path, error=f"not a valid notebook (invalid JSON: {exc})")
    return convert(data, path)
