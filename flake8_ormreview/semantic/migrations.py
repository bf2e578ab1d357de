"""The migration model: Django migrations and Alembic revisions as facts.

A migration file is read once into a :class:`MigrationModel`: its settings
(``atomic``, ``dependencies``, ``initial``, ``replaces`` / ``revision``,
``down_revision``, the message) and every operation as an :class:`Operation`
fact that says what it touches (model or table, field or column, the field
definition) and where it acts: ``in_database`` / ``in_state`` (an operation
inside ``SeparateDatabaseAndState(state_operations=[..])`` only changes
Django's state), ``created_here`` (the table was created earlier in the same
migration), ``batch`` and ``autocommit`` for Alembic.

:func:`summarize_migration` turns the model into a small JSON-serialisable
dict that the project index keeps in ``ModuleFacts.migration``; the history
helpers (:func:`app_history`, :func:`state_before`, :func:`is_leaf`) read the
summaries of sibling migrations to know a field's previous definition and
which migrations are the newest.  Nothing here imports user code.
"""

from __future__ import annotations

import ast
import os
import re
from dataclasses import dataclass, field as dc_field, fields as dc_fields
from typing import Any, Iterable, Iterator

from .names import ImportMap, canonical, dotted, literal
from .walk import children

# Positional parameters of Django's operations, by operation class.
DJANGO_PARAMS: dict[str, tuple[str, ...]] = {
    "CreateModel": ("name", "fields", "options", "bases", "managers"),
    "DeleteModel": ("name",),
    "RenameModel": ("old_name", "new_name"),
    "AlterModelTable": ("name", "table"),
    "AlterModelTableComment": ("name", "table_comment"),
    "AlterModelOptions": ("name", "options"),
    "AlterModelManagers": ("name", "managers"),
    "AlterUniqueTogether": ("name", "unique_together"),
    "AlterIndexTogether": ("name", "index_together"),
    "AlterOrderWithRespectTo": ("name", "order_with_respect_to"),
    "AddField": ("model_name", "name", "field", "preserve_default"),
    "RemoveField": ("model_name", "name"),
    "AlterField": ("model_name", "name", "field", "preserve_default"),
    "RenameField": ("model_name", "old_name", "new_name"),
    "AddIndex": ("model_name", "index"),
    "RemoveIndex": ("model_name", "name"),
    "RenameIndex": ("model_name", "new_name", "old_name", "old_fields"),
    "AddConstraint": ("model_name", "constraint"),
    "RemoveConstraint": ("model_name", "name"),
    "RunPython": ("code", "reverse_code", "atomic", "hints", "elidable"),
    "RunSQL": ("sql", "reverse_sql", "state_operations", "hints", "elidable"),
    "SeparateDatabaseAndState": ("database_operations", "state_operations"),
    # django.contrib.postgres.operations
    "AddIndexConcurrently": ("model_name", "index"),
    "RemoveIndexConcurrently": ("model_name", "name"),
    "AddConstraintNotValid": ("model_name", "constraint"),
    "ValidateConstraint": ("model_name", "name"),
}

# Django operations that change the database schema (not data, not state only).
DJANGO_SCHEMA_OPERATIONS = {
    "CreateModel", "DeleteModel", "RenameModel", "AlterModelTable", "AlterUniqueTogether",
    "AlterIndexTogether", "AddField", "RemoveField", "AlterField", "RenameField", "AddIndex",
    "RemoveIndex", "RenameIndex", "AddConstraint", "RemoveConstraint", "AddIndexConcurrently",
    "RemoveIndexConcurrently", "AddConstraintNotValid", "ValidateConstraint", "AlterModelTableComment",
}

# Positional parameters of Alembic's ``op.*`` and ``batch_op.*`` directives.
ALEMBIC_PARAMS: dict[str, tuple[str, ...]] = {
    "add_column": ("table_name", "column"),
    "drop_column": ("table_name", "column_name"),
    "alter_column": ("table_name", "column_name"),
    "create_table": ("table_name",),
    "drop_table": ("table_name",),
    "rename_table": ("old_table_name", "new_table_name"),
    "create_index": ("index_name", "table_name", "columns"),
    "drop_index": ("index_name", "table_name"),
    "create_unique_constraint": ("constraint_name", "table_name", "columns"),
    "create_check_constraint": ("constraint_name", "table_name", "condition"),
    "create_foreign_key": ("constraint_name", "source_table", "referent_table", "local_cols", "remote_cols"),
    "create_primary_key": ("constraint_name", "table_name", "columns"),
    "drop_constraint": ("constraint_name", "table_name", "type_"),
    "execute": ("sqltext",),
    "bulk_insert": ("table", "rows"),
}
# ``batch_op`` directives take no table: it comes from ``batch_alter_table(..)``.
BATCH_PARAMS: dict[str, tuple[str, ...]] = {
    "add_column": ("column",),
    "drop_column": ("column_name",),
    "alter_column": ("column_name",),
    "create_index": ("index_name", "columns"),
    "drop_index": ("index_name",),
    "create_unique_constraint": ("constraint_name", "columns"),
    "create_check_constraint": ("constraint_name", "condition"),
    "create_foreign_key": ("constraint_name", "referent_table", "local_cols", "remote_cols"),
    "create_primary_key": ("constraint_name", "columns"),
    "drop_constraint": ("constraint_name", "type_"),
    "execute": ("sqltext",),
}
ALEMBIC_SCHEMA_OPERATIONS = set(ALEMBIC_PARAMS) - {"execute", "bulk_insert"}

