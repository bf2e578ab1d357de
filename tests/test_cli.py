"""The ``orm-review`` command: discovery, config, selection, notebooks, Cython, output and exit status."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from flake8_ormreview.report.markdown import parse_structure

ROOT = Path(__file__).resolve().parent.parent
DATE = "2026-05-06"
REPORT = f"orm-optimization-review-{DATE}.md"
LINE = re.compile(r"^(?P<path>[^:]+)(?::cell_(?P<cell>\d+))?:(?P<row>\d+):(?P<col>\d+): (?P<code>[A-Z]+\d+) (?P<text>.+)$")

MODELS = textwrap.dedent(
    '''\
    """Catalogue."""
    from django.db import models


    class Author(models.Model):
        """A writer."""

        name = models.CharField(max_length=100)


    class Book(models.Model):
        """A title."""

        title = models.CharField(max_length=100)
        author = models.ForeignKey(Author, on_delete=models.CASCADE, related_name="books", db_index=False)
    '''
)

VIEWS = textwrap.dedent(
    '''\
    from shop.models import Book


    def titles():
        return [(book.title, book.author.name) for book in Book.objects.all()]
    '''
)

PYX = textwrap.dedent(
    '''\
    cimport cython
    from shop.models import Book

    ctypedef double money_t


    cdef class Report:
        cdef public int count

        cpdef list names(self, int limit=10):
            cdef list result = []
            for book in Book.objects.all():
                result.append(book.author.name)
            return result
    '''
)


def notebook(*cells: str, markdown_first: bool = True) -> str:
    data = {"cells": [], "metadata": {}, "nbformat": 4, "nbformat_minor": 5}
    if markdown_first:
        data["cells"].append({"cell_type": "markdown", "metadata": {}, "source": ["# Notes\n"]})
    for cell in cells:
        data["cells"].append({"cell_type": "code", "metadata": {}, "execution_count": None, "outputs": [], "source": cell.splitlines(True)})
    return json.dumps(data)


@pytest.fixture
def project(tmp_path):
    (tmp_path / "shop").mkdir()
    (tmp_path / "shop" / "__init__.py").write_text("")
    (tmp_path / "shop" / "models.py").write_text(MODELS)
    (tmp_path / "shop" / "views.py").write_text(VIEWS)
    return tmp_path


def orm_review(cwd: Path, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "flake8_ormreview.cli", *args], cwd=cwd, capture_output=True, text=True, timeout=300,
    )


def findings(result: subprocess.CompletedProcess) -> list[dict]:
    parsed = []
    for line in result.stdout.splitlines():
        match = LINE.match(line)
        assert match, f"not a finding line: {line!r}"
        parsed.append(match.groupdict())
    return parsed


def codes_at(result, path: str) -> set[tuple[str, str]]:
    return {(f["row"], f["code"]) for f in findings(result) if f["path"] == path}


def test_reviews_a_project_and_writes_the_report(project):
    result = orm_review(project, "--date", DATE, "--output-dir", "reports")
    assert result.returncode == 1
    assert ("15", "ORM101") in codes_at(result, "shop/models.py")
    assert ("5", "ORM201") in codes_at(result, "shop/views.py")
    report = project / "reports" / REPORT
    assert result.stderr.strip().endswith(str(Path("reports") / REPORT))
    text = report.read_text(encoding="utf-8")
    assert parse_structure(text)[0][0] == (1, "🗄️ Database Schema & ORM Optimization Review")
    assert "shop/views.py:lines 5-5" in text


def test_default_output_dir_is_the_option_then_cwd(project):
    orm_review(project, "--date", DATE)
    assert (project / REPORT).exists()
    (project / REPORT).unlink()
    (project / "setup.cfg").write_text("[flake8]\norm-review-dir = out\n")
    orm_review(project, "--date", DATE)
    assert (project / "out" / REPORT).exists() and not (project / REPORT).exists()


def test_exit_status(project):
    assert orm_review(project, "--date", DATE, "--exit-zero").returncode == 0
    clean = project / "clean"
    clean.mkdir()
    (clean / "a.py").write_text("X = 1\n")
    result = orm_review(clean, "--date", DATE)
    assert result.returncode == 0 and result.stdout == ""
    assert (clean / REPORT).exists()


def test_selection_and_excludes_use_flake8s_options(project):
    result = orm_review(project, "--date", DATE, "--extend-ignore=ORM101")
    assert "ORM101" not in result.stdout and "ORM201" in result.stdout
    result = orm_review(project, "--date", DATE, "--exclude=views.py")
    assert "shop/views.py" not in result.stdout
    (project / "tox.ini").write_text("[flake8]\nextend-exclude = shop/views.py\n")
    result = orm_review(project, "--date", DATE)
    assert "shop/views.py" not in result.stdout and "shop/models.py" in result.stdout


def test_orm_codes_are_reviewed_even_with_a_narrow_config_select(project):
    (project / "setup.cfg").write_text("[flake8]\nselect = E,F\n")
    assert "ORM101" in orm_review(project, "--date", DATE).stdout
    assert "ORM101" not in orm_review(project, "--date", DATE, "--select=F").stdout


def test_missing_path_is_reported(project):
    result = orm_review(project, "nowhere", "shop", "--date", DATE)
    assert ("1", "E902") in codes_at(result, "nowhere") and "ORM101" in result.stdout


def test_config_option(project):
    (project / "review.cfg").write_text("[flake8]\nextend-ignore = ORM201\norm-review-dir = fromconfig\n")
    result = orm_review(project, "--date", DATE, "--config", "review.cfg")
    assert "ORM201" not in result.stdout and "ORM101" in result.stdout
    assert (project / "fromconfig" / REPORT).exists()


def test_noqa_applies(project):
    (project / "shop" / "views.py").write_text(VIEWS.replace("Book.objects.all()]", "Book.objects.all()]  # noqa: ORM201"))
    assert "ORM201" not in orm_review(project, "--date", DATE).stdout


def test_select_orm_still_reports_files_that_do_not_parse(project):
    (project / "shop" / "broken.py").write_text("def broken(:\n    pass\n")
    result = orm_review(project, "--date", DATE, "--select=ORM")
    assert ("1", "E999") in codes_at(result, "shop/broken.py")
    assert "ORM101" in result.stdout
    assert "❌ All ORM and schema code must pass Flake8" in (project / REPORT).read_text(encoding="utf-8")


def test_pyw_files_are_reviewed(project):
    (project / "shop" / "gui.pyw").write_text(VIEWS)
    assert ("5", "ORM201") in codes_at(orm_review(project, "--date", DATE), "shop/gui.pyw")


def test_cython_file_findings_on_the_real_lines(project):
    (project / "fast.pyx").write_text(PYX)
    result = orm_review(project, "--date", DATE)
    assert codes_at(result, "fast.pyx") == {("13", "ORM201")}
    text = (project / REPORT).read_text(encoding="utf-8")
    assert "1 .pyx" in text and "fast.pyx:lines 13-13" in text
    assert "for book in Book.objects.select_related(\"author\").all():" in text


def test_untranslatable_cython_is_one_orm000(project):
    (project / "odd.pyx").write_text("cimport cython\nIF UNAME_SYSNAME == 'Linux':\n    cdef int x = 1\n")
    result = orm_review(project, "--date", DATE)
    assert codes_at(result, "odd.pyx") == {("1", "ORM000")}
    assert "Traceback" not in result.stderr


def test_plain_python_pyx_goes_through_flake8(project):
    (project / "plain.pyx").write_text("import os\n" + VIEWS)
    result = orm_review(project, "--date", DATE)
    assert {("1", "F401"), ("6", "ORM201")} <= codes_at(result, "plain.pyx")


def test_notebook_findings_are_cell_mapped(project):
    (project / "nb.ipynb").write_text(notebook(
        "%matplotlib inline\nfrom shop.models import Book",
        "!ls\nfor book in Book.objects.all():\n    print(book.author.name)",
    ))
    result = orm_review(project, "--date", DATE)
    assert [(f["cell"], f["row"], f["code"]) for f in findings(result) if f["path"] == "nb.ipynb"] == [("2", "3", "ORM201")]
    assert "nb.ipynb:cell_2:3:" in result.stdout
    text = (project / REPORT).read_text(encoding="utf-8")
    assert "`nb.ipynb:cell_2:3`" in text and "1 .ipynb" in text


def test_broken_notebooks_are_reported_and_the_rest_is_reviewed(project):
    (project / "bad.ipynb").write_text("{ not json")
    (project / "cells.ipynb").write_text(notebook("from shop.models import Book", "def broken(:\n    pass", "for b in Book.objects.all():\n    b.author"))
    result = orm_review(project, "--date", DATE)
    assert codes_at(result, "bad.ipynb") == {("1", "E902")}
    cells = [(f["cell"], f["row"], f["code"]) for f in findings(result) if f["path"] == "cells.ipynb"]
    assert ("2", "1", "E999") in cells and ("3", "2", "ORM201") in cells
    assert "ORM101" in result.stdout  # the rest of the project is still reviewed
    assert "Traceback" not in result.stderr
    assert (project / REPORT).exists()


def test_invalid_date_is_a_clear_error(project):
    result = orm_review(project, "--date", "2026-13-45")
    assert result.returncode == 2 and "invalid review date" in result.stderr and "Traceback" not in result.stderr


def test_unwritable_output_dir(project):
    (project / "blocker").write_text("")
    result = orm_review(project, "--date", DATE, "--output-dir", "blocker/sub", "--exit-zero")
    assert result.returncode != 0
    assert [line for line in result.stderr.splitlines() if line] == [f"orm-review: cannot write {os.path.join('blocker/sub', REPORT)}: Not a directory"]


def test_html(project):
    orm_review(project, "--date", DATE, "--html")
    assert (project / REPORT.replace(".md", ".html")).read_text(encoding="utf-8").startswith("<!DOCTYPE html>")


def test_dev_review_command_reviews_the_example_project(tmp_path):
    # What `python3 tools/dev.py review` runs, on a copy of the examples.
    shutil.copytree(ROOT / "examples", tmp_path / "examples", ignore=shutil.ignore_patterns("orm-optimization-review-*", ".orm-*", ".orm-review-cache"))
    result = orm_review(tmp_path, "examples", "--output-dir", "examples", "--exit-zero", "--date", DATE)
    assert result.returncode == 0, result.stderr
    text = (tmp_path / "examples" / REPORT).read_text(encoding="utf-8")
    paths = {f["path"] for f in findings(result)}
    assert any(p.endswith(".ipynb") for p in paths) and any(p.endswith(".pyx") for p in paths)
    assert "### Issue 1:" in text and "1 .ipynb" in text and "1 .pyx" in text
    assert "# Current Implementation (Inefficient)" in text


def test_list_rules(tmp_path):
    from flake8_ormreview.registry import all_rules

    result = orm_review(tmp_path, "--list-rules")
    assert result.returncode == 0
    listed = [line.split()[0] for line in result.stdout.splitlines()]
    assert listed == [rule.code for rule in all_rules()]
    assert not list(tmp_path.iterdir())  # listing writes no review


def test_merge_keeps_earlier_batches_and_default_replaces(project):
    orm_review(project, "shop/models.py", "--date", DATE)
    orm_review(project, "shop/views.py", "--date", DATE, "--merge")
    text = (project / REPORT).read_text(encoding="utf-8")
    assert "shop/models.py:lines 15-15" in text and "shop/views.py:lines 5-5" in text
    orm_review(project, "shop/views.py", "--date", DATE)
    assert "shop/models.py:lines 15-15" not in (project / REPORT).read_text(encoding="utf-8")
