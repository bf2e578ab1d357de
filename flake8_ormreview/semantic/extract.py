"""Extract model, field and index facts from one module's AST.

Classes are recorded with their resolved base names whatever they are; the
project index decides later, across files, which of them are models (a class
may inherit from an abstract model or a declarative base in another module).
"""

from __future__ import annotations

import ast
import os
import re
from dataclasses import asdict

from .facts import FieldFact, IndexFact, ModelFact, ModuleFacts
from .names import (
    ORM_PACKAGES, ImportMap, canonical, dotted, in_test_package, is_test_module, iter_module_level, literal, module_name_for,
)
from .migrations import summarize_migration

DJANGO_RELATIONS = {"ForeignKey": "fk", "OneToOneField": "o2o", "ManyToManyField": "m2m", "ParentalKey": "fk"}
SQLA_COLUMN_CALLS = {"sqlalchemy:Column", "sqlalchemy:mapped_column", "sqlmodel:Field", "sqlalchemy:column"}
SQLA_RELATION_CALLS = {"sqlalchemy:relationship", "sqlalchemy:relation", "sqlmodel:Relationship"}
ORDER_BY_STRING = re.compile(r"^\s*(?:(?:desc|asc)\(\s*)?(?:\w+\.)*(\w+)\s*\)?(?:\.(?:desc|asc)\(\))?(?:\s+(?:asc|desc))?\s*$", re.I)
THIRD_PARTY_RELATIONS = {"modelcluster.fields.ParentalKey"}
NOT_FIELDS = {"django:Manager", "django:QuerySet", "django:Index", "django:UniqueConstraint"}


def keywords(call: ast.Call) -> dict[str, ast.expr]:
    return {kw.arg: kw.value for kw in call.keywords if kw.arg}


def is_true(node: ast.AST | None) -> bool:
    return isinstance(node, ast.Constant) and node.value is True


def strings(node: ast.AST | None) -> list[str]:
    """String elements of a literal list/tuple (or a single string)."""
    value = literal(node)
    if isinstance(value, str):
        return [value]
    if isinstance(value, (list, tuple)):
        return [v for v in value if isinstance(v, str)]
    return []


def detect_kind(path: str, tree: ast.Module, imports: ImportMap, module: str) -> str:
    """"django_migration", "alembic", "test" or "module"."""
    top_names = set()
    for node in tree.body:
        if isinstance(node, ast.ClassDef) and node.name == "Migration":
            for b in node.bases:
                if canonical(imports.resolve(b)) == "migrations:Migration":
                    return "django_migration"
        if isinstance(node, ast.FunctionDef):
            top_names.add(node.name)
        elif isinstance(node, ast.Assign):
            for t in node.targets:
                if isinstance(t, ast.Name):
                    top_names.add(t.id)
        elif isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Name):
            top_names.add(node.target.id)
    if {"revision", "upgrade"} <= top_names and any(v.startswith("alembic") for v in imports.names.values()):
        return "alembic"
    if {"revision", "upgrade", "down_revision"} <= top_names:
        return "alembic"
    # tests.py / test.py: Django's per-app test module (wagtail's contrib apps have them).
    # A "test" package holds test apps and factories too (django-oscar's oscar/test/factories, wagtail/test/testapp).
    if is_test_module(path) or in_test_package(module):
        return "test"
    return "module"


def app_label_for(module: str) -> str:
    """Django app label: the package that holds ``models``/``migrations``."""
    parts = module.split(".")
    for marker in ("models", "migrations"):
        if marker in parts:
            idx = parts.index(marker)
            if idx > 0:
                return parts[idx - 1]
    return parts[-2] if len(parts) > 1 else (parts[0] if parts else "")