# Operations that name a field/column/index: without the name they are not understood.
NAMED_TARGETS = {"AddField", "RemoveField", "AlterField", "RenameField", "add_column", "drop_column", "alter_column", "create_index", "drop_index"}

# Django field classes stored as varchar (CharField and its subclasses).
VARCHAR_FIELDS = {"CharField", "SlugField", "EmailField", "URLField", "FileField", "ImageField", "FilePathField"}


def text_of(node: ast.AST | None) -> str:
    if node is None:
        return ""
    try:
        return ast.unparse(node)
    except Exception:  # noqa: BLE001 - odd nodes only cost the description
        return "?"


def bound_arguments(call: ast.Call, params: tuple[str, ...]) -> dict[str, ast.expr]:
    """Arguments of ``call`` by parameter name (positional ones mapped through ``params``)."""
    bound: dict[str, ast.expr] = {}
    for position, arg in enumerate(call.args):
        if isinstance(arg, ast.Starred):
            break
        if position < len(params):
            bound[params[position]] = arg
    for keyword in call.keywords:
        if keyword.arg:
            bound[keyword.arg] = keyword.value
    return bound


def is_true(node: ast.AST | None) -> bool:
    return isinstance(node, ast.Constant) and node.value is True


def string(node: ast.AST | None) -> str:
    value = literal(node)
    return value if isinstance(value, str) else ""


# -- field and column definitions -------------------------------------------------------


@dataclass
class FieldDef:
    """A Django field as a migration states it (``models.CharField(max_length=20)``)."""

    type: str = ""  # class name: "CharField"
    qualname: str = ""  # as imported: "django.db.models.CharField"
    null: bool = False
    max_length: int | None = None
    max_digits: int | None = None
    decimal_places: int | None = None
    db_column: str = ""
    db_index: bool | None = None
    unique: bool = False
    primary_key: bool = False
    relation: str = ""  # "fk", "o2o", "m2m" or ""
    has_default: bool = False
    has_db_default: bool = False
    default: str = ""  # source text of default=
    default_callable: bool = False
    line: int = 0

    @property
    def is_django(self) -> bool:
        return self.qualname.startswith("django.")

    @property
    def has_column(self) -> bool:
        return self.relation != "m2m"

    @property
    def indexed(self) -> bool:
        """Does the field bring its own index (db_index, unique, pk, a foreign key's index)?"""
        if self.primary_key or self.unique or self.db_index:
            return True
        return self.relation in ("fk", "o2o") and self.db_index is not False

    def to_dict(self) -> dict[str, Any]:
        data = dict(self.__dict__)  # flat values only: cheaper than dataclasses.asdict
        data.pop("line", None)
        return data

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> "FieldDef":
        return cls(**{k: v for k, v in data.items() if k in _FIELD_DEF_NAMES})


_FIELD_DEF_NAMES = frozenset(f.name for f in dc_fields(FieldDef))

# Builtin constructors: evaluating them once or per row gives equal values.
VALUE_CONSTRUCTORS = {"dict", "list", "set", "tuple", "str", "int", "float", "bool", "frozenset", "bytes"}


def is_callable_default(node: ast.AST | None, imports: ImportMap) -> bool:
    """``default=uuid.uuid4`` / ``timezone.now`` / a lambda / a function: evaluated per call.

    ``Status.DRAFT``, ``settings.X`` and ``Color.red`` (an attribute of a
    class) are values, and builtin constructors (``dict``) give equal values.
    """
    if isinstance(node, ast.Lambda):
        return True
    name = dotted(node) if node is not None else None
    if not name:
        return False
    parts = name.split(".")
    last = parts[-1]
    if last in VALUE_CONSTRUCTORS or not last[:1].islower() or last.isupper():
        return False
    if len(parts) > 1 and parts[-2][:1].isupper():
        return False  # an attribute of a class: an enum member or a constant
    return True


RELATIONS = {"ForeignKey": "fk", "OneToOneField": "o2o", "ManyToManyField": "m2m"}


def field_definition(node: ast.AST | None, imports: ImportMap) -> FieldDef | None:
    if not isinstance(node, ast.Call):
        return None
    qualname = imports.resolve(node.func) or dotted(node.func) or ""
    if not qualname:
        return None
    kw = {k.arg: k.value for k in node.keywords if k.arg}
    short = qualname.rsplit(".", 1)[-1]
    relation = RELATIONS.get(short, "")

    def number(key: str) -> int | None:
        value = literal(kw.get(key))
        return value if isinstance(value, int) and not isinstance(value, bool) else None

    db_index = literal(kw.get("db_index"))  # None when absent, as when not literal
    return FieldDef(
        type=short,
        qualname=qualname,
        null=literal(kw.get("null")) is True,
        max_length=number("max_length"),
        max_digits=number("max_digits"),
        decimal_places=number("decimal_places"),
        db_column=string(kw.get("db_column")),
        db_index=None if db_index is None else bool(db_index),
        unique=is_true(kw.get("unique")) or relation == "o2o",
        primary_key=is_true(kw.get("primary_key")),
        relation=relation,
        has_default="default" in kw and not (isinstance(kw["default"], ast.Constant) and kw["default"].value is None),
        has_db_default="db_default" in kw,
        default=text_of(kw.get("default")),
        default_callable=is_callable_default(kw.get("default"), imports),
        line=node.lineno,
    )


