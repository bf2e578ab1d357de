"""The shared query-expression layer: which model, which eager loading, which loop rows."""

from __future__ import annotations

import ast

import pytest

from flake8_ormreview.context import FileContext
from flake8_ormreview.index import ProjectIndex
from flake8_ormreview.semantic import querysets as q
from flake8_ormreview.semantic.extract import extract_module
from flake8_ormreview.semantic.names import ImportMap

from contexts import file_context

DJANGO_MODELS = """
from django.db import models

class Publisher(models.Model):
    name = models.CharField(max_length=10)

class Author(models.Model):
    name = models.CharField(max_length=10)
    publisher = models.ForeignKey(Publisher, on_delete=models.CASCADE)

class Tag(models.Model):
    slug = models.SlugField()

class Book(models.Model):
    title = models.CharField(max_length=10)
    author = models.ForeignKey(Author, on_delete=models.CASCADE, related_name="books")
    tags = models.ManyToManyField(Tag)
    published = PublishedManager()
"""

SQLA_MODELS = """
from sqlalchemy import ForeignKey
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship

class Base(DeclarativeBase):
    pass

class User(Base):
    __tablename__ = "users"
    id: Mapped[int] = mapped_column(primary_key=True)
    addresses: Mapped[list["Address"]] = relationship(back_populates="user")

class Address(Base):
    __tablename__ = "addresses"
    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    user: Mapped["User"] = relationship(back_populates="addresses")
"""


@pytest.fixture
def context(tmp_path, monkeypatch):
    (tmp_path / "shop").mkdir()
    (tmp_path / "shop" / "models.py").write_text(DJANGO_MODELS)
    (tmp_path / "app").mkdir()
    (tmp_path / "app" / "models.py").write_text(SQLA_MODELS)
    monkeypatch.chdir(tmp_path)
    return file_context


def loop_at(ctx, line):
    return next(loop for loop in q.loops(ctx) if loop.node.lineno == line)


def test_method_chain_lists_calls_receiver_first():
    node = ast.parse("Book.objects.filter(a=1).select_related('x')[:3].first()", mode="eval").body
    assert [name for name, _ in q.method_chain(node)] == ["filter", "select_related", "first"]


def test_django_chain_through_alias_and_relative_import(context):
    ctx = context("""
        from shop.models import Book as B
        from .models import Author

        def view():
            for book in B.objects.filter(title="x").select_related("author__publisher"):
                pass
            for author in Author.objects.all():
                pass
    """)
    books = loop_at(ctx, 6)
    assert books.query.model.name == "Book"
    assert books.query.covers(("author",)) and books.query.covers(("author", "publisher"))
    assert books.targets["book"].model.name == "Book"
    assert loop_at(ctx, 8).targets["author"].model.name == "Author"


def test_eager_loading_on_only_one_branch_does_not_count(context):
    ctx = context("""
        from shop.models import Book

        def view(flag):
            qs = Book.objects.filter(title="x")
            if flag:
                qs = qs.select_related("author")
            for book in qs:
                pass
            both = Book.objects.all()
            if flag:
                both = both.select_related("author").filter(title="y")
            else:
                both = both.select_related("author")
            for book in both:
                pass
    """)
    assert not loop_at(ctx, 8).query.covers(("author",))
    assert loop_at(ctx, 15).query.covers(("author",))


def test_module_function_returning_a_queryset(context):
    ctx = context("""
        from shop.models import Book

        def live_books():
            return Book.objects.filter(title="x").prefetch_related("tags")

        def view():
            return [tag.slug for book in live_books() for tag in book.tags.all()]
    """)
    loop = loop_at(ctx, 8)
    assert loop.query.covers(("tags",))
    assert loop.targets["tag"].path == ("tags",)
    assert loop.targets["tag"].query.model.name == "Book"


def test_prefetch_to_attr_and_related_managers(context):
    ctx = context("""
        from django.db.models import Prefetch
        from shop.models import Author, Book

        def view():
            authors = Author.objects.prefetch_related(
                Prefetch("books", queryset=Book.objects.select_related("author"), to_attr="listed")
            )
            for author in authors:
                for book in author.listed:
                    pass
                for other in author.books.all():
                    pass
    """)
    outer = loop_at(ctx, 9)
    assert outer.query.covers(("listed", "author")) and not outer.query.covers(("books",))
    assert loop_at(ctx, 10).targets["book"].path == ("listed",)
    inner = loop_at(ctx, 12)
    assert inner.query.origin == "related" and inner.query.relation.kind == "reverse_fk"