class ModuleExtractor:
    def __init__(self, tree: ast.Module, path: str, root: str = ".", module: str | None = None) -> None:
        self.tree = tree
        self.path = path
        self.module = module if module is not None else module_name_for(path, root)
        is_package = os.path.basename(path).startswith("__init__.")
        self.imports = ImportMap.from_tree(tree, self.module, is_package)
        self.symbols = dict(self.imports.names)  # what the file says, before the assumption below
        self.declared_imports = ImportMap(self.module, is_package)
        self.declared_imports.names = self.symbols
        self.assume_imported_db_instances()
        self.app_label = app_label_for(self.module)

    def assume_imported_db_instances(self) -> None:
        """``from app.extensions import db`` + ``class Post(db.Model)``: read ``db.Column`` as Flask-SQLAlchemy's.

        The ``db = SQLAlchemy()`` line is in another file, which the extractor
        does not see.  Only the columns are read this way: whether ``Post`` is a
        model is still decided by the index, which resolves ``db`` for real.
        """
        for node in iter_module_level(self.tree):
            if not isinstance(node, ast.ClassDef):
                continue
            for base in node.bases:
                if isinstance(base, ast.Attribute) and base.attr == "Model" and isinstance(base.value, ast.Name):
                    local = base.value.id
                    imported = self.imports.names.get(local, "")
                    if imported and not imported.endswith("()") and imported.split(".")[0] not in ORM_PACKAGES:
                        self.imports.names[local] = "flask_sqlalchemy.SQLAlchemy()"

    def canon(self, node: ast.AST) -> str | None:
        return canonical(self.imports.resolve(node))

    def run(self) -> ModuleFacts:
        facts = ModuleFacts(path=self.path, module=self.module, kind=detect_kind(self.path, self.tree, self.imports, self.module))
        facts.symbols = dict(self.symbols)
        module_indexes: list[tuple[str, IndexFact]] = []
        for node in iter_module_level(self.tree):
            if isinstance(node, ast.ClassDef):
                facts.classes.append(self.class_facts(node))
            elif isinstance(node, (ast.Assign, ast.AnnAssign)) and isinstance(node.value, ast.Call):
                targets = node.targets if isinstance(node, ast.Assign) else [node.target]
                called = self.canon(node.value.func)
                if called == "sqlalchemy:Table":
                    name = targets[0].id if isinstance(targets[0], ast.Name) else ""
                    facts.classes.append(self.core_table(node.value, name))
            if isinstance(node, ast.Expr) and isinstance(node.value, ast.Call):
                pass
            call = node.value if isinstance(node, (ast.Assign, ast.Expr)) else None
            if isinstance(call, ast.Call) and self.canon(call.func) == "sqlalchemy:Index":
                owner, index = self.sqla_index(call, None)
                if owner:
                    module_indexes.append((owner, index))
        for owner, index in module_indexes:
            index.source = "module"
            owners = [model for model in facts.classes if owner in (model.name, model.table)]
            for model in owners:
                model.indexes.append(index)
            qualified = self.imports.resolve(owner) if not owners else None
            if qualified and not qualified.startswith(f"{self.module}."):
                # ``Index("ix", Address.user_id)`` in another module than Address: the index attaches it.
                foreign = dict(asdict(index), source="foreign_module")
                facts.extra.setdefault("foreign_indexes", []).append({"owner": qualified, "index": foreign})
        facts.migration = summarize_migration(self.tree, self.imports, self.path, facts.kind) if facts.kind in ("django_migration", "alembic") else None
        return facts

    # -- Django and declarative classes --------------------------------------------------

    def class_facts(self, node: ast.ClassDef) -> ModelFact:
        model = ModelFact(
            name=node.name,
            qualname=f"{self.module}.{node.name}" if self.module else node.name,
            module=self.module,
            path=self.path,
            line=node.lineno,
            end_line=getattr(node, "end_lineno", node.lineno) or node.lineno,
            bases=[self.declared_imports.resolve(b) or "" for b in node.bases],  # the index decides what they are
            keywords={kw.arg: literal(kw.value) for kw in node.keywords if kw.arg},
            app_label=self.app_label,
            docstring=ast.get_docstring(node) is not None,
        )
        for stmt in node.body:
            if isinstance(stmt, ast.FunctionDef) and stmt.name == "__str__":
                model.has_str = True
            elif isinstance(stmt, ast.Assign) and any(isinstance(t, ast.Name) and t.id == "__str__" for t in stmt.targets):
                model.has_str = True  # __str__ = lambda self: ...
            elif isinstance(stmt, ast.ClassDef) and stmt.name == "Meta":
                model.has_meta = True
                model.meta_inherits = bool(stmt.bases)
                self.django_meta(stmt, model)
            elif isinstance(stmt, (ast.FunctionDef, ast.AsyncFunctionDef)) and stmt.name == "__table_args__":
                model.declares_table_args = model.dynamic_indexes = True  # @declared_attr: computed per class
            elif isinstance(stmt, (ast.Assign, ast.AnnAssign)):
                self.class_assignment(stmt, model)
        self.column_indexes(model)
        return model

    def class_assignment(self, stmt: ast.Assign | ast.AnnAssign, model: ModelFact) -> None:
        if isinstance(stmt, ast.Assign):
            if len(stmt.targets) != 1 or not isinstance(stmt.targets[0], ast.Name):
                return
            name, annotation = stmt.targets[0].id, None
        else:
            if not isinstance(stmt.target, ast.Name):
                return
            name, annotation = stmt.target.id, stmt.annotation
        value = stmt.value
        if name == "__tablename__":
            model.table = literal(value) if isinstance(literal(value), str) else ""
            return
        if name == "__table__" and isinstance(value, ast.Call) and self.canon(value.func) == "sqlalchemy:Table":
            # Declarative with an explicit Table: its columns are the class's columns.
            table = self.core_table(value, model.name)
            model.table = table.table
            model.fields.update({k: v for k, v in table.fields.items() if k not in model.fields})
            model.indexes.extend(i for i in table.indexes if i.source != "column")
            return
        if name == "__abstract__":
            model.abstract = is_true(value)
            return
        if name == "__table_args__":
            model.declares_table_args = True
            self.table_args(value, model)
            return
        if name == "__mapper_args__" and isinstance(value, ast.Dict):
            for key, item in zip(value.keys, value.values):
                if literal(key) == "order_by":
                    # Here a bare name is one of this class's own columns: ``{"order_by": created}``.
                    items = item.elts if isinstance(item, (ast.List, ast.Tuple)) else [item]
                    model.mapper_order_by = [n for i in items for n in ([i.id] if isinstance(i, ast.Name) else self.order_by_columns(i))]
                    model.mapper_order_by_line = item.lineno
            return
        if isinstance(value, ast.Call):
            called = self.canon(value.func)
            qual = self.imports.resolve(value.func) or ""
            if called in NOT_FIELDS or qual.endswith(("Manager", "QuerySet")) or (
                isinstance(value.func, ast.Attribute) and value.func.attr in ("as_manager", "from_queryset")
            ):
                model.managers[name] = qual
                return
            fact = self.field_from_call(name, value, annotation, stmt)
            if fact:
                model.fields[name] = fact
                return
        if annotation is not None and value is None and not name.startswith("_"):
            fact = self.field_from_annotation(name, annotation, stmt)
            if fact:
                model.fields[name] = fact

    def annotation_info(self, annotation: ast.AST | None) -> tuple[str, bool | None, bool, str]:
        """(python type, nullable, is Mapped[..], relationship target) from an annotation."""
        if annotation is None:
            return "", None, False, ""
        text = ast.unparse(annotation)
        mapped = bool(re.match(r"^(\w+\.)*Mapped\[", text))
        inner = text[text.index("[") + 1 : -1] if mapped else text
        nullable = bool(re.search(r"\bOptional\[|\|\s*None\b|\bNone\s*\|", inner))
        inner_type = re.sub(r"Optional\[(.*)\]", r"\1", inner)
        inner_type = re.sub(r"\s*\|\s*None|None\s*\|\s*", "", inner_type).strip().strip("'\"")
        target = ""
        many = re.match(r"^(?:\w+\.)*(?:List|list|Set|set)\[['\"]?(\w+)['\"]?\]$", inner_type)
        if many:
            target = many.group(1)
        return inner_type, nullable if (mapped or inner) else None, mapped, target

    def field_from_annotation(self, name: str, annotation: ast.AST, stmt: ast.stmt) -> FieldFact | None:
        text = ast.unparse(annotation)
        if text.startswith("ClassVar") or "ClassVar[" in text:
            return None
        py_type, nullable, mapped, _ = self.annotation_info(annotation)
        if not mapped and not py_type:
            return None
        return FieldFact(
            name=name,
            line=stmt.lineno,
            col=stmt.col_offset,
            end_line=stmt.end_lineno or stmt.lineno,
            type="annotation",
            column_type=py_type,
            column=name,
            nullable_from_annotation=nullable,
        )

    def field_from_call(self, name: str, call: ast.Call, annotation: ast.AST | None, stmt: ast.stmt) -> FieldFact | None:
        qual = self.imports.resolve(call.func) or ""
        called = canonical(qual) or ""
        kw = keywords(call)
        fact = FieldFact(
            name=name,
            line=stmt.lineno,
            col=stmt.col_offset,
            end_line=stmt.end_lineno or stmt.lineno,
            type=called,
            type_qualname=qual,
            column=name,
            kwargs=sorted(kw),
        )
        short = qual.rsplit(".", 1)[-1]
        fact.has_default = "default" in kw
        default = kw.get("default")
        fact.default_is_callable = isinstance(default, (ast.Name, ast.Attribute, ast.Lambda))
        fact.has_db_default = "db_default" in kw or "server_default" in kw
        fact.max_length = literal(kw.get("max_length")) if isinstance(literal(kw.get("max_length")), int) else None
        if called.startswith("django:") or (short.endswith("Field") and called not in SQLA_COLUMN_CALLS) or short in DJANGO_RELATIONS:
            if called.startswith(("sqlalchemy:", "sqlmodel:")):
                return None
            # Only Django's own names mean Django's types and relations: a home-made
            # ``CharField``/``ForeignKey`` keeps its qualified name and relates nothing.
            from_django = called.startswith("django:")
            fact.column_type = short if from_django else qual
            fact.relation = DJANGO_RELATIONS.get(short, "") if from_django or qual in THIRD_PARTY_RELATIONS else ""
            if short == "GenericForeignKey" or short == "GenericRelation":
                fact.relation = "generic"
            if fact.relation:
                target = call.args[0] if call.args else kw.get("to")
                value = literal(target)
                if isinstance(value, str):
                    fact.target = value
                elif target is not None:
                    fact.target = dotted(target) or ""
                    fact.target_qualname = self.imports.resolve(target) or ""
                fact.related_name = literal(kw.get("related_name")) or ""
            fact.null = literal(kw.get("null")) if "null" in kw else None
            fact.blank = is_true(kw.get("blank"))
            fact.primary_key = is_true(kw.get("primary_key"))
            fact.unique = is_true(kw.get("unique")) or fact.relation == "o2o"
            if "db_index" in kw:
                fact.db_index = bool(literal(kw["db_index"]))
            fact.db_column = literal(kw.get("db_column")) or ""
            if fact.relation in ("fk", "o2o"):
                fact.column = fact.db_column or f"{name}_id"
            elif fact.db_column:
                fact.column = fact.db_column
            if isinstance(call.func, ast.Call):  # encrypt(models.CharField(..)) style wrappers
                pass
            return fact
        if called in SQLA_RELATION_CALLS:
            fact.relation = "relationship"
            target = call.args[0] if call.args else None
            value = literal(target)
            if isinstance(value, str):
                fact.target = value
            elif target is not None:
                fact.target = dotted(target) or ""
            if not fact.target:
                _, _, _, ann_target = self.annotation_info(annotation)
                fact.target = ann_target
                if annotation is not None and not fact.target:
                    py_type, *_ = self.annotation_info(annotation)
                    fact.target = py_type.strip("'\"")
                    fact.uselist = False if fact.target and "[" not in fact.target else None
            elif annotation is not None:
                _, _, _, ann_target = self.annotation_info(annotation)
                if not ann_target:
                    fact.uselist = False
            fact.lazy = literal(kw.get("lazy")) or "" if isinstance(literal(kw.get("lazy")), (str, type(None))) else ""
            fact.back_populates = literal(kw.get("back_populates")) or ""
            backref = kw.get("backref")
            if isinstance(backref, ast.Constant) and backref.value is None:
                backref = None  # backref=None states there is none
            if isinstance(backref, ast.Call) and backref.args and isinstance(literal(backref.args[0]), str):
                backref = backref.args[0]  # backref("owner", lazy="joined") names the attribute "owner"
            fact.backref = (literal(backref) if isinstance(literal(backref), str) else "backref") if backref is not None else ""
            if "uselist" in kw:
                fact.uselist = bool(literal(kw["uselist"]))
            if "secondary" in kw:
                fact.secondary = literal(kw["secondary"]) if isinstance(literal(kw["secondary"]), str) else (dotted(kw["secondary"]) or "?")
            if "order_by" in kw:
                fact.order_by = self.order_by_columns(kw["order_by"])
            if called == "sqlmodel:Relationship":
                sa_kw = kw.get("sa_relationship_kwargs")
                if isinstance(sa_kw, ast.Dict):
                    for key, item in zip(sa_kw.keys, sa_kw.values):
                        if literal(key) == "lazy" and isinstance(literal(item), str):
                            fact.lazy = literal(item)
            return fact
        if called in SQLA_COLUMN_CALLS:
            return self.sqla_column(fact, call, kw, annotation)
        return None

    def sqla_column(self, fact: FieldFact, call: ast.Call, kw: dict[str, ast.expr], annotation: ast.AST | None) -> FieldFact:
        for arg in call.args:
            value = literal(arg)
            if isinstance(value, str) and fact.type != "sqlmodel:Field":
                fact.column = value
                continue
            inner = arg.func if isinstance(arg, ast.Call) else arg
            kind = canonical(self.imports.resolve(inner))
            if kind == "sqlalchemy:ForeignKey" and isinstance(arg, ast.Call) and arg.args:
                target = literal(arg.args[0])
                fact.foreign_key = target if isinstance(target, str) else (dotted(arg.args[0]) or "?")
            elif kind and not fact.column_type:
                fact.column_type = kind.split(":", 1)[1]
                fact.type_qualname = self.imports.resolve(inner) or fact.type_qualname
            elif kind is None and isinstance(inner, (ast.Name, ast.Attribute)) and not fact.column_type:
                # Not an ORM type: keep the qualified name, so a home-made ``String`` is not SQLAlchemy's.
                fact.column_type = self.imports.resolve(inner) or ""
        if fact.type == "sqlmodel:Field":
            fk = literal(kw.get("foreign_key"))
            if isinstance(fk, str):
                fact.foreign_key = fk
            if "sa_column" in kw:
                fact.kwargs.append("sa_column")
        if "type_" in kw and not fact.column_type:
            fact.column_type = (dotted(kw["type_"].func if isinstance(kw["type_"], ast.Call) else kw["type_"]) or "").rsplit(".", 1)[-1]
        py_type, nullable, mapped, _ = self.annotation_info(annotation)
        if annotation is not None and (mapped or fact.type == "sqlmodel:Field"):
            fact.nullable_from_annotation = nullable
            if not fact.column_type:
                fact.column_type = py_type
        if "nullable" in kw:
            fact.null = bool(literal(kw["nullable"])) if literal(kw["nullable"]) is not None else None
        fact.primary_key = is_true(kw.get("primary_key"))
        fact.unique = is_true(kw.get("unique"))
        if "index" in kw:
            fact.db_index = bool(literal(kw["index"]))
        column = kw.get("sa_column")
        if fact.type == "sqlmodel:Field" and isinstance(column, ast.Call) and self.canon(column.func) in ("sqlalchemy:Column", "sqlalchemy:column"):
            self.merge_sa_column(fact, column)
        return fact

    def merge_sa_column(self, fact: FieldFact, call: ast.Call) -> None:
        """SQLModel ``Field(sa_column=Column(..))``: the Column, not the annotation, defines the column."""
        inner = self.sqla_column(FieldFact(name=fact.name, line=fact.line, type="sqlalchemy:Column", column=fact.column), call, keywords(call), None)
        fact.column_type = inner.column_type or fact.column_type
        fact.type_qualname = inner.type_qualname or fact.type_qualname
        fact.foreign_key = inner.foreign_key or fact.foreign_key
        fact.primary_key = fact.primary_key or inner.primary_key
        fact.unique = fact.unique or inner.unique
        if inner.db_index is not None:
            fact.db_index = inner.db_index
        if inner.null is not None:
            fact.null = inner.null

    def column_indexes(self, model: ModelFact) -> None:
        """Indexes implied by column flags; the first of several pk columns leads the key."""
        pk_columns = [f.name for f in model.fields.values() if f.primary_key]
        if len(pk_columns) > 1:
            model.indexes.append(IndexFact(pk_columns, kind="primary_key", source="column", line=model.fields[pk_columns[0]].line))
            pk_columns = pk_columns[:1]
        for fact in model.fields.values():
            if fact.name in pk_columns and fact.primary_key:
                model.indexes.append(IndexFact([fact.name], kind="primary_key", source="column", line=fact.line))
            elif fact.unique:
                model.indexes.append(IndexFact([fact.name], kind="unique", source="column", line=fact.line))
            if fact.db_index:
                model.indexes.append(IndexFact([fact.name], kind="index", source="column", line=fact.line))

    def order_by_columns(self, node: ast.AST) -> list[str]:
        """Column names in an ``order_by=`` value: strings, ``Model.col``, ``col.desc()``."""
        items = node.elts if isinstance(node, (ast.List, ast.Tuple)) else [node]
        names = []
        for item in items:
            if isinstance(item, ast.Call) and isinstance(item.func, ast.Attribute) and item.func.attr in ("desc", "asc"):
                item = item.func.value
            elif isinstance(item, ast.Call) and canonical(self.imports.resolve(item.func)) in ("sqlalchemy:desc", "sqlalchemy:asc") and item.args:
                item = item.args[0]
            value = literal(item)
            if isinstance(value, str):
                # "Track.position", "Track.position.desc()", "desc(Track.added)", "position desc"
                match = ORDER_BY_STRING.match(value.split(",")[0])
                names.append(match.group(1) if match else "<expression>")
            elif isinstance(item, ast.Attribute):
                names.append(item.attr)
            elif isinstance(item, ast.Lambda):
                names.extend(self.order_by_columns(item.body))
            else:
                names.append("<expression>")
        return names

    def django_meta(self, meta: ast.ClassDef, model: ModelFact) -> None:
        for stmt in meta.body:
            if not (isinstance(stmt, ast.Assign) and len(stmt.targets) == 1 and isinstance(stmt.targets[0], ast.Name)):
                continue
            key, value = stmt.targets[0].id, stmt.value
            model.meta_lines[key] = stmt.lineno
            if key == "abstract":
                model.abstract = is_true(value)
            elif key == "managed":
                model.managed = literal(value) is not False
            elif key == "proxy":
                model.proxy = is_true(value)
            elif key == "db_table" and isinstance(literal(value), str):
                model.table = literal(value)
            elif key == "app_label" and isinstance(literal(value), str):
                model.app_label = literal(value)
            elif key == "ordering":
                model.ordering = [o if isinstance(o, str) else "<expression>" for o in (literal(value) or [])] if literal(value) is not None else ["<expression>"]
                model.ordering_line = stmt.lineno
            elif key == "get_latest_by":
                model.get_latest_by = strings(value)
                model.get_latest_by_line = stmt.lineno
            elif key in ("unique_together", "index_together"):
                groups = literal(value)
                if isinstance(groups, (list, tuple)) and groups and all(isinstance(g, str) for g in groups):
                    groups = [groups]
                for group in groups or []:
                    if isinstance(group, (list, tuple)):
                        model.indexes.append(IndexFact(list(group), kind=key, line=stmt.lineno))
                setattr(model, f"{key}_line", stmt.lineno)
            elif key in ("indexes", "constraints") and isinstance(value, (ast.List, ast.Tuple)):
                for item in value.elts:
                    if isinstance(item, ast.Starred):
                        model.dynamic_indexes = True  # [*Base.Meta.indexes, ...]
                    index = self.django_index(item)
                    if index:
                        model.indexes.append(index)
            elif key in ("indexes", "constraints"):
                model.dynamic_indexes = True  # Base.Meta.indexes + [...], a helper's result, ...

    def django_index(self, node: ast.AST) -> IndexFact | None:
        if not isinstance(node, ast.Call):
            return None
        kind = self.canon(node.func) or ""
        kw = keywords(node)
        postgres = (self.imports.resolve(node.func) or "").startswith("django.contrib.postgres.indexes.")
        if kind.endswith("UniqueConstraint"):
            index = IndexFact(strings(kw.get("fields")), kind="unique", line=node.lineno)
        elif (kind.endswith("Index") and kind.startswith("django:")) or postgres:
            index = IndexFact(strings(kw.get("fields")), kind="index", line=node.lineno)
        else:
            return None
        index.name = literal(kw.get("name")) or ""
        index.partial = "condition" in kw
        index.include = "include" in kw
        # GinIndex, GistIndex, HashIndex, ...: another access method, never a duplicate of a B-tree.
        index.opclasses = "opclasses" in kw or (postgres and not self.imports.resolve(node.func).endswith(".BTreeIndex"))
        index.expressions = bool(node.args) or "expressions" in kw
        if index.expressions and not index.columns:
            index.columns = []
        index.columns = [c.lstrip("-") for c in index.columns]
        return index

    # -- SQLAlchemy table arguments and Core tables ----------------------------------------

    def table_args(self, value: ast.AST | None, model: ModelFact) -> None:
        items: list[ast.AST] = []
        if isinstance(value, (ast.Tuple, ast.List)):
            items = list(value.elts)
        elif isinstance(value, ast.Call):
            items = [value]
        if not isinstance(value, (ast.Tuple, ast.List, ast.Call, ast.Dict)) or any(isinstance(i, ast.Starred) for i in items):
            model.dynamic_indexes = True  # a name, an expression or a spread: not readable here
        for item in items:
            if isinstance(item, ast.Call):
                index = self.table_constraint(item)
                if index:
                    index.source = "table_args"
                    model.indexes.append(index)

    def table_constraint(self, call: ast.Call) -> IndexFact | None:
        kind = self.canon(call.func) or ""
        if kind == "sqlalchemy:Index":
            return self.sqla_index(call, None)[1]
        if kind in ("sqlalchemy:UniqueConstraint", "sqlalchemy:PrimaryKeyConstraint"):
            columns = [self.column_ref(a) for a in call.args]
            index = IndexFact([c for c in columns if c], kind="unique" if kind.endswith("UniqueConstraint") else "primary_key", line=call.lineno)
            index.name = literal(keywords(call).get("name")) or ""
            return index
        return None

    def column_ref(self, node: ast.AST) -> str:
        value = literal(node)
        if isinstance(value, str):
            return value.split(".")[-1]
        if isinstance(node, ast.Attribute):
            return node.attr
        return ""

    def sqla_index(self, call: ast.Call, owner: str | None) -> tuple[str, IndexFact]:
        kw = keywords(call)
        columns: list[str] = []
        expressions = False
        for arg in call.args[1:] if call.args and isinstance(literal(call.args[0]), (str, type(None))) and not isinstance(call.args[0], ast.Attribute) else call.args:
            if isinstance(arg, ast.Attribute):
                base = dotted(arg.value) or ""
                if base.endswith(".c"):
                    base = base[:-2]
                owner = owner or base.split(".")[-1]
                columns.append(arg.attr)
            elif isinstance(literal(arg), str):
                columns.append(literal(arg))
            else:
                expressions = True
        index = IndexFact(columns, kind="unique" if is_true(kw.get("unique")) else "index", line=call.lineno)
        index.name = literal(call.args[0]) if call.args and isinstance(literal(call.args[0]), str) else ""
        index.partial = any(k.endswith("_where") for k in kw)
        index.include = any(k.endswith("_include") for k in kw)
        # Another access method (gin, gist, hash) or a key-prefix length is not interchangeable with a B-tree.
        other_method = any(k.endswith("_using") and literal(v) not in ("btree", None) for k, v in kw.items())
        index.opclasses = any(k.endswith(("_ops", "_length")) for k in kw) or other_method
        index.expressions = expressions
        return owner or "", index

    def core_table(self, call: ast.Call, variable: str) -> ModelFact:
        table = literal(call.args[0]) if call.args and isinstance(literal(call.args[0]), str) else variable
        model = ModelFact(
            name=variable or table,
            qualname=f"{self.module}.{variable}" if self.module else variable,
            module=self.module,
            path=self.path,
            line=call.lineno,
            end_line=call.end_lineno or call.lineno,
            framework="core",
            is_model=True,
            table=table,
            app_label=self.app_label,
            docstring=True,
        )
        for arg in call.args[1:]:
            if not isinstance(arg, ast.Call):
                continue
            kind = self.canon(arg.func)
            if kind in ("sqlalchemy:Column", "sqlalchemy:column"):
                name = literal(arg.args[0]) if arg.args and isinstance(literal(arg.args[0]), str) else ""
                if not name:
                    continue
                fact = FieldFact(name=name, line=arg.lineno, col=arg.col_offset, end_line=arg.end_lineno or arg.lineno, type=kind, type_qualname=self.imports.resolve(arg.func) or "", column=name, kwargs=sorted(keywords(arg)))
                model.fields[name] = self.sqla_column(fact, arg, keywords(arg), None)
            else:
                index = self.table_constraint(arg)
                if index:
                    index.source = "table_args"
                    model.indexes.append(index)
        self.column_indexes(model)
        return model


def extract_module(tree: ast.Module, path: str, root: str = ".", module: str | None = None) -> ModuleFacts:
    return ModuleExtractor(tree, path, root, module).run()