@dataclass
class ColumnDef:
    """An Alembic ``sa.Column(..)`` as a revision states it."""

    name: str
    node: ast.Call
    nullable: bool | None = None
    server_default: bool = False
    primary_key: bool = False
    unique: bool = False
    index: bool = False
    foreign_key: str = ""  # "users.id"
    type: str = ""


def column_definition(node: ast.AST | None, imports: ImportMap) -> ColumnDef | None:
    if not isinstance(node, ast.Call) or canonical(imports.resolve(node.func)) not in ("sqlalchemy:Column", "sqlalchemy:column"):
        return None
    name = string(node.args[0]) if node.args else string(next((k.value for k in node.keywords if k.arg == "name"), None))
    if not name:
        return None
    kw = {k.arg: k.value for k in node.keywords if k.arg}
    column = ColumnDef(name=name, node=node)
    if "nullable" in kw and isinstance(literal(kw["nullable"]), bool):
        column.nullable = literal(kw["nullable"])
    column.server_default = "server_default" in kw and not (isinstance(kw["server_default"], ast.Constant) and kw["server_default"].value is None)
    column.primary_key = is_true(kw.get("primary_key"))
    column.unique = is_true(kw.get("unique"))
    column.index = is_true(kw.get("index"))
    for arg in node.args[1:]:
        inner = arg.func if isinstance(arg, ast.Call) else arg
        kind = canonical(imports.resolve(inner)) or ""
        if kind == "sqlalchemy:ForeignKey" and isinstance(arg, ast.Call):
            column.foreign_key = string(arg.args[0]) if arg.args else "?"
            column.foreign_key = column.foreign_key or text_of(arg.args[0] if arg.args else None)
        elif not column.type:
            column.type = text_of(arg)
    if "type_" in kw and not column.type:
        column.type = text_of(kw["type_"])
    return column


# -- operations -------------------------------------------------------------------------


@dataclass
class Operation:
    """One migration operation: what it is, what it touches, where it acts."""

    kind: str  # "AddField", "RunPython", "add_column", "create_index", ...
    framework: str  # "django" or "alembic"
    node: ast.Call
    args: dict[str, ast.expr] = dc_field(default_factory=dict)
    in_database: bool = True
    in_state: bool = True
    model: str = ""  # Django model name, lower case
    table: str = ""  # Alembic table name
    name: str = ""  # field / column / index / constraint name
    new_name: str = ""
    field: FieldDef | None = None
    fields: dict[str, FieldDef] = dc_field(default_factory=dict)  # CreateModel
    options: dict[str, Any] = dc_field(default_factory=dict)  # CreateModel / AlterModelOptions
    column: ColumnDef | None = None  # Alembic add_column
    columns: list[ColumnDef] = dc_field(default_factory=list)  # Alembic create_table
    created_here: bool = False  # the table was created earlier in this migration
    batch: bool = False  # inside ``with op.batch_alter_table(..) as batch_op:``
    autocommit: bool = False  # inside ``with op.get_context().autocommit_block():``
    position: int = 0

    @property
    def line(self) -> int:
        return self.node.lineno

    @property
    def target(self) -> str:
        return self.model or self.table

    def keyword(self, name: str) -> ast.expr | None:
        return self.args.get(name)

    @property
    def has_unpacked_arguments(self) -> bool:
        """``*args`` / ``**kwargs``: which options the call sets is unknown."""
        return any(k.arg is None for k in self.node.keywords) or any(isinstance(a, ast.Starred) for a in self.node.args)

    @property
    def is_resolved(self) -> bool:
        """Do we know what it touches (model/table, and the field/column where it has one)?"""
        if self.has_unpacked_arguments:
            return False
        if self.kind in NAMED_TARGETS and not self.name:
            return False
        if self.framework == "django":
            return bool(self.model) or self.kind in ("RunPython", "RunSQL", "SeparateDatabaseAndState")
        if self.kind == "drop_index":
            return bool(self.name)
        return bool(self.table) or self.kind in ("execute", "bulk_insert")

    @property
    def is_schema_change(self) -> bool:
        if not self.in_database:
            return False
        if self.framework == "django":
            return self.kind in DJANGO_SCHEMA_OPERATIONS
        return self.kind in ALEMBIC_SCHEMA_OPERATIONS

    def state_dict(self) -> dict[str, Any] | None:
        """What this operation does to Django's model state (``None``: nothing we track)."""
        if self.framework != "django" or not self.in_state:
            return None
        if self.kind == "CreateModel":
            return {"op": self.kind, "model": self.model, "fields": {k: v.to_dict() for k, v in self.fields.items()}, "options": self.options}
        if self.kind in ("AddField", "AlterField"):
            return {"op": self.kind, "model": self.model, "name": self.name, "field": self.field.to_dict() if self.field else None}
        if self.kind in ("RemoveField", "DeleteModel"):
            return {"op": self.kind, "model": self.model, "name": self.name}
        if self.kind in ("RenameField", "RenameModel"):
            return {"op": self.kind, "model": self.model, "name": self.name, "new_name": self.new_name}
        if self.kind in ("AlterModelOptions", "AlterModelTable"):
            return {"op": self.kind, "model": self.model, "options": self.options}
        return None


