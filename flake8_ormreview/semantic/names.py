"""Qualified-name resolution: which ORM object does a name in this module mean?

Rules never look at bare names.  ``from django.db import models as m`` makes
``m.ForeignKey`` resolve to ``django.db.models.ForeignKey``; ``db =
SQLAlchemy()`` makes ``db.Column`` resolve to ``flask_sqlalchemy.SQLAlchemy().Column``
(the ``()`` marks "an instance of"), which :func:`canonical` maps to the
SQLAlchemy name it stands for.
"""

from __future__ import annotations

import ast
import functools
import os
from typing import Any, Iterator

# Calls whose result we track as a named instance at module level.
TRACKED_FACTORIES = {
    "flask_sqlalchemy.SQLAlchemy",
    "flask_sqlalchemy.extension.SQLAlchemy",
    "sqlalchemy.orm.declarative_base",
    "sqlalchemy.ext.declarative.declarative_base",
    "sqlalchemy.orm.registry",
    "sqlalchemy.MetaData",
    "sqlalchemy.schema.MetaData",
}

ORM_PACKAGES = ("django", "sqlalchemy", "sqlmodel", "flask_sqlalchemy", "alembic")


TEST_MODULE_NAMES = ("tests.py", "test.py", "conftest.py")
TEST_PACKAGES = frozenset({"test", "tests"})


def is_test_module(path: str) -> bool:
    """A test module by its name (``test_x.py``, ``x_test.py``, Django's ``tests.py``, ``conftest.py``)."""
    base = path.replace("\\", "/").rsplit("/", 1)[-1]
    return base.startswith("test_") or base.endswith("_test.py") or base in TEST_MODULE_NAMES


def in_test_package(module: str) -> bool:
    """A module of a ``test``/``tests`` package (a test app, test factories), by its dotted name."""
    return not TEST_PACKAGES.isdisjoint(module.split(".")[:-1])


def module_name_for(path: str, root: str) -> str:
    """Dotted module name of ``path`` relative to the source ``root``."""
    # Asked several times per file (test-code checks, the extractor, the analysis); the
    # path arithmetic is memoised, keyed on the working folder too: relative paths depend on it.
    absolute = os.path.isabs(path) and os.path.isabs(root)
    return _module_name_for(path, root, "" if absolute else os.getcwd())


@functools.lru_cache(maxsize=4096)
def _module_name_for(path: str, root: str, cwd: str) -> str:
    absolute, base = os.path.abspath(path), os.path.abspath(root)
    if absolute.startswith(base) and absolute[len(base):len(base) + 1] == os.sep:
        rel = absolute[len(base) + 1:]  # what relpath says for a file below the root, without its walk
    else:
        rel = os.path.relpath(absolute, base)
    if rel.startswith(".."):
        rel = os.path.basename(path)
    stem = rel
    for suffix in (".py", ".pyw", ".pyx", ".pxd", ".ipynb"):
        if stem.endswith(suffix):
            stem = stem[: -len(suffix)]
            break
    parts = [p for p in stem.replace("\\", "/").split("/") if p and p != "."]
    if parts and parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def literal(node: ast.AST | None) -> Any:
    """A constant, or a list/tuple of constants; ``None`` when not literal."""
    if node is None:
        return None
    if type(node) is ast.Constant:
        return node.value  # what literal_eval gives, without its call overhead (migrations read thousands)
    try:
        return ast.literal_eval(node)
    except (ValueError, TypeError, SyntaxError, MemoryError, RecursionError):
        return None


def dotted(node: ast.AST) -> str | None:
    """``a.b.c`` for a Name/Attribute chain, ``None`` for anything else."""
    parts = []
    while isinstance(node, ast.Attribute):
        parts.append(node.attr)
        node = node.value
    if isinstance(node, ast.Name):
        parts.append(node.id)
        return ".".join(reversed(parts))
    return None