def test_values_rows_and_bounded_slices_bind_no_instances(context):
    ctx = context("""
        from shop.models import Book

        def view():
            for row in Book.objects.values("title"):
                pass
            for book in Book.published.all()[:1]:
                pass
            book = Book.objects.get(pk=1)
    """)
    assert loop_at(ctx, 5).query.result == q.ROWS and not loop_at(ctx, 5).targets
    assert loop_at(ctx, 7).bounded and not loop_at(ctx, 7).targets
    get = ctx.tree.body[-1].body[-1].value
    assert q.query_source(ctx, get).result == q.SINGLE


def test_sqlalchemy_statements_built_in_steps(context):
    ctx = context("""
        from sqlalchemy import select
        from sqlalchemy.orm import joinedload, selectinload
        from app.models import Address, User

        def view(session):
            stmt = select(User)
            stmt = stmt.options(selectinload(User.addresses).joinedload(Address.user))
            for user in session.scalars(stmt):
                pass
            for user in session.execute(select(User)).scalars().unique():
                pass
            for row in session.execute(select(User)):
                pass
            for user in session.query(User).options(joinedload("addresses")).all():
                pass
            for user in User.query.filter_by(id=1):
                pass
    """, path="app/views.py")
    first = loop_at(ctx, 9).query
    assert first.covers(("addresses",)) and first.covers(("addresses", "user"))
    assert first.describe() == "session.scalars(select(User).options(...))"
    assert loop_at(ctx, 11).targets["user"].model.name == "User"
    assert loop_at(ctx, 13).query.result == q.ROWS and not loop_at(ctx, 13).targets
    assert loop_at(ctx, 15).query.covers(("addresses",))
    assert loop_at(ctx, 17).query.origin == "model_query"


def test_unknown_receivers_are_silent(context):
    ctx = context("""
        class Book:
            objects = None

        def view(qs, session):
            for book in qs:
                pass
            for book in Book.objects.all():
                pass
            for thing in session.scalars(something):
                pass
    """)
    assert all(loop.query is None for loop in q.loops(ctx))


def test_while_loop_paging_binds_the_inner_loop_rows(context):
    ctx = context("""
        from shop.models import Book

        def export():
            last = 0
            while True:
                batch = list(Book.objects.filter(pk__gt=last).order_by("pk")[:500])
                if not batch:
                    break
                for book in batch:
                    print(book.author)
                last = batch[-1].pk
    """)
    inner = loop_at(ctx, 10)
    assert inner.targets["book"].model.name == "Book" and not inner.bounded
    assert loop_at(ctx, 6).kind == "while" and "batch" in loop_at(ctx, 6).assigned


def test_enclosing_loops_are_innermost_first_and_stop_at_functions(context):
    ctx = context("""
        from shop.models import Book

        def view(ids):
            for i in ids:
                for j in ids:
                    Book.objects.get(pk=j)
                    callback = lambda: Book.objects.get(pk=i)
    """)
    body = ctx.tree.body[1].body[0].body[0].body
    query = body[0].value
    assert [loop.node.lineno for loop in q.enclosing_loops(ctx, query)] == [6, 5]
    assert q.enclosing_function(ctx, body[1].value.body) is body[1].value


def test_try_and_except_paths_merge_like_branches(context):
    ctx = context("""
        from shop.models import Book

        def view():
            qs = Book.objects.all()
            try:
                qs = qs.select_related("author")
            except ValueError:
                pass
            for book in qs:
                pass
    """)
    loop = loop_at(ctx, 10)
    assert loop.query is not None and not loop.query.covers(("author",))


def test_self_returning_helpers_and_unknown_calls_are_unknown(context):
    ctx = context("""
        from shop.models import Book

        def again():
            return again()

        def helper(x):
            if x:
                return Book.objects.all()
            return compute()

        def view():
            for book in again():
                pass
            for book in helper(1):
                pass
    """)
    assert loop_at(ctx, 13).query is None
    assert loop_at(ctx, 15).query is None


def test_session_receivers(context):
    ctx = context("""
        from flask_sqlalchemy import SQLAlchemy
        db = SQLAlchemy()
        session = None
        form = None
    """, path="app/views.py")
    expr = lambda text: ast.parse(text, mode="eval").body  # noqa: E731
    assert q.is_session_like(ctx, expr("db.session"))
    assert q.is_session_like(ctx, expr("self.session"))
    assert not q.is_session_like(ctx, expr("form"))


