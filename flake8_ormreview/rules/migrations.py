"""ORM4xx and ORM603: Django migrations and Alembic revisions.

Every rule reads the file's :class:`~flake8_ormreview.semantic.migrations.MigrationModel`
(built once per file) and checks operations that act on the database
(``in_database``) on tables that already exist (not ``created_here``) and that
Django manages.  ``orm-migration-scope = leaf`` restricts them to each app's
newest migrations and the Alembic heads.
"""

from __future__ import annotations

import ast
import re
from typing import Iterator

from ..context import FileContext, Finding
from ..options import DATABASES
from ..registry import Category, Severity, rule
from ..semantic.migrations import (
    AUTO_NAME,
    VARCHAR_FIELDS,
    FieldDef,
    MigrationModel,
    Operation,
    alembic_ancestors,
    app_history,
    django_app_label,
    is_leaf,
    literal,
    read_migration,
    state_before,
    string,
    text_of,
)
from ..semantic.names import ImportMap, dotted
from ..semantic.querysets import canonical_of

# -- shared helpers -----------------------------------------------------------------------


def migration_of(ctx: FileContext) -> MigrationModel | None:
    """This file's migration model (``None`` for anything but a migration), read once."""
    if ctx.kind not in ("django_migration", "alembic"):
        return None
    if "migration_model" not in ctx.cache:
        ctx.cache["migration_model"] = read_migration(ctx.tree, ctx.imports, ctx.path, ctx.kind)
    return ctx.cache["migration_model"]


def checked_migration(ctx: FileContext) -> MigrationModel | None:
    """The migration, when ``orm-migration-scope`` includes it."""
    migration = migration_of(ctx)
    if migration is None:
        return None
    if ctx.options.migration_scope == "leaf" and not leaf_migration(ctx, migration):
        return None
    return migration


def leaf_migration(ctx: FileContext, migration: MigrationModel) -> bool:
    """Each app's newest migration / an Alembic head (no sibling depends on it), read once."""
    if "migration_is_leaf" not in ctx.cache:
        ctx.cache["migration_is_leaf"] = is_leaf(ctx.index, migration)
    return ctx.cache["migration_is_leaf"]


def on_database(ctx: FileContext, *databases: str) -> bool:
    revision_backend = revision_database(ctx)
    return ctx.options.database in databases and (revision_backend is None or revision_backend in databases)


def revision_database(ctx: FileContext) -> str | None:
    """The backend an Alembic revision's folder names, if any.

    Projects that keep one Alembic tree per backend (prefect's ``versions/sqlite/`` and
    ``versions/postgresql/``) say in the path which backend a revision runs on: a rule
    for another backend stays silent there (the folder narrows ``orm-database``, never widens it).
    """
    if ctx.kind == "alembic":
        folders = ctx.path.replace("\\", "/").split("/")[:-1]
        named = [folder for folder in folders if folder in DATABASES]
        if named:
            return named[-1]
    return None


def _summary(ctx: FileContext) -> dict | None:
    return ctx.facts.migration


def state_at(ctx: FileContext, migration: MigrationModel, op: Operation) -> dict | None:
    """The app's model state just before ``op`` (``None``: history unknown); history read once per file.

    Read only: the state is shared by every caller asking about ``op``.
    """
    if "app_history" not in ctx.cache:
        ctx.cache["app_history"] = app_history(ctx.index, migration.path, _summary(ctx))
    history = ctx.cache["app_history"]
    if history is None:
        return None
    # Several rules ask for the state before the same operation (previous_field, the
    # table name); every caller only reads it, so one copy per operation is enough.
    states = ctx.cache.setdefault("state_at", {})
    if id(op) not in states:
        states[id(op)] = (op, state_before(ctx.index, migration, _summary(ctx), op, history))
    return states[id(op)][1]


def new_in_initial_migrations(ctx: FileContext, migration: MigrationModel) -> set[str]:
    """Models created by the app's earlier *initial* migrations, when this one is initial too.

    ``makemigrations`` splits a new app into ``0001_initial`` + ``0002_...`` (both
    ``initial = True``) to break foreign-key cycles: they are applied together to
    empty tables, like operations on a model created in the same migration.
    Read once per file: every migration rule asks.
    """
    if "new_in_initial_migrations" not in ctx.cache:
        ctx.cache["new_in_initial_migrations"] = _new_in_initial_migrations(ctx, migration)
    return ctx.cache["new_in_initial_migrations"]


def _new_in_initial_migrations(ctx: FileContext, migration: MigrationModel) -> set[str]:
    if not migration.initial and not _shaped_like_initial_split(migration):
        return set()
    if "app_history" not in ctx.cache:
        ctx.cache["app_history"] = app_history(ctx.index, migration.path, _summary(ctx))
    history = ctx.cache["app_history"] or []
    created: set[str] = set()
    for earlier in history:
        if _initial(earlier):
            created.update(change.get("model", "") for change in earlier.get("state", []) if change.get("op") == "CreateModel")
    if migration.initial:
        return created
    # Django < 1.9 wrote no ``initial = True`` (on either half): the split half follows
    # nothing but such an unmarked ``0001_initial``.
    completes_split = history and all(earlier.get("name") == "0001_initial" and earlier.get("initial") is False
                                      for earlier in history)
    return created if completes_split and all(op.model in created for op in migration.operations) else set()


# What Django 1.7/1.8's makemigrations put in the second half of a split initial migration.
SPLIT_OPERATIONS = {"AddField", "AlterUniqueTogether", "AlterIndexTogether", "AddIndex", "AddConstraint"}


def _shaped_like_initial_split(migration: MigrationModel) -> bool:
    """Only relations added and constraints set: django-oscar's ``0002_auto_20140827_1705``.

    Before Django 1.9 wrote ``initial = True``, a new app whose models refer to
    each other came out as ``0001_initial`` plus a second migration that only
    adds the foreign keys (and the unique-together sets naming them) to the
    tables ``0001`` had just created.
    """
    if migration.framework != "django" or not any(op.kind == "AddField" for op in migration.operations):
        return False  # the split exists to add the foreign keys that close a cycle
    return all(
        op.kind in SPLIT_OPERATIONS and (op.kind != "AddField" or (op.field is not None and bool(op.field.relation)))
        for op in migration.operations
    )


def _initial(summary: dict) -> bool:
    return bool(summary.get("initial")) or summary.get("name") == "0001_initial"


def unmanaged_models(ctx: FileContext, migration: MigrationModel) -> set[str]:
    """Lower-case names of this app's models Django does not manage (history or live model)."""
    key = "unmanaged_models"
    if key in ctx.cache:
        return ctx.cache[key]
    names: set[str] = set()
    if migration.framework == "django":
        for model in getattr(ctx.index, "models", {}).values():
            if model.framework == "django" and model.app_label == migration.app_label and not model.managed:
                names.add(model.name.lower())
        for op in migration.operations:
            if op.kind == "CreateModel" and op.options.get("managed") is False:
                names.add(op.model)
        if migration.operations:
            state = state_at(ctx, migration, migration.operations[0]) or {}
            names.update(name for name, entry in state.items() if not entry.get("managed", True))
    ctx.cache[key] = names
    return names


def existing_table_operations(ctx: FileContext, migration: MigrationModel, *kinds: str) -> Iterator[Operation]:
    """Operations of these kinds that act on an existing, managed table in the database."""
    skipped = unmanaged_models(ctx, migration) | new_in_initial_migrations(ctx, migration)
    for op in migration.operations:
        if op.kind in kinds and op.in_database and not op.created_here and op.model not in skipped and op.is_resolved:
            yield op


def previous_field(ctx: FileContext, migration: MigrationModel, op: Operation) -> FieldDef | None:
    """The field's definition before ``op``, from the app's earlier migrations (``None``: unknown)."""
    state = state_at(ctx, migration, op)
    if not state or op.model not in state:
        return None
    return state[op.model]["fields"].get(op.name)


def live_model(ctx: FileContext, migration: MigrationModel, model: str):
    """The app's current model class called ``model`` (any case), from the index."""
    for candidate in getattr(ctx.index, "models", {}).values():
        if candidate.framework == "django" and candidate.app_label == migration.app_label and candidate.name.lower() == model:
            return candidate
    return None


def app_label(ctx: FileContext, migration: MigrationModel) -> str:
    """The app label for ``apps.get_model`` and default table names (``AppConfig.label``)."""
    if "app_label" not in ctx.cache:
        ctx.cache["app_label"] = django_app_label(ctx.index, migration) if migration.framework == "django" else ""
    return ctx.cache["app_label"]


def django_table(ctx: FileContext, migration: MigrationModel, op: Operation) -> str:
    """The table of ``op``'s model: ``Meta.db_table`` when known, else Django's ``<app>_<model>``."""
    state = state_at(ctx, migration, op) or {}
    live = live_model(ctx, migration, op.model)
    return state.get(op.model, {}).get("db_table") or (live.table if live is not None else "") or f"{app_label(ctx, migration)}_{op.model}"


def model_label(op: Operation) -> str:
    return f"{op.model}.{op.name}" if op.name else op.model


def call_name(op: Operation) -> str:
    """How the operation reads in the source: ``AddField``, ``op.add_column``, ``batch_op.drop_column``."""
    if op.framework == "django":
        return op.kind
    return f"batch_op.{op.kind}" if op.batch else f"op.{op.kind}"


def column_target(op: Operation, column: str | None = None) -> str:
    name = op.name if column is None else column
    return f"'{op.table}.{name}'" if name else f"'{op.table}'"


def is_true(node: ast.AST | None) -> bool:
    return isinstance(node, ast.Constant) and node.value is True


# -- ORM401 -------------------------------------------------------------------------------