class ImportMap:
    """Local names of one module mapped to qualified names."""

    def __init__(self, module: str = "", is_package: bool = False) -> None:
        self.module = module
        self.is_package = is_package
        self.names: dict[str, str] = {}

    @classmethod
    def from_tree(cls, tree: ast.Module, module: str = "", is_package: bool = False) -> "ImportMap":
        imports = cls(module, is_package)
        for node in iter_module_level(tree):
            imports.add(node)
        return imports

    def _absolute(self, node: ast.ImportFrom) -> str:
        if not node.level:
            return node.module or ""
        base = self.module.split(".") if self.module else []
        if not self.is_package:
            base = base[:-1]
        if node.level > 1:
            base = base[: len(base) - (node.level - 1)] if len(base) >= node.level - 1 else []
        return ".".join(base + ([node.module] if node.module else []))

    def add(self, node: ast.AST) -> None:
        if isinstance(node, ast.Import):
            for alias in node.names:
                if alias.asname:
                    self.names[alias.asname] = alias.name
                else:
                    top = alias.name.split(".")[0]
                    self.names[top] = top
        elif isinstance(node, ast.ImportFrom):
            source = self._absolute(node)
            for alias in node.names:
                if alias.name == "*":
                    continue
                self.names[alias.asname or alias.name] = f"{source}.{alias.name}" if source else alias.name
        elif isinstance(node, ast.Assign) and isinstance(node.value, ast.Call):
            called = self.resolve(node.value.func)
            if called and called in TRACKED_FACTORIES:
                for target in node.targets:
                    if isinstance(target, ast.Name):
                        self.names[target.id] = called + "()"
            elif called and called.endswith(".generate_base") and called.startswith("sqlalchemy.orm.registry()"):
                for target in node.targets:
                    if isinstance(target, ast.Name):
                        self.names[target.id] = "sqlalchemy.orm.declarative_base()"

    def resolve(self, node: ast.AST | str) -> str | None:
        """The qualified name of a Name/Attribute chain, or ``None``.

        Names that are not imported resolve to ``<module>.<name>`` so that
        classes defined in this module can be looked up in the index.
        """
        name = node if isinstance(node, str) else dotted(node)
        if not name:
            return None
        head, _, rest = name.partition(".")
        if head in self.names:
            qual = self.names[head]
        elif self.module:
            qual = f"{self.module}.{head}"
        else:
            qual = head
        return f"{qual}.{rest}" if rest else qual

    def resolve_call(self, node: ast.AST) -> str | None:
        return self.resolve(node.func) if isinstance(node, ast.Call) else None


def iter_module_level(tree: ast.Module) -> Iterator[ast.stmt]:
    """Module statements, including those under ``if``/``try`` (TYPE_CHECKING, fallbacks)."""
    stack = list(reversed(tree.body))
    while stack:
        node = stack.pop()
        yield node
        if isinstance(node, ast.If):
            stack.extend(reversed(node.body + node.orelse))
        elif isinstance(node, ast.Try):
            stack.extend(reversed(node.body + node.orelse + node.finalbody))
            for handler in node.handlers:
                stack.extend(reversed(handler.body))


def canonical(qualname: str | None) -> str | None:
    """Map a qualified name to ``framework:Name`` when it is an ORM object.

    ``django.db.models.fields.related.ForeignKey`` -> ``django:ForeignKey``;
    ``sqlalchemy.orm.mapped_column`` -> ``sqlalchemy:mapped_column``;
    ``flask_sqlalchemy.SQLAlchemy().Column`` -> ``sqlalchemy:Column``;
    ``sqlalchemy.orm.declarative_base()`` -> ``sqlalchemy:Base``.
    Anything else -> ``None``.
    """
    if not qualname:
        return None
    if qualname.startswith("flask_sqlalchemy.") and "SQLAlchemy()" in qualname:
        rest = qualname.split("SQLAlchemy().", 1)[1] if "SQLAlchemy()." in qualname else ""
        if rest == "Model":
            return "sqlalchemy:Base"
        if not rest:
            return "flask_sqlalchemy:db"
        last = rest.split(".")[-1]
        return f"sqlalchemy:{last}"
    if qualname in ("sqlalchemy.orm.declarative_base()", "sqlalchemy.ext.declarative.declarative_base()"):
        return "sqlalchemy:Base"
    head = qualname.split(".")[0]
    if head == "django":
        if qualname.startswith(("django.db.models", "django.contrib.postgres.fields")):
            return "django:" + qualname.rsplit(".", 1)[-1]
        if qualname.startswith("django.db.migrations") or qualname.startswith("django.contrib.postgres.operations"):
            return "migrations:" + qualname.rsplit(".", 1)[-1]
        if qualname.startswith("django.db."):
            return "django:" + qualname[len("django.db.") :]
        return None
    if qualname.startswith("alembic.versions."):
        return None  # the project's own revision modules (alembic/versions/*.py), not the library
    if head in ("sqlalchemy", "sqlmodel", "alembic"):
        return f"{head}:" + qualname.rsplit(".", 1)[-1]
    return None