@dataclass
class MigrationModel:
    framework: str  # "django" or "alembic"
    path: str
    name: str  # file stem: "0002_book_isbn"
    app_label: str = ""
    node: ast.ClassDef | None = None
    atomic: bool = True
    atomic_line: int = 0
    dependencies: list[tuple[str, str]] = dc_field(default_factory=list)
    replaces: list[tuple[str, str]] = dc_field(default_factory=list)
    initial: bool = False
    operations: list[Operation] = dc_field(default_factory=list)
    # Alembic
    revision: str = ""
    down_revisions: list[str] = dc_field(default_factory=list)
    message: str = ""
    upgrade: ast.FunctionDef | None = None
    downgrade: ast.FunctionDef | None = None

    @property
    def database_operations(self) -> list[Operation]:
        return [op for op in self.operations if op.in_database]


def _pairs(node: ast.AST | None) -> list[tuple[str, str]]:
    value = literal(node) if node is not None else None
    pairs = []
    if isinstance(node, (ast.List, ast.Tuple)):
        for item in node.elts:
            pair = literal(item)
            if isinstance(pair, (list, tuple)) and len(pair) == 2 and all(isinstance(p, str) for p in pair):
                pairs.append((pair[0], pair[1]))
    elif isinstance(value, (list, tuple)):
        pairs = [(a, b) for a, b in value if isinstance(a, str) and isinstance(b, str)]
    return pairs


def _operation_nodes(node: ast.AST | None) -> list[ast.AST]:
    """Elements of ``[..]``, ``(..)`` or ``[..] + [..]``; nothing for anything dynamic."""
    if isinstance(node, (ast.List, ast.Tuple)):
        return list(node.elts)
    if isinstance(node, ast.BinOp) and isinstance(node.op, ast.Add):
        return _operation_nodes(node.left) + _operation_nodes(node.right)
    return []


class _DjangoReader:
    def __init__(self, imports: ImportMap) -> None:
        self.imports = imports
        self.operations: list[Operation] = []
        self.created: set[str] = set()

    def read(self, nodes: Iterable[ast.AST], in_database: bool = True, in_state: bool = True) -> None:
        for node in nodes:
            if not isinstance(node, ast.Call):
                continue
            kind = canonical(self.imports.resolve(node.func)) or ""
            if not kind.startswith("migrations:"):
                continue
            kind = kind.split(":", 1)[1]
            args = bound_arguments(node, DJANGO_PARAMS.get(kind, ()))
            op = Operation(kind, "django", node, args, in_database, in_state, position=len(self.operations))
            self.describe(op)
            if in_database and op.model and op.model in self.created:
                op.created_here = True
            self.operations.append(op)
            if kind == "CreateModel" and in_database and op.model:
                self.created.add(op.model)
            if kind == "SeparateDatabaseAndState":
                self.read(_operation_nodes(args.get("database_operations")), in_database, False)
                self.read(_operation_nodes(args.get("state_operations")), False, in_state)
            elif kind == "RunSQL" and args.get("state_operations") is not None:
                self.read(_operation_nodes(args.get("state_operations")), False, in_state)

    def describe(self, op: Operation) -> None:
        args = op.args
        model = string(args.get("model_name")) or string(args.get("name")) or string(args.get("old_name"))
        if op.kind in ("RenameModel",):
            op.model, op.new_name = string(args.get("old_name")).lower(), string(args.get("new_name")).lower()
            return
        op.model = model.lower() if "model_name" in args or op.kind in (
            "CreateModel", "DeleteModel", "AlterModelTable", "AlterModelOptions", "AlterUniqueTogether",
            "AlterIndexTogether", "AlterModelTableComment", "AlterModelManagers", "AlterOrderWithRespectTo",
        ) else ""
        if "model_name" in args:
            op.name = string(args.get("name"))
        if op.kind in ("AddField", "AlterField"):
            op.field = field_definition(args.get("field"), self.imports)
        elif op.kind == "RenameField":
            op.name, op.new_name = string(args.get("old_name")), string(args.get("new_name"))
        elif op.kind == "CreateModel":
            for item in _operation_nodes(args.get("fields")):
                if not (isinstance(item, ast.Tuple) and len(item.elts) == 2):
                    continue
                name = string(item.elts[0])
                if name:
                    definition = field_definition(item.elts[1], self.imports)
                    if definition:
                        op.fields[name] = definition
            op.options = self.options(args.get("options"))
        elif op.kind == "AlterModelOptions":
            op.options = self.options(args.get("options"))
        elif op.kind == "AlterModelTable":
            op.options = {"db_table": string(args.get("table"))}

    @staticmethod
    def options(node: ast.AST | None) -> dict[str, Any]:
        options: dict[str, Any] = {}
        if isinstance(node, ast.Dict):
            for key, value in zip(node.keys, node.values):
                name = string(key)
                if name == "managed" and isinstance(literal(value), bool):
                    options["managed"] = literal(value)
                elif name == "db_table" and string(value):
                    options["db_table"] = string(value)
        return options


def _migration_class(tree: ast.Module, imports: ImportMap) -> ast.ClassDef | None:
    for node in tree.body:
        if isinstance(node, ast.ClassDef) and node.name == "Migration":
            if any(canonical(imports.resolve(b)) == "migrations:Migration" for b in node.bases):
                return node
    return None


def app_label_of(path: str) -> str:
    """The app folder that holds ``migrations/``: ``shop/migrations/0002_x.py`` -> ``shop``."""
    parts = os.path.normpath(os.path.abspath(path)).split(os.sep)
    if len(parts) >= 3 and parts[-2] == "migrations":
        return parts[-3]
    return parts[-2] if len(parts) >= 2 else ""


