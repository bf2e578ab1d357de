"""The line-preserving transforms: Cython to Python and notebooks to Python."""

from __future__ import annotations

import ast
import json
import textwrap
from pathlib import Path

import pytest
from hypothesis import given, settings, strategies as st

from flake8_ormreview.analysis import analyze
from flake8_ormreview.cython import to_python
from flake8_ormreview.notebooks import blank_magics, convert, load_notebook

ROOT = Path(__file__).resolve().parent.parent


def lines_of(text: str) -> list[str]:
    return text.splitlines()


CYTHON_CASES = [
    ("cimport cython", "import cython"),
    ("from libc.math cimport floor, ceil", "from libc.math import floor, ceil"),
    ("ctypedef double money_t", "pass"),
    ("include \"defs.pxi\"", "pass"),
    ("DEF BUFFER = 1024", "BUFFER = 1024"),
    ("cdef int a, b = 0", "a = None; b = 0"),
    ("cdef double* p", "p = None"),
    ("cdef unsigned long long n = 5", "n = 5"),
    ("cdef double[:, ::1] grid = data", "grid = data"),
    ("cdef object row = Book.objects.first()", "row = Book.objects.first()"),
    ("cdef class Totals(Base):", "class Totals(Base):"),
    ("cdef public class Api [object ApiObj, type ApiType]:", "class Api:"),
    ("cdef inline int f(int a, double* b, c=1) nogil:", "def f(a, b, c=1):"),
    ("cpdef list names(self, int limit=10) except *:", "def names(self, limit=10):"),
    ("cdef int g(int x) except -1 with gil:", "def g(x):"),
    ("cdef void h(char* s) noexcept nogil:", "def h(s):"),
    ("def area(double w, double h):", "def area(w, h):"),
    ("def plain(a, *args, b: int = 2, **kw):", "def plain(a, *args, b: int = 2, **kw):"),
    ("x = <int>value", "x =      value"),
    ("y = <Book?>obj.parent", "y =        obj.parent"),
    ("for i from 0 <= i < n:", "for i in range(0, n):"),
    ("stats_init(&stats, n)", "stats_init( stats, n)"),
    ("flags = a & b", "flags = a & b"),
]


@pytest.mark.parametrize("cython, python", CYTHON_CASES)
def test_cython_line_transforms(cython, python):
    source = f"{cython}\n    pass\n" if cython.rstrip().endswith(":") and not cython.startswith(" ") else f"{cython}\n"
    if cython.startswith(" "):
        source = f"def f():\n{cython}\n        pass\n"
    transformed = to_python(source)
    assert python in lines_of(transformed.text)
    assert len(lines_of(transformed.text)) == len(lines_of(source))


def test_cython_blocks_keep_every_line():
    source = textwrap.dedent(
        '''\
        cdef extern from "math.h":
            double sqrt(double x) nogil
            int abs(int)

        cdef struct Line:
            int quantity
            double price

        cpdef enum Status:
            DRAFT
            LIVE = 2

        cdef:
            int count = 0
            object cache

        with nogil:
            pass

        def after():
            return count
        '''
    )
    transformed = to_python(source)
    assert transformed.error == ""
    assert len(lines_of(transformed.text)) == len(lines_of(source))
    text = lines_of(transformed.text)
    assert text[0] == "if True:" and text[1] == "    pass" and text[2] == "    pass"
    assert text[4] == "class Line:" and text[5] == "    quantity = None"
    assert text[8] == "class Status:" and text[9] == "    DRAFT" and text[10] == "    LIVE = 2"
    assert text[12] == "if True:" and text[13] == "    count = 0" and text[14] == "    cache = None"
    assert text[16] == "if True:"
    ast.parse(transformed.text)


def test_untranslatable_cython_is_reported_not_raised():
    transformed = to_python("IF UNAME_SYSNAME == 'Linux':\n    cdef int x = 1\n")
    assert transformed.error.startswith("Cython syntax it cannot translate")


def test_plain_python_pyx_is_unchanged():
    source = "import os\n\n\ndef f(a, b=1):\n    return os.path.join(a, str(b))\n"
    transformed = to_python(source)
    assert transformed.text == source and not transformed.changed and transformed.error == ""


@settings(max_examples=200, deadline=None)
@given(st.lists(st.sampled_from(list("cdefpi <>*&()[]:=,.\n\t#'\"xyz01") + ["cdef ", "cpdef ", "ctypedef ", "cimport ", "nogil", "except", "    "]), max_size=80).map("".join))
def test_cython_transform_never_raises(source):
    transformed = to_python(source)
    assert isinstance(transformed.text, str)
    if not transformed.error:
        ast.parse(transformed.text)


