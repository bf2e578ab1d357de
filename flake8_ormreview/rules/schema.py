"""ORM1xx: schema and indexing rules on model definitions."""

from __future__ import annotations

import ast
from dataclasses import replace
from typing import Iterable, Iterator

from ..context import FileContext, Finding
from ..registry import Category, Severity, rule
from ..semantic.extract import literal
from ..semantic.facts import FieldFact, IndexFact, ModelFact
from ..semantic.migrations import alembic_ancestors
from ..semantic.querysets import canonical_of


def schema_models(ctx: FileContext) -> Iterator[ModelFact]:
    """Models whose schema this project owns, outside migration files."""
    if ctx.is_migration:
        return
    for model in ctx.models:
        if model.schema_owned:
            yield model


def mixin_users(ctx: FileContext) -> dict[str, list[ModelFact]]:
    """Plain classes of this file (mixins) -> the SQLAlchemy/SQLModel models that inherit their columns."""
    local = {c.qualname for c in ctx.facts.classes if not ctx.index.classes.get(c.qualname, c).is_model}
    if ctx.is_migration or not local:
        return {}
    if "mixin_users" in ctx.cache:  # three rules ask for it per file
        return ctx.cache["mixin_users"]
    users: dict[str, list[ModelFact]] = {}
    ctx.cache["mixin_users"] = users
    for model in ctx.index.models.values():
        if model.framework not in ("sqlalchemy", "sqlmodel") or model.is_base:
            continue
        for parent in ctx.index.parents(model):
            if parent.qualname in local and not parent.is_model and not parent.is_base:
                users.setdefault(parent.qualname, []).append(model)
    return users


def mapped_mixins(ctx: FileContext) -> list[ModelFact]:
    """Plain classes of this file whose columns SQLAlchemy models inherit (``TimestampMixin``).

    Their columns become columns of every model that uses them, so the
    column rules report them once, on the mixin's own line.  Each is a copy
    carrying the framework of a model that uses it.
    """
    return [replace(ctx.index.classes[q], framework=models[0].framework) for q, models in mixin_users(ctx).items()]


def concrete_subclasses(ctx: FileContext, model: ModelFact) -> list[ModelFact]:
    """Project models with a table that inherit from ``model``."""
    return [m for m in ctx.index.models.values()
            if not m.abstract and m.schema_owned and any(p.qualname == model.qualname for p in ctx.index.parents(m))]


def column_owners(ctx: FileContext) -> list[ModelFact]:
    """The models of :func:`schema_models` plus the mapped mixins: what declares columns here."""
    return list(schema_models(ctx)) + mapped_mixins(ctx)


def fk_target_label(fact: FieldFact) -> str:
    return fact.foreign_key or fact.target or "?"


