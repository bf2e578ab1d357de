"""ORM3xx: transactions and data integrity.

The field-definition rules (ORM303, ORM304, ORM307) live here; the
query-site rules of this family (ORM301, ORM302, ORM305, ORM306) follow them.
"""

from __future__ import annotations

import ast
import re
from typing import Iterator

from ..context import FileContext, Finding
from ..registry import Category, Severity, rule
from ..semantic import dataflow, querysets
from ..semantic.facts import ModelFact
from ..semantic.names import canonical
from .schema import column_owners, schema_models

STRING_FIELDS = {
    "CharField", "TextField", "SlugField", "EmailField", "URLField", "FilePathField", "FileField",
    "ImageField", "CICharField", "CITextField", "CIEmailField",
}
MONEY_TOKENS = {
    "price", "amount", "cost", "total", "balance", "fee", "salary", "wage", "tax", "discount",
    "subtotal", "revenue", "payment", "refund", "charge", "credit", "debit",
}
# A money word next to one of these measures something else: total_seconds, credit_score, fee_percent.
NOT_MONEY_WORDS = {
    "count", "seconds", "minutes", "hours", "days", "time", "duration", "weight", "distance", "percent",
    "percentage", "pct", "ratio", "score", "points", "views", "clicks", "km", "miles", "kg",
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
    or debit. Columns of a mixin that SQLAlchemy models inherit are
    reported once, on the mixin. A name that also says what else it
    measures (`total_seconds`, `credit_score`, `fee_percent`, `total_weight`)
    is not money. The fix proposes two decimal places, and eight for
    amounts below a cent (metered costs, per-token prices).

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
    for model in column_owners(ctx):
        for fact in ctx.own_fields(model):
            if fact.column_type not in FLOAT_TYPES or fact.relation:
                continue
            words = name_words(fact.name)
            if not MONEY_TOKENS.intersection(words) or NOT_MONEY_WORDS.intersection(words):
                continue
            # Two decimal places suit prices; metered costs (mlflow's LLM cost per trace) are fractions of a cent.
            if model.framework in ("django", "sqlmodel"):
                field = "models.DecimalField" if model.framework == "django" else "a Decimal annotation with Field"
                fix = f"{field}(max_digits=12, decimal_places=2), or decimal_places=8 (max_digits=18) for sub-cent amounts"
            elif fact.type == "annotation" or fact.column_type == "float":
                fix = "Mapped[Decimal] with mapped_column(Numeric(12, 2)), or Numeric(18, 8) for sub-cent amounts"
            else:
                fix = "Numeric(12, 2), or Numeric(18, 8) for sub-cent amounts (values come back as Decimal)"
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
    and not a primary key (column-level or in a `PrimaryKeyConstraint`).
    Columns of a mixin that models inherit are reported once, on the mixin.

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
    for model in column_owners(ctx):
        if model.framework not in ("sqlalchemy", "core"):
            continue
        # Members of a PrimaryKeyConstraint are NOT NULL like primary_key=True columns.
        key_columns = {model.normalise_column(c) for i in model.indexes if i.kind == "primary_key" for c in i.columns}
        for fact in ctx.own_fields(model):
            if fact.type not in ("sqlalchemy:Column", "sqlalchemy:mapped_column"):
                continue
            if fact.name in key_columns or fact.column in key_columns:
                continue
            if "nullable" in fact.kwargs or fact.primary_key or fact.nullable_from_annotation is not None:
                continue
            if fact.type == "sqlalchemy:mapped_column":
                call, fix = "mapped_column", "annotate it Mapped[...] (Optional[...] when NULL is meant) or add nullable=False"
            else:
                call, fix = "Column", "add nullable=False (or nullable=True when NULL is meant)"
            yield ctx.finding("ORM307", fact.line, fact.col, model=model.name, field=fact.name, call=call, fix=fix)


# -- query-site rules: transactions around writes, locks and read-modify-write -------------------

SKIPPED_KINDS = ("test", "django_migration", "alembic")


def commit_label(ctx: FileContext, call: ast.Call) -> str | None:
    return f"line {call.lineno}" if dataflow.session_commit(ctx, call) else None


@rule(
    "ORM301",
    "multi-write-without-transaction",
    Severity.MAJOR,
    Category.TRANSACTIONS,
    "{function}() {what} outside a transaction: a failure part-way leaves partial data; {fix}",
)
def multi_write_without_transaction(ctx: FileContext) -> Iterator[Finding]:
    """
    ## What it does
    Flags a function whose own body performs two or more Django ORM writes
    on one run (`save()`, `delete()`, `create()`, `update()`, `bulk_create()`,
    `bulk_update()`, `get_or_create()`, `update_or_create()`, many-to-many
    `add()` / `remove()` / `set()` / `clear()`) outside `transaction.atomic`
    (as a decorator or a `with` block, imported as `transaction` or by name;
    `method_decorator(transaction.atomic, ..)` on a method or a class view
    counts too). The SQLAlchemy form is a function that calls `session.commit()` at two or
    more sites.

    Counting is lexical and per path: writes in the two arms of an `if` are
    alternatives, a write inside a loop counts once (a write per row is
    ORM204), and writes inside helpers the function calls do not count.
    Receivers must be recognised: a query of a known model, a model
    instance read or built in the function, or `self` in a model method.
    Migration files (already atomic) and test modules are skipped. The rule
    does not read settings: with `ATOMIC_REQUESTS = True` views already run
    in a transaction, and a `# noqa: ORM301` on such a view is the answer.

    ## Why is this bad?
    In autocommit mode every write commits on its own. An exception after
    the first one (a validation error, a timeout, a deploy restart) leaves
    an order without its lines or stock taken for an order that does not
    exist, and nothing rolls it back.

    ## Example
    ```python
    from django.db import models


    class Order(models.Model):
        total = models.DecimalField(max_digits=10, decimal_places=2)


    class Line(models.Model):
        order = models.ForeignKey(Order, on_delete=models.CASCADE)
        quantity = models.IntegerField()


    def place_order(quantity):
        order = Order.objects.create(total=0)
        Line.objects.create(order=order, quantity=quantity)
        return order
    ```

    ## Use instead
    ```python
    from django.db import models, transaction


    class Order(models.Model):
        total = models.DecimalField(max_digits=10, decimal_places=2)


    class Line(models.Model):
        order = models.ForeignKey(Order, on_delete=models.CASCADE)
        quantity = models.IntegerField()


    @transaction.atomic
    def place_order(quantity):
        order = Order.objects.create(total=0)
        Line.objects.create(order=order, quantity=quantity)
        return order
    ```

    ## References
    - [Django: database transactions](https://docs.djangoproject.com/en/stable/topics/db/transactions/)
    - [SQLAlchemy: managing transactions](https://docs.sqlalchemy.org/en/20/orm/session_transaction.html)
    """
    if ctx.kind in SKIPPED_KINDS:
        return
    if len(dataflow.write_shaped_calls(ctx)) < 2:
        return  # every function would count fewer than two sites (and the parent map is not needed)
    parents = dataflow.parent_map(ctx.tree, ctx.cache)
    for function in dataflow.functions(ctx.tree):
        if dataflow.atomic_function(function, ctx.canonical, parents):
            continue
        count, sites = dataflow.count_sites(ctx, function, dataflow.django_write)
        if count >= 2:
            shown = ", ".join(label for _, label in sites[:4]) + (", ..." if len(sites) > 4 else "")
            yield ctx.finding("ORM301", function, function=function.name, what=f"performs {count} ORM writes ({shown})",
                              fix="decorate it with @transaction.atomic or wrap the writes in `with transaction.atomic():`")
            continue
        count, sites = dataflow.count_sites(ctx, function, commit_label)
        if count >= 2:
            lines = ", ".join(str(line) for line, _ in sites)
            yield ctx.finding("ORM301", function, function=function.name, what=f"commits the session {count} times (lines {lines})",
                              fix="commit once at the end, or run the unit of work in `with session.begin():`")


def django_queryset(ctx: FileContext, node: ast.AST) -> "querysets.QueryInfo | None":
    info = querysets.query_source(ctx, node)
    return info if info is not None and info.framework == "django" else None


def outermost_chain(node: ast.AST, parents: dict) -> ast.AST:
    """The whole ``a.b().c()[..]`` expression a call is part of."""
    current = node
    while True:
        parent = parents.get(current)
        if isinstance(parent, ast.Attribute) and parent.value is current:
            grand = parents.get(parent)
            if isinstance(grand, ast.Call) and grand.func is parent:
                current = grand
                continue
            current = parent
            continue
        if isinstance(parent, ast.Subscript) and parent.value is current:
            current = parent
            continue
        if isinstance(parent, ast.Await):
            current = parent
            continue
        return current


def functions_called_in_atomic(ctx: FileContext) -> set[str]:
    """Names of functions (and ``self.`` methods) this module calls inside atomic blocks."""
    found = ctx.cache.get("transactions.called_in_atomic")
    if found is None:
        parents = dataflow.parent_map(ctx.tree, ctx.cache)
        found = set()
        for node in ctx.nodes_of(ast.Call):
            func = node.func
            # Only calls of this module's functions and of ``self``/``cls`` methods, not ``qs.get()``.
            is_helper_call = isinstance(func, ast.Name) or (
                isinstance(func, ast.Attribute) and isinstance(func.value, ast.Name) and func.value.id in ("self", "cls"))
            if is_helper_call and dataflow.in_atomic(node, parents, ctx.canonical):
                found.add(dataflow.call_name(node))
        ctx.cache["transactions.called_in_atomic"] = found
    return found


def leaves_unevaluated(ctx: FileContext, top: ast.AST, function: ast.AST, parents: dict) -> bool:
    """Is the (lazy) queryset ``top`` handed back to the caller instead of evaluated here?"""
    info = django_queryset(ctx, top)
    if info is not None and info.evaluated:
        return False
    parent = parents.get(top)
    if isinstance(parent, (ast.Return, ast.Yield, ast.YieldFrom)):
        return True
    if isinstance(parent, ast.Assign) and len(parent.targets) == 1 and isinstance(parent.targets[0], ast.Name):
        name = parent.targets[0].id
        uses = [n for n in dataflow.own_nodes(function) if isinstance(n, ast.Name) and n.id == name and isinstance(n.ctx, ast.Load)]
        return bool(uses) and all(isinstance(parents.get(n), (ast.Return, ast.Yield, ast.YieldFrom)) for n in uses)
    return False


@rule(
    "ORM302",
    "select-for-update-outside-transaction",
    Severity.CRITICAL,
    Category.TRANSACTIONS,
    "{query} is evaluated outside transaction.atomic: Django raises TransactionManagementError in autocommit (a TestCase hides it) and no row stays locked; wrap the read and the writes that depend on it in `with transaction.atomic():`",
)
def select_for_update_outside_transaction(ctx: FileContext) -> Iterator[Finding]:
    """
    ## What it does
    Flags a Django `.select_for_update()` queryset evaluated in a function
    where it is not inside `transaction.atomic` (a `with` block, or the
    function decorated with it; `atomic` imported by name counts).

    Not flagged: a lazy queryset the function returns to its caller (the
    caller evaluates it), a function this module itself calls from inside an
    atomic block, class- and module-level querysets, migrations (atomic) and
    test modules.

    ## Why is this bad?
    Outside a transaction Django refuses to run the query and raises
    `TransactionManagementError`; a test inside `TestCase` runs in a
    transaction and never sees it, so the error first appears in
    production. Even where it ran, the lock would be released by the
    statement's own commit before the code that needed it runs.

    ## Example
    ```python
    from django.db import models


    class Account(models.Model):
        balance = models.IntegerField(default=0)


    def withdraw(account_id, amount):
        account = Account.objects.select_for_update().get(pk=account_id)
        account.balance -= amount
        account.save()
    ```

    ## Use instead
    ```python
    from django.db import models, transaction


    class Account(models.Model):
        balance = models.IntegerField(default=0)


    def withdraw(account_id, amount):
        with transaction.atomic():
            account = Account.objects.select_for_update().get(pk=account_id)
            account.balance -= amount
            account.save()
    ```

    ## References
    - [Django: select_for_update()](https://docs.djangoproject.com/en/stable/ref/models/querysets/#select-for-update)
    - [Django: controlling transactions explicitly](https://docs.djangoproject.com/en/stable/topics/db/transactions/#controlling-transactions-explicitly)
    """
    if ctx.kind in SKIPPED_KINDS:
        return
    for node in ctx.nodes_of(ast.Call):
        if not (isinstance(node.func, ast.Attribute) and node.func.attr in ("select_for_update",)):
            continue
        info = django_queryset(ctx, node)
        if info is None:
            continue
        parents = dataflow.parent_map(ctx.tree, ctx.cache)  # only files with a select_for_update() need it
        function = dataflow.enclosing_function(node, parents)
        if function is None or dataflow.in_atomic(node, parents, ctx.canonical):
            continue
        if function.name in functions_called_in_atomic(ctx):
            continue
        top = outermost_chain(node, parents)
        if leaves_unevaluated(ctx, top, function, parents):
            continue
        label = dataflow.call_label(top) if isinstance(top, ast.Call) else dataflow.call_label(node)
        yield ctx.finding("ORM302", node, query=label)


LOCKING_METHODS = ("select_for_update", "with_for_update")


def increment(stmt: ast.stmt) -> tuple[ast.Name, str, str, ast.AST] | None:
    """``obj.f += n`` / ``obj.f = obj.f - n`` -> (obj, f, "+" or "-", n)."""
    if isinstance(stmt, ast.AugAssign) and isinstance(stmt.op, (ast.Add, ast.Sub)):
        target = stmt.target
        if isinstance(target, ast.Attribute) and isinstance(target.value, ast.Name):
            return target.value, target.attr, "+" if isinstance(stmt.op, ast.Add) else "-", stmt.value
        return None
    if not (isinstance(stmt, ast.Assign) and len(stmt.targets) == 1 and isinstance(stmt.value, ast.BinOp)):
        return None
    target, value = stmt.targets[0], stmt.value
    if not (isinstance(target, ast.Attribute) and isinstance(target.value, ast.Name) and isinstance(value.op, (ast.Add, ast.Sub))):
        return None

    def same(node: ast.AST) -> bool:
        return (isinstance(node, ast.Attribute) and node.attr == target.attr
                and isinstance(node.value, ast.Name) and node.value.id == target.value.id)

    sign = "+" if isinstance(value.op, ast.Add) else "-"
    if same(value.left):
        return target.value, target.attr, sign, value.right
    if sign == "+" and same(value.right):
        return target.value, target.attr, sign, value.left
    return None


def read_lock(ctx: FileContext, obj: ast.Name) -> tuple[ModelFact, bool] | None:
    """The model of the instance ``obj`` holds and whether its read took a row lock; ``None`` when unknown."""
    instance = querysets.instance_of(ctx, obj)
    if instance is not None:
        if instance.kind not in ("single", "row") or instance.path or instance.query is None:
            return None
        query = instance.query
        locked = query.has(*LOCKING_METHODS) or any(
            kw.arg == "with_for_update" and not (isinstance(kw.value, ast.Constant) and not kw.value.value)
            for kw in getattr(query.node, "keywords", []) if query.origin == "session_get"
        )
        return instance.model, locked
    instance = dataflow.fetched_instance(ctx, obj)  # get_object_or_404(Model | queryset, ..)
    if instance is None:
        return None
    return instance.model, instance.query is not None and instance.query.has(*LOCKING_METHODS)


def saved_after(ctx: FileContext, function: ast.AST, obj: str, line: int, framework: str) -> ast.Call | None:
    """The ``obj.save()`` (Django) or session commit (SQLAlchemy) after ``line`` in ``function``."""
    for node in dataflow.own_nodes(function):
        if not isinstance(node, ast.Call) or node.lineno <= line:
            continue
        if framework == "django":
            if (isinstance(node.func, ast.Attribute) and node.func.attr in ("save", "asave")
                    and isinstance(node.func.value, ast.Name) and node.func.value.id == obj):
                return node
        elif dataflow.session_commit(ctx, node):
            return node
    return None


def lost_update_fix(model: ModelFact, obj: str, field: str, sign: str, delta: str) -> tuple[str, str]:
    pk = model.pk_name if model.framework != "django" else "pk"
    if model.framework == "django":
        return (f'{model.name}.objects.filter(pk={obj}.pk).update({field}=F("{field}") {sign} {delta})',
                "select_for_update() inside transaction.atomic")
    return (f"update({model.name}).where({model.name}.{pk} == {obj}.{pk}).values({field}={model.name}.{field} {sign} {delta})",
            "with_for_update()")


@rule(
    "ORM306",
    "lost-update",
    Severity.MAJOR,
    Category.TRANSACTIONS,
    "lost update: {obj}.{field} is read without a row lock, changed in Python ({sign}= {delta}) and written back by {save}; concurrent requests overwrite each other; use {fix} (or lock the read with {lock})",
)
def lost_update(ctx: FileContext) -> Iterator[Finding]:
    """
    ## What it does
    Flags a read-modify-write of a model column: `obj.f += n`,
    `obj.f -= n` or `obj.f = obj.f + n` on an instance read in the same
    function (`get()`, `first()`, `get_object_or_404()`, a loop over a
    query, `session.get()`, `session.scalars(select(M)..).one()`, ...),
    followed by `obj.save()` (Django) or a session commit (SQLAlchemy),
    when the read did not use `select_for_update()` / `with_for_update()`.

    Not flagged: new objects (`Model(..)`), objects whose origin the function
    does not show (parameters, `self`), properties and relations (only
    mapped columns count), migrations and test modules.

    ## Why is this bad?
    Two requests read `stock = 5`, both compute `4`, both save `4`: one sale
    vanished. A transaction alone does not prevent it under READ COMMITTED.
    Letting the database do the arithmetic (`F("stock") - 1`,
    `Product.stock - 1`) is atomic; locking the row on read serialises the
    writers.

    ## Example
    ```python
    from django.db import models


    class Product(models.Model):
        stock = models.IntegerField(default=0)


    def sell(product_id):
        product = Product.objects.get(pk=product_id)
        product.stock -= 1
        product.save()
    ```

    ## Use instead
    ```python
    from django.db import models
    from django.db.models import F


    class Product(models.Model):
        stock = models.IntegerField(default=0)


    def sell(product_id):
        Product.objects.filter(pk=product_id).update(stock=F("stock") - 1)
    ```

    ## References
    - [Django: avoiding race conditions using F()](https://docs.djangoproject.com/en/stable/ref/models/expressions/#avoiding-race-conditions-using-f)
    - [SQLAlchemy: UPDATE with a SQL expression](https://docs.sqlalchemy.org/en/20/orm/queryguide/dml.html#orm-update-and-delete-with-custom-where-criteria)
    - [SQLAlchemy: Select.with_for_update()](https://docs.sqlalchemy.org/en/20/core/selectable.html#sqlalchemy.sql.expression.Select.with_for_update)
    """
    if ctx.kind in SKIPPED_KINDS:
        return
    candidates = functions_with_increments(ctx)
    for function in dataflow.functions(ctx.tree):
        if function not in candidates:
            continue  # no ``obj.f += n`` anywhere under it: its own body has none either
        for stmt in dataflow.own_nodes(function):
            found = increment(stmt) if isinstance(stmt, (ast.AugAssign, ast.Assign)) else None
            if found is None:
                continue
            obj, field_name, sign, delta = found
            read = read_lock(ctx, obj)
            if read is None or read[1]:
                continue
            model = read[0]
            fact = model.fields.get(field_name)
            if fact is None or fact.relation or not fact.is_db_column:
                continue
            save = saved_after(ctx, function, obj.id, getattr(stmt, "end_lineno", stmt.lineno) or stmt.lineno, model.framework)
            if save is None:
                continue
            delta_text = dataflow.source_text(delta, 20)
            fix, lock = lost_update_fix(model, obj.id, field_name, sign, delta_text)
            yield ctx.finding("ORM306", stmt, obj=obj.id, field=field_name, sign=sign, delta=delta_text,
                              save=dataflow.call_label(save), fix=fix, lock=lock)


def functions_with_increments(ctx: FileContext) -> set[ast.AST]:
    """Functions holding an ``increment()`` statement somewhere under them (one pass over the file's assignments)."""
    increments = [stmt for stmt in ctx.nodes_of(ast.AugAssign, ast.Assign) if increment(stmt) is not None]
    if not increments:
        return set()  # the usual case: no parent map needed
    parents = dataflow.parent_map(ctx.tree, ctx.cache)
    found: set[ast.AST] = set()
    for stmt in increments:
        found.update(a for a in dataflow.ancestors(stmt, parents) if isinstance(a, dataflow.FUNCTION_NODES))
    return found


GET_OR_CREATE = ("get_or_create", "update_or_create", "aget_or_create", "aupdate_or_create")
NOT_LOOKUPS = ("defaults", "create_defaults")


def has_unknown_bases(ctx: FileContext, model: ModelFact) -> bool:
    """Does ``model`` inherit from a class the index cannot see (its fields would be unknown)?"""
    for cls in [model, *ctx.index.parents(model)]:
        for base in cls.bases:
            target = ctx.index.resolve_symbol(base)
            if canonical(target) != "django:Model" and target not in ctx.index.classes:
                return True
    return False


def unique_sets(ctx: FileContext, model: ModelFact) -> list[set[str]]:
    """Field sets a unique constraint covers: pk, unique fields, UniqueConstraint, unique_together."""
    sets = [{model.pk_name}]
    for cls in [model, *ctx.index.parents(model)]:
        for index in cls.indexes:
            if index.unique and index.columns and not index.expressions:
                sets.append({model.normalise_column(c) for c in index.columns})
    for fact in model.fields.values():
        if fact.unique or fact.primary_key:
            sets.append({fact.name})
    return sets


def has_expression_unique(ctx: FileContext, model: ModelFact) -> bool:
    """A functional unique constraint (``UniqueConstraint(Lower("name"), ..)``): which lookups it covers is unknown."""
    return any(index.unique and index.expressions for cls in [model, *ctx.index.parents(model)] for index in cls.indexes)


def lookup_fields(model: ModelFact, calls: list[ast.Call]) -> list[str] | None:
    """Equality-filtered field names of the lookup kwargs; ``None`` when not statically known."""
    fields: list[str] = []
    for call in calls:
        if call.args or any(kw.arg is None for kw in call.keywords):
            return None  # Q objects or **kwargs: unknown
        for kw in call.keywords:
            if kw.arg in NOT_LOOKUPS:
                continue
            key = kw.arg[: -len("__exact")] if kw.arg.endswith("__exact") else kw.arg
            parts = key.split("__")
            if len(parts) == 2 and parts[1] in ("pk", "id"):
                key = parts[0]  # author__pk -> author
            elif len(parts) > 1:
                continue  # a related or non-equality lookup narrows nothing unique
            name = model.normalise_column(key)
            if name not in model.fields and name != model.pk_name:
                return None  # not a field we know: stay silent
            if name not in fields:
                fields.append(name)
    return fields


@rule(
    "ORM305",
    "get-or-create-without-unique",
    Severity.MAJOR,
    Category.TRANSACTIONS,
    "{call} looks {model} up by ({fields}), which no unique constraint covers: concurrent calls both miss and create duplicates; add {fix} (or look it up by a unique field)",
)
def get_or_create_without_unique(ctx: FileContext) -> Iterator[Finding]:
    """
    ## What it does
    Flags a Django `get_or_create()` / `update_or_create()` (and their async
    forms) whose lookup keyword arguments, leaving out `defaults` and
    `create_defaults`, contain no set of fields that a unique constraint
    covers: the primary key, a `unique=True` field (a `OneToOneField` is
    unique), a `UniqueConstraint` or a `unique_together` entry (declared on
    the model or an abstract parent, possibly in another file). Equality
    filters applied earlier in the chain and the foreign key a related
    manager adds (`author.books.get_or_create(..)`) count as lookup fields.

    Silent when the model or one of the looked-up fields is unknown, when
    the lookup uses `Q` objects or `**kwargs`, when the model inherits from
    a class outside the project (its constraints are not visible), and when
    it has a functional unique constraint (`UniqueConstraint(Lower("name"),
    ..)`), whose coverage of a lookup cannot be decided statically.

    ## Why is this bad?
    `get_or_create` is a SELECT followed by an INSERT. Two requests that
    both miss insert two rows; Django's documented protection is the
    `IntegrityError` a unique constraint raises, which it then turns into a
    second `get()`. Without the constraint the duplicate stays, and every
    later `get_or_create` with the same lookup fails with
    `MultipleObjectsReturned`.

    ## Example
    ```python
    from django.db import models


    class Tag(models.Model):
        name = models.CharField(max_length=50)


    def tag_named(name):
        tag, _ = Tag.objects.get_or_create(name=name)
        return tag
    ```

    ## Use instead
    ```python
    from django.db import models


    class Tag(models.Model):
        name = models.CharField(max_length=50, unique=True)


    def tag_named(name):
        tag, _ = Tag.objects.get_or_create(name=name)
        return tag
    ```

    ## References
    - [Django: get_or_create()](https://docs.djangoproject.com/en/stable/ref/models/querysets/#get-or-create)
    - [Django: UniqueConstraint](https://docs.djangoproject.com/en/stable/ref/models/constraints/#uniqueconstraint)
    """
    for node in ctx.nodes_of(ast.Call):
        if not (isinstance(node.func, ast.Attribute) and node.func.attr in GET_OR_CREATE):
            continue
        info = django_queryset(ctx, node.func.value)
        if info is None:
            continue
        model = info.model
        if model.framework != "django" or has_unknown_bases(ctx, model) or has_expression_unique(ctx, model):
            continue
        fields = lookup_fields(model, info.calls("filter") + [node])
        if not fields:
            continue
        relation = info.relation if info.origin == "related" else None
        if relation is not None and relation.kind == "reverse_fk" and relation.field is not None:
            fields.append(relation.field.name)
        elif relation is not None:
            continue  # a many-to-many manager: the through table decides
        if any(unique <= set(fields) for unique in unique_sets(ctx, model)):
            continue
        quoted = ", ".join(f'"{name}"' for name in fields)
        fix = (f"unique=True to {model.name}.{fields[0]}" if len(fields) == 1
               else f'UniqueConstraint(fields=[{quoted}], name="{model.name.lower()}_{"_".join(fields)}_uniq") to {model.name}.Meta.constraints')
        yield ctx.finding("ORM305", node, call=dataflow.call_label(node), model=model.name, fields=", ".join(fields), fix=fix)
