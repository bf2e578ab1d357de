"""Property-based tests: generated Python and generated ORM projects through ``analyze()``.

Any module Python accepts, and any shape of Django / SQLAlchemy / SQLModel
model, migration and query the strategies below can write, must analyse
without an exception and without ORM000; every finding is one line on a line
of the file with a registered code; and the markdown review built from those
findings keeps the template's heading structure.
"""

from __future__ import annotations

import ast
import keyword
import os
import tempfile
import textwrap
from pathlib import Path

import hypothesmith
import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from flake8_ormreview.analysis import analyze
from flake8_ormreview.index import ProjectIndex
from flake8_ormreview.registry import RULES
from flake8_ormreview.semantic.outline import outline_of

# An empty source root: the index must not walk the checkout (or /tmp) for every example.
EMPTY_ROOT = tempfile.mkdtemp(prefix="orm-properties-")


def empty_index() -> ProjectIndex:
    return ProjectIndex([EMPTY_ROOT], cache_dir=None)


SETTINGS = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much])


def check(findings, source: str) -> None:
    lines = max(1, len(source.splitlines()))
    for finding in findings:
        assert finding.code != "ORM000", finding
        assert finding.code in RULES
        assert "\n" not in finding.message and finding.message.strip()
        assert 1 <= finding.line <= lines + 1, finding


def analyze_project(files: dict[str, str]) -> dict[str, list]:
    """Write ``files`` into a fresh folder and analyse each with one index, like a flake8 run."""
    cwd = os.getcwd()
    with tempfile.TemporaryDirectory() as root:
        for relative, text in files.items():
            path = Path(root, relative)
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(text, encoding="utf-8")
        os.chdir(root)
        try:
            index = ProjectIndex(["."], cache_dir=None)
            results = {relative: analyze(text, relative, index=index) for relative, text in files.items()}
        finally:
            os.chdir(cwd)
    for relative, findings in results.items():
        check(findings, files[relative])
    return results


# -- arbitrary Python ---------------------------------------------------------------------


@SETTINGS
@given(source=hypothesmith.from_grammar())
def test_any_module_from_the_grammar(source):
    findings = analyze(source, "shop/models.py", index=empty_index())
    check(findings, source)


@settings(SETTINGS, max_examples=30)  # libcst-based generation is the slow one
@given(source=hypothesmith.from_node())
def test_any_module_from_libcst_nodes(source):
    findings = analyze(source, "shop/views.py", index=empty_index())
    check(findings, source)


ORM_PRELUDE = textwrap.dedent(
    """
    from django.db import models, transaction
    from django.db.migrations import Migration, AddField, RunPython
    from sqlalchemy import Column, ForeignKey, Integer, select
    from sqlalchemy.orm import relationship, Session
    from alembic import op
    """
)


@SETTINGS
@given(body=hypothesmith.from_grammar())
@pytest.mark.filterwarnings("ignore::SyntaxWarning")
def test_any_module_with_orm_imports_in_scope(body):
    """The same, with ORM names importable so the rules' resolution paths are taken."""
    source = ORM_PRELUDE + "\n" + body
    try:
        ast.parse(source)
    except (SyntaxError, ValueError, RecursionError, MemoryError):
        assume(False)
    for path in ("shop/models.py", "shop/migrations/0002_auto.py", "alembic/versions/abc_rev.py"):
        check(analyze(source, path, index=empty_index()), source)


# -- generated ORM projects ---------------------------------------------------------------

IDENT = st.sampled_from(["name", "status", "email", "price", "total", "created", "slug", "code", "password", "token",
                         "amount", "kind", "position", "owner", "parent", "title", "id", "pk", "uuid", "data"])
MODEL_NAMES = st.lists(st.sampled_from(["Author", "Book", "Order", "Item", "Tag", "Account", "Invoice", "Page"]),
                       min_size=1, max_size=4, unique=True)
LITERAL = st.sampled_from(["True", "False", "None", "0", "1", "20", "'x'", "''", "[]", "dict", "lambda: 1", "timezone.now"])
DJANGO_TYPES = st.sampled_from(["CharField", "TextField", "IntegerField", "FloatField", "DecimalField", "BooleanField",
                                "DateTimeField", "EmailField", "SlugField", "JSONField", "UUIDField", "BinaryField",
                                "PositiveIntegerField", "GenericIPAddressField"])