@rule(
    "ORM101",
    "unindexed-foreign-key",
    Severity.CRITICAL,
    Category.SCHEMA,
    "foreign key '{model}.{field}' -> {target} has no index: joins and cascading deletes scan the table; {fix}",
)
def unindexed_foreign_key(ctx: FileContext) -> Iterator[Finding]:
    """
    ## What it does
    Flags a foreign-key column that no index leads: a SQLAlchemy `Column`,
    `mapped_column` or Core `Table` column with a `ForeignKey`, a SQLModel
    `Field(foreign_key=...)`, or a Django `ForeignKey(db_index=False)`, when
    neither the column itself (`index=True`, `unique=True`, leading primary
    key) nor any index or unique constraint in `__table_args__`, the `Table`
    arguments, a module-level `Index(...)` or `Meta.indexes` /
    `Meta.constraints` / `unique_together` has it as its first column.

    In an Alembic revision, `upgrade()` is checked: a foreign key added by
    `op.create_foreign_key` / `batch_op.create_foreign_key`, a `ForeignKey`
    column of `op.add_column` or `op.create_table` (or a
    `ForeignKeyConstraint` there) is flagged unless the column has
    `index=True`/`unique=True` or an `op.create_index` /
    `op.create_unique_constraint` / primary key in the same revision, or in
    a revision it descends from (same `versions` folder), leads with it.
    The finding is on the operation (on the column or constraint inside
    `op.create_table`).

    A foreign key declared on an abstract model, or on a mixin that
    SQLAlchemy models inherit, is reported there when a table that inherits
    it has no index leading it (the message names those tables); with no
    such table it is not reported.

    Indexes inherited from an abstract parent's `Meta` (when the child
    declares no `Meta` or extends it) or from a mixin's `__table_args__`
    count; when some index declarations cannot be read (a
    `*Base.Meta.indexes` spread, a `declared_attr` `__table_args__`) the
    model is skipped.

    Django indexes foreign keys by default and `OneToOneField` is unique:
    those are never flagged. A column that is only the second column of a
    composite primary key is not indexed for its own lookups (the classic
    association-table gap), so it is flagged.

    ## Why is this bad?
    PostgreSQL and SQLite do not index the referencing side of a foreign key.
    Every join from the parent, every `parent.children` load and every
    `ON DELETE` check on the parent scans the whole child table: fine with a
    hundred rows, an outage with ten million.

    ## Example
    ```python
    from sqlalchemy import ForeignKey
    from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column


    class Base(DeclarativeBase):
        pass


    class Address(Base):
        __tablename__ = "addresses"
        id: Mapped[int] = mapped_column(primary_key=True)
        user_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    ```

    ## Use instead
    ```python
    from sqlalchemy import ForeignKey
    from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column


    class Base(DeclarativeBase):
        pass


    class Address(Base):
        __tablename__ = "addresses"
        id: Mapped[int] = mapped_column(primary_key=True)
        user_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)
    ```

    ## References
    - [PostgreSQL: foreign keys are not indexed automatically](https://www.postgresql.org/docs/current/ddl-constraints.html#DDL-CONSTRAINTS-FK)
    - [SQLAlchemy: Column.index](https://docs.sqlalchemy.org/en/20/core/metadata.html#sqlalchemy.schema.Column.params.index)
    - [Django: ForeignKey.db_index](https://docs.djangoproject.com/en/stable/ref/models/fields/#django.db.models.ForeignKey)
    """
    for model in schema_models(ctx):
        if model.dynamic_indexes:
            continue  # an index we cannot read (a spread, a declared_attr) may lead any column
        if model.abstract:
            # An abstract model has no table: its columns are indexed (or not) in each subclass's table.
            tables = [t for t in concrete_subclasses(ctx, model) if not t.dynamic_indexes]
            if not tables:
                continue
            leads = set.intersection(*(t.leading_columns() for t in tables))
        else:
            tables, leads = [], model.leading_columns()
        for fact in ctx.own_fields(model):
            if model.framework == "django":
                if fact.relation != "fk" or fact.db_index is not False or fact.name in leads:
                    continue
                fix = f'drop db_index=False or add models.Index(fields=["{fact.name}"]) to Meta.indexes'
            else:
                if not fact.foreign_key or fact.name in leads or fact.column in leads:
                    continue
                if fact.type != "sqlmodel:Field":
                    fix = "add index=True"
                elif "sa_column" in fact.kwargs:
                    fix = "add index=True to the sa_column Column(..)"
                else:
                    fix = "add index=True to Field(..)"
            if tables:
                fix += f" (unindexed in {_names(t.name for t in tables if fact.name not in t.leading_columns())})"
            yield ctx.finding("ORM101", fact.line, fact.col, model=model.name, field=fact.name, target=fk_target_label(fact), fix=fix)
    yield from mixin_unindexed_foreign_keys(ctx)
    yield from alembic_unindexed_foreign_keys(ctx)


def mixin_unindexed_foreign_keys(ctx: FileContext) -> Iterator[Finding]:
    """ORM101 on a mixin's foreign-key column that some model using the mixin leaves unindexed."""
    for qualname, users in mixin_users(ctx).items():
        mixin = ctx.index.classes[qualname]
        concrete = [m for m in users if not m.abstract and m.schema_owned and not m.dynamic_indexes]
        if not concrete:
            continue
        for fact in ctx.own_fields(mixin):
            if not fact.foreign_key:
                continue
            unindexed = [m for m in concrete if fact.name not in m.leading_columns() and fact.column not in m.leading_columns()]
            if unindexed:
                yield ctx.finding("ORM101", fact.line, fact.col, model=mixin.name, field=fact.name, target=fk_target_label(fact),
                                  fix=f"add index=True here (unindexed in {_names(m.name for m in unindexed)})")