ODD_QUERIES = [
    "Book.objects.filter(*args, **kwargs).select_related(*names)",
    "Book.objects.prefetch_related(Prefetch(lookup), Prefetch())",
    "Book.objects[0].author",
    "Book.objects.get()[1:]",
    "select(*models)",
    "select()",
    "session.scalars()",
    "session.execute(update(Book))",
    "session.query()",
    "session.get(User)",
    "User.query.options(*opts, joinedload())",
    "(await Book.objects.aget(pk=1)).author",
    "[b.author for b in (lambda: Book.objects.all())()]",
    "{b: b.tags.all() for b, c in Book.objects.all()}",
    "[t for b in Book.objects.all() for t in b.tags.all() if t for u in b.tags.all()]",
]


@pytest.mark.parametrize("expression", ODD_QUERIES)
def test_odd_query_code_resolves_without_raising(context, expression):
    ctx = context(f"""
        from django.db.models import Prefetch
        from sqlalchemy import select, update
        from sqlalchemy.orm import joinedload
        from shop.models import Book
        from app.models import User

        async def view(session, args, kwargs, names, lookup, models, opts):
            value = {expression}
            for row in value:
                for inner in row:
                    print(row, inner)
            return value
    """)
    for node in ast.walk(ctx.tree):
        q.query_source(ctx, node)
        q.instance_of(ctx, node)
    assert isinstance(q.loops(ctx), list)


from hypothesis import HealthCheck, given, settings, strategies as st  # noqa: E402

METHODS = sorted(q.DJANGO_LAZY | q.DJANGO_ROWS | q.DJANGO_SINGLE | q.DJANGO_SCALAR | q.DJANGO_WRITE
                 | q.SQLA_LAZY | q.SQLA_ROW_METHODS | q.SQLA_SINGLE | {"all", "scalars", "iterator", "options"})
ARGUMENTS = ["", "'author'", "'author__publisher'", "x=1", "*a", "**k", "Prefetch('tags')", "joinedload(User.addresses)",
             "lambda: 1", "Book.objects.all()"]
RECEIVERS = ["Book.objects", "Book.published", "author.books", "select(User)", "session.query(User)", "User.query",
             "session.scalars(select(User))", "session.execute(select(User.id))", "qs", "unknown"]


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(receiver=st.sampled_from(RECEIVERS),
       steps=st.lists(st.tuples(st.sampled_from(METHODS), st.sampled_from(ARGUMENTS)), max_size=5))
def test_random_chains_never_raise_and_rows_stay_rows(context, receiver, steps):
    chain = receiver + "".join(f".{name}({args})" for name, args in steps)
    ctx = context(f"""
        from django.db.models import Prefetch
        from sqlalchemy import select
        from sqlalchemy.orm import joinedload
        from shop.models import Author, Book
        from app.models import User

        def view(session, a, k):
            author = Author.objects.get(pk=1)
            qs = Book.objects.filter(title="x")
            result = {chain}
            return [row for row in result]
    """)
    value = ctx.tree.body[-1].body[2].value
    info = q.query_source(ctx, value)
    loop = q.loops(ctx)[0]
    if info is not None and info.framework == "django" and any(n in q.DJANGO_ROWS for n, _ in steps):
        assert info.result != q.INSTANCES and not loop.targets


def test_imports_relative_to_a_nested_project_root_resolve_when_unique(tmp_path, monkeypatch):
    for project in ("backend", "legacy"):
        (tmp_path / project / "shop").mkdir(parents=True)
        (tmp_path / project / "shop" / "models.py").write_text(DJANGO_MODELS)
    (tmp_path / "backend" / "billing").mkdir()
    (tmp_path / "backend" / "billing" / "models.py").write_text(
        "from django.db import models\n\nclass Invoice(models.Model):\n    number = models.CharField(max_length=9)\n"
    )
    monkeypatch.chdir(tmp_path)
    source = "from shop.models import Book\nfrom billing.models import Invoice\n"
    tree = ast.parse(source)
    facts = extract_module(tree, "backend/shop/views.py", ".", "backend.shop.views")
    index = ProjectIndex(["."], cache_dir=None)
    index.override(facts)
    ctx = FileContext("backend/shop/views.py", source, tree, facts, ImportMap.from_tree(tree, "backend.shop.views"), index)
    assert q.resolve_model(ctx, "billing.models.Invoice").qualname == "backend.billing.models.Invoice"
    assert q.resolve_model(ctx, "shop.models.Book") is None  # backend.shop and legacy.shop: ambiguous
    assert q.resolve_model(ctx, "Invoice") is None