DJANGO_KWARGS = st.sampled_from(["null", "blank", "db_index", "unique", "max_length", "default", "db_default", "primary_key",
                                 "db_column", "editable", "choices", "verbose_name", "help_text", "max_digits", "decimal_places"])


@st.composite
def kwargs(draw, names=DJANGO_KWARGS, max_size=4) -> str:
    chosen = draw(st.lists(names, max_size=max_size, unique=True))
    parts = [f"{name}={draw(LITERAL)}" for name in chosen]
    if draw(st.booleans()):
        parts.append(draw(st.sampled_from(["**extra", "*args", "**{'null': True}"])))
    return ", ".join(parts)


@st.composite
def django_field(draw, models: list[str]) -> str:
    kind = draw(st.sampled_from(["plain", "plain", "fk", "o2o", "m2m", "odd"]))
    if kind == "plain":
        return f"models.{draw(DJANGO_TYPES)}({draw(kwargs())})"
    if kind == "odd":
        return draw(st.sampled_from(["CustomField()", "models.Field()", "models.ForeignKey()", "models.CharField(*defs)",
                                     "fields.Thing(models.CASCADE)", "models.ManyToManyField(through=None)"]))
    constructor = {"fk": "ForeignKey", "o2o": "OneToOneField", "m2m": "ManyToManyField"}[kind]
    target = draw(st.sampled_from([*models, "'self'", "'self'", "'other.Thing'", "'shop.Author'", "settings.AUTH_USER_MODEL",
                                   *(f"'{m}'" for m in models)]))
    extra = draw(kwargs(st.sampled_from(["null", "blank", "db_index", "related_name", "unique", "db_constraint", "through"]), 2))
    on_delete = "" if kind == "m2m" else ", on_delete=models.CASCADE"
    return f"models.{constructor}({target}{on_delete}{', ' + extra if extra else ''})"


@st.composite
def meta(draw, fields: list[str]) -> list[str]:
    options = []
    names = st.sampled_from(fields + ["pk", "-pk", "?", "author__name", "missing", "-created"]) if fields else st.just("pk")
    for option in draw(st.lists(st.sampled_from(["ordering", "indexes", "unique_together", "index_together", "abstract",
                                                 "managed", "db_table", "constraints", "get_latest_by", "proxy"]),
                                max_size=4, unique=True)):
        if option in ("ordering", "unique_together", "index_together"):
            options.append(f"{option} = {draw(st.lists(names, max_size=3))!r}")
        elif option == "get_latest_by":
            options.append(f"get_latest_by = {draw(names)!r}")
        elif option == "indexes":
            columns = draw(st.lists(names, min_size=0, max_size=3))
            condition = ", condition=models.Q(x=1)" if draw(st.booleans()) else ""
            options.append(f"indexes = [models.Index(fields={columns!r}, name='ix'{condition})]")
        elif option == "constraints":
            columns = draw(st.lists(names, min_size=1, max_size=3))
            options.append(f"constraints = [models.UniqueConstraint(fields={columns!r}, name='uq')]")
        elif option == "db_table":
            options.append(f"db_table = {draw(st.sampled_from(['shop_t', 'x']))!r}")
        else:
            options.append(f"{option} = {draw(st.booleans())}")
    return options


@st.composite
def django_models(draw) -> tuple[str, list[str], dict[str, list[str]]]:
    models_ = draw(MODEL_NAMES)
    lines = ["from django.conf import settings", "from django.db import models", "from django.utils import timezone", ""]
    fields_of: dict[str, list[str]] = {}
    for position, model in enumerate(models_):
        base = draw(st.sampled_from(["models.Model", "models.Model", *models_[:position], "Mixin, models.Model"]))
        lines += ["", "", f"class {model}({base}):"]
        if draw(st.booleans()):
            lines.append(f'    """A {model.lower()}."""')
        fields = draw(st.lists(IDENT, max_size=6, unique=True))
        fields_of[model] = fields
        for field in fields:
            lines.append(f"    {field} = {draw(django_field(models_))}")
        if draw(st.booleans()):
            lines += ["    objects = models.Manager()"]
        options = draw(meta(fields))
        if options:
            lines += ["", "    class Meta:"] + [f"        {option}" for option in options]
        if draw(st.booleans()):
            lines += ["", "    def __str__(self):", "        return str(self.pk)"]
        if len(lines) and lines[-1].endswith(":"):
            lines.append("    pass")
    return "\n".join(lines) + "\n", models_, fields_of