def _names(names: Iterable[str], shown: int = 3) -> str:
    """``A, B, C and 4 more``: keeps a message on one short line."""
    ordered = sorted(set(names))
    more = f" and {len(ordered) - shown} more" if len(ordered) > shown else ""
    return ", ".join(ordered[:shown]) + more


def _call_args(call: ast.Call, names: tuple[str, ...]) -> dict[str, ast.expr]:
    """Positional and keyword arguments of ``call`` by parameter name."""
    bound = {name: arg for name, arg in zip(names, call.args) if not isinstance(arg, ast.Starred)}
    bound.update({kw.arg: kw.value for kw in call.keywords if kw.arg in names})
    return bound


def _first_column(node: ast.AST | None) -> str:
    """The first column name of a literal column list (``["a", "b"]`` -> ``"a"``)."""
    if isinstance(node, (ast.List, ast.Tuple)) and node.elts:
        node = node.elts[0]
    value = literal(node)
    return value if isinstance(value, str) else ""


def _upgrade_function(tree: ast.Module) -> ast.FunctionDef | None:
    for node in tree.body:
        if isinstance(node, ast.FunctionDef) and node.name == "upgrade":
            return node
    return None


# Alembic operation -> parameter names (``op.*`` form; ``batch_op.*`` drops the table).
ALEMBIC_SIGNATURES = {
    "create_index": ("index_name", "table_name", "columns"),
    "create_unique_constraint": ("constraint_name", "table_name", "columns"),
    "create_primary_key": ("constraint_name", "table_name", "columns"),
    "create_foreign_key": ("constraint_name", "source_table", "referent_table", "local_cols", "remote_cols"),
    "add_column": ("table_name", "column"),
    "create_table": ("table_name",),
}


def _alembic_operations(ctx: FileContext, function: ast.FunctionDef) -> Iterator[tuple[str, ast.Call, dict[str, ast.expr]]]:
    """``(operation, call, arguments)`` for ``op.*`` and ``batch_op.*`` calls; batch calls get their table.

    ``batch_op`` means the table of the innermost enclosing ``with op.batch_alter_table(..) as batch_op``:
    revisions reuse the name for one table after another (prefect's migrations do).
    """
    for node, batches in _with_batch_scopes(ctx, function, {}):
        if not isinstance(node, ast.Call) or not isinstance(node.func, ast.Attribute):
            continue
        operation = node.func.attr
        signature = ALEMBIC_SIGNATURES.get(operation)
        if signature is None:
            continue
        receiver = node.func.value
        if isinstance(receiver, ast.Name) and receiver.id in batches:
            arguments = _call_args(node, tuple(n for n in signature if n not in ("table_name", "source_table")))
            arguments["table_name" if "table_name" in signature else "source_table"] = batches[receiver.id]
            yield operation, node, arguments
        elif canonical_of(ctx, node.func) == f"alembic:{operation}":
            yield operation, node, _call_args(node, signature)


def _with_batch_scopes(ctx: FileContext, node: ast.AST, batches: dict[str, ast.expr]) -> Iterator[tuple[ast.AST, dict[str, ast.expr]]]:
    """Every node under ``node`` with the ``batch_alter_table`` names in force where it stands."""
    for child in ast.iter_child_nodes(node):
        if isinstance(child, (ast.With, ast.AsyncWith)):
            inner = dict(batches)
            for item in child.items:
                yield from _with_batch_scopes(ctx, item, batches)
                call = item.context_expr
                if (isinstance(call, ast.Call) and isinstance(item.optional_vars, ast.Name)
                        and canonical_of(ctx, call.func) == "alembic:batch_alter_table"):
                    table = _call_args(call, ("table_name",)).get("table_name")
                    if table is not None:
                        inner[item.optional_vars.id] = table
            yield child, batches
            for statement in child.body:
                yield statement, inner
                yield from _with_batch_scopes(ctx, statement, inner)
            continue
        yield child, batches
        yield from _with_batch_scopes(ctx, child, batches)