@rule(
    "ORM401",
    "not-null-column-without-default",
    Severity.CRITICAL,
    Category.MIGRATIONS,
    "'{target}' is added as NOT NULL {problem}; {fix}",
)
def not_null_column_without_default(ctx: FileContext) -> Iterator[Finding]:
    """
    ## What it does
    Flags a NOT NULL column added to an existing table without a database
    default: a Django `AddField` whose field has neither `null=True` nor
    `db_default=`, and an Alembic `op.add_column(.., sa.Column(..,
    nullable=False))` (or `batch_op.add_column`) without `server_default=`.
    The message says which case it is: with only a Python `default=` the
    migration runs but inserts from code still running during the deploy
    fail; without any default the migration itself fails on a non-empty
    table. Tables created in the same migration and unmanaged models are
    skipped.

    ## Why is this bad?
    Django applies a Python `default` once to fill the existing rows and then
    drops it from the column. During a rolling deploy the old code, which
    does not know the column, keeps inserting rows and every insert fails
    with a NOT NULL violation until the last old process is gone. Without
    any default the `ALTER TABLE` cannot fill the existing rows and aborts.

    ## Example
    ```python
    from django.db import migrations, models


    class Migration(migrations.Migration):
        dependencies = [("shop", "0001_initial")]

        operations = [
            migrations.AddField(
                model_name="book",
                name="status",
                field=models.CharField(max_length=20, default="draft"),
            ),
        ]
    ```

    ## Use instead
    ```python
    from django.db import migrations, models


    class Migration(migrations.Migration):
        dependencies = [("shop", "0001_initial")]

        operations = [
            migrations.AddField(
                model_name="book",
                name="status",
                field=models.CharField(max_length=20, default="draft", db_default="draft"),
            ),
        ]
    ```

    ## References
    - [Django: Field.db_default (5.0+)](https://docs.djangoproject.com/en/stable/ref/models/fields/#db-default)
    - [Alembic: add_column and server_default](https://alembic.sqlalchemy.org/en/latest/ops.html#alembic.operations.Operations.add_column)
    - [PostgreSQL: ALTER TABLE ADD COLUMN with a default](https://www.postgresql.org/docs/current/sql-altertable.html)
    """
    migration = checked_migration(ctx)
    if migration is None:
        return
    if migration.framework == "django":
        for op in existing_table_operations(ctx, migration, "AddField"):
            definition = op.field
            if definition is None or not definition.has_column or definition.null or definition.has_db_default or definition.primary_key:
                continue
            if not definition.is_django and _project_field_forces_null(ctx, definition.qualname):
                continue
            implicit = _implicit_default(op.args.get("field"), definition)
            if definition.has_default:
                problem = f"with only a Python default ({definition.default}): code still running during the deploy inserts rows without it and fails"
                value = definition.default if literal(_keyword(op.args.get("field"), "default")) is not None else "<a database expression>"
                fix = f"add db_default={value} (Django 5.0+), or add it with null=True, backfill it, then make it NOT NULL in a later migration"
            elif implicit:
                problem = (f"with only Django's implicit default ({implicit[0]}): existing rows get it, but code still running "
                           f"during the deploy inserts rows without it and fails")
                fix = f"add db_default={implicit[1]} (Django 5.0+), or add it with null=True, backfill it, then make it NOT NULL in a later migration"
            else:
                problem = "without any default: the migration fails on a non-empty table"
                fix = "add db_default=<value> (Django 5.0+), or add it with null=True, backfill it, then make it NOT NULL in a later migration"
            yield ctx.finding("ORM401", op.node, target=model_label(op), problem=problem, fix=fix)
        return
    for op in existing_table_operations(ctx, migration, "add_column"):
        column = op.column
        if column is None or column.nullable is not False or column.server_default or column.primary_key:
            continue
        problem = "without server_default: the ALTER fails on a non-empty table and inserts from code still running during the deploy fail"
        fix = (f"add server_default=sa.text(\"...\"), or add it nullable=True, backfill it, then "
               f"op.alter_column(\"{op.table}\", \"{column.name}\", nullable=False) in a later revision")
        yield ctx.finding("ORM401", op.node, target=f"{op.table}.{column.name}", problem=problem, fix=fix)


# Django fills existing rows itself for these (BaseDatabaseSchemaEditor.effective_default):
# '' for a blank field that stores strings, the current time for auto_now/auto_now_add.
_EMPTY_STRING_FIELDS = {"CharField", "TextField", "SlugField", "EmailField", "URLField", "FileField", "ImageField", "FilePathField"}
_AUTO_NOW_FIELDS = {"DateField", "DateTimeField", "TimeField"}


def _implicit_default(field: ast.AST | None, definition: FieldDef) -> tuple[str, str] | None:
    """(description, db_default to propose) when Django gives the new column a one-off default."""
    if definition.type in _EMPTY_STRING_FIELDS and literal(_keyword(field, "blank")) is True:
        return "'' for a blank field", "''"
    if definition.type in _AUTO_NOW_FIELDS and any(literal(_keyword(field, flag)) is True for flag in ("auto_now", "auto_now_add")):
        return "the current time for auto_now", "Now()"
    return None


def _project_field_forces_null(ctx: FileContext, qualname: str) -> bool:
    """Is ``qualname`` a field class of the project whose ``__init__`` sets ``null`` to True?

    django-oscar's ``NullCharField`` does ``kwargs["null"] = kwargs["blank"] = True``: its
    migrations state no ``null=True``, yet the column is NULL-able.
    """
    if ctx.index is None or not qualname:
        return False
    target = ctx.index.resolve_symbol(qualname)
    module, _, name = target.rpartition(".")
    path = ctx.index.modules.path_of(module) if module else None  # the field's module may be deferred: its path is known
    if path is None:
        return False
    return ctx.index.memo(("field-forces-null", path, name), lambda: _class_sets_null(path, name))


def _class_sets_null(path: str, name: str) -> bool:
    try:
        with open(path, "rb") as source:
            tree = ast.parse(source.read())
    except (OSError, SyntaxError, ValueError):
        return False
    for cls in tree.body:
        if isinstance(cls, ast.ClassDef) and cls.name == name:
            for node in ast.walk(cls):
                if isinstance(node, ast.Assign) and literal(node.value) is True and any(
                        isinstance(t, ast.Subscript) and literal(t.slice) == "null" for t in node.targets):
                    return True
                if (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.func.attr == "setdefault"
                        and len(node.args) == 2 and literal(node.args[0]) == "null" and literal(node.args[1]) is True):
                    return True
    return False


def _keyword(call: ast.AST, name: str) -> ast.expr | None:
    if isinstance(call, ast.Call):
        for keyword in call.keywords:
            if keyword.arg == name:
                return keyword.value
    return None


# -- ORM402 -------------------------------------------------------------------------------


@rule(
    "ORM402",
    "drop-column-or-table",
    Severity.CRITICAL,
    Category.MIGRATIONS,
    "{operation} drops {target}: {problem}; {fix}",
)
def drop_column_or_table(ctx: FileContext) -> Iterator[Finding]:
    """
    ## What it does
    Flags operations that drop a column or a table the running code may still
    use: `RemoveField`, `DeleteModel`, `op.drop_column`, `batch_op.drop_column`
    and `op.drop_table`. A `RemoveField`/`DeleteModel` inside
    `SeparateDatabaseAndState(state_operations=[..])` only changes Django's
    state and is not flagged: that is the first half of the safe recipe.
    An Alembic revision that drops a column and adds another one to the same
    table is reported as a probable rename, because the data is lost.

    ## Why is this bad?
    Migrations run before (or while) the new code is rolled out. Until every
    old process is gone, the old code still selects the column (Django lists
    every field in its `SELECT`) and fails with "column does not exist". A
    drop is also the only migration that cannot be rolled back: the data is
    gone.

    ## Example
    ```python
    from django.db import migrations


    class Migration(migrations.Migration):
        dependencies = [("shop", "0004_book_subtitle")]

        operations = [
            migrations.RemoveField(model_name="book", name="subtitle"),
        ]
    ```

    ## Use instead
    ```python
    from django.db import migrations


    class Migration(migrations.Migration):
        dependencies = [("shop", "0004_book_subtitle")]

        # Release 1: the model no longer has the field, the column stays
        # (nullable) until release 2 drops it with a plain RemoveField.
        operations = [
            migrations.SeparateDatabaseAndState(
                state_operations=[migrations.RemoveField(model_name="book", name="subtitle")],
            ),
        ]
    ```

    ## References
    - [Django: SeparateDatabaseAndState](https://docs.djangoproject.com/en/stable/ref/migration-operations/#separatedatabaseandstate)
    - [Expand and contract (parallel change)](https://martinfowler.com/bliki/ParallelChange.html)
    - [flake8-ormreview: docs/migrations.md](../migrations.md)
    """
    migration = checked_migration(ctx)
    if migration is None:
        return
    if migration.framework == "django":
        for op in existing_table_operations(ctx, migration, "RemoveField", "DeleteModel"):
            if op.kind == "RemoveField":
                fix = (f"expand and contract: release the code without the field first, keeping the column with "
                       f"SeparateDatabaseAndState(state_operations=[migrations.RemoveField(\"{op.model}\", \"{op.name}\")]) "
                       f"(make it null=True or db_default= before), then drop it in a later release")
                target = f"'{model_label(op)}'"
            else:
                fix = (f"expand and contract: release the code that no longer uses it first, with "
                       f"SeparateDatabaseAndState(state_operations=[migrations.DeleteModel(\"{op.model}\")]), "
                       f"then drop the table in a later release")
                target = f"the table of '{op.model}'"
            yield ctx.finding("ORM402", op.node, operation=op.kind, target=target,
                              problem="code still running during the deploy selects it and fails", fix=fix)
        return
    added: dict[str, list[str]] = {}
    for op in migration.operations:
        if op.kind == "add_column" and op.name:
            added.setdefault(op.table, []).append(op.name)
    for op in existing_table_operations(ctx, migration, "drop_column", "drop_table"):
        if op.kind == "drop_table":
            yield ctx.finding("ORM402", op.node, operation=call_name(op), target=f"'{op.table}'",
                              problem="code still running during the deploy selects it and fails",
                              fix=f"release the code that no longer uses '{op.table}' first, then drop it in a later revision")
            continue
        new_columns = [c for c in added.get(op.table, []) if c != op.name]
        if new_columns:
            new = new_columns[0]
            yield ctx.finding("ORM402", op.node, operation=call_name(op), target=column_target(op),
                              problem=f"'{op.table}.{new}' is added in the same revision: probable rename: data is lost",
                              fix=(f"rename with expand and contract instead: add '{new}', backfill it from '{op.name}', "
                                   f"deploy code that reads '{new}', drop '{op.name}' in a later revision"))
        else:
            yield ctx.finding("ORM402", op.node, operation=call_name(op), target=column_target(op),
                              problem="code still running during the deploy selects it and fails",
                              fix=(f"expand and contract: remove '{op.name}' from the model and release that code first "
                                   f"(make the column nullable or give it a server_default), then drop it in a later revision"))