@st.composite
def django_queries(draw, models_: list[str], fields_of: dict[str, list[str]]) -> str:
    lines = ["from django.db import transaction", f"from shop.models import {', '.join(models_)}", ""]
    for number in range(draw(st.integers(1, 4))):
        model = draw(st.sampled_from(models_))
        field = draw(st.sampled_from(fields_of[model] + ["pk", "missing", "parent__name"]))
        method = draw(st.sampled_from(["filter", "exclude", "get", "order_by", "values", "select_related", "prefetch_related",
                                       "only", "defer", "annotate", "extra", "raw", "update", "delete", "count", "exists"]))
        argument = {"order_by": f"'{field}'", "values": f"'{field}'", "select_related": f"'{field}'",
                    "prefetch_related": f"'{field}'", "only": f"'{field}'", "defer": f"'{field}'",
                    "extra": "where=['1=1']", "raw": "f'SELECT * FROM t WHERE id={value}'", "count": "", "exists": "",
                    "delete": "", "annotate": ""}.get(method, f"{field}=value")
        decorator = "@transaction.atomic\n" if draw(st.booleans()) else ""
        body = draw(st.sampled_from([
            f"    rows = {model}.objects.{method}({argument})\n    for row in rows:\n        print(row.{field}, row.pk)\n        row.save()",
            f"    return len({model}.objects.{method}({argument}))",
            f"    if {model}.objects.{method}({argument}):\n        {model}.objects.create({field}=value)\n        {model}.objects.create({field}=value)",
            f"    return [r.{field} for r in {model}.objects.all() if r.{field} == value]",
            f"    obj = {model}.objects.get(pk=value)\n    setattr(obj, value, 1)\n    obj.save()\n    return sum(x.{field} for x in {model}.objects.all())",
            f"    with transaction.atomic():\n        return {model}.objects.select_for_update().{method}({argument})",
        ]))
        lines.append(f"{decorator}def view_{number}(value, *args, **kwargs):\n{body}\n\n")
    return "\n".join(lines)


@st.composite
def django_migration(draw, models_: list[str], fields_of: dict[str, list[str]]) -> str:
    operations = []
    for _ in range(draw(st.integers(0, 4))):
        model = draw(st.sampled_from(models_)).lower()
        field = draw(st.sampled_from(fields_of.get(model.title(), []) + ["name", "new_col"]))
        options = draw(st.sampled_from(["", ", null=True", ', default=""', ", db_index=True", ", unique=True"]))
        operations.append(draw(st.sampled_from([
            f"migrations.AddField(model_name='{model}', name='{field}', field=models.CharField(max_length=5{options}))",
            f"migrations.RemoveField(model_name='{model}', name='{field}')",
            f"migrations.AlterField(model_name='{model}', name='{field}', field=models.IntegerField({draw(kwargs())}))",
            f"migrations.RenameField(model_name='{model}', old_name='{field}', new_name='x')",
            f"migrations.AddIndex(model_name='{model}', index=models.Index(fields=['{field}'], name='ix'))",
            f"migrations.CreateModel(name='{model.title()}X', fields=[('id', models.AutoField(primary_key=True)), ('{field}', models.ForeignKey(on_delete=models.CASCADE, to='shop.{model}'))])",
            f"migrations.DeleteModel(name='{model.title()}')",
            f"migrations.RunSQL('ALTER TABLE shop_{model} ADD COLUMN c int NOT NULL')",
            "migrations.RunPython(forwards)",
            f"migrations.AlterUniqueTogether(name='{model}', unique_together={{('{field}', 'id')}})",
            f"migrations.SeparateDatabaseAndState(state_operations=[migrations.RemoveField('{model}', '{field}')])",
        ])))
    atomic = draw(st.sampled_from(["", "    atomic = False\n"]))
    dependencies = draw(st.sampled_from(["[('shop', '0001_initial')]", "[]", "[('other', '0003_x')]"]))
    return (
        "from django.db import migrations, models\n\n\ndef forwards(apps, schema_editor):\n"
        f"    for row in apps.get_model('shop', '{models_[0]}').objects.all():\n        row.save()\n\n\n"
        f"class Migration(migrations.Migration):\n{atomic}    dependencies = {dependencies}\n"
        f"    operations = [\n" + "".join(f"        {op},\n" for op in operations) + "    ]\n"
    )