def read_django(tree: ast.Module, imports: ImportMap, path: str) -> MigrationModel | None:
    cls = _migration_class(tree, imports)
    if cls is None:
        return None
    model = MigrationModel("django", path, os.path.splitext(os.path.basename(path))[0], app_label_of(path), cls)
    reader = _DjangoReader(imports)
    for stmt in cls.body:
        if not (isinstance(stmt, (ast.Assign, ast.AnnAssign))):
            continue
        targets = stmt.targets if isinstance(stmt, ast.Assign) else [stmt.target]
        for target in targets:
            if not isinstance(target, ast.Name):
                continue
            if target.id == "operations":
                reader.read(_operation_nodes(stmt.value))
            elif target.id == "atomic":
                model.atomic = literal(stmt.value) is not False
                model.atomic_line = stmt.lineno
            elif target.id == "dependencies":
                model.dependencies = _pairs(stmt.value)
            elif target.id == "replaces":
                model.replaces = _pairs(stmt.value)
            elif target.id == "initial":
                model.initial = literal(stmt.value) is True
    model.operations = reader.operations
    return model


# -- Alembic ----------------------------------------------------------------------------


def _calls_under(node: ast.AST) -> list[ast.Call]:
    """The calls under ``node``, each after the calls it is nested in (all the stable sort by position needs:
    two calls starting at one position are nested, ``f()()``)."""
    found: list[ast.Call] = []
    stack = [node]
    while stack:
        current = stack.pop()
        if isinstance(current, ast.Call):
            found.append(current)
        stack.extend(children(current))
    return found


class _AlembicReader:
    def __init__(self, imports: ImportMap) -> None:
        self.imports = imports
        self.operations: list[Operation] = []
        self.created: set[str] = set()

    @staticmethod
    def is_autocommit_block(node: ast.AST) -> bool:
        """``op.get_context().autocommit_block()``, also through a variable (``ctx = op.get_context()``).

        The receiver is not resolved: in a revision, a ``with`` on a method of
        that name is Alembic's, and erring this way only silences ORM408.
        """
        return isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.func.attr == "autocommit_block"

    def batch_table(self, node: ast.AST) -> str | None:
        if isinstance(node, ast.Call) and canonical(self.imports.resolve(node.func)) == "alembic:batch_alter_table":
            args = bound_arguments(node, ("table_name",))
            return string(args.get("table_name")) or "?"
        return None

    def read(self, statements: list[ast.stmt], batches: dict[str, str], autocommit: bool) -> None:
        for stmt in statements:
            if isinstance(stmt, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
                continue
            if isinstance(stmt, (ast.With, ast.AsyncWith)):
                inner_batches, inner_autocommit = dict(batches), autocommit
                for item in stmt.items:
                    table = self.batch_table(item.context_expr)
                    if table is not None and isinstance(item.optional_vars, ast.Name):
                        inner_batches[item.optional_vars.id] = table
                    elif self.is_autocommit_block(item.context_expr):
                        inner_autocommit = True
                    else:
                        self.calls(item.context_expr, batches, autocommit)
                self.read(stmt.body, inner_batches, inner_autocommit)
                continue
            bodies = [getattr(stmt, name, None) for name in ("body", "orelse", "finalbody")]
            if any(isinstance(b, list) and b and isinstance(b[0], ast.stmt) for b in bodies):
                for header in ("test", "iter", "target"):
                    if getattr(stmt, header, None) is not None:
                        self.calls(getattr(stmt, header), batches, autocommit)
                for body in bodies:
                    if isinstance(body, list):
                        self.read(body, batches, autocommit)
                for handler in getattr(stmt, "handlers", []) or []:
                    self.read(handler.body, batches, autocommit)
                continue
            self.calls(stmt, batches, autocommit)

    def calls(self, node: ast.AST, batches: dict[str, str], autocommit: bool) -> None:
        for call in sorted(_calls_under(node), key=lambda n: (n.lineno, n.col_offset)):
            func = call.func
            kind, table, batch = "", "", False
            if isinstance(func, ast.Attribute) and isinstance(func.value, ast.Name) and func.value.id in batches:
                kind, table, batch = func.attr, batches[func.value.id], True
            else:
                resolved = self.imports.resolve(func) or ""
                name = canonical(resolved) or ""
                if name.startswith("alembic:") and resolved.startswith("alembic.op."):
                    kind = name.split(":", 1)[1]
            if not kind or kind not in (BATCH_PARAMS if batch else ALEMBIC_PARAMS):
                continue
            args = bound_arguments(call, (BATCH_PARAMS if batch else ALEMBIC_PARAMS)[kind])
            if not batch:
                table = string(args.get("table_name") or args.get("source_table") or args.get("old_table_name"))
            op = Operation(kind, "alembic", call, args, batch=batch, autocommit=autocommit, table=table, position=len(self.operations))
            self.describe(op)
            if table and table in self.created and kind != "create_table":
                op.created_here = True
            self.operations.append(op)
            if kind == "create_table" and table:
                self.created.add(table)

    def describe(self, op: Operation) -> None:
        args = op.args
        if op.kind == "add_column":
            op.column = column_definition(args.get("column"), self.imports)
            op.name = op.column.name if op.column else ""
        elif op.kind in ("drop_column", "alter_column"):
            op.name = string(args.get("column_name"))
            op.new_name = string(args.get("new_column_name"))
        elif op.kind == "rename_table":
            op.new_name = string(args.get("new_table_name"))
        elif op.kind == "create_table":
            op.columns = [c for c in (column_definition(a, self.imports) for a in op.node.args[1:]) if c]
        elif op.kind in ("create_index", "drop_index", "create_unique_constraint", "create_check_constraint",
                         "create_foreign_key", "create_primary_key", "drop_constraint"):
            op.name = self.object_name(args.get("index_name") or args.get("constraint_name"))

    def object_name(self, node: ast.AST | None) -> str:
        """A literal name, also through ``op.f("ix_orders_status")`` / ``batch_op.f(..)`` (autogenerate's naming wrapper)."""
        if isinstance(node, ast.Call) and node.args and isinstance(node.func, ast.Attribute) and node.func.attr == "f":
            receiver = node.func.value
            if canonical(self.imports.resolve(node.func)) == "alembic:f" or isinstance(receiver, ast.Name):
                node = node.args[0]
        return string(node)


def _module_assignments(tree: ast.Module) -> dict[str, ast.expr]:
    values: dict[str, ast.expr] = {}
    for node in tree.body:
        if isinstance(node, ast.Assign):
            for target in node.targets:
                if isinstance(target, ast.Name):
                    values[target.id] = node.value
        elif isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Name) and node.value is not None:
            values[node.target.id] = node.value
    return values


