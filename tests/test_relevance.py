"""Which files the rules run on: ``FileContext.reaches_orm`` and ``outside_orm_trigger``.

The gate skips most of a large project's files; it must never skip a file a
rule could report on.  ``benchmarks/snapshot.py`` checks that on the real
projects; these tests pin each way a file can reach the ORM.
"""

from __future__ import annotations

import re
import textwrap
from pathlib import Path

import pytest

from flake8_ormreview.analysis import analyze
from flake8_ormreview.index import ProjectIndex
from flake8_ormreview.registry import RULES, Category, Rule, Severity, all_rules

MODELS = '''
from django.db import models


class Author(models.Model):
    name = models.CharField(max_length=100)


class Book(models.Model):
    title = models.CharField(max_length=100)
    author = models.ForeignKey(Author, on_delete=models.CASCADE)
'''

DB = '''
from flask_sqlalchemy import SQLAlchemy

db = SQLAlchemy()
'''


@pytest.fixture
def project(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    for relative, text in {"shop/__init__.py": "", "shop/models.py": MODELS, "app/__init__.py": "", "app/db.py": DB,
                           "app/util.py": "def slug(text):\n    return text.lower()\n"}.items():
        target = tmp_path / relative
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(textwrap.dedent(text).lstrip(), encoding="utf-8")
    return tmp_path


def reaches_orm(source: str, path: str, monkeypatch) -> bool:
    """What the gate decides for ``source``, seen by a rule that runs on every file."""
    all_rules()
    seen: list[bool] = []

    def spy(ctx):
        seen.append(ctx.reaches_orm)
        return []

    monkeypatch.setitem(RULES, "ORM999", Rule("ORM999", "spy", Severity.MINOR, Category.PLUGIN, "", spy,
                                              outside_orm_trigger=re.compile("")))
    analyze(textwrap.dedent(source).lstrip(), path, index=ProjectIndex(["."], cache_dir=None))
    assert len(seen) == 1
    return seen[0]


@pytest.mark.parametrize("source", [
    "import os\n\n\ndef size(path):\n    return os.path.getsize(path)\n",
    "from app.util import slug\n\n\ndef title(book):\n    return slug(book.title)\n",
    "def books(qs):\n    return [b.author.name for b in qs]\n",  # nothing resolvable: silent anyway
    "from django.conf import settings\nfrom django.urls import reverse\n",  # Django, but no model or query
])
def test_files_that_cannot_name_a_model_or_a_connection_are_skipped(project, monkeypatch, source):
    assert reaches_orm(source, "app/views.py", monkeypatch) is False


@pytest.mark.parametrize("source", [
    "from shop.models import Book\n",  # a model
    "from shop import models\n",  # a module defining models
    "from app.db import db\n",  # a project re-export of an ORM object
    "from django.db import connection\n",  # the ORM package itself
    "from django.contrib.auth import get_user_model\n",
    "import sqlite3\n",  # a DB-API driver (its cursors take raw SQL)
    "from oscar.core.loading import get_model\n",  # Oscar's loader and Django's registry return models
])
def test_files_that_can_reach_the_orm_are_checked(project, monkeypatch, source):
    assert reaches_orm(source, "app/views.py", monkeypatch) is True


def test_models_and_migrations_reach_the_orm_by_themselves(project, monkeypatch):
    assert reaches_orm(MODELS, "shop/models.py", monkeypatch) is True
    migration = "from django.db import migrations\n\n\nclass Migration(migrations.Migration):\n    operations = []\n"
    assert reaches_orm(migration, "shop/migrations/0002_x.py", monkeypatch) is True


def test_a_models_module_imported_as_a_module_still_gets_n_plus_one(project):
    source = textwrap.dedent('''
        from shop import models


        def titles():
            return [(book.title, book.author.name) for book in models.Book.objects.all()]
    ''').lstrip()
    findings = analyze(source, "app/views.py", index=ProjectIndex(["."], cache_dir=None))
    assert [f.code for f in findings] == ["ORM201"]


def test_a_cursor_in_a_file_without_orm_imports_is_still_checked_for_injection(project, tmp_path: Path):
    source = textwrap.dedent('''
        def delete_user(cursor, user_id):
            cursor.execute(f"DELETE FROM users WHERE id = {user_id}")
    ''').lstrip()
    findings = analyze(source, "app/maintenance.py", index=ProjectIndex(["."], cache_dir=None))
    assert [f.code for f in findings] == ["ORM502"]


@pytest.mark.parametrize("name", [
    "shop/tests/test_views.py", "shop/views_test.py", "shop/tests.py", "conftest.py",
    "shop/tests/testapp/views.py", "test/factories.py",  # test apps and test support packages
])
def test_test_code_is_not_reviewed(project, name):
    """What a test does to its database is not what production does: no finding, no analysis."""
    source = textwrap.dedent('''
        from shop.models import Book


        def titles():
            return [(book.title, book.author.name) for book in Book.objects.all()]
    ''').lstrip()
    index = ProjectIndex(["."], cache_dir=None)
    assert analyze(source, name, index=index) == []
    assert [f.code for f in analyze(source, "shop/views.py", index=index)] == ["ORM201"]


def test_a_test_folder_above_the_source_root_does_not_silence_the_project(tmp_path, monkeypatch):
    """Only packages below the source root count: a checkout kept in ``~/tests/`` is still reviewed."""
    checkout = tmp_path / "tests" / "bookshop"
    (checkout / "shop").mkdir(parents=True)
    (checkout / "shop" / "models.py").write_text(textwrap.dedent('''
        from django.db import models


        class Author(models.Model):
            name = models.CharField(max_length=100)


        class Book(models.Model):
            title = models.CharField(max_length=100)
            author = models.ForeignKey(Author, on_delete=models.CASCADE)
    ''').lstrip())
    monkeypatch.chdir(checkout)
    source = "from shop.models import Book\n\n\ndef names():\n    return [book.author.name for book in Book.objects.all()]\n"
    index = ProjectIndex(["."], cache_dir=None)
    assert [f.code for f in analyze(source, str(checkout / "shop" / "views.py"), index=index)] == ["ORM201"]
