"""Plain, JSON-serialisable facts about models, fields and indexes.

These are what the model index persists and what rules read.  They are
extracted from source by :mod:`.extract` and never by importing user code.

Slotted: a model has more attributes than CPython's key-sharing instance
dicts allow (30), so each instance would carry its own 1.5 KB dict; with
slots a project's index takes a fraction of that (see docs/performance.md).
"""

from __future__ import annotations

from dataclasses import MISSING, dataclass, field, fields as dc_fields, is_dataclass
from functools import lru_cache
from typing import Any


@dataclass(slots=True)
class FieldFact:
    name: str
    line: int
    col: int = 0
    end_line: int = 0
    type: str = ""  # canonical constructor, e.g. "django:ForeignKey", "sqlalchemy:Column"
    type_qualname: str = ""  # fully qualified constructor or column type as written
    column_type: str = ""  # "CharField", "String", "Float", "float" (annotation), ...
    column: str = ""  # database column name
    relation: str = ""  # "fk", "o2o", "m2m", "relationship", "" for plain columns
    target: str = ""  # related model as written: "Author", "shop.Author", "users.id"
    target_qualname: str = ""  # resolved qualified name when the target was a Name
    foreign_key: str = ""  # SQLAlchemy ForeignKey("table.col") target
    null: bool | None = None  # Django null= / SQLAlchemy nullable= when stated
    nullable_from_annotation: bool | None = None
    blank: bool = False
    primary_key: bool = False
    unique: bool = False
    db_index: bool | None = None  # db_index= / index= when stated
    related_name: str = ""
    lazy: str = ""
    back_populates: str = ""
    backref: str = ""
    order_by: list[str] = field(default_factory=list)
    secondary: str = ""
    uselist: bool | None = None
    db_column: str = ""
    has_default: bool = False
    has_db_default: bool = False
    default_is_callable: bool = False
    max_length: int | None = None
    kwargs: list[str] = field(default_factory=list)

    @property
    def is_foreign_key(self) -> bool:
        return self.relation in ("fk", "o2o") or bool(self.foreign_key)

    @property
    def is_to_many(self) -> bool:
        return self.relation == "m2m" or (self.relation == "relationship" and self.uselist is not False)

    @property
    def is_db_column(self) -> bool:
        return self.relation not in ("m2m", "relationship", "reverse")


@dataclass(slots=True)
class IndexFact:
    columns: list[str]
    kind: str = "index"  # "index", "unique", "primary_key", "unique_together", "index_together"
    line: int = 0
    name: str = ""
    partial: bool = False
    include: bool = False
    expressions: bool = False
    opclasses: bool = False
    source: str = "meta"  # "meta", "column", "table_args", "module"

    @property
    def unique(self) -> bool:
        return self.kind in ("unique", "primary_key", "unique_together")


@dataclass(slots=True)
class ModelFact:
    name: str
    qualname: str
    module: str
    path: str
    line: int
    end_line: int = 0
    framework: str = ""  # "django", "sqlalchemy", "sqlmodel", "core"
    bases: list[str] = field(default_factory=list)
    keywords: dict[str, Any] = field(default_factory=dict)
    is_model: bool = False  # decided by the index once bases are resolved
    is_base: bool = False  # a declarative base class (not a table)
    abstract: bool = False
    managed: bool = True
    proxy: bool = False
    table: str = ""
    app_label: str = ""
    docstring: bool = False
    has_str: bool = False
    fields: dict[str, FieldFact] = field(default_factory=dict)
    indexes: list[IndexFact] = field(default_factory=list)
    ordering: list[str] = field(default_factory=list)
    ordering_line: int = 0
    get_latest_by: list[str] = field(default_factory=list)
    get_latest_by_line: int = 0
    mapper_order_by: list[str] = field(default_factory=list)
    mapper_order_by_line: int = 0
    unique_together_line: int = 0
    index_together_line: int = 0
    meta_lines: dict[str, int] = field(default_factory=dict)
    managers: dict[str, str] = field(default_factory=dict)  # attribute -> manager class qualname
    has_meta: bool = False  # declares ``class Meta`` (Django)
    meta_inherits: bool = False  # ``class Meta(Parent.Meta)``: keeps the parent's indexes
    declares_table_args: bool = False  # ``__table_args__`` in the class body (SQLAlchemy)
    dynamic_indexes: bool = False  # some indexes cannot be read statically (``*Base.Meta.indexes``, declared_attr)

    def field_for(self, name: str) -> FieldFact | None:
        """The field called ``name`` or whose column is ``name`` (``author_id``)."""
        if name in self.fields:
            return self.fields[name]
        for fact in self.fields.values():
            if fact.column == name or (fact.relation in ("fk", "o2o") and f"{fact.name}_id" == name):
                return fact
        return None

    def normalise_column(self, name: str) -> str:
        name = name.lstrip("-+")
        if name == "pk" or (name == "id" and "id" not in self.fields):
            return self.pk_name
        fact = self.field_for(name)
        return fact.name if fact else name

    @property
    def pk_name(self) -> str:
        for fact in self.fields.values():
            if fact.primary_key:
                return fact.name
        return "id"

    @property
    def schema_owned(self) -> bool:
        """False for unmanaged Django models (``inspectdb`` output) and proxies."""
        return self.managed and not self.proxy

    def leading_columns(self) -> set[str]:
        """Fields that lead the primary key, a unique constraint or an index."""
        leads = {self.pk_name} if self.framework == "django" else set()
        for index in self.indexes:
            if index.columns:
                leads.add(self.normalise_column(index.columns[0]))
        for fact in self.fields.values():
            if fact.relation in ("fk", "o2o") and fact.db_index is not False:
                leads.add(fact.name)  # Django indexes foreign keys by default
        return leads

    def is_indexed(self, name: str) -> bool:
        return self.normalise_column(name) in self.leading_columns()

    def covers(self, column: str, equality: set[str]) -> bool:
        """Is ``column`` usable through an index, given the equality-filtered fields?"""
        column = self.normalise_column(column)
        if column in self.leading_columns():
            return True
        equality = {self.normalise_column(c) for c in equality}
        for index in self.indexes:
            names = [self.normalise_column(c) for c in index.columns]
            if column in names and set(names[: names.index(column)]) <= equality:
                return True
        return False


