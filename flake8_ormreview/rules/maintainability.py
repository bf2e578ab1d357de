"""ORM6xx: maintainability and documentation of models and migrations."""

from __future__ import annotations

import ast
from typing import Iterator

from ..context import FileContext, Finding
from ..registry import Category, Severity, rule
from ..semantic.names import canonical
from ..semantic.querysets import canonical_of


def documented_models(ctx: FileContext):
    if ctx.is_migration:
        return []
    return [m for m in ctx.models if m.framework != "core"]


def inherits_its_documentation(ctx: FileContext, model) -> bool:
    """A concrete class that only makes a documented abstract model of the project concrete.

    django-oscar's pattern: ``class Product(AbstractProduct): pass`` in models.py,
    where the abstract model carries the docstring (and declares every field).
    """
    if model.abstract or ctx.own_fields(model):
        return False
    parents = ctx.index.parents(model)
    return bool(parents) and parents[0].abstract and parents[0].docstring


@rule(
    "ORM601",
    "model-without-docstring",
    Severity.MINOR,
    Category.MAINTAINABILITY,
    "model {model} has no docstring: {fix}",
)
def model_without_docstring(ctx: FileContext) -> Iterator[Finding]:
    """
    ## What it does
    Flags a model class without a docstring: Django models (concrete and
    abstract), SQLAlchemy declarative and Flask-SQLAlchemy models, and
    SQLModel table classes.

    ## Why is this bad?
    A model is the contract of a table. Without a sentence on what a row
    represents, who creates it and which invariants hold, every future change
    starts with archaeology, and the review report cannot credit the
    documentation.

    ## Example
    ```python
    from django.db import models


    class Shipment(models.Model):
        tracking_code = models.CharField(max_length=40)
    ```

    ## Use instead
    ```python
    from django.db import models


    class Shipment(models.Model):
        \"\"\"One parcel handed to a carrier; created when an order ships.\"\"\"

        tracking_code = models.CharField(max_length=40)
    ```

    ## References
    - [PEP 257: docstring conventions](https://peps.python.org/pep-0257/)
    """
    for model in documented_models(ctx):
        if not model.docstring and not inherits_its_documentation(ctx, model):
            fix = ("add one saying what its subclasses share" if model.abstract
                   else "add one saying what one row represents and who writes it")
            yield ctx.finding("ORM601", model.line, 0, model=model.name, fix=fix)


@rule(
    "ORM602",
    "model-without-str",
    Severity.MINOR,
    Category.MAINTAINABILITY,
    "Django model {model} has no __str__: the admin, logs and shells show '{model} object (1)'; add {fix}",
)
def model_without_str(ctx: FileContext) -> Iterator[Finding]:
    """
    ## What it does
    Flags a concrete Django model that defines no `__str__`, neither itself
    nor in any base class of the project. When a base class comes from a
    library that the index cannot see (for example `AbstractUser`, which has
    one), the rule stays silent.

    ## Why is this bad?
    Django's admin, error reports, `select` widgets and the shell show
    `Order object (42)` instead of something a person can recognise.

    ## Example
    ```python
    from django.db import models


    class Coupon(models.Model):
        \"\"\"A discount code.\"\"\"

        code = models.CharField(max_length=20, unique=True)
    ```

    ## Use instead
    ```python
    from django.db import models


    class Coupon(models.Model):
        \"\"\"A discount code.\"\"\"

        code = models.CharField(max_length=20, unique=True)

        def __str__(self):
            return self.code
    ```

    ## References
    - [Django: Model.__str__](https://docs.djangoproject.com/en/stable/ref/models/instances/#str)
    - [flake8-django DJ08](https://github.com/rocioar/flake8-django)
    """
    for model in documented_models(ctx):
        if model.framework != "django" or model.abstract or model.has_str:
            continue
        known = True
        for base in model.bases:
            target = ctx.index.resolve_symbol(base)
            if canonical(target) != "django:Model" and target not in ctx.index.classes:
                known = False  # a library base class may well define __str__
        if known:
            yield ctx.finding("ORM602", model.line, 0, model=model.name, fix=_str_suggestion(model))


DISPLAY_FIELDS = ("name", "title", "label", "code", "slug", "username", "email")


def _str_suggestion(model) -> str:
    """``def __str__`` returning the field a person would recognise the row by."""
    for name in DISPLAY_FIELDS:
        fact = model.fields.get(name)
        if fact is not None and not fact.relation:
            return f"def __str__(self): return self.{name}"
    for fact in model.fields.values():
        if fact.column_type in ("CharField", "SlugField", "EmailField"):
            return f"def __str__(self): return self.{fact.name}"
    return f'def __str__(self): return f"{model.name} {{self.pk}}"'


@rule(
    "ORM604",
    "oversized-model",
    Severity.MINOR,
    Category.MAINTAINABILITY,
    "model {model} has {count} fields (limit {limit}): {fix}",
)
def oversized_model(ctx: FileContext) -> Iterator[Finding]:
    """
    ## What it does
    Flags a model with more fields (its own and inherited ones, from
    abstract bases and mixins) than the `orm-max-model-fields` option
    allows (default 30). SQLAlchemy `relationship()` attributes, managers
    and type hints on Django models are not fields; Core `Table`
    definitions are not models and are not counted.

    ## Why is this bad?
    Wide rows make every `SELECT *` (the ORM default) read and transfer data
    the caller does not need, fill fewer rows per page of cache, and usually
    mean several concepts share one table.

    ## Example
    ```python
    from django.db import models


    class Wide(models.Model):
        \"\"\"Everything about a customer.\"\"\"

        f1 = models.IntegerField()
        f2 = models.IntegerField()
        f3 = models.IntegerField()

        def __str__(self):
            return str(self.pk)
    ```
    (with `orm-max-model-fields = 2`)

    ## Use instead
    ```python
    from django.db import models


    class Narrow(models.Model):
        \"\"\"The customer's core identity.\"\"\"

        f1 = models.IntegerField()

        def __str__(self):
            return str(self.pk)
    ```

    ## References
    - [Django: one-to-one relationships to split a model](https://docs.djangoproject.com/en/stable/topics/db/examples/one_to_one/)
    """
    limit = ctx.options.max_model_fields
    for model in documented_models(ctx):
        count = sum(1 for f in model.fields.values() if f.relation != "relationship")
        if count > limit:
            link = "a OneToOneField" if model.framework == "django" else "a one-to-one relationship"
            fix = f"move rarely used or optional groups of fields to a {model.name}Details model joined by {link}"
            yield ctx.finding("ORM604", model.line, 0, model=model.name, count=count, limit=limit, fix=fix)


