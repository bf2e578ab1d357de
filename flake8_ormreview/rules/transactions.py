"""ORM3xx: transactions and data integrity.

The field-definition rules (ORM303, ORM304, ORM307) live here; the
query-site rules of this family (ORM301, ORM302, ORM305, ORM306) follow them.
"""

from __future__ import annotations

import re
from typing import Iterator

from ..context import FileContext, Finding
from ..registry import Category, Severity, rule
from .schema import schema_models

STRING_FIELDS = {
    "CharField", "TextField", "SlugField", "EmailField", "URLField", "FilePathField", "FileField",
    "ImageField", "CICharField", "CITextField", "CIEmailField",
}
MONEY_TOKENS = {
    "price", "amount", "cost", "total", "balance", "fee", "salary", "wage", "tax", "discount",
    "subtotal", "revenue", "payment", "refund", "charge", "credit", "debit",
}
FLOAT_TYPES = {"FloatField", "Float", "Double", "DOUBLE", "DOUBLE_PRECISION", "REAL", "FLOAT", "float"}


def name_words(name: str) -> list[str]:
    """``unitPrice`` / ``unit_price`` -> ``["unit", "price"]``."""
    spaced = re.sub(r"([a-z0-9])([A-Z])", r"\1_\2", name)
    return [w for w in spaced.lower().split("_") if w]


@rule(
    "ORM303",
    "nullable-string-field",
    Severity.MINOR,
    Category.TRANSACTIONS,
    "{model}.{field} ({type}) has null=True, so it has two empty values (NULL and ''); {fix}",
)
def nullable_string_field(ctx: FileContext) -> Iterator[Finding]:
    """
    ## What it does
    Flags a Django string-based field (`CharField`, `TextField`,
    `SlugField`, `EmailField`, `URLField`, `FileField`, ...) declared with
    `null=True`, unless it is also `unique=True` and `blank=True` (the one
    case Django's docs recommend NULL: several blank values must not clash).

    ## Why is this bad?
    The column gets two "no data" values, `NULL` and `''`. Every filter has
    to test both (`Q(x="") | Q(x__isnull=True)`), and forgetting one returns
    wrong results. Django's convention is the empty string.

    ## Example
    ```python
    from django.db import models


    class Profile(models.Model):
        nickname = models.CharField(max_length=50, null=True, blank=True)
    ```

    ## Use instead
    ```python
    from django.db import models


    class Profile(models.Model):
        nickname = models.CharField(max_length=50, blank=True, default="")
    ```

    ## References
    - [Django: Field.null](https://docs.djangoproject.com/en/stable/ref/models/fields/#null)
    """
    for model in schema_models(ctx):
        if model.framework != "django":
            continue
        for fact in ctx.own_fields(model):
            if fact.column_type in STRING_FIELDS and fact.null is True and not (fact.unique and fact.blank):
                if fact.unique:
                    fix = "add blank=True so every blank value is stored as NULL and does not break uniqueness"
                else:
                    fix = "drop null=True and use default=\"\" (with blank=True if it is optional)"
                yield ctx.finding("ORM303", fact.line, fact.col, model=model.name, field=fact.name, type=fact.column_type, fix=fix)