def read_alembic(tree: ast.Module, imports: ImportMap, path: str) -> MigrationModel:
    values = _module_assignments(tree)
    model = MigrationModel("alembic", path, os.path.splitext(os.path.basename(path))[0])
    model.revision = string(values.get("revision"))
    down = literal(values.get("down_revision"))
    model.down_revisions = [down] if isinstance(down, str) else [d for d in down or () if isinstance(d, str)] if isinstance(down, (list, tuple)) else []
    docstring = ast.get_docstring(tree) or ""
    model.message = docstring.strip().splitlines()[0].strip() if docstring.strip() else ""
    for node in tree.body:
        if isinstance(node, ast.FunctionDef) and node.name in ("upgrade", "downgrade"):
            setattr(model, node.name, node)
    if model.upgrade is not None:
        reader = _AlembicReader(imports)
        reader.read(model.upgrade.body, {}, False)
        model.operations = reader.operations
    return model


_READ = "_ormreview_migration_model"


def read_migration(tree: ast.Module, imports: ImportMap, path: str, kind: str) -> MigrationModel | None:
    """The migration model of a ``django_migration`` or ``alembic`` module, else ``None``.

    Kept on the tree: the extractor's summary and the migration rules read the
    same file with the same imports, and nothing changes a model once read.
    """
    cached = getattr(tree, _READ, None)
    if cached is not None and cached[0] is imports and cached[1] == path and cached[2] == kind:
        return cached[3]
    if kind == "django_migration":
        model = read_django(tree, imports, path)
    elif kind == "alembic":
        model = read_alembic(tree, imports, path)
    else:
        return None
    try:
        setattr(tree, _READ, (imports, path, kind, model))
    except AttributeError:
        pass
    return model


def summarize_migration(tree: ast.Module, imports: ImportMap, path: str, kind: str) -> dict[str, Any] | None:
    """The JSON-serialisable history summary kept in ``ModuleFacts.migration``."""
    try:
        model = read_migration(tree, imports, path, kind)
    except Exception:  # noqa: BLE001 - a summary is an optimisation: odd code must not break the index
        return None
    if model is None:
        return None
    if model.framework == "alembic":
        leads, types = alembic_schema(model, imports)
        return {"framework": "alembic", "revision": model.revision, "down_revisions": model.down_revisions,
                "leads": leads, "types": types}
    return {
        "framework": "django",
        "name": model.name,
        "app": model.app_label,
        "dependencies": [list(d) for d in model.dependencies],
        "replaces": [list(d) for d in model.replaces],
        "initial": model.initial,
        "atomic": model.atomic,
        "state": [s for s in (op.state_dict() for op in model.operations) if s],
    }


def alembic_schema(model: MigrationModel, imports: ImportMap) -> tuple[list[list[str]], list[list[Any]]]:
    """What later revisions need from this one: ``[table, column]`` pairs that lead an
    index, key or unique constraint it creates, and ``[table, column, type, nullable]``
    as it states them (``""`` / ``None`` for what it leaves unsaid)."""
    leads: list[list[str]] = []
    types: list[list[Any]] = []
    for op in model.operations:
        if not op.table:
            continue
        if op.kind in ("create_index", "create_unique_constraint", "create_primary_key"):
            columns = literal(op.args.get("columns"))
            if isinstance(columns, (list, tuple)) and columns and isinstance(columns[0], str):
                leads.append([op.table, columns[0]])
        elif op.kind == "add_column" and op.column is not None:
            if op.column.index or op.column.unique or op.column.primary_key:
                leads.append([op.table, op.column.name])
            types.append([op.table, op.column.name, op.column.type, _nullable(op.column)])
        elif op.kind == "alter_column" and op.name and ("type_" in op.args or "nullable" in op.args):
            nullable = literal(op.args.get("nullable"))
            types.append([op.table, op.name, text_of(op.args.get("type_")), nullable if isinstance(nullable, bool) else None])
        elif op.kind == "create_table":
            leads.extend([op.table, column] for column in _created_table_leads(op, imports))
            types.extend([op.table, column.name, column.type, _nullable(column)] for column in op.columns)
    return leads, types


def _nullable(column: ColumnDef) -> bool | None:
    """SQLAlchemy's default: a primary key column is NOT NULL, any other column NULL."""
    return column.nullable if column.nullable is not None else not column.primary_key