# -- ORM403 -------------------------------------------------------------------------------


@rule(
    "ORM403",
    "rename-column-or-table",
    Severity.CRITICAL,
    Category.MIGRATIONS,
    "{operation} renames {target}: code still running during the deploy uses the old name and fails; {fix}",
)
def rename_column_or_table(ctx: FileContext) -> Iterator[Finding]:
    """
    ## What it does
    Flags renames of columns and tables: `RenameField` (unless the field pins
    its column with `db_column`, in the app's earlier migrations or on the
    current model), `RenameModel` (unless the model pins `db_table`),
    `AlterModelTable`, `op.alter_column(.., new_column_name=..)` (also in
    batch mode) and `op.rename_table`.

    ## Why is this bad?
    The rename is instant, and that is the problem: from that moment every
    query of the code still running during the deploy names a column or table
    that no longer exists. A rename cannot be made compatible with both the
    old and the new code in one step.

    ## Example
    ```python
    from django.db import migrations


    class Migration(migrations.Migration):
        dependencies = [("shop", "0002_book_title")]

        operations = [
            migrations.RenameField(model_name="book", old_name="title", new_name="name"),
        ]
    ```

    ## Use instead
    ```python
    from django.db import migrations, models


    class Migration(migrations.Migration):
        dependencies = [("shop", "0002_book_title")]

        # The column keeps its name: only the Python attribute changes.
        operations = [
            migrations.AlterField(
                model_name="book",
                name="title",
                field=models.CharField(max_length=200, db_column="title"),
            ),
            migrations.RenameField(model_name="book", old_name="title", new_name="name"),
        ]
    ```

    ## References
    - [Django: RenameField](https://docs.djangoproject.com/en/stable/ref/migration-operations/#renamefield)
    - [Expand and contract (parallel change)](https://martinfowler.com/bliki/ParallelChange.html)
    """
    migration = checked_migration(ctx)
    if migration is None:
        return
    if migration.framework == "django":
        yield from _django_renames(ctx, migration)
        return
    for op in existing_table_operations(ctx, migration, "alter_column", "rename_table"):
        if op.kind == "rename_table":
            fix = (f"expand and contract: create '{op.new_name}', write to both, backfill, switch reads, drop '{op.table}' later "
                   f"(or keep the old name)")
            yield ctx.finding("ORM403", op.node, operation=call_name(op), target=f"'{op.table}' to '{op.new_name}'", fix=fix)
        elif op.new_name:
            fix = (f"expand and contract: add '{op.new_name}', backfill it, deploy code that writes both and reads "
                   f"'{op.new_name}', then drop '{op.name}' in a later revision")
            yield ctx.finding("ORM403", op.node, operation=call_name(op), target=f"'{op.table}.{op.name}' to '{op.new_name}'", fix=fix)


def _django_renames(ctx: FileContext, migration: MigrationModel) -> Iterator[Finding]:
    for op in existing_table_operations(ctx, migration, "RenameField", "RenameModel", "AlterModelTable"):
        if op.kind == "RenameField":
            before = previous_field(ctx, migration, op)
            live = live_model(ctx, migration, op.model)
            live_field = live.fields.get(op.new_name) if live is not None else None
            if (before is not None and before.db_column) or (live_field is not None and live_field.db_column):
                continue  # the column name is pinned: only the attribute is renamed
            fix = (f"pin the column first (AlterField with db_column=\"{op.name}\"), or expand and contract: add "
                   f"'{op.new_name}', write both, backfill, switch reads, drop '{op.name}' later")
            yield ctx.finding("ORM403", op.node, operation="RenameField", target=f"'{op.model}.{op.name}' to '{op.new_name}'", fix=fix)
        elif op.kind == "RenameModel":
            state = state_at(ctx, migration, op) or {}
            live = live_model(ctx, migration, op.new_name)
            if state.get(op.model, {}).get("db_table") or (live is not None and live.table):
                continue  # the table name is pinned with Meta.db_table
            table = f"{app_label(ctx, migration)}_{op.model}"
            fix = (f"keep the table: set Meta.db_table = \"{table}\" on the model before renaming it, or expand and contract "
                   f"with a new table")
            yield ctx.finding("ORM403", op.node, operation="RenameModel", target=f"'{op.model}' to '{op.new_name}'", fix=fix)
        else:
            table = op.options.get("db_table", "") or f"{app_label(ctx, migration)}_{op.model}"
            fix = "expand and contract: create the new table, write to both, backfill, switch reads, drop the old one later"
            yield ctx.finding("ORM403", op.node, operation="AlterModelTable", target=f"the table of '{op.model}' to '{table}'", fix=fix)


# -- ORM404 -------------------------------------------------------------------------------

SQLA_VARCHAR = {"String", "VARCHAR", "Unicode", "NVARCHAR", "CHAR", "NCHAR"}
SQLA_TEXT = {"Text", "TEXT", "UnicodeText", "CLOB"}
SQLA_NUMERIC = {"Numeric", "NUMERIC", "DECIMAL"}


# Field classes stored in the same column type; the Positive* ones add a CHECK (>= 0).
SAME_COLUMN = {
    "PositiveIntegerField": "IntegerField", "PositiveSmallIntegerField": "SmallIntegerField",
    "PositiveBigIntegerField": "BigIntegerField", "NullBooleanField": "BooleanField",
}
CHECKED_TYPES = {"PositiveIntegerField", "PositiveSmallIntegerField", "PositiveBigIntegerField"}
CHECK_ADDED = "adds a CHECK (>= 0) constraint"


def unsafe_field_change(before: FieldDef, after: FieldDef) -> str | None:
    """How ``after`` changes the column of ``before`` in a way that rewrites or scans the table."""
    if before.type == "NullBooleanField":
        before = FieldDef.from_dict({**before.to_dict(), "null": True})
    if before.type != after.type and SAME_COLUMN.get(before.type, before.type) == SAME_COLUMN.get(after.type, after.type):
        if after.type in CHECKED_TYPES and before.type not in CHECKED_TYPES:
            return f"from {before.type} to {after.type}, which {CHECK_ADDED}"
        before = FieldDef.from_dict({**before.to_dict(), "type": after.type})
    if before.type != after.type:
        if not (before.is_django and after.is_django):
            return None  # a custom field class: its column type is unknown
        if before.type in VARCHAR_FIELDS and after.type == "TextField":
            pass  # varchar -> text: a catalogue-only change on PostgreSQL
        elif before.type in VARCHAR_FIELDS and after.type in VARCHAR_FIELDS:
            pass  # the same varchar column; the length is compared below
        elif before.relation and after.relation and before.relation != "m2m" and after.relation != "m2m":
            pass  # ForeignKey <-> OneToOneField: the same column
        else:
            return f"from {before.type} to {after.type}"
    if before.type in VARCHAR_FIELDS and after.type in VARCHAR_FIELDS:
        old_length, new_length = _max_length(before), _max_length(after)
        if new_length is not None and (old_length is None or new_length < old_length):
            return f"max_length from {old_length} to {new_length}"
    if before.type == "DecimalField" and after.type == "DecimalField":
        if before.decimal_places != after.decimal_places:
            return f"decimal_places from {before.decimal_places} to {after.decimal_places}"
        if (before.max_digits or 0) > (after.max_digits or 0):
            return f"max_digits from {before.max_digits} to {after.max_digits}"
    if before.null and not after.null:
        return "from NULL to NOT NULL"
    return None


# Django's default max_length per varchar field class (CharField has none: unlimited).
DEFAULT_MAX_LENGTH = {"SlugField": 50, "EmailField": 254, "URLField": 200, "FileField": 100, "ImageField": 100, "FilePathField": 100}


def _max_length(definition: FieldDef) -> int | None:
    if definition.max_length is not None:
        return definition.max_length
    return DEFAULT_MAX_LENGTH.get(definition.type)


def _base_type(node: ast.AST | None) -> ast.AST | None:
    """``sa.Text().with_variant(MEDIUMTEXT, "mysql")`` -> ``sa.Text()``: the PostgreSQL column is the base type (mlflow)."""
    while isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.func.attr == "with_variant":
        node = node.func.value
    return node


def _type_parts(node: ast.AST | None) -> tuple[str, list]:
    """``sa.String(length=50)`` -> ("String", [50]); ``sa.Numeric(10, 2)`` -> ("Numeric", [10, 2])."""
    node = _base_type(node)
    call = node if isinstance(node, ast.Call) else None
    name = dotted(call.func if call else node) if node is not None else None
    values = []
    if call is not None:
        values = [literal(a) for a in call.args]
        for keyword in call.keywords:
            if keyword.arg in ("length", "precision", "scale"):
                values.append(literal(keyword.value))
    return (name or "").rsplit(".", 1)[-1], values