def _column_foreign_key(ctx: FileContext, column: ast.AST) -> tuple[str, str, bool] | None:
    """``(name, target, indexed)`` of a ``sa.Column(name, .., ForeignKey(..))``; ``None`` otherwise."""
    if not isinstance(column, ast.Call) or canonical_of(ctx, column.func) not in ("sqlalchemy:Column", "sqlalchemy:column"):
        return None
    name = literal(column.args[0]) if column.args else None
    target = None
    for arg in column.args:
        if isinstance(arg, ast.Call) and canonical_of(ctx, arg.func) == "sqlalchemy:ForeignKey" and arg.args:
            value = literal(arg.args[0])
            target = value if isinstance(value, str) else "?"
    if not isinstance(name, str) or target is None:
        return None
    flags = {kw.arg: kw.value for kw in column.keywords if kw.arg}
    indexed = any(literal(flags.get(flag)) is True for flag in ("index", "unique"))
    return name, target, indexed


def alembic_unindexed_foreign_keys(ctx: FileContext) -> Iterator[Finding]:
    """ORM101 for an Alembic revision: a foreign key no index of this or an earlier revision leads."""
    if ctx.kind != "alembic":
        return
    upgrade = _upgrade_function(ctx.tree)
    if upgrade is None:
        return
    leads: set[tuple[str, str]] = set()
    candidates: list[tuple[ast.AST, str, str, str]] = []  # (report node, table, column, target)
    for operation, call, args in _alembic_operations(ctx, upgrade):
        table = literal(args.get("table_name", args.get("source_table")))
        if not isinstance(table, str):
            continue
        if operation in ("create_index", "create_unique_constraint", "create_primary_key"):
            leads.add((table, _first_column(args.get("columns"))))
        elif operation == "create_foreign_key":
            column = _first_column(args.get("local_cols"))
            referent, remote = literal(args.get("referent_table")), _first_column(args.get("remote_cols"))
            if column:
                target = ".".join(p for p in (referent if isinstance(referent, str) else "?", remote) if p)
                candidates.append((call, table, column, target))
        elif operation == "add_column":
            found = _column_foreign_key(ctx, args.get("column"))
            if found and not found[2]:
                candidates.append((call, table, found[0], found[1]))
        elif operation == "create_table":
            candidates.extend(_created_table_foreign_keys(ctx, call, table, leads))
    if candidates:
        # An index an earlier revision created still leads the column (prefect's flow_run_input).
        for summary in alembic_ancestors(ctx.index, ctx.path, ctx.facts.migration):
            leads.update((table, column) for table, column in summary.get("leads") or [])
    for node, table, column, target in candidates:
        if (table, column) not in leads:
            receiver = node.func.value if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) else None
            if isinstance(receiver, ast.Name) and canonical_of(ctx, receiver) is None:  # batch_op.create_foreign_key(..)
                fix = f'add {receiver.id}.create_index("ix_{table}_{column}", ["{column}"]) in this batch'
            else:
                fix = f'add op.create_index("ix_{table}_{column}", "{table}", ["{column}"]) in this revision'
            yield ctx.finding("ORM101", node, model=table, field=column, target=target, fix=fix)


def _created_table_foreign_keys(ctx: FileContext, call: ast.Call, table: str, leads: set[tuple[str, str]]) -> Iterator[tuple[ast.AST, str, str, str]]:
    """Foreign-key columns of ``op.create_table``; records the columns its keys and constraints lead."""
    first_pk = True
    for arg in call.args[1:]:
        if not isinstance(arg, ast.Call):
            continue
        kind = canonical_of(ctx, arg.func)
        if kind in ("sqlalchemy:PrimaryKeyConstraint", "sqlalchemy:UniqueConstraint", "sqlalchemy:Index"):
            columns = [literal(a) for a in arg.args if isinstance(literal(a), str)]
            if kind == "sqlalchemy:Index":
                columns = columns[1:]  # the first string is the index name
            if columns:
                leads.add((table, columns[0]))
        elif kind == "sqlalchemy:ForeignKeyConstraint" and arg.args:
            column = _first_column(arg.args[0])
            target = _first_column(arg.args[1]) if len(arg.args) > 1 else ""
            if column:
                yield arg, table, column, target or "?"
        elif kind in ("sqlalchemy:Column", "sqlalchemy:column"):
            name = literal(arg.args[0]) if arg.args else None
            if any(kw.arg == "primary_key" and literal(kw.value) is True for kw in arg.keywords) and isinstance(name, str):
                if first_pk:
                    leads.add((table, name))
                first_pk = False
            found = _column_foreign_key(ctx, arg)
            if found and found[2]:
                leads.add((table, found[0]))
            elif found:
                yield arg, table, found[0], found[1]