def _created_table_leads(op: Operation, imports: ImportMap) -> Iterator[str]:
    """Columns of ``op.create_table(..)`` that lead its primary key, a unique constraint or an index."""
    first_key = True
    for column in op.columns:
        if column.index or column.unique or (column.primary_key and first_key):
            yield column.name
        first_key = first_key and not column.primary_key
    for arg in op.node.args[1:]:
        if not isinstance(arg, ast.Call):
            continue
        kind = canonical(imports.resolve(arg.func))
        if kind in ("sqlalchemy:PrimaryKeyConstraint", "sqlalchemy:UniqueConstraint", "sqlalchemy:Index"):
            names = [string(a) for a in arg.args if string(a)]
            names = names[1:] if kind == "sqlalchemy:Index" else names  # an Index's first string is its name
            if names:
                yield names[0]


def alembic_ancestors(index: Any, path: str, summary: dict[str, Any] | None) -> list[dict[str, Any]]:
    """Summaries of the revisions ``path``'s revision descends from, nearest first.

    Only revisions in the same ``versions`` folder count (prefect keeps one tree per backend).
    """
    if not summary or summary.get("framework") != "alembic":
        return []
    by_revision = {s.get("revision"): s for s in _sibling_summaries(index, path, "alembic").values() if s.get("revision")}
    found: list[dict[str, Any]] = []
    seen: set[str] = {summary.get("revision") or ""}
    frontier = list(summary.get("down_revisions") or [])
    while frontier:
        revision = frontier.pop(0)
        if revision in seen or revision not in by_revision:
            continue
        seen.add(revision)
        found.append(by_revision[revision])
        frontier.extend(by_revision[revision].get("down_revisions") or [])
    return found


# -- history ----------------------------------------------------------------------------


def _sibling_summaries(index: Any, path: str, framework: str) -> dict[str, dict[str, Any]]:
    """Summaries of the migrations in ``path``'s folder, by file stem (this file included)."""
    folder = os.path.dirname(os.path.abspath(path))
    if index is None:
        return {}
    if hasattr(index, "memo"):
        # Once per index resolution, not once per migration file (quadratic on real projects).
        by_folder = index.memo(("migrations.siblings", framework), lambda: _summaries_by_folder(index, framework))
        return dict(by_folder.get(folder, {}))
    return _summaries_by_folder(index, framework, folder).get(folder, {})


def _summaries_by_folder(index: Any, framework: str, only: str | None = None) -> dict[str, dict[str, dict[str, Any]]]:
    grouped: dict[str, dict[str, dict[str, Any]]] = {}
    for facts in index.all_facts():
        if facts.kind not in ("django_migration", "alembic"):
            continue
        folder = os.path.dirname(os.path.abspath(facts.path))
        if only is not None and folder != only:
            continue
        found = grouped.setdefault(folder, {})
        summary = facts.migration
        if summary is None:
            summary = _summary_from_disk(facts.path, facts.kind)
        if summary and summary.get("framework") == framework:
            found[os.path.splitext(os.path.basename(facts.path))[0]] = summary
    return grouped


def _summary_from_disk(path: str, kind: str) -> dict[str, Any] | None:
    """For facts cached before summaries existed: read the file again."""
    try:
        with open(path, "rb") as handle:
            tree = ast.parse(handle.read(), filename=path)
    except (OSError, SyntaxError, ValueError, MemoryError, RecursionError):
        return None
    return summarize_migration(tree, ImportMap.from_tree(tree), path, kind)


def app_label_among(siblings: dict[str, dict[str, Any]], folder_label: str) -> str:
    """The label the app's migrations use for each other (``AppConfig.label``, e.g. ``wagtailcore``).

    Each migration depends on its predecessor by ``(label, name)``: the label
    that most often names a sibling file is the app's own; the folder name
    when nothing says otherwise.
    """
    counts: dict[str, int] = {}
    for summary in siblings.values():
        for app, name in summary.get("dependencies", []):
            if name in siblings:
                counts[app] = counts.get(app, 0) + 1
    if not counts or counts.get(folder_label, 0) == max(counts.values()):
        return folder_label
    return max(sorted(counts), key=counts.__getitem__)


def django_app_label(index: Any, migration: MigrationModel) -> str:
    """The Django app label of ``migration``, as its sibling migrations name each other."""
    return app_label_among(_sibling_summaries(index, migration.path, "django"), migration.app_label)


def app_history(index: Any, path: str, summary: dict[str, Any] | None) -> list[dict[str, Any]] | None:
    """Summaries of the same app's migrations that ``path`` depends on, oldest first.

    ``None`` when this migration's own summary is unknown.  Only dependencies
    inside the app's folder count (other apps' migrations do not change this
    app's models).
    """
    if not summary or summary.get("framework") != "django":
        return None
    siblings = _sibling_summaries(index, path, "django")
    label = app_label_among(siblings, summary.get("app", ""))
    ordered: list[dict[str, Any]] = []
    visiting: set[str] = set()
    done: set[str] = set()

    def visit(name: str) -> None:
        if name in done or name in visiting or name not in siblings:
            return
        visiting.add(name)
        for app, dependency in siblings[name].get("dependencies", []):
            if app == label:
                visit(dependency)
        visiting.discard(name)
        done.add(name)
        ordered.append(siblings[name])

    for app, dependency in summary.get("dependencies", []):
        if app == label:
            visit(dependency)
    return ordered