# Type keywords that change a constraint or a name, not how values are stored.
NON_STORAGE_KEYWORDS = {"create_constraint", "name"}


def _storage_signature(node: ast.AST) -> tuple[str, list[str], dict[str, str]]:
    """Type name, positional arguments and the keywords that decide how values are stored, as source text."""
    node = _base_type(node)
    if not isinstance(node, ast.Call):
        return text_of(node).rsplit(".", 1)[-1], [], {}
    keywords = {k.arg: text_of(k.value) for k in node.keywords if k.arg not in NON_STORAGE_KEYWORDS}
    return text_of(node.func).rsplit(".", 1)[-1], [text_of(a) for a in node.args], keywords  # sa.types.X is sa.X


def unsafe_type_change(existing: ast.AST | None, new: ast.AST) -> str | None:
    new_name, new_args = _type_parts(new)
    if existing is None:
        return f"to {text_of(new)} without existing_type="
    old_name, old_args = _type_parts(existing)
    if _storage_signature(existing) == _storage_signature(new):
        return None  # Boolean(create_constraint=False) -> Boolean(create_constraint=True): same column type
    if old_name in SQLA_VARCHAR and new_name in SQLA_TEXT:
        return None
    if old_name in SQLA_VARCHAR and new_name in SQLA_VARCHAR:
        old_len = old_args[0] if old_args else None
        new_len = new_args[0] if new_args else None
        if new_len is None or (isinstance(old_len, int) and isinstance(new_len, int) and new_len >= old_len):
            return None
    if old_name in SQLA_NUMERIC and new_name in SQLA_NUMERIC and len(old_args) >= 2 and len(new_args) >= 2:
        if old_args[1] == new_args[1] and isinstance(old_args[0], int) and isinstance(new_args[0], int) and new_args[0] >= old_args[0]:
            return None
    if text_of(existing) == text_of(new):
        return None
    return f"from {text_of(existing)} to {text_of(new)}"


def _stated_before(ctx: FileContext, op: Operation, position: int) -> object:
    """What the nearest earlier revision stated about the column (create_table, add_column,
    alter_column): its type text (``position`` 2) or nullability (3); ``None`` when unknown."""
    if "alembic_ancestors" not in ctx.cache:
        ctx.cache["alembic_ancestors"] = alembic_ancestors(ctx.index, ctx.path, _summary(ctx))
    for summary in ctx.cache["alembic_ancestors"]:
        for stated in reversed(summary.get("types") or []):
            if stated[0] == op.table and stated[1] == op.name and len(stated) > position and stated[position] not in ("", None):
                return stated[position]
    return None


def _type_before(ctx: FileContext, op: Operation) -> ast.AST | None:
    stated = _stated_before(ctx, op, 2)
    try:
        return ast.parse(stated, mode="eval").body if isinstance(stated, str) else None
    except (SyntaxError, ValueError, RecursionError, MemoryError):
        return None


REWRITE_FIX = ("expand and contract: add a new column with the new type, backfill it in batches, "
               "switch the code to it, drop the old column later")


@rule(
    "ORM404",
    "unsafe-alter-column",
    Severity.MAJOR,
    Category.MIGRATIONS,
    "{operation} changes {target} {change}: {effect}; {fix}",
)
def unsafe_alter_column(ctx: FileContext) -> Iterator[Finding]:
    """
    ## What it does
    Flags a column type change or a NULL → NOT NULL change on an existing
    column. A Django `AlterField` is compared with the field's previous
    definition, replayed from the app's earlier migrations (the sibling
    files, ordered through their dependencies); when that history is unknown
    the rule stays silent. Alembic: `op.alter_column(type_=..)`, compared
    with `existing_type=`, or without it with the type the nearest earlier
    revision of the same `versions` folder stated for the column
    (`create_table`, `add_column`, `alter_column`); and
    `op.alter_column(nullable=False)` on a column that `existing_nullable=`,
    or else the nearest earlier revision, does not already say is NOT NULL.
    A type that differs only in keywords
    that do not change storage (`Boolean(create_constraint=True)`) is not a
    change.

    Only these changes are safe and not flagged: varchar/char → text
    (`CharField` → `TextField`, `String` → `Text`), a longer or removed
    varchar limit (larger `max_length`), a numeric precision increase at
    the same scale (`max_digits` up, `decimal_places` unchanged), and
    NOT NULL → NULL. Everything else, smallint → integer included, is
    flagged. Follows `orm-database`: checked on `postgresql` and `mysql`,
    silent on `sqlite` (which rebuilds the table for any change anyway).

    ## Why is this bad?
    PostgreSQL rewrites the whole table (and its indexes) under an ACCESS
    EXCLUSIVE lock for a type change, and scans the whole table under that
    lock to prove NOT NULL: no reads, no writes until it finishes. MySQL
    copies the table for most type changes.

    ## Example
    ```python
    import sqlalchemy as sa
    from alembic import op

    revision = "b2c3d4e5f6a7"
    down_revision = "a1b2c3d4e5f6"


    def upgrade():
        op.alter_column("orders", "quantity", existing_type=sa.SmallInteger(), type_=sa.Integer())


    def downgrade():
        op.alter_column("orders", "quantity", existing_type=sa.Integer(), type_=sa.SmallInteger())
    ```

    ## Use instead
    ```python
    import sqlalchemy as sa
    from alembic import op

    revision = "b2c3d4e5f6a7"
    down_revision = "a1b2c3d4e5f6"


    def upgrade():
        # Expand: a new column; the code writes both, a job backfills, a later revision drops "quantity".
        op.add_column("orders", sa.Column("quantity_big", sa.Integer(), nullable=True))


    def downgrade():
        op.drop_column("orders", "quantity_big")
    ```

    ## References
    - [PostgreSQL: ALTER TABLE (notes on table rewrites)](https://www.postgresql.org/docs/current/sql-altertable.html#SQL-ALTERTABLE-NOTES)
    - [Django: AlterField](https://docs.djangoproject.com/en/stable/ref/migration-operations/#alterfield)
    - [flake8-ormreview: docs/migrations.md](../migrations.md)
    """
    migration = checked_migration(ctx)
    if migration is None or not on_database(ctx, "postgresql", "mysql"):
        return
    if migration.framework == "django":
        for op in existing_table_operations(ctx, migration, "AlterField"):
            before = previous_field(ctx, migration, op)
            if before is None or op.field is None or not before.has_column or not op.field.has_column:
                continue
            change = unsafe_field_change(before, op.field)
            if change is None:
                continue
            if change == "from NULL to NOT NULL":
                effect = "the whole table is scanned under an ACCESS EXCLUSIVE lock"
                fix = (f"add CheckConstraint(condition=Q({op.name}__isnull=False)) with AddConstraintNotValid, "
                       f"ValidateConstraint it in the next migration, then make the field NOT NULL")
            elif change.endswith(CHECK_ADDED):
                effect = "every row is checked under an ACCESS EXCLUSIVE lock"
                fix = (f"add CheckConstraint(condition=Q({op.name}__gte=0)) with AddConstraintNotValid, ValidateConstraint it "
                       f"in the next migration, then switch the field class")
            else:
                effect = "the table is rewritten under an ACCESS EXCLUSIVE lock"
                fix = REWRITE_FIX
            yield ctx.finding("ORM404", op.node, operation="AlterField", target=f"'{model_label(op)}'", change=change, effect=effect, fix=fix)
        return
    for op in existing_table_operations(ctx, migration, "alter_column"):
        new_type = op.keyword("type_")
        if new_type is not None:
            change = unsafe_type_change(op.keyword("existing_type") or _type_before(ctx, op), new_type)
            if change is not None:
                yield ctx.finding("ORM404", op.node, operation=call_name(op), target=column_target(op), change=change,
                                  effect="the table is rewritten under an ACCESS EXCLUSIVE lock", fix=REWRITE_FIX)
                continue
        nullable = op.keyword("nullable")
        existing = op.keyword("existing_nullable")
        was_nullable = literal(existing) if existing is not None else _stated_before(ctx, op, 3)
        if nullable is not None and literal(nullable) is False and was_nullable is not False:
            constraint = f"{op.table}_{op.name}_not_null"
            fix = (f"op.execute(\"ALTER TABLE {op.table} ADD CONSTRAINT {constraint} CHECK ({op.name} IS NOT NULL) NOT VALID\"), "
                   f"VALIDATE CONSTRAINT {constraint} in the next revision, then alter_column(nullable=False) and drop the check")
            yield ctx.finding("ORM404", op.node, operation=call_name(op), target=column_target(op), change="from NULL to NOT NULL",
                              effect="the whole table is scanned under an ACCESS EXCLUSIVE lock", fix=fix)


# -- ORM405 -------------------------------------------------------------------------------

CONCURRENT_FIX_ALEMBIC = "pass postgresql_concurrently=True inside `with op.get_context().autocommit_block():`"