@dataclass(slots=True)
class ModuleFacts:
    """Everything the index keeps about one source file."""

    path: str
    module: str
    kind: str = "module"  # "module", "django_migration", "alembic", "test"
    classes: list[ModelFact] = field(default_factory=list)
    symbols: dict[str, str] = field(default_factory=dict)  # module-level name -> qualname (imports, factories)
    functions_returning_queries: list[str] = field(default_factory=list)
    migration: dict[str, Any] | None = None  # filled by the migration summariser
    extra: dict[str, Any] = field(default_factory=dict)


@lru_cache(maxsize=None)
def _field_names(cls: type) -> frozenset[str]:
    return frozenset(f.name for f in dc_fields(cls))


@lru_cache(maxsize=None)
def _defaults(cls: type) -> tuple[tuple[str, Any], ...]:
    """(name, default value) of every field of ``cls``; ``MISSING`` when it has none."""
    result = []
    for item in dc_fields(cls):
        if item.default is not MISSING:
            result.append((item.name, item.default))
        elif item.default_factory is not MISSING:
            result.append((item.name, item.default_factory()))
        else:
            result.append((item.name, MISSING))
    return tuple(result)


def _load(cls: type, data: dict[str, Any]) -> Any:
    names = _field_names(cls)
    return cls(**{k: v for k, v in data.items() if k in names})


# The leaves of the facts, copied as they are: checked before anything else (most values are).
_SCALARS = frozenset({str, int, float, bool, type(None)})


def _plain(value: Any) -> Any:
    """JSON-ready copy of ``value``; dataclasses lose the fields still at their default.

    The loader fills defaults back in, so a warm index reads a file several
    times smaller than ``asdict`` would write (see docs/performance.md).
    """
    if type(value) in _SCALARS:
        return value
    if is_dataclass(value) and not isinstance(value, type):
        out = {}
        for name, default in _defaults(type(value)):
            item = getattr(value, name)
            if default is MISSING or type(item) is not type(default) or item != default:
                out[name] = item if type(item) in _SCALARS else _plain(item)
        return out
    if isinstance(value, (list, tuple)):
        return [item if type(item) in _SCALARS else _plain(item) for item in value]
    if isinstance(value, dict):
        return {key: item if type(item) in _SCALARS else _plain(item) for key, item in value.items()}
    return value


def model_from_dict(data: dict[str, Any]) -> ModelFact:
    model = _load(ModelFact, data)
    model.fields = {k: _load(FieldFact, v) for k, v in data.get("fields", {}).items()}
    model.indexes = [_load(IndexFact, v) for v in data.get("indexes", [])]
    return model


def module_from_dict(data: dict[str, Any]) -> ModuleFacts:
    facts = _load(ModuleFacts, data)
    facts.classes = [model_from_dict(c) for c in data.get("classes", [])]
    return facts


def module_to_dict(facts: ModuleFacts) -> dict[str, Any]:
    # Every top-level key stays (readers of the cache look them up directly);
    # the bulk, the models' and fields' defaults, is left out below that.
    return {name: _plain(getattr(facts, name)) for name in sorted(_field_names(ModuleFacts))}