ModelState = dict[str, dict[str, Any]]  # model -> {"fields": {name: FieldDef}, "managed": bool, "db_table": str}


def apply_state(state: ModelState, change: dict[str, Any]) -> None:
    """Replay one ``state_dict()`` of an operation on the model state."""
    op, model = change.get("op"), change.get("model", "")
    entry = state.get(model)
    if op == "CreateModel":
        options = change.get("options") or {}
        state[model] = {
            "fields": {k: FieldDef.from_dict(v) for k, v in (change.get("fields") or {}).items()},
            "managed": options.get("managed", True) is not False,
            "db_table": options.get("db_table", ""),
        }
    elif op == "DeleteModel":
        state.pop(model, None)
    elif op == "RenameModel" and entry is not None:
        state[change.get("new_name", "")] = state.pop(model)
    elif entry is None and op in ("AddField", "AlterField") and change.get("field") is not None:
        # The model's creation is not in view (squashed or partial history): what the
        # field is now is still known from here on.
        state[model] = {"fields": {change.get("name", ""): FieldDef.from_dict(change["field"])}, "managed": True, "db_table": ""}
    elif entry is None:
        return
    elif op in ("AddField", "AlterField"):
        definition = change.get("field")
        if definition is None:
            entry["fields"].pop(change.get("name", ""), None)  # unknown from here on
        else:
            entry["fields"][change.get("name", "")] = FieldDef.from_dict(definition)
    elif op == "RemoveField":
        entry["fields"].pop(change.get("name", ""), None)
    elif op == "RenameField" and change.get("name") in entry["fields"]:
        entry["fields"][change.get("new_name", "")] = entry["fields"].pop(change["name"])
    elif op == "AlterModelOptions" and "managed" in (change.get("options") or {}):
        entry["managed"] = change["options"]["managed"] is not False
    elif op == "AlterModelTable":
        entry["db_table"] = (change.get("options") or {}).get("db_table", "")


# Summaries replayed -> the state after them.  The key tuple holds the summary
# dicts themselves (compared by identity), so a key never matches another
# resolution's summaries.  Stored states are never changed (callers copy them).
_REPLAYED: dict[tuple[int, ...], tuple[tuple[dict[str, Any], ...], ModelState]] = {}


def _replayed(summaries: tuple[dict[str, Any], ...]) -> ModelState | None:
    found = _REPLAYED.get(tuple(map(id, summaries)))
    if found is not None and all(a is b for a, b in zip(found[0], summaries)):
        return found[1]
    return None


def replay(history: list[dict[str, Any]]) -> ModelState:
    """The model state after ``history`` (memoised: sibling migrations share most of it).

    Migration N's history is usually migration N-1's plus N-1 itself, so the
    state after all but the last summary is reused when it was replayed
    already: each migration of an app costs one step, not its whole history.
    """
    summaries = tuple(history)
    cached = _replayed(summaries)
    if cached is not None:
        return cached
    previous = _replayed(summaries[:-1]) if len(summaries) > 1 else None
    if previous is not None:
        state, todo = copy_state(previous), summaries[-1:]
    else:
        state, todo = {}, summaries
    for earlier in todo:
        for change in earlier.get("state", []):
            apply_state(state, change)
    if len(_REPLAYED) > 256:
        _REPLAYED.clear()
    _REPLAYED[tuple(map(id, summaries))] = (summaries, state)
    return state


def copy_state(state: ModelState) -> ModelState:
    """A copy that :func:`apply_state` can change (field definitions themselves are never mutated)."""
    return {model: {**entry, "fields": dict(entry["fields"])} for model, entry in state.items()}


def state_before(
    index: Any,
    migration: MigrationModel,
    summary: dict[str, Any] | None,
    operation: Operation,
    history: list[dict[str, Any]] | None = None,
) -> ModelState | None:
    """Django's model state of this app just before ``operation`` runs (``None``: unknown).

    ``history`` is :func:`app_history`'s result when the caller already has it.
    """
    if history is None:
        history = app_history(index, migration.path, summary)
    if history is None:
        return None
    state = copy_state(replay(history))
    for op in migration.operations:
        if op is operation or op.position >= operation.position:
            break
        change = op.state_dict()
        if change:
            apply_state(state, change)
    return state


def is_leaf(index: Any, migration: MigrationModel) -> bool:
    """Newest migration of its app (no sibling depends on it) / an Alembic head.

    A squashed migration stands for the ones it ``replaces``: a sibling that
    depends on any of them depends on it too.
    """
    if migration.framework == "django":
        siblings = _sibling_summaries(index, migration.path, "django")
        label = app_label_among(siblings, migration.app_label)
        names = {migration.name} | {name for app, name in migration.replaces if app == label}
        for summary in siblings.values():
            if summary.get("name") in names:
                continue
            if any(app == label and name in names for app, name in summary.get("dependencies", [])):
                return False
        return True
    if not migration.revision:
        return True
    for summary in _sibling_summaries(index, migration.path, "alembic").values():
        if migration.revision in (summary.get("down_revisions") or []) and summary.get("revision") != migration.revision:
            return False
    return True


AUTO_NAME = re.compile(r"^\d{4}_auto_\d{8}_\d{4}$")


def iter_operations(migration: MigrationModel, kinds: Iterable[str]) -> Iterator[Operation]:
    wanted = set(kinds)
    for op in migration.operations:
        if op.kind in wanted:
            yield op