@rule(
    "ORM405",
    "non-concurrent-index",
    Severity.MAJOR,
    Category.MIGRATIONS,
    "{operation} {action} {index} on {target} without CONCURRENTLY: writes to the table wait until it finishes; {fix}",
)
def non_concurrent_index(ctx: FileContext) -> Iterator[Finding]:
    """
    ## What it does
    Flags a PostgreSQL index built or dropped on an existing table under a
    write-blocking lock: `AddIndex`, `RemoveIndex`, `AlterIndexTogether`,
    `AddField` of a field that brings an index (`db_index=True`,
    `unique=True`, `OneToOneField`, a `ForeignKey`'s automatic index),
    `AlterField` that turns such an index on (compared with the field's
    previous definition), and Alembic `op.create_index` / `op.drop_index`
    (also `batch_op`) without `postgresql_concurrently=True`.

    PostgreSQL-specific: silent when `orm-database` is `mysql` (InnoDB builds
    secondary indexes online) or `sqlite`.

    ## Why is this bad?
    `CREATE INDEX` takes a SHARE lock: every `INSERT`, `UPDATE` and `DELETE`
    on the table waits until the index is built, minutes on a large table.
    `DROP INDEX` takes an ACCESS EXCLUSIVE lock and queues behind every
    running query.

    ## Example
    ```python
    from django.db import migrations, models


    class Migration(migrations.Migration):
        dependencies = [("shop", "0002_book_status")]

        operations = [
            migrations.AddIndex(
                model_name="book",
                index=models.Index(fields=["status"], name="book_status_idx"),
            ),
        ]
    ```

    ## Use instead
    ```python
    from django.contrib.postgres.operations import AddIndexConcurrently
    from django.db import migrations, models


    class Migration(migrations.Migration):
        atomic = False

        dependencies = [("shop", "0002_book_status")]

        operations = [
            AddIndexConcurrently(
                model_name="book",
                index=models.Index(fields=["status"], name="book_status_idx"),
            ),
        ]
    ```

    ## References
    - [Django: AddIndexConcurrently](https://docs.djangoproject.com/en/stable/ref/contrib/postgres/operations/#concurrent-index-operations)
    - [Alembic: create_index(postgresql_concurrently=True) and autocommit_block()](https://alembic.sqlalchemy.org/en/latest/api/runtime.html#alembic.runtime.migration.MigrationContext.autocommit_block)
    - [PostgreSQL: building indexes concurrently](https://www.postgresql.org/docs/current/sql-createindex.html#SQL-CREATEINDEX-CONCURRENTLY)
    """
    migration = checked_migration(ctx)
    if migration is None or not on_database(ctx, "postgresql"):
        return
    if migration.framework == "django":
        yield from _django_index_builds(ctx, migration)
        return
    for op in existing_table_operations(ctx, migration, "create_index", "drop_index"):
        if is_true(op.keyword("postgresql_concurrently")):
            continue
        action = "builds" if op.kind == "create_index" else "drops"
        index = f"index '{op.name}'" if op.name else "an index"
        target = f"'{op.table}'" if op.table else "its table"
        yield ctx.finding("ORM405", op.node, operation=call_name(op), action=action, index=index, target=target, fix=CONCURRENT_FIX_ALEMBIC)


def _index_name(op: Operation) -> str:
    index = op.args.get("index")
    name = string(_keyword(index, "name")) if index is not None else op.name
    return f"index '{name}'" if name else "an index"


def _django_index_builds(ctx: FileContext, migration: MigrationModel) -> Iterator[Finding]:
    concurrent = "AddIndexConcurrently(..) from django.contrib.postgres.operations in a migration with atomic = False"
    for op in existing_table_operations(ctx, migration, "AddIndex", "RemoveIndex", "AlterIndexTogether", "AddField", "AlterField"):
        target = f"'{op.model}'"
        if op.kind == "AddIndex":
            yield ctx.finding("ORM405", op.node, operation="AddIndex", action="builds", index=_index_name(op), target=target, fix=f"use {concurrent}")
        elif op.kind == "RemoveIndex":
            yield ctx.finding("ORM405", op.node, operation="RemoveIndex", action="drops", index=_index_name(op), target=target,
                              fix="use RemoveIndexConcurrently(..) from django.contrib.postgres.operations in a migration with atomic = False")
        elif op.kind == "AlterIndexTogether":
            yield ctx.finding("ORM405", op.node, operation="AlterIndexTogether", action="changes", index="index_together indexes", target=target,
                              fix=f"move them to Meta.indexes and build them with {concurrent}")
        elif op.field is not None and op.field.indexed:
            if op.kind == "AlterField":
                before = previous_field(ctx, migration, op)
                if before is None or before.indexed:
                    continue
            what = _field_index_kind(op.field)
            verb = "add" if op.kind == "AddField" else "alter"
            if op.field.unique or op.field.primary_key:
                fix = (f"{verb} it without unique=True, build the index with RunSQL(\"CREATE UNIQUE INDEX CONCURRENTLY ..\") in a "
                       f"migration with atomic = False, and declare unique=True in SeparateDatabaseAndState(state_operations=[..])")
            else:
                fix = (f"{verb} it with db_index=False, then build the index with {concurrent} "
                       f"(SeparateDatabaseAndState declares db_index in the model state)")
            yield ctx.finding("ORM405", op.node, operation=op.kind, action="builds", index=what, target=f"'{model_label(op)}'", fix=fix)


def _field_index_kind(definition: FieldDef) -> str:
    if definition.unique or definition.primary_key:
        return "a unique index"
    if definition.relation in ("fk", "o2o") and not definition.db_index:
        return "the foreign key's index"
    return "an index"


# -- ORM406 -------------------------------------------------------------------------------


def _is_empty_body(function: ast.FunctionDef) -> bool:
    """``pass``, ``...`` or only a docstring."""
    for stmt in function.body:
        if isinstance(stmt, ast.Pass):
            continue
        if isinstance(stmt, ast.Expr) and isinstance(stmt.value, ast.Constant) and (stmt.value.value is Ellipsis or isinstance(stmt.value.value, str)):
            continue
        return False
    return True


@rule(
    "ORM406",
    "irreversible-migration",
    Severity.MAJOR,
    Category.MIGRATIONS,
    "{operation} {problem}: rolling back stops here; {fix}",
)
def irreversible_migration(ctx: FileContext) -> Iterator[Finding]:
    """
    ## What it does
    Flags migrations that cannot be rolled back: `RunPython` without
    `reverse_code`, `RunSQL` without `reverse_sql`, and an Alembic revision
    whose `downgrade()` is missing or empty (`pass`, `...`, only a
    docstring) while `upgrade()` changes the schema. `RunPython.noop` and
    `RunSQL.noop` state explicitly that nothing needs undoing and are fine.
    So is an empty `downgrade()` of a revision that changes no schema, only
    data: no `op.*` call but `execute` / `bulk_insert` / `get_bind`, and no
    DDL in its SQL strings (an `ALTER TYPE .. ADD VALUE` counts as data:
    PostgreSQL cannot drop an enum value). There is no schema to restore,
    and a backfill is undone by the downgrade of the revision that added
    the column (prefect's backfills and enum values). Reported on the
    operation; for Alembic on the `def downgrade` line, or on `def upgrade`
    when `downgrade` is missing.

    ## Why is this bad?
    When a deploy goes wrong, `migrate app 0041` / `alembic downgrade -1`
    is the way back. An irreversible step turns a rollback into a manual
    database repair under pressure, and blocks rolling back every migration
    before it.

    ## Example
    ```python
    from django.db import migrations


    def fill_slugs(apps, schema_editor):
        Book = apps.get_model("shop", "Book")
        for book in Book.objects.filter(slug=""):
            book.slug = str(book.pk)
            book.save(update_fields=["slug"])


    class Migration(migrations.Migration):
        dependencies = [("shop", "0003_book_slug")]

        operations = [
            migrations.RunPython(fill_slugs),
        ]
    ```

    ## Use instead
    ```python
    from django.db import migrations


    def fill_slugs(apps, schema_editor):
        Book = apps.get_model("shop", "Book")
        for book in Book.objects.filter(slug=""):
            book.slug = str(book.pk)
            book.save(update_fields=["slug"])


    class Migration(migrations.Migration):
        dependencies = [("shop", "0003_book_slug")]

        operations = [
            migrations.RunPython(fill_slugs, reverse_code=migrations.RunPython.noop),
        ]
    ```

    ## References
    - [Django: RunPython reverse_code](https://docs.djangoproject.com/en/stable/ref/migration-operations/#runpython)
    - [Alembic: downgrade()](https://alembic.sqlalchemy.org/en/latest/tutorial.html#running-our-first-migration)
    """
    migration = checked_migration(ctx)
    if migration is None:
        return
    if migration.framework == "django":
        for op in migration.operations:
            if op.has_unpacked_arguments or ("code" not in op.args and "sql" not in op.args):
                continue
            if op.kind == "RunPython" and _missing(op.args.get("reverse_code")):
                code = text_of(op.args.get("code")) or "..."
                yield ctx.finding("ORM406", op.node, operation=f"RunPython({code})", problem="has no reverse_code",
                                  fix="pass reverse_code=<a function that undoes it>, or reverse_code=migrations.RunPython.noop when nothing needs undoing")
            elif op.kind == "RunSQL" and _missing(op.args.get("reverse_sql")):
                yield ctx.finding("ORM406", op.node, operation="RunSQL(..)", problem="has no reverse_sql",
                                  fix="pass reverse_sql=\"<SQL that undoes it>\", or reverse_sql=migrations.RunSQL.noop when nothing needs undoing")
        return
    upgrade, downgrade = migration.upgrade, migration.downgrade
    reversible = downgrade is not None and not _is_empty_body(downgrade)
    if upgrade is None or _is_empty_body(upgrade) or reversible or _changes_only_rows(ctx, downgrade):
        return
    name = f"revision {migration.revision!r}" if migration.revision else "this revision"
    fix = "write the inverse operations in downgrade() (drop what upgrade() adds, re-create what it drops)"
    if downgrade is None:
        yield ctx.finding("ORM406", upgrade, operation=name, problem="has no downgrade()", fix=fix)
    else:
        yield ctx.finding("ORM406", downgrade, operation=name, problem="has an empty downgrade()", fix=fix)


def _missing(node: ast.AST | None) -> bool:
    return node is None or (isinstance(node, ast.Constant) and node.value is None)


# ``op.*`` calls that touch rows or connections, not the schema.
ALEMBIC_ROW_CALLS = {"execute", "bulk_insert", "get_bind", "get_context", "inline_literal", "f", "run_async"}
SCHEMA_SQL = re.compile(r"\b(CREATE|ALTER|DROP|TRUNCATE|RENAME|REINDEX|COMMENT\s+ON)\b", re.I)
# PostgreSQL cannot remove an enum value: there is nothing a downgrade could do.
ENUM_VALUE_ADDED = re.compile(r"\bALTER\s+TYPE\s+\S+\s+ADD\s+VALUE\b", re.I)