@SETTINGS
@given(data=st.data())
def test_generated_django_projects(data):
    models_source, models_, fields_of = data.draw(django_models())
    files = {
        "shop/__init__.py": "",
        "shop/models.py": models_source,
        "shop/views.py": data.draw(django_queries(models_, fields_of)),
        "shop/migrations/__init__.py": "",
        "shop/migrations/0001_initial.py": "from django.db import migrations\n\n\nclass Migration(migrations.Migration):\n    initial = True\n    operations = []\n",
        "shop/migrations/0002_change.py": data.draw(django_migration(models_, fields_of)),
    }
    results = analyze_project(files)
    report_keeps_its_structure(files, results)


SQLA_TYPES = st.sampled_from(["Integer", "String", "String(20)", "Float", "Numeric(10, 2)", "Boolean", "DateTime", "Text", "JSON"])
SQLA_KWARGS = st.sampled_from(["nullable", "index", "unique", "primary_key", "default", "server_default", "doc"])


@st.composite
def sqlalchemy_models(draw) -> tuple[str, list[str]]:
    style = draw(st.sampled_from(["mapped", "column", "sqlmodel", "flask", "core"]))
    models_ = draw(MODEL_NAMES)
    tables = {m: m.lower() + "s" for m in models_}
    head = {
        "mapped": "from sqlalchemy import ForeignKey, Index, Integer, String, Float, Numeric, Boolean, DateTime, Text, JSON\n"
                  "from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship\n\n\nclass Base(DeclarativeBase):\n    pass\n",
        "column": "from sqlalchemy import Column, ForeignKey, Index, Integer, String, Float, Numeric, Boolean, DateTime, Text, JSON\n"
                  "from sqlalchemy.orm import declarative_base, relationship, backref\n\nBase = declarative_base()\n",
        "sqlmodel": "from typing import Optional\nfrom sqlmodel import Field, Relationship, SQLModel\n",
        "flask": "from flask_sqlalchemy import SQLAlchemy\n\ndb = SQLAlchemy()\n",
        "core": "from sqlalchemy import Column, ForeignKey, Index, Integer, MetaData, String, Table, Float\n\nmetadata = MetaData()\n",
    }[style]
    lines = [head]
    for model in models_:
        columns = draw(st.lists(IDENT.filter(lambda n: n not in ("id", "pk")), max_size=5, unique=True))
        other = draw(st.sampled_from(models_))
        ondelete = draw(st.sampled_from(["", ', ondelete="CASCADE"']))
        fk = f"ForeignKey('{tables[other]}.id'{ondelete})"
        extra = ", ".join(f"{k}={draw(LITERAL)}" for k in draw(st.lists(SQLA_KWARGS, max_size=3, unique=True)))
        extra = ", " + extra if extra else ""
        if style == "core":
            cols = [f"    Column('id', Integer, primary_key=True),"]
            cols += [f"    Column('{c}', {draw(SQLA_TYPES) if draw(st.booleans()) else 'Integer, ' + fk}{extra})," for c in columns]
            if draw(st.booleans()) and columns:
                cols.append(f"    Index('ix', '{columns[-1]}'),")
            lines.append(f"{model.lower()} = Table(\n    '{tables[model]}',\n    metadata,\n" + "\n".join(cols) + "\n)\n")
            continue
        base = {"mapped": "Base", "column": "Base", "sqlmodel": "SQLModel, table=True", "flask": "db.Model"}[style]
        lines.append(f"\n\nclass {model}({base}):")
        if style != "sqlmodel" or draw(st.booleans()):
            lines.append(f"    __tablename__ = '{tables[model]}'")
        if style == "mapped":
            lines.append("    id: Mapped[int] = mapped_column(primary_key=True)")
        elif style == "sqlmodel":
            lines.append("    id: Optional[int] = Field(default=None, primary_key=True)")
        else:
            prefix = "db." if style == "flask" else ""
            lines.append(f"    id = {prefix}Column({prefix}Integer, primary_key=True)")
        for column in columns:
            is_fk = draw(st.booleans())
            if style == "mapped":
                kind = f"{fk}" if is_fk else draw(SQLA_TYPES)
                lines.append(f"    {column}: Mapped[{draw(st.sampled_from(['int', 'str', 'float', 'Optional[int]']))}] = mapped_column({kind}{extra})")
            elif style == "sqlmodel":
                target = f"foreign_key='{tables[other]}.id'" if is_fk else "default=None"
                lines.append(f"    {column}: {draw(st.sampled_from(['int', 'str', 'float', 'Optional[int]']))} = Field({target}{extra})")
            else:
                prefix = "db." if style == "flask" else ""
                kind = f"{prefix}Integer, {prefix}{fk}" if is_fk else prefix + draw(SQLA_TYPES)
                lines.append(f"    {column} = {prefix}Column({kind}{extra})")
        if style in ("mapped", "column", "flask") and draw(st.booleans()):
            prefix = "db." if style == "flask" else ""
            lazy = draw(st.sampled_from(["", ", lazy='dynamic'", ", lazy='joined'", ", backref='items'", ", order_by='x'", ", uselist=False"]))
            lines.append(f"    {other.lower()}_rel = {prefix}relationship('{other}'{lazy})")
        if style == "sqlmodel" and draw(st.booleans()):
            lines.append(f"    {other.lower()}_rel: Optional['{other}'] = Relationship()")
        if draw(st.booleans()) and columns:
            lines.append(f"    __table_args__ = (Index('ix_{model.lower()}', '{columns[0]}'),)")
    return "\n".join(lines) + "\n", models_


