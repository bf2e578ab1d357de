"""The memos and pre-checks that make the per-file analysis cheaper answer exactly what they stand for."""

from __future__ import annotations

import ast
import os
import textwrap

import pytest

from flake8_ormreview.semantic import migrations as m
from flake8_ormreview.semantic import querysets as q
from flake8_ormreview.semantic.names import ImportMap

from contexts import file_context

DJANGO_MODELS = """
from django.db import models

class Author(models.Model):
    name = models.CharField(max_length=10)

class Book(models.Model):
    title = models.CharField(max_length=10)
    author = models.ForeignKey(Author, on_delete=models.CASCADE)
"""

SQLA_MODELS = """
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

class Base(DeclarativeBase):
    pass

class User(Base):
    __tablename__ = "users"
    id: Mapped[int] = mapped_column(primary_key=True)
"""


@pytest.fixture
def project(tmp_path, monkeypatch):
    """``project(files)`` writes the files, then ``build(source, path)`` gives a FileContext (``contexts.file_context``)."""
    monkeypatch.chdir(tmp_path)

    def write(files: dict[str, str]):
        for path, text in files.items():
            os.makedirs(os.path.dirname(path) or ".", exist_ok=True)
            with open(path, "w", encoding="utf-8") as handle:
                handle.write(text)
        return file_context

    return write


def test_canonical_of_answers_what_ctx_canonical_answers_for_every_node(project):
    build = project({"shop/__init__.py": "", "shop/models.py": DJANGO_MODELS})
    ctx = build("""
        import sqlalchemy as sa
        from django.db import models, transaction
        from django.db.models import F as Field, Prefetch
        from shop.models import Book

        def view(request, session):
            with transaction.atomic():
                Book.objects.filter(title=Field("x")).prefetch_related(Prefetch("author"))
            session.execute(sa.text("select 1"), {"a": request.GET})
            return models.Q(), (lambda: 1)(), request.user.profile.name, Book
    """)
    nodes = list(ast.walk(ctx.tree))
    for node in nodes + nodes:  # the second pass reads the memo
        assert q.canonical_of(ctx, node) == ctx.canonical(node), ast.dump(node)[:80]
    assert q.canonical_of(ctx, None) is None


def test_may_query_sqlalchemy_is_false_only_without_sqlalchemy_models_or_statements(project):
    build = project({"shop/__init__.py": "", "shop/models.py": DJANGO_MODELS})
    django_only = build("""
        from shop.models import Book

        def view():
            return Book.objects.filter(title="x").order_by("title")
    """)
    assert not q.may_query_sqlalchemy(django_only)
    statement = build("""
        from sqlalchemy import select
        from shop.models import Book

        def rows(session):
            return session.scalars(select(Book).order_by("title"))
    """)
    assert q.may_query_sqlalchemy(statement)
    assert q.query_source(statement, statement.tree.body[2].body[0].value).framework == "sqlalchemy"


def test_may_query_sqlalchemy_is_true_when_the_index_holds_an_sqlalchemy_model(project):
    build = project({"shop/__init__.py": "", "shop/models.py": DJANGO_MODELS,
                     "app/__init__.py": "", "app/models.py": SQLA_MODELS})
    ctx = build("""
        def view(session):
            return session.query(User)
    """)
    assert q.may_query_sqlalchemy(ctx)


def _summary(name: str, deps: list[str], state: list[dict]) -> dict:
    return {"framework": "django", "name": name, "app": "shop",
            "dependencies": [["shop", d] for d in deps], "state": state}


def test_replay_from_a_replayed_prefix_equals_a_full_replay_and_leaves_the_prefix_alone():
    field = {"name": "title", "relation": "", "null": False}
    history = [
        _summary("0001", [], [{"op": "CreateModel", "model": "book", "fields": {"title": field}, "options": {}}]),
        _summary("0002", ["0001"], [{"op": "AddField", "model": "book", "name": "isbn", "field": dict(field, name="isbn")}]),
        _summary("0003", ["0002"], [{"op": "RenameField", "model": "book", "name": "isbn", "new_name": "code"},
                                    {"op": "AlterModelOptions", "model": "book", "options": {"managed": False}}]),
    ]
    m._REPLAYED.clear()
    full = m.replay(list(history))
    m._REPLAYED.clear()
    prefix = m.replay(history[:2])
    prefix_fields = dict(prefix["book"]["fields"])
    incremental = m.replay(list(history))
    assert set(incremental["book"]["fields"]) == set(full["book"]["fields"]) == {"title", "code"}
    assert incremental["book"]["managed"] is full["book"]["managed"] is False
    assert prefix["book"]["fields"] == prefix_fields and prefix["book"]["managed"] is True


def test_read_migration_reads_a_tree_once_per_imports():
    tree = ast.parse(textwrap.dedent("""
        from django.db import migrations, models

        class Migration(migrations.Migration):
            dependencies = [("shop", "0001_initial")]
            operations = [migrations.AddField("book", "isbn", models.CharField(max_length=13, null=True))]
    """))
    imports = ImportMap.from_tree(tree, "shop.migrations.0002_isbn")
    path = os.path.join("shop", "migrations", "0002_isbn.py")
    first = m.read_migration(tree, imports, path, "django_migration")
    assert first is not None and [op.kind for op in first.operations] == ["AddField"]
    assert m.read_migration(tree, imports, path, "django_migration") is first
    other_imports = ImportMap.from_tree(tree, "shop.migrations.0002_isbn")
    again = m.read_migration(tree, other_imports, path, "django_migration")
    assert again is not first and [op.kind for op in again.operations] == ["AddField"]