def _changes_only_rows(ctx: FileContext, downgrade: ast.AST | None) -> bool:
    """Does the revision, outside ``downgrade()``, only move data (prefect's backfills and enum values)?

    No schema ``op.*`` call and no DDL in any SQL string: then there is no
    schema for a downgrade to restore, like Django's ``RunPython.noop``.
    """
    skipped = {id(node) for node in ast.walk(downgrade)} if downgrade is not None else set()
    for node in ctx.nodes_of(ast.Call):
        if id(node) in skipped:
            continue
        qualname = ctx.resolve(node.func) or ""
        if qualname.startswith("alembic.op.") and qualname.rsplit(".", 1)[-1] not in ALEMBIC_ROW_CALLS:
            return False
        if isinstance(node.func, ast.Attribute) and node.func.attr == "batch_alter_table":
            return False
    docstrings = {id(node.value) for node in ctx.nodes_of(ast.Expr)}
    for node in ctx.nodes_of(ast.Constant):
        if id(node) in skipped or id(node) in docstrings or not isinstance(node.value, str):
            continue
        if SCHEMA_SQL.search(ENUM_VALUE_ADDED.sub("", node.value)):
            return False
    return True


# -- ORM407 -------------------------------------------------------------------------------


@rule(
    "ORM407",
    "constraint-validation-lock",
    Severity.MAJOR,
    Category.MIGRATIONS,
    "{operation} adds {constraint} to {target} and checks every row under a lock that blocks writes; {fix}",
)
def constraint_validation_lock(ctx: FileContext) -> Iterator[Finding]:
    """
    ## What it does
    Flags constraints added to an existing table in one validating step:
    `AddConstraint(UniqueConstraint(..))`, `AddConstraint(CheckConstraint(..))`,
    `AlterUniqueTogether` (when it adds sets), `op.create_unique_constraint`,
    and `op.create_check_constraint` / `op.create_foreign_key` without
    `postgresql_not_valid=True` (also in batch mode).

    PostgreSQL-specific (the fixes are PostgreSQL features): silent when
    `orm-database` is `mysql` or `sqlite`.

    ## Why is this bad?
    Adding a CHECK or FOREIGN KEY constraint validates every existing row
    while holding a lock that blocks writes (ACCESS EXCLUSIVE for CHECK,
    SHARE ROW EXCLUSIVE on both tables for a foreign key); a UNIQUE
    constraint builds its index non-concurrently. `NOT VALID` followed by
    `VALIDATE CONSTRAINT` checks the rows under a lock that lets writes go
    on.

    ## Example
    ```python
    from django.db import migrations, models


    class Migration(migrations.Migration):
        dependencies = [("shop", "0005_book_price")]

        operations = [
            migrations.AddConstraint(
                model_name="book",
                constraint=models.CheckConstraint(condition=models.Q(price__gte=0), name="book_price_positive"),
            ),
        ]
    ```

    ## Use instead
    ```python
    from django.contrib.postgres.operations import AddConstraintNotValid
    from django.db import migrations, models


    class Migration(migrations.Migration):
        dependencies = [("shop", "0005_book_price")]

        # The next migration runs ValidateConstraint("book", "book_price_positive").
        operations = [
            AddConstraintNotValid(
                model_name="book",
                constraint=models.CheckConstraint(condition=models.Q(price__gte=0), name="book_price_positive"),
            ),
        ]
    ```

    ## References
    - [Django: AddConstraintNotValid and ValidateConstraint](https://docs.djangoproject.com/en/stable/ref/contrib/postgres/operations/#adding-constraints-without-enforcing-validation)
    - [PostgreSQL: ALTER TABLE ... NOT VALID](https://www.postgresql.org/docs/current/sql-altertable.html)
    - [SQLAlchemy: postgresql_not_valid](https://docs.sqlalchemy.org/en/20/dialects/postgresql.html#constraint-options)
    """
    migration = checked_migration(ctx)
    if migration is None or not on_database(ctx, "postgresql"):
        return
    if migration.framework == "django":
        for op in existing_table_operations(ctx, migration, "AddConstraint", "AlterUniqueTogether"):
            if op.kind == "AlterUniqueTogether":
                if not literal(op.args.get("unique_together")) and isinstance(literal(op.args.get("unique_together")), (set, list, tuple)):
                    continue  # removing every set drops indexes, validates nothing
                yield ctx.finding("ORM407", op.node, operation="AlterUniqueTogether", constraint="unique_together", target=f"'{op.model}'",
                                  fix=_unique_fix_django(op, "unique", django_table(ctx, migration, op)))
                continue
            constraint = op.args.get("constraint")
            kind = canonical_of(ctx, constraint.func) if isinstance(constraint, ast.Call) else None
            name = string(_keyword(constraint, "name")) or "the constraint"
            if kind == "django:CheckConstraint":
                fix = (f"add it with AddConstraintNotValid(..) and run ValidateConstraint(model_name=\"{op.model}\", name=\"{name}\") "
                       f"in the next migration (django.contrib.postgres.operations)")
                yield ctx.finding("ORM407", op.node, operation="AddConstraint", constraint=f"CHECK constraint '{name}'", target=f"'{op.model}'", fix=fix)
            elif kind == "django:UniqueConstraint":
                yield ctx.finding("ORM407", op.node, operation="AddConstraint", constraint=f"UNIQUE constraint '{name}'", target=f"'{op.model}'",
                                  fix=_unique_fix_django(op, name, django_table(ctx, migration, op)))
        return
    for op in existing_table_operations(ctx, migration, "create_unique_constraint", "create_check_constraint", "create_foreign_key"):
        name = op.name or "the constraint"
        if op.kind == "create_unique_constraint":
            fix = (f"build the index with op.create_index(\"{name}\", .., unique=True, postgresql_concurrently=True) inside "
                   f"autocommit_block(), then op.execute(\"ALTER TABLE {op.table} ADD CONSTRAINT {name} UNIQUE USING INDEX {name}\")")
            yield ctx.finding("ORM407", op.node, operation=call_name(op), constraint=f"UNIQUE constraint '{name}'", target=f"'{op.table}'", fix=fix)
            continue
        if is_true(op.keyword("postgresql_not_valid")):
            continue
        label = "CHECK constraint" if op.kind == "create_check_constraint" else "FOREIGN KEY"
        fix = (f"pass postgresql_not_valid=True, then op.execute(\"ALTER TABLE {op.table} VALIDATE CONSTRAINT {name}\") "
               f"in the next revision")
        yield ctx.finding("ORM407", op.node, operation=call_name(op), constraint=f"{label} '{name}'", target=f"'{op.table}'", fix=fix)


def _unique_fix_django(op: Operation, name: str, table: str) -> str:
    if op.kind == "AlterUniqueTogether":
        return ("declare it as Meta.constraints UniqueConstraint instead and build its index first with "
                f"RunSQL(\"CREATE UNIQUE INDEX CONCURRENTLY .. ON {table} ..\") in a migration with atomic = False, then "
                f"RunSQL(\"ALTER TABLE {table} ADD CONSTRAINT .. UNIQUE USING INDEX ..\", state_operations=[AddConstraint(..)])")
    return (f"build the index first with RunSQL(\"CREATE UNIQUE INDEX CONCURRENTLY {name} ON {table} ..\") in a migration with "
            f"atomic = False, then RunSQL(\"ALTER TABLE {table} ADD CONSTRAINT {name} UNIQUE USING INDEX {name}\", "
            f"state_operations=[AddConstraint(..)])")


# -- ORM408 -------------------------------------------------------------------------------


@rule(
    "ORM408",
    "concurrent-index-in-transaction",
    Severity.CRITICAL,
    Category.MIGRATIONS,
    "{operation} runs CONCURRENTLY inside the migration's transaction: PostgreSQL refuses it and the deploy fails; {fix}",
)
def concurrent_index_in_transaction(ctx: FileContext) -> Iterator[Finding]:
    """
    ## What it does
    Flags `AddIndexConcurrently` / `RemoveIndexConcurrently` in a Django
    migration that does not set `atomic = False`, and Alembic
    `create_index` / `drop_index(.., postgresql_concurrently=True)` outside
    `with op.get_context().autocommit_block():`. Literal SQL counts too:
    `RunSQL("CREATE INDEX CONCURRENTLY ..")` in an atomic migration and
    `op.execute("CREATE INDEX CONCURRENTLY ..")` outside the autocommit block.

    PostgreSQL-specific: silent when `orm-database` is `mysql` or `sqlite`.

    ## Why is this bad?
    `CREATE INDEX CONCURRENTLY` cannot run inside a transaction block.
    Django and Alembic wrap each migration in a transaction on PostgreSQL,
    so the migration fails at deploy time with "CREATE INDEX CONCURRENTLY
    cannot run inside a transaction block", often after tests on SQLite
    passed.

    ## Example
    ```python
    from django.contrib.postgres.operations import AddIndexConcurrently
    from django.db import migrations, models


    class Migration(migrations.Migration):
        dependencies = [("shop", "0002_book_status")]

        operations = [
            AddIndexConcurrently(
                model_name="book",
                index=models.Index(fields=["status"], name="book_status_idx"),
            ),
        ]
    ```

    ## Use instead
    ```python
    from django.contrib.postgres.operations import AddIndexConcurrently
    from django.db import migrations, models


    class Migration(migrations.Migration):
        atomic = False

        dependencies = [("shop", "0002_book_status")]

        operations = [
            AddIndexConcurrently(
                model_name="book",
                index=models.Index(fields=["status"], name="book_status_idx"),
            ),
        ]
    ```

    ## References
    - [Django: concurrent index operations need atomic = False](https://docs.djangoproject.com/en/stable/ref/contrib/postgres/operations/#concurrent-index-operations)
    - [Alembic: MigrationContext.autocommit_block()](https://alembic.sqlalchemy.org/en/latest/api/runtime.html#alembic.runtime.migration.MigrationContext.autocommit_block)
    """
    migration = checked_migration(ctx)
    if migration is None or not on_database(ctx, "postgresql"):
        return
    if migration.framework == "django":
        if not migration.atomic:
            return
        fix = "set atomic = False on the Migration class (keep it to this one operation)"
        for op in existing_table_operations(ctx, migration, "AddIndexConcurrently", "RemoveIndexConcurrently"):
            yield ctx.finding("ORM408", op.node, operation=op.kind, fix=fix)
        for op in migration.operations:
            if op.kind == "RunSQL" and op.in_database and _concurrent_sql(op.args.get("sql")):
                yield ctx.finding("ORM408", op.node, operation="RunSQL(\"... CONCURRENTLY ...\")", fix=fix)
        return
    fix = "move it into `with op.get_context().autocommit_block():`"
    for op in existing_table_operations(ctx, migration, "create_index", "drop_index"):
        if is_true(op.keyword("postgresql_concurrently")) and not op.autocommit:
            yield ctx.finding("ORM408", op.node, operation=call_name(op), fix=fix)
    for op in migration.operations:
        if op.kind == "execute" and not op.autocommit and _concurrent_sql(op.args.get("sqltext")):
            yield ctx.finding("ORM408", op.node, operation="op.execute(\"... CONCURRENTLY ...\")", fix=fix)