def _ordering_fields(names: list[str]) -> Iterator[str]:
    """The leading sort column, when an index on this model could serve it.

    Only the first entry decides whether the database can read rows in
    order from an index; later entries are tie-breakers.  Random order,
    related lookups and expressions cannot use an index of this model.
    """
    for name in names[:1]:
        bare = name.lstrip("-+")
        if not bare or bare == "?" or "__" in bare or bare.startswith("<") or "(" in bare:
            continue
        yield bare


@rule(
    "ORM102",
    "unindexed-default-ordering",
    Severity.MAJOR,
    Category.SCHEMA,
    "default ordering of {model} uses '{field}', which has no index: every unsliced query sorts the table; {fix}",
)
def unindexed_default_ordering(ctx: FileContext) -> Iterator[Finding]:
    """
    ## What it does
    Flags a default sort order on a column without an index: Django
    `Meta.ordering` and `Meta.get_latest_by`, SQLAlchemy
    `relationship(order_by=...)` (checked on the related model) and
    `__mapper_args__["order_by"]`. Random ordering (`"?"`), related lookups
    (`"author__name"`) and expressions are skipped: an index on this model
    could not serve them anyway. Only the first sort column is checked (it
    decides whether rows can be read in order from an index; later columns
    are tie-breakers), and for `relationship(order_by=...)` an index that
    starts with the child's foreign key to the parent and continues with
    the sort column serves it too.

    ## Why is this bad?
    A default ordering applies to every query of the model, including the
    admin's change list and every paginated API. Without an index the
    database reads and sorts the whole table before returning the first page.

    ## Example
    ```python
    from django.db import models


    class Article(models.Model):
        title = models.CharField(max_length=200)
        published_at = models.DateTimeField()

        class Meta:
            ordering = ["-published_at"]
    ```

    ## Use instead
    ```python
    from django.db import models


    class Article(models.Model):
        title = models.CharField(max_length=200)
        published_at = models.DateTimeField(db_index=True)

        class Meta:
            ordering = ["-published_at"]
    ```

    ## References
    - [Django: Meta.ordering](https://docs.djangoproject.com/en/stable/ref/models/options/#ordering)
    - [PostgreSQL: indexes and ORDER BY](https://www.postgresql.org/docs/current/indexes-ordering.html)
    """
    for model in schema_models(ctx):
        options = (
            (model.ordering, model.ordering_line, "Meta.ordering"),
            (model.get_latest_by, model.get_latest_by_line, "Meta.get_latest_by"),
            (model.mapper_order_by, model.mapper_order_by_line, "__mapper_args__ order_by"),
        )
        for names, line, _where in options:
            if not line or model.dynamic_indexes:
                continue
            for name in _ordering_fields(names):
                if model.field_for(name) is None and name not in ("pk", "id"):
                    continue  # unknown field (dynamic or inherited from elsewhere): silent
                if not model.is_indexed(name):
                    yield ctx.finding("ORM102", line, 0, model=model.name, field=name, fix=_index_fix(model, name))
        for fact in ctx.own_fields(model):
            if fact.relation != "relationship" or not fact.order_by:
                continue
            target = ctx.index.related_model(model, fact)
            if target is None or not target.schema_owned or target.dynamic_indexes:
                continue
            # The children are loaded by their foreign key to this model, so an
            # index (fk, sort column) serves the order too.
            parent_keys = {f.name for f in target.fields.values()
                           if f.foreign_key and f.foreign_key.rsplit(".", 1)[0] == ctx.index.table_name(model)}
            for name in _ordering_fields(fact.order_by):
                if target.field_for(name) is not None and not target.covers(name, parent_keys):
                    fix = _index_fix(target, name)
                    if len(parent_keys) == 1:
                        key = next(iter(parent_keys))
                        fix = f'add Index("ix_{ctx.index.table_name(target)}_{key}_{name}", "{key}", "{name}") to {target.name}.__table_args__'
                    yield ctx.finding("ORM102", fact.line, fact.col, model=f"{model.name}.{fact.name} -> {target.name}", field=name, fix=fix)


def _index_fix(model: ModelFact, name: str) -> str:
    if model.framework == "django":
        return f'add db_index=True to {name} or models.Index(fields=["{name}"])'
    return f"add index=True to {model.name}.{name}"


