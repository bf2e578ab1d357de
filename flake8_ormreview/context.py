"""What a rule sees of one file: its tree, facts, the project index and the options."""

from __future__ import annotations

import ast
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any, Iterator

from .index import ProjectIndex
from .options import Options
from .registry import Finding, get_rule
from .semantic import walk as _walk
from .semantic.facts import ModelFact, ModuleFacts
from .semantic.names import ImportMap, canonical, dotted

# Module-level imports from these packages make a file worth every rule: the ORMs,
# and the DB-API drivers whose cursors take raw SQL.
ORM_AND_DRIVER_PACKAGES = frozenset({
    "django", "sqlalchemy", "sqlmodel", "flask_sqlalchemy", "alembic",
    "sqlite3", "psycopg", "psycopg2", "pymysql", "MySQLdb", "asyncpg", "aiosqlite", "databases", "aiomysql",
})
# The parts of Django that hand out models, querysets or connections; a file importing
# only django.conf, django.urls, django.utils, django.http, templates or forms
# reaches the ORM through a model import, which counts on its own.
DJANGO_ORM_MODULES = ("django.db", "django.contrib", "django.apps", "django.shortcuts", "django.core.management")


def from_orm_package(qualname: str) -> bool:
    package = qualname.split(".", 1)[0]
    if package == "django":
        return qualname.startswith(DJANGO_ORM_MODULES)
    return package in ORM_AND_DRIVER_PACKAGES


@dataclass
class FileContext:
    path: str
    source: str
    tree: ast.Module
    facts: ModuleFacts
    imports: ImportMap
    index: ProjectIndex
    options: Options = field(default_factory=Options)
    cache: dict[str, Any] = field(default_factory=dict)

    @property
    def kind(self) -> str:
        return self.facts.kind

    @property
    def is_migration(self) -> bool:
        return self.facts.kind in ("django_migration", "alembic")

    @cached_property
    def lines(self) -> list[str]:
        return self.source.splitlines()

    def walk(self) -> Iterator[ast.AST]:
        """``ast.walk(ctx.tree)`` over one walk shared by every rule (much cheaper)."""
        return _walk.walk(self.tree)

    def nodes_of(self, *types: type) -> list:
        """Every node of one of ``types`` in this file, in ``ast.walk`` order (cached)."""
        return _walk.nodes_of(self.tree, *types)

    @cached_property
    def models(self) -> list[ModelFact]:
        """Models defined in this file, as resolved by the project index."""
        return self.index.models_in(self.path)

    @cached_property
    def reaches_orm(self) -> bool:
        """Whether anything in this file can name a model, a query or a database connection.

        Rules resolve every receiver through the file's module-level imports and
        the index, so a file that defines no model, is no migration and imports
        nothing that resolves to an ORM, a driver, a model or a module defining
        models cannot produce a finding from them: the analysis skips those rules
        there (most of a large project's files; see docs/performance.md).
        """
        if self.is_migration or self.models:
            return True
        for qualname in self.imports.names.values():
            if from_orm_package(qualname) or qualname.endswith(("get_model", "get_class")):
                return True  # get_model/get_class: Django's app registry and Oscar's loader return models
            resolved = self.index.resolve_symbol(qualname)
            if canonical(resolved) or self.index.model(resolved) is not None:
                return True
            if resolved != qualname and from_orm_package(resolved):
                return True  # a project re-export of an ORM object (``from app.db import db``)
            module = self.index.modules.get(resolved)
            if module is not None and any(self.index.model(cls.qualname) for cls in module.classes):
                return True  # ``from shop import models`` then ``models.Book.objects``
        return False

    def release(self) -> None:
        """Drop what the rules kept for this file once they have all run.

        The per-file caches and the tree's walk refer back to the context and
        the tree (reference cycles): kept, each analysed tree would stay in
        memory until a full garbage collection, which then takes longer for
        every file flake8 checks after it.
        """
        self.cache.clear()
        _walk.forget(self.tree)

    def own_fields(self, model: ModelFact) -> list:
        """Fields declared in this file's class body (not inherited ones)."""
        for cls in self.facts.classes:
            if cls.qualname == model.qualname:
                # Only what the index kept as fields (a type hint on a Django model is not one).
                return [f for f in cls.fields.values() if model.fields.get(f.name) == f]
        return []

    def resolve(self, node: ast.AST | str) -> str | None:
        return self.imports.resolve(node)

    def canonical(self, node: ast.AST) -> str | None:
        """``framework:Name`` of a Name/Attribute chain (through imports and re-exports); memoised per name."""
        name = node if isinstance(node, str) else dotted(node)
        if name is None:
            return None
        memo = self.cache.setdefault("context.canonical", {})
        if name not in memo:
            qual = self.imports.resolve(name)
            if qual and self.index is not None and not canonical(qual):
                qual = self.index.resolve_symbol(qual)
            memo[name] = canonical(qual)
        return memo[name]

    def finding(self, code: str, where: ast.AST | int, col: int | None = None, **values: object) -> Finding:
        """A finding for ``code`` at a node (its first line) or a line number."""
        if isinstance(where, int):
            line, column = where, col or 0
        else:
            line, column = where.lineno, where.col_offset if col is None else col
        return Finding(line, column, code, get_rule(code).format(**values))