CONCURRENT_SQL = re.compile(r"\b(?:(?:CREATE|DROP)\s+(?:UNIQUE\s+)?INDEX|REINDEX\s+\w+)\s+CONCURRENTLY\b", re.I)


def _concurrent_sql(node: ast.AST | None) -> bool:
    """Literal SQL (a string, or a list of strings / (sql, params) pairs) with a concurrent index statement."""
    value = literal(node)
    if isinstance(node, ast.Call) and node.args:  # sa.text("..")
        value = literal(node.args[0])
    items = value if isinstance(value, (list, tuple)) else [value]
    for item in items:
        if isinstance(item, (list, tuple)) and item:
            item = item[0]
        if isinstance(item, str) and CONCURRENT_SQL.search(item):
            return True
    return False


# -- ORM409 -------------------------------------------------------------------------------

ORM_TOP_PACKAGES = {"django", "sqlalchemy", "sqlmodel", "alembic", "flask_sqlalchemy"}


@rule(
    "ORM409",
    "model-import-in-migration",
    Severity.CRITICAL,
    Category.MIGRATIONS,
    "migration imports the live model {model} from {module}: it breaks as soon as the model changes; {fix}",
)
def model_import_in_migration(ctx: FileContext) -> Iterator[Finding]:
    """
    ## What it does
    Flags a migration that imports the application's live model classes: a
    Django migration with `from shop.models import Book` (or `import
    shop.models` used as `shop.models.Book`) instead of
    `apps.get_model("shop", "Book")`, and an Alembic revision that imports
    application models instead of describing the columns it needs with
    `sa.table(..)` or reflection. A name is a model when the project index
    says so; when the app is not under the source roots, a class imported
    from the migration's own `<app>.models` counts too (not a `...Field`,
    `...Manager`, `...Choices` class). Imports of functions and constants
    (defaults, validators, `upload_to`) and of Django's own models are fine.
    So is a model whose only use in the revision is `Model.__tablename__`
    (mlflow's revisions name their tables this way and spell out every
    column): the revision then depends on the table name alone, which a
    model cannot change without a revision of its own. Reported on the
    import.

    ## Why is this bad?
    A migration must keep working for years against the schema *of its own
    point in history*. The live model describes today's schema: as soon as a
    field is added, renamed or removed, the old migration selects columns
    that do not exist yet (or any more) and fails on every fresh database,
    in CI and for every new developer.

    ## Example
    ```python
    from django.db import migrations

    from app.models import Book


    def publish_all(apps, schema_editor):
        Book.objects.update(status="live")


    class Migration(migrations.Migration):
        dependencies = [("app", "0001_initial")]

        operations = [
            migrations.RunPython(publish_all, migrations.RunPython.noop),
        ]
    ```

    ## Use instead
    ```python
    from django.db import migrations


    def publish_all(apps, schema_editor):
        Book = apps.get_model("app", "Book")
        Book.objects.update(status="live")


    class Migration(migrations.Migration):
        dependencies = [("app", "0001_initial")]

        operations = [
            migrations.RunPython(publish_all, migrations.RunPython.noop),
        ]
    ```

    ## References
    - [Django: data migrations and apps.get_model](https://docs.djangoproject.com/en/stable/topics/migrations/#data-migrations)
    - [Alembic cookbook: don't import the application's models](https://alembic.sqlalchemy.org/en/latest/cookbook.html)
    """
    migration = checked_migration(ctx)
    if migration is None:
        return
    usages = _attribute_models(ctx)
    for node in ctx.nodes_of(ast.Import, ast.ImportFrom):
        local = ImportMap(ctx.imports.module, ctx.imports.is_package)
        local.add(node)
        for name, qualname in local.names.items():
            if qualname.split(".")[0] in ORM_TOP_PACKAGES:
                continue
            model = _imported_model(ctx, migration, qualname)
            if model is None and name in usages:
                model = usages[name]
            if model is None or _reads_only_table_name(ctx, name):
                continue
            class_name, app, module, table = model
            if migration.framework == "django":
                fix = f"use apps.get_model(\"{app}\", \"{class_name}\") inside the RunPython function"
            else:
                fix = f"describe the columns it needs with sa.table(\"{table or '..'}\", sa.column(..)) or reflect the table"
            yield ctx.finding("ORM409", node, model=class_name, module=module, fix=fix)
            break


NOT_MODEL_SUFFIXES = ("Field", "Manager", "QuerySet", "Mixin", "Choices", "Enum", "Error", "Exception")


def _imported_model(ctx: FileContext, migration: MigrationModel, qualname: str) -> tuple[str, str, str, str] | None:
    """``(class name, app label, module, table)`` when ``qualname`` names a model class.

    A model the index knows counts.  Beyond the index, only a class name
    imported from this Django app's own ``models`` module does (a migration
    whose app is not under the source roots).
    """
    module, _, name = qualname.rpartition(".")
    model = ctx.index.model(qualname) if ctx.index is not None else None
    if model is not None:
        return None if model.abstract else (model.name, model.app_label or _app_of(module), model.module or module, model.table)
    known = ctx.index.classes.get(ctx.index.resolve_symbol(qualname)) if ctx.index is not None else None
    if known is not None or module in getattr(ctx.index, "modules", {}):
        return None  # the index knows it: a class that is not a model, or a function/constant
    own_models = migration.framework == "django" and migration.app_label and module.split(".")[-2:] == [migration.app_label, "models"]
    if own_models and name[:1].isupper() and not name.isupper() and not name.endswith(NOT_MODEL_SUFFIXES):
        return (name, app_label(ctx, migration), module, "")
    return None


def _reads_only_table_name(ctx: FileContext, name: str) -> bool:
    """Every use of the imported ``name`` is ``name.__tablename__``: the revision depends on the table name alone."""
    uses = sum(1 for node in ctx.nodes_of(ast.Name) if node.id == name)
    table_names = sum(
        1 for node in ctx.nodes_of(ast.Attribute)
        if node.attr == "__tablename__" and isinstance(node.value, ast.Name) and node.value.id == name
    )
    return uses > 0 and uses == table_names


def _app_of(module: str) -> str:
    parts = module.split(".")
    return parts[parts.index("models") - 1] if "models" in parts and parts.index("models") > 0 else (parts[0] if parts else "")


def _attribute_models(ctx: FileContext) -> dict[str, tuple[str, str, str, str]]:
    """Module-import names used to reach a model (``shop.models.Book``): local name -> model."""
    found: dict[str, tuple[str, str, str, str]] = {}
    for node in ctx.nodes_of(ast.Attribute):
        if isinstance(node.ctx, ast.Load):
            qualname = ctx.imports.resolve(node)
            chain = dotted(node)
            if not qualname or not chain or "." not in chain:
                continue
            model = ctx.index.model(qualname) if ctx.index is not None else None
            if model is not None and not model.abstract:
                found.setdefault(chain.split(".")[0], (model.name, model.app_label, model.module, model.table))
    return found


# -- ORM410 -------------------------------------------------------------------------------


