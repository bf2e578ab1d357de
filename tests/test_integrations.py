"""pre-commit end to end: ``pre-commit try-repo <this checkout>`` on a temporary git repository.

pre-commit builds its own environment by pip-installing the checkout (and
nbqa for the notebook hook) from PyPI; nothing comes from GitHub.
"""

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

ROOT = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent
DATE_RE = r"orm-optimization-review-\d{4}-\d{2}-\d{2}\.md"

MODELS = textwrap.dedent(
    '''\
    """Catalogue."""
    from django.db import models


    class Author(models.Model):
        """A writer."""

        name = models.CharField(max_length=100)


    class Book(models.Model):
        """A title."""

        author = models.ForeignKey(Author, on_delete=models.CASCADE, related_name="books", db_index=False)
    '''
)
PYX = "cimport cython\nfrom shop.models import Book\n\n\ncpdef list names():\n    cdef list result = []\n    for book in Book.objects.all():\n        result.append(book.author.name)\n    return result\n"
NOTEBOOK = json.dumps({
    "cells": [
        {"cell_type": "markdown", "metadata": {}, "source": ["# Report\n"]},
        {"cell_type": "code", "metadata": {}, "execution_count": None, "outputs": [], "source": ["%load_ext autoreload\n", "from shop.models import Book\n"]},
        {"cell_type": "code", "metadata": {}, "execution_count": None, "outputs": [], "source": ["for book in Book.objects.all():\n", "    print(book.author.name)\n"]},
    ],
    "metadata": {}, "nbformat": 4, "nbformat_minor": 5,
})

pytestmark = pytest.mark.skipif(shutil.which("pre-commit", path=str(BIN)) is None or shutil.which("git") is None, reason="needs pre-commit and git")


@pytest.fixture(scope="module")
def pre_commit_home(tmp_path_factory):
    return tmp_path_factory.mktemp("pre-commit-home")


@pytest.fixture
def repo(tmp_path):
    repo = tmp_path / "repo"
    (repo / "shop").mkdir(parents=True)
    (repo / "shop" / "__init__.py").write_text("")
    (repo / "shop" / "models.py").write_text(MODELS)
    (repo / "fast.pyx").write_text(PYX)
    (repo / "report.ipynb").write_text(NOTEBOOK)
    (repo / "setup.cfg").write_text("[flake8]\nmax-line-length = 130\n")
    git = ["git", "-c", "user.name=t", "-c", "user.email=t@example.com"]
    subprocess.run(git + ["init", "-q"], cwd=repo, check=True)
    subprocess.run(git + ["add", "."], cwd=repo, check=True)
    return repo


def try_repo(repo: Path, home: Path, hook: str) -> subprocess.CompletedProcess:
    env = dict(os.environ, PRE_COMMIT_HOME=str(home), PATH=str(BIN) + os.pathsep + os.environ.get("PATH", ""))
    return subprocess.run(
        [str(BIN / "pre-commit"), "try-repo", str(ROOT), hook, "--verbose"],
        cwd=repo, env=env, capture_output=True, text=True, timeout=900,
    )


def test_flake8_hook_reports_and_writes_the_review(repo, pre_commit_home):
    result = try_repo(repo, pre_commit_home, "flake8-ormreview")
    output = result.stdout + result.stderr
    assert result.returncode == 1, output
    assert re.search(r"^shop/models.py:14:5: ORM101 ", output, re.M), output
    reports = [p for p in repo.iterdir() if re.fullmatch(DATE_RE, p.name)]
    assert len(reports) == 1
    text = reports[0].read_text(encoding="utf-8")
    assert "shop/models.py:lines 14-14" in text and "### Issue 1:" in text


def test_notebook_hook_through_nbqa(repo, pre_commit_home):
    result = try_repo(repo, pre_commit_home, "flake8-ormreview-notebooks")
    output = result.stdout + result.stderr
    assert result.returncode == 1, output
    assert re.search(r"^report.ipynb:cell_2:2:\d+: ORM201 ", output, re.M), output
    text = next(p for p in repo.iterdir() if re.fullmatch(DATE_RE, p.name)).read_text(encoding="utf-8")
    assert "report.ipynb:cell_2:2" in text and "_nbqa_ipynb" not in text


def test_orm_review_hook_covers_cython_and_notebooks(repo, pre_commit_home):
    result = try_repo(repo, pre_commit_home, "orm-review")
    output = result.stdout + result.stderr
    assert result.returncode == 1, output
    assert re.search(r"^fast.pyx:8:\d+: ORM201 ", output, re.M), output
    assert re.search(r"^report.ipynb:cell_2:2:\d+: ORM201 ", output, re.M), output
    assert re.search(r"^shop/models.py:14:5: ORM101 ", output, re.M), output
