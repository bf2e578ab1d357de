"""What the reviewed code does well, counted per file with the stdlib ``ast``.

The inventory feeds the "Optimization Excellence" section, the Performance
Score's normalisation (models and query sites) and the Blast Radius of each
issue.  It is a plain JSON-serialisable dict per file so that the sidecar of
concurrent runs can merge it by file.
"""

from __future__ import annotations

import ast
import os
from typing import Any

from ..semantic.names import ImportMap, canonical, module_name_for

EAGER_LOADERS = (
    "select_related",
    "prefetch_related",
    "Prefetch",
    "joinedload",
    "selectinload",
    "subqueryload",
    "immediateload",
    "contains_eager",
)
DB_AGGREGATIONS = ("annotate", "aggregate", "Count", "Sum", "Avg", "Exists", "Subquery", "count", "sum", "avg")
QUERY_ROOT_ATTRS = ("objects", "query")
QUERY_FUNCTIONS = ("select", "update", "delete", "insert")
SOURCE_KINDS = (".py", ".pyw", ".pyx", ".pxd", ".ipynb")


def empty_inventory(suffix: str) -> dict[str, Any]:
    return {
        "suffix": suffix,
        "module_kind": "module",
        "models": [],
        "indexes": [],
        "eager": {},
        "aggregations": 0,
        "query_sites": {},
        "migration": None,
        "index_ops": [0, 0],
        "parsed": True,
    }


def file_suffix(path: str) -> str:
    suffix = os.path.splitext(path)[1].lower()
    return suffix if suffix in SOURCE_KINDS else ".py"


def _name_of(node: ast.AST) -> str:
    if isinstance(node, ast.Attribute):
        return node.attr
    if isinstance(node, ast.Name):
        return node.id
    return ""


def _chain_root(node: ast.AST) -> ast.AST:
    while True:
        if isinstance(node, ast.Call):
            node = node.func
        elif isinstance(node, ast.Attribute):
            node = node.value
        elif isinstance(node, ast.Subscript):
            node = node.value
        else:
            return node


def _models_of(tree: ast.Module, path: str, index: Any) -> list[dict[str, Any]]:
    """Model classes of this file, as the project index resolves them (best effort)."""
    models = []
    try:
        resolved = index.models_in(path) if index is not None else []
    except Exception:  # noqa: BLE001 - the inventory never breaks the report
        resolved = []
    for model in resolved:
        try:
            table = index.table_name(model)
        except Exception:  # noqa: BLE001
            table = model.table or model.name
        models.append(
            {
                "name": model.name,
                "qualname": model.qualname,
                "table": table,
                "line": model.line,
                "end_line": model.end_line or model.line,
                "framework": model.framework,
                "docstring": bool(model.docstring),
                "abstract": bool(model.abstract),
                "fields": sorted(model.fields),
            }
        )
        for fact in model.indexes:
            if fact.kind == "primary_key" or not fact.columns and not fact.expressions:
                continue
            models[-1].setdefault("indexes", []).append(
                {
                    "model": model.name,
                    "columns": list(fact.columns),
                    "kind": fact.kind,
                    "composite": len(fact.columns) > 1,
                    "partial": bool(fact.partial),
                    "include": bool(fact.include),
                    "line": fact.line,
                }
            )
    return models


def _migration_summary(tree: ast.Module, kind: str, imports: ImportMap) -> dict[str, Any] | None:
    if kind == "alembic":
        functions = {n.name: n for n in tree.body if isinstance(n, ast.FunctionDef)}
        downgrade = functions.get("downgrade")
        reversible = downgrade is not None and not _is_empty_body(downgrade.body)
        return {"kind": "alembic", "reversible": reversible}
    if kind != "django_migration":
        return None
    reversible = True
    for node in ast.walk(tree):
        if not isinstance(node, ast.Call):
            continue
        op = canonical(imports.resolve(node.func)) or ""
        keywords = {k.arg for k in node.keywords if k.arg}
        if op == "migrations:RunPython" and len(node.args) < 2 and "reverse_code" not in keywords:
            reversible = False
        if op == "migrations:RunSQL" and len(node.args) < 2 and "reverse_sql" not in keywords:
            reversible = False
    return {"kind": "django", "reversible": reversible}


def _is_empty_body(body: list[ast.stmt]) -> bool:
    for stmt in body:
        if isinstance(stmt, ast.Pass):
            continue
        if isinstance(stmt, ast.Expr) and isinstance(stmt.value, ast.Constant):
            continue  # docstring or ``...``
        return False
    return True


def _index_operations(tree: ast.Module, imports: ImportMap) -> list[int]:
    """[index operations, concurrent ones] of a migration or revision."""
    total = concurrent = 0
    for node in ast.walk(tree):
        if not isinstance(node, ast.Call):
            continue
        op = canonical(imports.resolve(node.func)) or ""
        name = _name_of(node.func)
        if op in ("migrations:AddIndex", "migrations:RemoveIndex"):
            total += 1
        elif op in ("migrations:AddIndexConcurrently", "migrations:RemoveIndexConcurrently"):
            total += 1
            concurrent += 1
        elif name in ("create_index", "drop_index") and (op.startswith("alembic:") or _looks_like_op(node.func)):
            total += 1
            if any(
                k.arg == "postgresql_concurrently" and isinstance(k.value, ast.Constant) and k.value.value is True
                for k in node.keywords
            ):
                concurrent += 1
    return [total, concurrent]