@rule(
    "ORM410",
    "mixed-schema-and-data-migration",
    Severity.MINOR,
    Category.MIGRATIONS,
    "{operation} runs in the same transaction as the schema changes to {targets}: locks are held while the data migrates "
    "and PostgreSQL may fail with 'pending trigger events'; {fix}",
)
def mixed_schema_and_data_migration(ctx: FileContext) -> Iterator[Finding]:
    """
    ## What it does
    Flags a `RunPython` in an atomic Django migration (the default) that
    also changes the schema of existing tables. Tables created in the same
    migration do not count: seeding a new table in its initial migration is
    fine. Reported on the `RunPython` operation.

    ## Why is this bad?
    In one transaction, the locks taken by the schema changes are held while
    the data migration walks the table, so every query on those tables waits
    for the whole data migration. On PostgreSQL, updating rows and then
    altering the table in the same transaction fails with "cannot ALTER
    TABLE because it has pending trigger events" when deferred constraints
    are involved.

    ## Example
    ```python
    from django.db import migrations, models


    def fill_codes(apps, schema_editor):
        Book = apps.get_model("shop", "Book")
        Book.objects.filter(code="").update(code="n/a")


    class Migration(migrations.Migration):
        dependencies = [("shop", "0003_book_slug")]

        operations = [
            migrations.AddField("book", "code", models.CharField(max_length=20, null=True)),
            migrations.RunPython(fill_codes, migrations.RunPython.noop),
        ]
    ```

    ## Use instead
    ```python
    from django.db import migrations


    def fill_codes(apps, schema_editor):
        Book = apps.get_model("shop", "Book")
        Book.objects.filter(code="").update(code="n/a")


    class Migration(migrations.Migration):
        dependencies = [("shop", "0004_book_code")]

        operations = [
            migrations.RunPython(fill_codes, migrations.RunPython.noop),
        ]
    ```

    ## References
    - [Django: data migrations](https://docs.djangoproject.com/en/stable/topics/migrations/#data-migrations)
    - [Django: non-atomic migrations](https://docs.djangoproject.com/en/stable/howto/writing-migrations/#non-atomic-migrations)
    """
    migration = checked_migration(ctx)
    if migration is None or migration.framework != "django" or not migration.atomic:
        return
    skipped = unmanaged_models(ctx, migration) | new_in_initial_migrations(ctx, migration)
    schema = [
        op for op in migration.operations
        if op.is_schema_change and op.is_resolved and not op.created_here and op.kind != "CreateModel" and op.model not in skipped
    ]
    if not schema:
        return
    targets = ", ".join(sorted({f"'{op.model}'" for op in schema if op.model})) or "existing tables"
    for op in migration.operations:
        if op.kind == "RunPython" and op.in_database and "code" in op.args:
            code = text_of(op.args.get("code")) or "..."
            yield ctx.finding("ORM410", op.node, operation=f"RunPython({code})", targets=targets,
                              fix="move the RunPython into its own migration")


# -- ORM411 -------------------------------------------------------------------------------


@rule(
    "ORM411",
    "callable-default-on-existing-rows",
    Severity.MAJOR,
    Category.MIGRATIONS,
    "'{target}' is added with the callable default {default}: Django calls it once and every existing row gets the same value{unique}; {fix}",
)
def callable_default_on_existing_rows(ctx: FileContext) -> Iterator[Finding]:
    """
    ## What it does
    Flags an `AddField` on an existing table whose `default=` is a callable
    (`uuid.uuid4`, `timezone.now`, a lambda, a project function). Builtin
    constructors such as `dict` and `list` are fine (equal values are what
    they mean), and so are constants (`Status.DRAFT`) and a non-unique
    `ForeignKey`'s default function (it names the one row every existing
    row should point to).

    ## Why is this bad?
    Django calls the default once, adds the column with that value as a
    temporary database default, and every existing row gets the same UUID or
    timestamp. With `unique=True` the migration fails on the second row.

    ## Example
    ```python
    import uuid

    from django.db import migrations, models


    class Migration(migrations.Migration):
        dependencies = [("shop", "0001_initial")]

        operations = [
            migrations.AddField(
                model_name="order",
                name="public_id",
                field=models.UUIDField(default=uuid.uuid4, unique=True),
            ),
        ]
    ```

    ## Use instead
    ```python
    import uuid

    from django.db import migrations, models


    def gen_uuid(apps, schema_editor):
        Order = apps.get_model("shop", "Order")
        for order in Order.objects.filter(public_id__isnull=True).iterator():
            order.public_id = uuid.uuid4()
            order.save(update_fields=["public_id"])


    class Migration(migrations.Migration):
        dependencies = [("shop", "0001_initial")]

        # Step 1 of 3; the next migrations fill the rows and make the field unique.
        operations = [
            migrations.AddField(
                model_name="order",
                name="public_id",
                field=models.UUIDField(null=True),
            ),
        ]
    ```

    ## References
    - [Django: migrations that add unique fields](https://docs.djangoproject.com/en/stable/howto/writing-migrations/#migrations-that-add-unique-fields)
    """
    migration = checked_migration(ctx)
    if migration is None or migration.framework != "django":
        return
    for op in existing_table_operations(ctx, migration, "AddField"):
        definition = op.field
        if definition is None or not definition.default_callable or not definition.has_column:
            continue
        if definition.relation == "fk" and not definition.unique:
            continue  # a default-row function (get_root_collection_id): one shared value is the point
        unique = ", so the unique constraint fails" if definition.unique else ""
        value = "its own value" if definition.default.startswith("lambda") else f"{definition.default}()"
        fix = (f"three steps: add it with null=True{' and no unique' if definition.unique else ''}, fill each row with "
               f"{value} in a RunPython, then AlterField to the final definition")
        yield ctx.finding("ORM411", op.node, target=model_label(op), default=definition.default, unique=unique, fix=fix)


# -- ORM603 -------------------------------------------------------------------------------


@rule(
    "ORM603",
    "unnamed-migration",
    Severity.MINOR,
    Category.MAINTAINABILITY,
    "{what}: {fix}",
)
def unnamed_migration(ctx: FileContext) -> Iterator[Finding]:
    """
    ## What it does
    Flags a Django migration file named `NNNN_auto_YYYYMMDD_HHMM.py` that is
    its app's newest migration, and an Alembic revision whose message (the
    first line of its docstring) is empty or "empty message". Reported on
    line 1. A Django migration that another migration already depends on is
    not flagged whatever `orm-migration-scope` says: it has been applied
    somewhere, and renaming it means editing its dependants and every
    database's `django_migrations` rows (django-oscar's 73 auto-named
    migrations from 2014-2025 were the whole of its ORM603 before). An
    Alembic message can be edited at any time (the revision id is the
    identity), so every revision in scope is checked.

    ## Why is this bad?
    The migration history is the changelog of the schema. `0042_auto_20240311_1502`
    says nothing in `showmigrations`, in a review or in a `git log`, and
    finding the migration that added a column means opening every file.

    ## Example
    ```python
    \"\"\"empty message

    Revision ID: 3f2a1b9c8d7e
    Revises: 1a2b3c4d5e6f
    \"\"\"
    import sqlalchemy as sa
    from alembic import op

    revision = "3f2a1b9c8d7e"
    down_revision = "1a2b3c4d5e6f"


    def upgrade():
        op.add_column("orders", sa.Column("note", sa.Text(), nullable=True))


    def downgrade():
        op.drop_column("orders", "note")
    ```

    ## Use instead
    ```python
    \"\"\"add orders.note

    Revision ID: 3f2a1b9c8d7e
    Revises: 1a2b3c4d5e6f
    \"\"\"
    import sqlalchemy as sa
    from alembic import op

    revision = "3f2a1b9c8d7e"
    down_revision = "1a2b3c4d5e6f"


    def upgrade():
        op.add_column("orders", sa.Column("note", sa.Text(), nullable=True))


    def downgrade():
        op.drop_column("orders", "note")
    ```

    ## References
    - [Django: makemigrations --name](https://docs.djangoproject.com/en/stable/ref/django-admin/#cmdoption-makemigrations-name)
    - [Alembic: alembic revision -m](https://alembic.sqlalchemy.org/en/latest/tutorial.html#create-a-migration-script)
    """
    migration = checked_migration(ctx)
    if migration is None:
        return
    if migration.framework == "django":
        if AUTO_NAME.match(migration.name) and leaf_migration(ctx, migration):
            name = f"{migration.name[:4]}_{suggested_name(migration)}.py"
            yield ctx.finding("ORM603", 1, 0, what=f"migration '{migration.name}' has an auto-generated name",
                              fix=f"rename it to say what it changes, e.g. '{name}' (makemigrations --name), before it is applied anywhere")
        return
    if not migration.message or re.fullmatch(r"empty message\.?", migration.message.strip(), re.I):
        label = f"revision '{migration.revision}'" if migration.revision else "this revision"
        yield ctx.finding("ORM603", 1, 0, what=f"{label} has an empty message",
                          fix=f"put what it changes in the first line of its docstring, e.g. \"{suggested_name(migration)}\" (alembic revision -m)")


def suggested_name(migration: MigrationModel) -> str:
    """A name in the style of ``makemigrations`` / ``alembic revision -m`` from the first operations."""
    words = [w for w in (_describe(op) for op in migration.operations if op.in_database or op.in_state) if w]
    if not words:
        return "describe_the_change" if migration.framework == "django" else "describe the change"
    if migration.framework == "django":
        return words[0] + ("_and_more" if len(words) > 1 else "")
    return words[0] + (f", {words[1]}" if len(words) > 1 else "") + (" and more" if len(words) > 2 else "")


def _describe(op: Operation) -> str:
    if op.framework == "django":
        code = text_of(op.args.get("code")).rsplit(".", 1)[-1]
        return {
            "CreateModel": op.model,
            "DeleteModel": f"delete_{op.model}",
            "AddField": f"{op.model}_{op.name}",
            "RemoveField": f"remove_{op.model}_{op.name}",
            "AlterField": f"alter_{op.model}_{op.name}",
            "RenameField": f"rename_{op.name}_{op.model}_{op.new_name}",
            "RenameModel": f"rename_{op.model}_{op.new_name}",
            "AddIndex": f"{op.model}_index",
            "AddIndexConcurrently": f"{op.model}_index",
            "AddConstraint": f"{op.model}_constraint",
            "RunPython": code if code.isidentifier() else "",
        }.get(op.kind, "") if op.model or op.kind == "RunPython" else ""
    target = f"{op.table}.{op.name}" if op.name and op.kind in ("add_column", "drop_column", "alter_column") else op.table
    verbs = {"add_column": "add", "drop_column": "drop", "alter_column": "alter", "create_table": "create",
             "drop_table": "drop", "rename_table": "rename", "create_index": "index", "drop_index": "drop index on",
             "create_foreign_key": "foreign key on", "create_unique_constraint": "unique constraint on",
             "create_check_constraint": "check constraint on"}
    return f"{verbs[op.kind]} {target}" if op.kind in verbs and target else ""