@rule(
    "ORM304",
    "float-for-money",
    Severity.MAJOR,
    Category.TRANSACTIONS,
    "{model}.{field} stores money in a binary float ({type}): amounts round ({example}); use {fix}",
)
def float_for_money(ctx: FileContext) -> Iterator[Finding]:
    """
    ## What it does
    Flags a `FloatField` (Django), `Float` / `Double` / `REAL` column
    (SQLAlchemy) or `float` field (SQLModel, `Mapped[float]`) whose name
    contains a money word: price, amount, cost, total, balance, fee, salary,
    wage, tax, discount, subtotal, revenue, payment, refund, charge, credit
    or debit.

    ## Why is this bad?
    Binary floating point cannot represent most decimal fractions:
    `0.1 + 0.2 == 0.30000000000000004`. Sums of prices drift by cents,
    totals fail to reconcile, and equality filters miss rows.

    ## Example
    ```python
    from django.db import models


    class Invoice(models.Model):
        total = models.FloatField()
    ```

    ## Use instead
    ```python
    from django.db import models


    class Invoice(models.Model):
        total = models.DecimalField(max_digits=12, decimal_places=2)
    ```

    ## References
    - [Django: DecimalField](https://docs.djangoproject.com/en/stable/ref/models/fields/#decimalfield)
    - [SQLAlchemy: Numeric](https://docs.sqlalchemy.org/en/20/core/type_basics.html#sqlalchemy.types.Numeric)
    """
    for model in schema_models(ctx):
        for fact in ctx.own_fields(model):
            if fact.column_type not in FLOAT_TYPES or fact.relation:
                continue
            if not MONEY_TOKENS.intersection(name_words(fact.name)):
                continue
            if model.framework == "django":
                fix = "models.DecimalField(max_digits=12, decimal_places=2)"
            elif model.framework == "sqlmodel":
                fix = "a Decimal annotation with Field(max_digits=12, decimal_places=2)"
            elif fact.type == "annotation" or fact.column_type == "float":
                fix = "Mapped[Decimal] with mapped_column(Numeric(12, 2))"
            else:
                fix = "Numeric(12, 2) (values come back as Decimal)"
            yield ctx.finding("ORM304", fact.line, fact.col, model=model.name, field=fact.name, type=fact.column_type,
                              example="0.1 + 0.2 != 0.3", fix=fix)


@rule(
    "ORM307",
    "implicit-nullable-column",
    Severity.MINOR,
    Category.TRANSACTIONS,
    "{model}.{field}: {call}(..) without nullable= is NULL-able by default; {fix}",
)
def implicit_nullable_column(ctx: FileContext) -> Iterator[Finding]:
    """
    ## What it does
    Flags a SQLAlchemy `Column(...)`, `mapped_column(...)` or Flask-SQLAlchemy
    `db.Column(...)` (also inside a Core `Table`) that says nothing about
    NULL: no `nullable=` argument, no `Mapped[...]` annotation stating it,
    and not a primary key.

    ## Why is this bad?
    SQLAlchemy makes such columns NULL-able. Most of them were meant to be
    required, and the missing `NOT NULL` lets bad rows in that every reader
    then has to handle.

    ## Example
    ```python
    from sqlalchemy import Column, Integer, String
    from sqlalchemy.orm import declarative_base

    Base = declarative_base()


    class Product(Base):
        __tablename__ = "products"
        id = Column(Integer, primary_key=True)
        sku = Column(String(32))
    ```

    ## Use instead
    ```python
    from sqlalchemy import Column, Integer, String
    from sqlalchemy.orm import declarative_base

    Base = declarative_base()


    class Product(Base):
        __tablename__ = "products"
        id = Column(Integer, primary_key=True)
        sku = Column(String(32), nullable=False)
    ```

    ## References
    - [SQLAlchemy: Column.nullable](https://docs.sqlalchemy.org/en/20/core/metadata.html#sqlalchemy.schema.Column.params.nullable)
    - [SQLAlchemy: Mapped[] and nullability](https://docs.sqlalchemy.org/en/20/orm/declarative_tables.html#mapped-column-derives-the-datatype-and-nullability-from-the-mapped-annotation)
    """
    for model in schema_models(ctx):
        if model.framework not in ("sqlalchemy", "core"):
            continue
        for fact in ctx.own_fields(model):
            if fact.type not in ("sqlalchemy:Column", "sqlalchemy:mapped_column"):
                continue
            if "nullable" in fact.kwargs or fact.primary_key or fact.nullable_from_annotation is not None:
                continue
            if fact.type == "sqlalchemy:mapped_column":
                call, fix = "mapped_column", "annotate it Mapped[...] (Optional[...] when NULL is meant) or add nullable=False"
            else:
                call, fix = "Column", "add nullable=False (or nullable=True when NULL is meant)"
            yield ctx.finding("ORM307", fact.line, fact.col, model=model.name, field=fact.name, call=call, fix=fix)