def _looks_like_op(func: ast.AST) -> bool:
    return isinstance(func, ast.Attribute) and isinstance(func.value, ast.Name) and func.value.id in ("op", "batch_op")


def _query_sites(tree: ast.Module, imports: ImportMap, model_names: set[str]) -> tuple[dict[str, int], dict[str, int], int]:
    """(query sites per model name, eager-loading call sites by loader, DB aggregations)."""
    sites: dict[str, int] = {}
    eager: dict[str, int] = {}
    aggregations = 0
    counted: set[int] = set()
    for node in ast.walk(tree):
        if not isinstance(node, ast.Call):
            continue
        name = _name_of(node.func)
        if name in EAGER_LOADERS:
            qual = imports.resolve(node.func) or ""
            if isinstance(node.func, ast.Attribute) or canonical(qual):
                eager[name] = eager.get(name, 0) + 1
        if name in ("annotate", "aggregate") and isinstance(node.func, ast.Attribute):
            aggregations += 1
        # A query site: the outermost call of a chain rooted at Model.objects / Model.query,
        # or select(Model) / session.query(Model) / session.get(Model, ..).
        if id(node) in counted:
            continue
        target = _query_target(node, imports)
        if target and target in model_names:
            sites[target] = sites.get(target, 0) + 1
            for inner in ast.walk(node):
                counted.add(id(inner))
    return sites, eager, aggregations


def _query_target(call: ast.Call, imports: ImportMap) -> str:
    node: ast.AST = call
    # Walk the chain down to its root, looking for Model.objects / Model.query / select(Model).
    while isinstance(node, (ast.Call, ast.Attribute, ast.Subscript)):
        if isinstance(node, ast.Attribute) and node.attr in QUERY_ROOT_ATTRS and isinstance(node.value, ast.Name):
            return node.value.id
        if isinstance(node, ast.Call):
            name = _name_of(node.func)
            if name in QUERY_FUNCTIONS + ("query", "get", "scalars", "execute") and node.args:
                first = node.args[0]
                if isinstance(first, ast.Name) and name in ("query", "get") + QUERY_FUNCTIONS:
                    return first.id
                if isinstance(first, ast.Call) and _name_of(first.func) in QUERY_FUNCTIONS:
                    inner = first.args[0] if first.args else None
                    if isinstance(inner, ast.Name):
                        return inner.id
            node = node.func
        else:
            node = node.value
    return ""


_KEYS: dict[int, tuple[int, dict[str, str]]] = {}


def _index_key(index: Any, path: str) -> str | None:
    """The index's own key for ``path`` (keys may be relative, the path absolute, or the reverse)."""
    if index is None:
        return None
    try:
        index.ensure_fresh()
        files = index.files
    except Exception:  # noqa: BLE001
        return None
    cached = _KEYS.get(id(index))
    if cached is None or cached[0] != len(files):
        cached = (len(files), {os.path.abspath(key): key for key in files})
        _KEYS[id(index)] = cached
    return cached[1].get(os.path.abspath(path))


def build_inventory(source: str, path: str, index: Any = None, tree: ast.Module | None = None) -> dict[str, Any]:
    """The inventory of one reviewed file (never raises)."""
    inventory = empty_inventory(file_suffix(path))
    try:
        if tree is None:
            tree = ast.parse(source)
    except (SyntaxError, ValueError, RecursionError, MemoryError):
        inventory["parsed"] = False
        return inventory
    try:
        from ..semantic.extract import detect_kind

        root = index.root_for(path) if index is not None else "."
        module = module_name_for(path, root)
        imports = ImportMap.from_tree(tree, module, os.path.basename(path).startswith("__init__."))
        inventory["module_kind"] = detect_kind(path, tree, imports, module)
        key = _index_key(index, path)
        if index is not None and key is None:
            # Not under the source roots (a notebook, a file outside them): let the index see it.
            from ..semantic.extract import extract_module

            key = os.path.normpath(path)
            index.override(extract_module(tree, key, root, module))
        models = _models_of(tree, key or os.path.normpath(path), index)
        inventory["indexes"] = [ix for m in models for ix in m.pop("indexes", [])]
        inventory["models"] = models
        known = set()
        if index is not None:
            known = {m.name for m in getattr(index, "models", {}).values()}
        sites, eager, aggregations = _query_sites(tree, imports, known | {m["name"] for m in models})
        inventory["query_sites"] = dict(sorted(sites.items()))
        inventory["eager"] = dict(sorted(eager.items()))
        inventory["aggregations"] = aggregations
        inventory["migration"] = _migration_summary(tree, inventory["module_kind"], imports)
        if inventory["migration"] is not None:
            inventory["index_ops"] = _index_operations(tree, imports)
    except Exception:  # noqa: BLE001 - a partial inventory is better than no report
        pass
    return inventory