@rule(
    "ORM104",
    "legacy-index-declaration",
    Severity.MINOR,
    Category.SCHEMA,
    "{model}.Meta.{option} is {state}; use {fix}",
)
def legacy_index_declaration(ctx: FileContext) -> Iterator[Finding]:
    """
    ## What it does
    Flags Django's `Meta.index_together` and `Meta.unique_together`.

    ## Why is this bad?
    `index_together` was deprecated in Django 4.2 and removed in 5.1: a model
    that still uses it breaks the upgrade. `unique_together` "may be
    deprecated in the future" according to Django's docs and cannot express
    conditions, expressions or a name; `UniqueConstraint` can, and reads the
    same in every migration.

    ## Example
    ```python
    from django.db import models


    class Membership(models.Model):
        team = models.ForeignKey("Team", on_delete=models.CASCADE)
        user = models.ForeignKey("User", on_delete=models.CASCADE)

        class Meta:
            unique_together = [("team", "user")]
    ```

    ## Use instead
    ```python
    from django.db import models


    class Membership(models.Model):
        team = models.ForeignKey("Team", on_delete=models.CASCADE)
        user = models.ForeignKey("User", on_delete=models.CASCADE)

        class Meta:
            constraints = [
                models.UniqueConstraint(fields=["team", "user"], name="unique_team_user"),
            ]
    ```

    ## References
    - [Django: Meta.unique_together](https://docs.djangoproject.com/en/stable/ref/models/options/#unique-together)
    - [Django 5.1 release notes: index_together removed](https://docs.djangoproject.com/en/stable/releases/5.1/)
    """
    for model in schema_models(ctx):
        if model.framework != "django":
            continue
        if model.index_together_line and not _resets_option(ctx, model.index_together_line):
            yield ctx.finding("ORM104", model.index_together_line, 0, model=model.name, option="index_together",
                              state="removed in Django 5.1", fix=_modern_declaration(model, "index_together"))
        if model.unique_together_line and not _resets_option(ctx, model.unique_together_line):
            yield ctx.finding("ORM104", model.unique_together_line, 0, model=model.name, option="unique_together",
                              state="a legacy declaration", fix=_modern_declaration(model, "unique_together"))


def _resets_option(ctx: FileContext, line: int) -> bool:
    """``unique_together = None`` / ``= ()`` on this line: it clears what a parent Meta declared.

    wagtail's test models do this; there is nothing to migrate to UniqueConstraint.
    """
    for node in ctx.nodes_of(ast.Assign):
        if node.lineno == line:
            value = node.value
            return (isinstance(value, ast.Constant) and value.value is None) or (
                isinstance(value, (ast.Tuple, ast.List)) and not value.elts)
    return False


def _modern_declaration(model: ModelFact, option: str) -> str:
    """``Meta.indexes``/``Meta.constraints`` spelled out for this model's groups."""
    groups = [i.columns for i in model.indexes if i.kind == option and i.columns] or [["..."]]
    entries = []
    # Constraint names must be unique per database: abstract bases interpolate the class.
    label = "%(app_label)s_%(class)s" if model.abstract else model.name.lower()
    for columns in groups:
        fields = ", ".join(f'"{c}"' for c in columns)
        suffix = "_".join(columns) if columns != ["..."] else "..."
        if option == "index_together":
            entries.append(f'models.Index(fields=[{fields}], name="{label}_{suffix}_idx")')
        else:
            entries.append(f'models.UniqueConstraint(fields=[{fields}], name="unique_{label}_{suffix}")')
    target = "indexes" if option == "index_together" else "constraints"
    return f"Meta.{target} = [{', '.join(entries)}]"


def _composite_led_by(model: ModelFact, name: str) -> list[str]:
    """Columns of a plain multi-column index or constraint that starts with ``name`` ([] if none)."""
    for index in model.indexes:
        columns = [model.normalise_column(c) for c in index.columns]
        if len(columns) > 1 and columns[0] == name and _plain(index) and index.kind != "index_together":
            return columns
    return []


def _columns_label(names: list[str]) -> str:
    return names[0] if len(names) == 1 else "(" + ", ".join(names) + ")"


LOCAL_SOURCES = ("meta", "table_args", "module", "column")  # declared in this model's own file