def test_example_pyx_is_analysed_on_its_own_lines():
    source = (ROOT / "examples" / "cython" / "order_totals.pyx").read_text(encoding="utf-8")
    transformed = to_python(source)
    assert transformed.error == "" and len(lines_of(transformed.text)) == len(lines_of(source))
    for number, (original, python) in enumerate(zip(lines_of(source), lines_of(transformed.text)), 1):
        if "book.author" in original:
            assert python == original, number  # Python lines are left exactly as written


def test_cython_findings_through_analyze(tmp_path):
    (tmp_path / "shop").mkdir()
    (tmp_path / "shop" / "__init__.py").write_text("")
    (tmp_path / "shop" / "models.py").write_text(
        "from django.db import models\n\n\nclass Author(models.Model):\n    name = models.CharField(max_length=9)\n\n\n"
        "class Book(models.Model):\n    author = models.ForeignKey(Author, on_delete=models.CASCADE)\n"
    )
    pyx = "from shop.models import Book\n\ncpdef list names():\n    cdef list out = []\n    for book in Book.objects.all():\n        out.append(book.author.name)\n    return out\n"
    from flake8_ormreview.index import ProjectIndex

    index = ProjectIndex([str(tmp_path)], cache_dir=None)
    findings = analyze(to_python(pyx).text, str(tmp_path / "fast.pyx"), index=index)
    assert [(f.line, f.code) for f in findings] == [(6, "ORM201")]


# -- notebooks ------------------------------------------------------------------------


def test_magics_are_blanked_line_for_line():
    cell = "%time x = 1\n!pip install django\nfiles = !ls\nobj?\nfor i in range(3):\n    %time f(i)\ny = 2"
    converted = blank_magics(cell)
    assert converted.splitlines() == ["", "", "files = None", "", "for i in range(3):", "    pass", "y = 2"]


def test_cell_magic_blanks_the_cell():
    assert blank_magics("%%bash\necho hi\nls").splitlines() == ["", "", ""]


def notebook(*cells) -> dict:
    return {"cells": list(cells), "metadata": {}, "nbformat": 4, "nbformat_minor": 5}


def code(source) -> dict:
    return {"cell_type": "code", "metadata": {}, "outputs": [], "execution_count": None, "source": source}


def test_cells_are_numbered_over_code_cells_like_nbqa():
    nb = convert(notebook(
        {"cell_type": "markdown", "metadata": {}, "source": ["# title\n"]},
        code(["import os\n", "x = 1\n"]),
        {"cell_type": "raw", "metadata": {}, "source": ["raw"]},
        code("y = 2\nz = 3\n"),
    ))
    assert nb.error == "" and nb.text == "import os\nx = 1\ny = 2\nz = 3\n"
    assert [nb.locate(n) for n in range(1, 5)] == [(1, 1), (1, 2), (2, 1), (2, 2)]


def test_broken_cell_is_reported_and_left_out():
    nb = convert(notebook(code("a = 1\n"), code("def broken(:\n    pass\n"), code("b = 2\n")))
    assert [(e.cell, e.line) for e in nb.cell_errors] == [(2, 1)]
    assert nb.text == "a = 1\nb = 2\n" and nb.locate(2) == (3, 1)


@pytest.mark.parametrize("content, message", [
    ("{ not json", "not a valid notebook"),
    ("[1, 2]", "not a Jupyter notebook"),
    ('{"cells": 3}', "not a Jupyter notebook"),
])
def test_invalid_notebooks(tmp_path, content, message):
    path = tmp_path / "bad.ipynb"
    path.write_text(content)
    assert message in load_notebook(str(path)).error


def test_odd_cells_do_not_crash():
    nb = convert(notebook("not a dict", {"cell_type": "code"}, code(None), code(["x = 1\n"])))
    assert nb.error == "" and "x = 1" in nb.text


def test_example_notebook_converts():
    nb = load_notebook(str(ROOT / "examples" / "notebooks" / "catalogue_report.ipynb"))
    assert nb.error == "" and not nb.cell_errors
    data = json.loads((ROOT / "examples" / "notebooks" / "catalogue_report.ipynb").read_text())
    code_cells = [c for c in data["cells"] if c["cell_type"] == "code"]
    assert len(nb.cells) == len(code_cells)
    ast.parse(nb.text)


def test_pxd_declarations_translate():
    pxd = textwrap.dedent(
        '''\
        from libc.stdint cimport int64_t

        cdef extern from "stats.h" nogil:
            ctypedef struct stats_t:
                int64_t count
            int stats_init(stats_t* s)

        cdef class OrderStats:
            cdef public double revenue
            cpdef double average(self)
            cdef void add(self, double amount) noexcept

        cpdef double order_total(object order) except -1
        ctypedef fused number:
            int
            double
        '''
    )
    transformed = to_python(pxd)
    assert transformed.error == ""
    assert len(lines_of(transformed.text)) == len(lines_of(pxd))
    assert lines_of(transformed.text)[4] == "    pass"  # nested C block flattened into its extern block
    ast.parse(transformed.text)