@st.composite
def sqlalchemy_queries(draw, models_: list[str]) -> str:
    lines = ["from sqlalchemy import select, update, delete, text", f"from app.models import {', '.join(models_)}", "", ""]
    for number in range(draw(st.integers(1, 4))):
        model = draw(st.sampled_from(models_))
        column = draw(IDENT)
        body = draw(st.sampled_from([
            f"    rows = session.execute(select({model}).where({model}.{column} == value)).scalars().all()\n    for row in rows:\n        print(row.{column})",
            f"    for row in session.query({model}).filter_by({column}=value):\n        session.add(row)\n        session.commit()",
            f"    session.execute(text(f'SELECT * FROM t WHERE x = {{value}}'))\n    session.commit()\n    session.commit()",
            f"    return session.scalars(select({model}).order_by({model}.{column}).limit(10)).all()",
            f"    session.execute(update({model}).where({model}.{column} > value).values({column}=1))",
            f"    return len(session.query({model}).all())",
        ]))
        lines.append(f"def handler_{number}(session, value):\n{body}\n\n")
    return "\n".join(lines)


@st.composite
def alembic_revision(draw) -> str:
    operations = draw(st.lists(st.sampled_from([
        "op.add_column('orders', sa.Column('status', sa.String(20), nullable=False))",
        "op.add_column('orders', sa.Column('user_id', sa.Integer, sa.ForeignKey('users.id')))",
        "op.create_index('ix', 'orders', ['status'])",
        "op.create_index('ix', 'orders', ['status'], postgresql_concurrently=True)",
        "op.drop_column('orders', 'status')",
        "op.alter_column('orders', 'status', nullable=False)",
        "op.create_table('t', sa.Column('id', sa.Integer, primary_key=True), sa.Column('o', sa.Integer, sa.ForeignKey('orders.id')))",
        "op.create_foreign_key('fk', 'orders', 'users', ['user_id'], ['id'])",
        "op.execute('UPDATE orders SET status = 1')",
        "op.rename_table('a', 'b')",
        "with op.batch_alter_table('orders') as batch_op:\n        batch_op.drop_column('x')",
        "with op.get_context().autocommit_block():\n        op.create_index('ix2', 'orders', ['x'], postgresql_concurrently=True)",
    ]), max_size=5))
    downgrade = draw(st.sampled_from(["def downgrade():\n    pass\n", "def downgrade():\n    op.drop_table('t')\n", ""]))
    body = "".join(f"    {operation}\n" for operation in operations) or "    pass\n"
    return (
        '"""A revision.\n\nRevision ID: abc123\nRevises: 000111\n"""\nfrom alembic import op\nimport sqlalchemy as sa\n\n'
        "revision = 'abc123'\ndown_revision = '000111'\n\n\n"
        f"def upgrade():\n{body}\n\n{downgrade}"
    )