@rule(
    "ORM605",
    "oversized-models-module",
    Severity.MINOR,
    Category.MAINTAINABILITY,
    "this module defines {count} models (limit {limit}): split {names} into a models/ package by concern, re-exported from models/__init__.py",
)
def oversized_models_module(ctx: FileContext) -> Iterator[Finding]:
    """
    ## What it does
    Flags a module that defines more models than the
    `orm-max-models-per-module` option allows (default 15). The finding is
    on line 1. Abstract and unmanaged models count; declarative bases,
    mixins, non-table SQLModel schemas and Core `Table` objects do not.

    ## Why is this bad?
    A thousand-line `models.py` hides the boundaries between concerns,
    attracts merge conflicts and makes every import of one model load all of
    them.

    ## Example
    ```python
    from django.db import models


    class A(models.Model):
        \"\"\"A.\"\"\"


    class B(models.Model):
        \"\"\"B.\"\"\"
    ```
    (with `orm-max-models-per-module = 1`)

    ## Use instead
    ```python
    from django.db import models


    class A(models.Model):
        \"\"\"A; B lives in its own module.\"\"\"
    ```

    ## References
    - [Django: organizing models in a package](https://docs.djangoproject.com/en/stable/topics/db/models/#organizing-models-in-a-package)
    """
    models = [m for m in documented_models(ctx) if m.is_model]
    limit = ctx.options.max_models_per_module
    if len(models) > limit:
        names = ", ".join(m.name for m in models[:4]) + (", ..." if len(models) > 4 else "")
        yield ctx.finding("ORM605", 1, 0, count=len(models), limit=limit, names=names)


@rule(
    "ORM606",
    "legacy-relationship-api",
    Severity.MINOR,
    Category.MAINTAINABILITY,
    "{what} is legacy SQLAlchemy API: {fix}",
)
def legacy_relationship_api(ctx: FileContext) -> Iterator[Finding]:
    """
    ## What it does
    Flags SQLAlchemy's legacy relationship API: `relationship(backref=...)`,
    `lazy="dynamic"` and the `subqueryload` loader option.

    ## Why is this bad?
    `backref` creates an attribute on another class that no reader (and no
    type checker) can find there; `back_populates` declares both sides.
    `lazy="dynamic"` is legacy in 2.0 and does not work with `asyncio`;
    `WriteOnlyMapped` / `lazy="write_only"` replaces it. `subqueryload`
    re-runs the original query as a subquery; `selectinload` is simpler and
    faster on every backend SQLAlchemy supports.

    ## Example
    ```python
    from sqlalchemy import ForeignKey
    from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship


    class Base(DeclarativeBase):
        pass


    class Parent(Base):
        \"\"\"A parent row.\"\"\"

        __tablename__ = "parents"
        id: Mapped[int] = mapped_column(primary_key=True)
        children = relationship("Child", backref="parent")
    ```

    ## Use instead
    ```python
    from sqlalchemy import ForeignKey
    from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship


    class Base(DeclarativeBase):
        pass


    class Parent(Base):
        \"\"\"A parent row.\"\"\"

        __tablename__ = "parents"
        id: Mapped[int] = mapped_column(primary_key=True)
        children = relationship("Child", back_populates="parent")
    ```

    ## References
    - [SQLAlchemy: Using the legacy backref parameter](https://docs.sqlalchemy.org/en/20/orm/backref.html)
    - [SQLAlchemy: Dynamic relationship loaders (legacy)](https://docs.sqlalchemy.org/en/20/orm/large_collections.html#dynamic-relationship-loaders)
    - [SQLAlchemy: Subquery eager loading](https://docs.sqlalchemy.org/en/20/orm/queryguide/relationships.html#subquery-eager-loading)
    """
    if ctx.is_migration:
        return
    for model in ctx.models:
        for fact in ctx.own_fields(model):
            if fact.relation != "relationship":
                continue
            if fact.backref:
                other = fact.backref if fact.backref != "backref" else "<name>"
                target = fact.target.split(".")[-1].strip("'\"") or "the related class"
                fix = (f'use back_populates="{other}" here and declare {target}.{other} = '
                       f'relationship(back_populates="{fact.name}") on the other side')
                yield ctx.finding("ORM606", fact.line, fact.col, what=f"relationship(backref=...) on {model.name}.{fact.name}", fix=fix)
            if fact.lazy == "dynamic":
                yield ctx.finding("ORM606", fact.line, fact.col, what=f'lazy="dynamic" on {model.name}.{fact.name}',
                                  fix='use WriteOnlyMapped[...] / lazy="write_only" (or selectinload for reads)')
    for node in ctx.nodes_of(ast.Call):
        if canonical_of(ctx, node.func) == "sqlalchemy:subqueryload":
            yield ctx.finding("ORM606", node, what="subqueryload()", fix="use selectinload()")