def _plain(index: IndexFact) -> bool:
    return not (index.partial or index.include or index.expressions or index.opclasses)


@rule(
    "ORM105",
    "redundant-index",
    Severity.MINOR,
    Category.SCHEMA,
    "redundant index on {model}.{columns}: {reason}; remove it",
)
def redundant_index(ctx: FileContext) -> Iterator[Finding]:
    """
    ## What it does
    Flags an index that another one already provides: `db_index=True` on a
    field that is `primary_key=True` or `unique=True` (Django), `index=True`
    on a SQLAlchemy primary-key column (the first one of a composite key),
    a `Meta.indexes` entry on a single column that is already unique,
    primary key, `db_index` or a Django foreign key, a column-level
    `db_index=True`/`index=True` on the first column of a multi-column
    index, and a plain index whose columns are a prefix of another plain
    index (or unique constraint) on the same model. Django's automatic
    foreign-key index is not flagged. Indexes that differ by `condition` / `postgresql_where`,
    `include`, operator classes or expressions are not duplicates.

    ## Why is this bad?
    Every index is written on every insert and update, takes disk and cache,
    and slows `VACUUM`. A duplicate buys none of that back: the planner uses
    the other index.

    ## Example
    ```python
    from django.db import models


    class Customer(models.Model):
        email = models.EmailField(unique=True, db_index=True)
    ```

    ## Use instead
    ```python
    from django.db import models


    class Customer(models.Model):
        email = models.EmailField(unique=True)
    ```

    ## References
    - [Django: Field.unique implies an index](https://docs.djangoproject.com/en/stable/ref/models/fields/#unique)
    - [PostgreSQL: multicolumn indexes](https://www.postgresql.org/docs/current/indexes-multicolumn.html)
    """
    for model in schema_models(ctx):
        own = {f.name for f in ctx.own_fields(model)}
        # Of a composite primary key only the first column leads an index.
        first_pk = next((f.name for f in model.fields.values() if f.primary_key), None)
        for fact in model.fields.values():
            if fact.name not in own or not fact.db_index:
                continue
            if fact.primary_key and fact.name == first_pk:
                yield ctx.finding("ORM105", fact.line, fact.col, model=model.name, columns=fact.name, reason="a primary key is already indexed")
            elif fact.unique and model.framework == "django":
                yield ctx.finding("ORM105", fact.line, fact.col, model=model.name, columns=fact.name, reason="unique=True already creates an index")
            elif not fact.unique and not fact.primary_key:
                longer = _composite_led_by(model, fact.name)
                if longer:
                    flag = "db_index=True" if model.framework == "django" else "index=True"
                    yield ctx.finding("ORM105", fact.line, fact.col, model=model.name, columns=fact.name,
                                      reason=f"{flag} duplicates the leading column of the index on ({', '.join(longer)})")
        declared = [i for i in model.indexes if i.source in ("meta", "table_args", "module") and i.kind == "index" and _plain(i) and i.columns]
        for index in declared:
            names = [model.normalise_column(c) for c in index.columns]
            if len(names) == 1:
                fact = model.field_for(names[0])
                leads_pk = fact is not None and fact.primary_key and fact.name == first_pk
                if fact and (leads_pk or fact.unique or fact.db_index or (fact.relation == "fk" and fact.db_index is not False and model.framework == "django")):
                    reason = "the column is already the primary key" if leads_pk else (
                        "the column is already unique" if fact.unique else
                        "the column already has its own index" if fact.db_index else "Django indexes foreign keys automatically")
                    yield ctx.finding("ORM105", index.line, 0, model=model.name, columns=names[0], reason=reason)
                    continue
            for other in model.indexes:
                if other is index or not _plain(other) or other.kind == "index_together" or other.source == "foreign_module":
                    continue
                longer = [model.normalise_column(c) for c in other.columns]
                if longer == names and other.kind == "index" and other.line < index.line and other.source in LOCAL_SOURCES:
                    yield ctx.finding("ORM105", index.line, 0, model=model.name, columns=_columns_label(names),
                                      reason=f"the same index is declared on line {other.line}")
                    break
                if len(longer) > len(names) and longer[: len(names)] == names:
                    yield ctx.finding("ORM105", index.line, 0, model=model.name, columns=_columns_label(names),
                                      reason=f"it is a prefix of the index on ({', '.join(longer)})")
                    break