@SETTINGS
@given(data=st.data())
def test_generated_sqlalchemy_projects(data):
    models_source, models_ = data.draw(sqlalchemy_models())
    files = {
        "app/__init__.py": "",
        "app/models.py": models_source,
        "app/services.py": data.draw(sqlalchemy_queries(models_)),
        "alembic/versions/abc123_change.py": data.draw(alembic_revision()),
    }
    results = analyze_project(files)
    report_keeps_its_structure(files, results)


# -- the review built from those findings ------------------------------------------------


def report_keeps_its_structure(files: dict[str, str], results: dict[str, list]) -> None:
    """The markdown review of generated findings parses to the template's headings."""
    try:
        from flake8_ormreview.report.builder import (
            H_CRITICAL, H_DASHBOARD, H_EXCELLENCE, H_OPPORTUNITIES, H_TASKS, H_VALIDATION, TITLE, build_review,
        )
        from flake8_ormreview.report.markdown import parse_structure
        from flake8_ormreview.report.records import make_record
    except ImportError:  # pragma: no cover - the report package is someone else's moving part
        pytest.skip("report builder not available")
    records = {
        path: make_record(path, files[path], [(f.line, f.col, f.code, f.message) for f in findings])
        for path, findings in results.items()
    }
    review = build_review(records, "2026-01-02", sorted({p.split("/")[0] for p in files}))
    headings, _ = parse_structure(review.text)
    assert headings == review.document.headings
    assert [h for h in headings if h[0] <= 2] == [
        (1, TITLE), (2, H_DASHBOARD), (2, H_EXCELLENCE), (2, H_CRITICAL), (2, H_OPPORTUNITIES), (2, H_TASKS), (2, H_VALIDATION),
    ]


# -- the index's outline (read without parsing) -------------------------------------------


def last_name(node: ast.expr) -> str | None:
    while isinstance(node, ast.Subscript):
        node = node.value
    if isinstance(node, ast.Attribute):
        return node.attr
    return node.id if isinstance(node, ast.Name) else None


IDENTIFIERS = st.from_regex(r"[A-Za-z_][A-Za-z0-9_]{0,8}", fullmatch=True).filter(lambda name: not keyword.iskeyword(name))
DOTTED = st.lists(IDENTIFIERS, min_size=1, max_size=3).map(".".join)


@st.composite
def class_statements(draw) -> str:
    """Nested class statements with dotted, subscripted and keyword bases, laid out over lines and comments."""
    lines, indent = [], ""
    for _ in range(draw(st.integers(1, 4))):
        bases = draw(st.lists(st.one_of(DOTTED, DOTTED.map(lambda name: name + "[int]")), max_size=3))
        bases += draw(st.lists(IDENTIFIERS.map(lambda name: name + "=True"), max_size=1))
        separator = draw(st.sampled_from([", ", ",\n" + indent + "        ", ",  # a note\n" + indent + "    "]))
        arguments = f"({separator.join(bases)})" if bases else draw(st.sampled_from(["", "()"]))
        lines.append(f"{indent}class {draw(IDENTIFIERS)}{arguments}:")
        indent += "    "
        if draw(st.booleans()):
            lines.append(indent + 'label = "class Fake(Base):"')
    lines.append(indent + "pass")
    return "\n".join(lines) + "\n"


@SETTINGS
@given(body=st.one_of(hypothesmith.from_grammar(), class_statements()), nested=st.booleans())
@pytest.mark.filterwarnings("ignore::SyntaxWarning")
def test_the_outline_sees_every_class_the_parser_sees(body, nested):
    """A class the outline missed could be a model the index never parses: every class
    statement, with the last names of its bases, is in the outline, or the file is parsed.
    Nested under an ``if`` too, as django-oscar declares its models."""
    source = "if not registered:\n" + textwrap.indent(body, "    ") + "\n    pass\n" if nested else body
    try:
        tree = ast.parse(source)
    except (SyntaxError, ValueError, RecursionError, MemoryError):
        assume(False)
    outline = outline_of(source)
    if outline.always:
        return
    for node in ast.walk(tree):
        if isinstance(node, ast.ClassDef):
            expected = {last_name(base) for base in node.bases} - {None}
            read = [set(bases) for name, bases in outline.classes if name == node.name]
            assert any(expected <= bases for bases in read), (node.name, expected, outline.classes)
