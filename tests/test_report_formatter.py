"""``flake8 --format=orm-review`` end to end: terminal lines, report file, stdin, errors, concurrency."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from flake8_ormreview.report.builder import H_CRITICAL, H_DASHBOARD, TITLE
from flake8_ormreview.report.markdown import parse_structure

DATE = "2026-03-04"
REPORT = f"orm-optimization-review-{DATE}.md"

MODELS = textwrap.dedent(
    '''\
    """Catalogue models."""
    from django.db import models


    class Author(models.Model):
        """A writer."""

        name = models.CharField(max_length=100)


    class Book(models.Model):
        """A title."""

        author = models.ForeignKey(Author, on_delete=models.CASCADE, db_index=False)
        password = models.CharField(max_length=100)
    '''
)

ORDERS = textwrap.dedent(
    '''\
    """Orders."""
    from sqlalchemy import ForeignKey
    from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column


    class Base(DeclarativeBase):
        pass


    class Order(Base):
        """An order."""

        __tablename__ = "orders"

        id: Mapped[int] = mapped_column(primary_key=True)
        customer_id: Mapped[int] = mapped_column(ForeignKey("customers.id"))
    '''
)


@pytest.fixture
def project(tmp_path):
    (tmp_path / "shop").mkdir()
    (tmp_path / "shop" / "__init__.py").write_text("")
    (tmp_path / "shop" / "models.py").write_text(MODELS)
    (tmp_path / "shop" / "orders.py").write_text(ORDERS)
    (tmp_path / "shop" / "util.py").write_text("import os\n")
    return tmp_path


def flake8(cwd: Path, *args: str, stdin: str | None = None) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "flake8", *args],
        cwd=cwd, input=stdin, capture_output=True, text=True, timeout=300,
    )


def review_args(out: Path, *extra: str) -> list[str]:
    return ["--format=orm-review", f"--orm-review-dir={out}", f"--orm-review-date={DATE}", *extra]


def test_terminal_lines_and_exit_status_are_flake8s(project):
    plain = flake8(project, "shop")
    review = flake8(project, *review_args(project / "out"), "shop")
    assert review.stdout == plain.stdout
    assert review.returncode == plain.returncode == 1
    assert "shop/models.py:14:5: ORM101 " in review.stdout
    text = (project / "out" / REPORT).read_text(encoding="utf-8")
    headings, _ = parse_structure(text)
    assert headings[0] == (1, TITLE) and (2, H_DASHBOARD) in headings and (2, H_CRITICAL) in headings
    assert "shop/models.py:lines 14-14" in text
    assert "shop/orders.py:lines 16-16" in text
    assert "F 1" in text  # the unused import of the same run


def test_report_is_byte_identical_for_the_same_input(project):
    flake8(project, *review_args(project / "a"), "shop")
    flake8(project, *review_args(project / "b"), "shop")
    assert (project / "a" / REPORT).read_bytes() == (project / "b" / REPORT).read_bytes()


def test_jobs_workers_findings_reach_the_report(project):
    result = flake8(project, *review_args(project / "out"), "--jobs=2", "shop")
    assert result.returncode == 1
    text = (project / "out" / REPORT).read_text(encoding="utf-8")
    assert "ORM101" in text and "shop/orders.py" in text and "shop/models.py" in text


def test_stdin_runs_never_write(project):
    out = project / "out"
    result = flake8(project, *review_args(out), "--stdin-display-name", "shop/models.py", "-", stdin=MODELS)
    assert "shop/models.py:14:5: ORM101 " in result.stdout
    assert not out.exists()


def test_format_in_config_with_stdin_like_python_lsp_server(project):
    (project / "setup.cfg").write_text(f"[flake8]\nformat = orm-review\norm-review-dir = out\norm-review-date = {DATE}\n")
    result = flake8(project, "-", "--stdin-display-name", "shop/models.py", stdin=MODELS)
    assert result.stdout.startswith("shop/models.py:")
    assert " ORM101 " in result.stdout and "orm-review" not in result.stdout
    assert not (project / "out").exists()
    assert not list(project.glob("orm-optimization-review-*"))


def test_legacy_api_never_writes(project):
    code = (
        "from flake8.api import legacy\n"
        f"guide = legacy.get_style_guide(format='orm-review', orm_review_dir='out', orm_review_date='{DATE}')\n"
        "report = guide.check_files(['shop'])\n"
        "print(report.total_errors)\n"
    )
    result = subprocess.run([sys.executable, "-c", code], cwd=project, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr
    assert int(result.stdout.strip().splitlines()[-1]) > 0
    assert not (project / "out").exists()


def test_unwritable_review_dir_is_one_error_line_and_nonzero_exit(project):
    blocker = project / "blocker"
    blocker.write_text("a file, not a folder")
    result = flake8(project, *review_args(blocker / "reports"), "--exit-zero", "shop")
    assert result.returncode != 0
    errors = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(errors) == 1 and errors[0].startswith("orm-review: cannot write ") and "Traceback" not in result.stderr
    assert "shop/models.py:14:5: ORM101" in result.stdout  # the normal lines are still printed


@pytest.mark.skipif(os.name == "nt" or os.geteuid() == 0, reason="root ignores directory permissions")
def test_read_only_review_dir_leaves_no_partial_file(project):
    out = project / "ro"
    out.mkdir()
    out.chmod(0o555)
    try:
        result = flake8(project, *review_args(out), "shop")
        assert result.returncode != 0 and "orm-review: cannot write" in result.stderr
        assert list(out.iterdir()) == []
    finally:
        out.chmod(0o755)


def test_no_temporary_files_are_left_behind(project):
    flake8(project, *review_args(project / "out"), "shop")
    names = sorted(p.name for p in (project / "out").iterdir())
    assert names == [f".orm-optimization-review-{DATE}.json", f".orm-optimization-review-{DATE}.lock", REPORT]


def test_split_batches_merge_into_one_report(project):
    # pre-commit runs one flake8 per batch of files: the second must not erase the first.
    out = project / "out"
    flake8(project, *review_args(out), "shop/models.py")
    flake8(project, *review_args(out), "shop/orders.py")
    text = (out / REPORT).read_text(encoding="utf-8")
    assert "shop/models.py:lines 14-14" in text and "shop/orders.py:lines 16-16" in text


def test_concurrent_runs_merge(project):
    out = project / "out"
    files = []
    for number in range(6):
        name = f"shop/m{number}.py"
        (project / name).write_text(ORDERS.replace("Order", f"Order{number}").replace('"orders"', f'"orders{number}"'))
        files.append(name)
    processes = [
        subprocess.Popen([sys.executable, "-m", "flake8", *review_args(out), name], cwd=project, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
        for name in files
    ]
    for process in processes:
        _, err = process.communicate(timeout=300)
        assert "Traceback" not in err
    text = (out / REPORT).read_text(encoding="utf-8")
    for name in files:
        assert f"{name}:lines 16-16" in text
    headings, _ = parse_structure(text)
    assert headings[0] == (1, TITLE)


def test_rerun_replaces_a_files_old_findings(project):
    out = project / "out"
    flake8(project, *review_args(out), "shop/models.py")
    (project / "shop" / "models.py").write_text(MODELS.replace(", db_index=False", ""))
    flake8(project, *review_args(out), "shop/models.py")
    text = (out / REPORT).read_text(encoding="utf-8")
    assert "ORM101" not in text


def test_html_rendering(project):
    out = project / "out"
    flake8(project, *review_args(out, "--orm-review-html"), "shop")
    html = (out / REPORT.replace(".md", ".html")).read_text(encoding="utf-8")
    assert html.startswith("<!DOCTYPE html>") and "<h1>" in html and "Mission-Critical Issues" in html
    assert "<script>" not in html


def test_nbqa_findings_map_to_the_cells_nbqa_reports(project):
    # nbqa skips empty and all-magic cells in its temporary file but keeps numbering code cells.
    import json

    cells = [
        {"cell_type": "markdown", "metadata": {}, "source": ["# Notes\n"]},
        {"cell_type": "code", "metadata": {}, "outputs": [], "execution_count": None, "source": ["%matplotlib inline\n"]},
        {"cell_type": "code", "metadata": {}, "outputs": [], "execution_count": None, "source": ["from shop.models import Book\n"]},
        {"cell_type": "code", "metadata": {}, "outputs": [], "execution_count": None, "source": []},
        {"cell_type": "code", "metadata": {}, "outputs": [], "execution_count": None, "source": ["!ls\n", "for book in Book.objects.all():\n", "    print(book.author.name)\n"]},
    ]
    (project / "nb.ipynb").write_text(json.dumps({"cells": cells, "metadata": {}, "nbformat": 4, "nbformat_minor": 5}))
    result = subprocess.run(
        [str(Path(sys.executable).parent / "nbqa"), "flake8", "nb.ipynb", *review_args(project / "out")],
        cwd=project, capture_output=True, text=True, timeout=300,
    )
    assert re.search(r"^nb.ipynb:cell_4:3:\d+: ORM201 ", result.stdout, re.M), result.stdout + result.stderr
    text = (project / "out" / REPORT).read_text(encoding="utf-8")
    assert "`nb.ipynb:cell_4:3`" in text and "_nbqa_ipynb" not in text
    assert "Reviewed `nb.ipynb`" in text and "1 .ipynb" in text


def test_select_orm_still_names_files_that_do_not_parse_in_the_review(project):
    (project / "shop" / "broken.py").write_text("def broken(:\n    pass\n")
    result = flake8(project, *review_args(project / "out"), "--select=ORM", "shop")
    assert "E999" not in result.stdout  # flake8's own behaviour under --select=ORM
    text = (project / "out" / REPORT).read_text(encoding="utf-8")
    assert "1 files do not parse and were not analysed: `shop/broken.py`" in text
    assert "- ❌ All ORM and schema code must pass Flake8" in text


def test_flake8_checklist_item_is_not_passed_when_style_checks_were_not_selected(project):
    (project / "shop" / "util.py").write_text("X = 1\n")
    flake8(project, *review_args(project / "out"), "--select=ORM", "shop")
    text = (project / "out" / REPORT).read_text(encoding="utf-8")
    assert "- ❌ All ORM and schema code must pass Flake8" in text and "not verified" in text
    flake8(project, *review_args(project / "out2"), "shop/util.py")
    assert "- ✅ All ORM and schema code must pass Flake8" in (project / "out2" / REPORT).read_text(encoding="utf-8")
