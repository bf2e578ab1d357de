"""ORM103 and ORM2xx: how the code queries the models (query sites, loops).

Every rule here reads query expressions through :mod:`..semantic.querysets`:
which model a chain queries, what it eager-loads, which loop variables are
rows of which query.  Unknown receivers are silent.
"""

from __future__ import annotations

import ast
import os
from dataclasses import dataclass
from typing import Iterator

from ..context import FileContext, Finding
from ..index import Relation
from ..registry import Category, Severity, rule
from ..semantic.facts import ModelFact
from ..semantic.querysets import (
    DJANGO_ROWS,
    EAGER_LAZY,
    INSTANCES,
    MANAGER,
    ROWS,
    WRITE,
    Instance,
    Loop,
    QueryInfo,
    bound_names,
    canonical_of,
    enclosing_function,
    enclosing_loops,
    instance_of,
    is_session_like,
    loops,
    names_in,
    parent_of,
    query_source,
    relation_of,
    resolve_model,
)

SQLA_FRAMEWORKS = ("sqlalchemy", "sqlmodel")

# Methods of a related manager that read rows through the prefetch cache when it is filled.
CACHED_READS = {"all"}
CACHED_MAYBE = {"first", "last"}  # use the cache only on an ordered queryset: silent when prefetched
# Methods that always run a new query, prefetched or not.
FRESH_QUERIES = {
    "filter", "exclude", "order_by", "values", "values_list", "get", "annotate", "alias", "select_related",
    "prefetch_related", "only", "defer", "distinct", "latest", "earliest", "in_bulk", "iterator", "reverse",
    "dates", "datetimes", "aget", "afirst", "alast",
}
PER_ROW_AGGREGATES = {"count", "exists", "aggregate", "acount", "aexists", "aaggregate"}
CACHE_AWARE_AGGREGATES = {"count", "exists", "acount", "aexists"}
DYNAMIC_WRITES = {"append", "remove", "extend", "add_all"}


# -- shared: relation access on a loop row --------------------------------------------------------


@dataclass
class Access:
    """``row.relation`` inside a loop: what it reaches and whether the query loaded it."""

    node: ast.Attribute
    instance: Instance
    relation: Relation
    path: tuple[str, ...]  # from the root query's model
    covered: bool
    parent: ast.AST | None = None
    grandparent: ast.AST | None = None

    @property
    def sqlalchemy(self) -> bool:
        return self.instance.model.framework in SQLA_FRAMEWORKS


def relation_access(ctx: FileContext, node: ast.AST) -> Access | None:
    if not isinstance(node, ast.Attribute) or not isinstance(node.ctx, ast.Load):
        return None
    instance = instance_of(ctx, node.value)
    if instance is None or instance.query is None:
        return None
    relation = relation_of(ctx, instance.model, node.attr)
    if relation is None or relation.target is None:
        return None
    path = instance.path + (relation.name,)
    query = instance.query
    covered = query.covers(path)
    if instance.model.framework in SQLA_FRAMEWORKS:
        covered = covered or (relation.lazy or "select") in EAGER_LAZY
    elif query.select_related_all and instance.forward_only and relation.kind in ("fk", "o2o"):
        covered = True
    parent = parent_of(ctx, node)
    grandparent = parent_of(ctx, parent) if parent is not None else None
    return Access(node, instance, relation, path, covered, parent, grandparent)


def row_accesses(ctx: FileContext) -> list[Access]:
    """Relation accesses on loop rows, in source order (computed once per file)."""
    cached = ctx.cache.get("queries.row_accesses")
    if cached is None:
        cached = []
        if _mentions_models(ctx):
            holders = instance_holders(ctx)
            nodes = sorted((n for n in ctx.nodes_of(ast.Attribute) if _root_name(n) in holders),
                           key=lambda n: (n.lineno, n.col_offset))
            for node in nodes:
                access = relation_access(ctx, node)
                if access is not None and access.instance.kind in ("row", "single"):
                    cached.append(access)
        ctx.cache["queries.row_accesses"] = cached
    return cached


def instance_holders(ctx: FileContext) -> set[str]:
    """Names that can hold a model instance: loop targets and assigned names (a cheap prefilter)."""
    names: set[str] = set()
    for node in ctx.nodes_of(ast.For, ast.AsyncFor, ast.comprehension, ast.Assign, ast.AnnAssign, ast.NamedExpr):
        if isinstance(node, (ast.For, ast.AsyncFor, ast.comprehension)):
            names |= bound_names(node.target)
        elif isinstance(node, ast.Assign):
            for target in node.targets:
                names |= bound_names(target)
        elif isinstance(node, (ast.AnnAssign, ast.NamedExpr)):
            names |= bound_names(node.target)
    return names


def _root_name(node: ast.AST) -> str:
    while isinstance(node, ast.Attribute):
        node = node.value
    return node.id if isinstance(node, ast.Name) else ""


def _mentions_models(ctx: FileContext) -> bool:
    """Cheap guard: the file imports something (an ORM or a project module that may hold models)."""
    return bool(ctx.imports.names) or bool(ctx.models)


def hops(ctx: FileContext, model: ModelFact, path: tuple[str, ...]) -> list[Relation] | None:
    """The relations along ``path`` from ``model``; None when a hop is unknown."""
    result, current = [], model
    for name in path:
        relation = relation_of(ctx, current, name) if current is not None else None
        if relation is None:
            return None
        result.append(relation)
        current = relation.target
    return result


def eager_fix(ctx: FileContext, instance: Instance, path: tuple[str, ...], relation: Relation) -> str:
    """The eager loading that removes the per-row query for ``path``, on the right query."""
    root = instance.query
    source = instance.source or root
    where = f" to {root.describe()}" if source is not root else ""
    if instance.model.framework in SQLA_FRAMEWORKS:
        if relation.lazy == "dynamic":
            target = relation.target.name if relation.target else "the related"
            return (f'lazy="dynamic" cannot be eager-loaded: declare {relation.model.name}.{relation.name} with '
                    f'lazy="selectin" (or write_only) and load {target} rows once for all rows')
        chain = hops(ctx, root.model, path)
        if not chain:
            return "eager-load the relationship"
        loaders = []
        for hop in chain:
            loader = "selectinload" if hop.to_many else "joinedload"
            loaders.append(f"{loader}({hop.model.name}.{hop.name})")
        return f"add .options({'.'.join(loaders)}){where}"
    lookup = root.to_attr_path(path[0]) if path else None
    if lookup is not None and len(path) > 1:
        rest = path[1:]
        target = hops(ctx, root.model, lookup)
        rest_hops = hops(ctx, target[-1].target, rest) if target and target[-1].target else None
        method = "select_related" if rest_hops and all(h.forward_single for h in rest_hops) else "prefetch_related"
        return (f'add .{method}("{"__".join(rest)}") to the queryset of '
                f'Prefetch("{"__".join(lookup)}", to_attr="{path[0]}")')
    chain = hops(ctx, root.model, path) or []
    forward = bool(chain) and all(h.forward_single for h in chain)
    method = "select_related" if forward else "prefetch_related"
    return f'add .{method}("{"__".join(path)}"){where}'


def _label(node: ast.AST, limit: int = 60) -> str:
    """Source text of ``node``, shortened to its shape when long."""
    text = ast.unparse(node)
    if len(text) <= limit:
        return text
    if isinstance(node, (ast.GeneratorExp, ast.ListComp, ast.SetComp)) and node.generators:
        generator = node.generators[0]
        inner = f"{_label(node.elt, 30)} for {ast.unparse(generator.target)} in ..."
        inner += " if ..." if generator.ifs else ""
        return {ast.ListComp: f"[{inner}]", ast.SetComp: f"{{{inner}}}"}.get(type(node), f"({inner})")
    if isinstance(node, ast.Call):
        if len(node.args) == 1 and isinstance(node.args[0], (ast.GeneratorExp, ast.ListComp, ast.SetComp)):
            inner = _label(node.args[0], limit)
            inner = inner[1:-1] if isinstance(node.args[0], ast.GeneratorExp) else inner
            return f"{ast.unparse(node.func)}({inner})"
        head = _label(node.func.value, limit) if isinstance(node.func, ast.Attribute) else ast.unparse(node.func)
        name = f"{head}.{node.func.attr}" if isinstance(node.func, ast.Attribute) else head
        return f"{name}({'...' if node.args or node.keywords else ''})"
    return text


def _related_call(access: Access) -> ast.Call | None:
    parent = access.parent
    grand = access.grandparent
    if isinstance(parent, ast.Attribute) and isinstance(grand, ast.Call) and grand.func is parent:
        return grand
    return None


def _fk_id_attribute(ctx: FileContext, access: Access) -> str | None:
    """``author_id`` when ``row.author.<key>`` can be read from the row itself."""
    relation, parent = access.relation, access.parent
    if not isinstance(parent, ast.Attribute) or relation.target is None:
        return None
    target = relation.target
    if relation.kind in ("fk", "o2o"):
        fact = relation.field
        if fact is None or "to_field" in fact.kwargs:
            return None
        if parent.attr == "pk" or parent.attr == target.pk_name:
            return f"{relation.name}_id"
        return None
    if relation.kind == "relationship" and not relation.to_many:
        return _foreign_key_column(ctx, access.instance.model, relation, parent.attr)
    return None


def _foreign_key_column(ctx: FileContext, model: ModelFact, relation: Relation, target_column: str = "") -> str | None:
    """The column of ``model`` that a SQLAlchemy many-to-one ``relation`` joins on (to ``target_column``, if given)."""
    table = ctx.index.table_name(relation.target)
    candidates = []
    for fact in model.fields.values():
        key_table, _, key_column = fact.foreign_key.rpartition(".")
        if fact.foreign_key and key_table == table and key_column == (target_column or key_column):
            candidates.append(fact.name)
    if len(candidates) > 1 and f"{relation.name}_id" in candidates:
        return f"{relation.name}_id"  # several keys to one table: the conventionally named one
    return candidates[0] if len(candidates) == 1 else None


def _pinned_by_filter(ctx: FileContext, access: Access) -> bool:
    """Does the loop's query fix the relation's key by equality (``filter(V.scorer_id == s.id)``)?

    Then every row's many-to-one points at the same object, and SQLAlchemy's
    identity map answers every load after the first without a query (mlflow's
    versions of one scorer, docs/noise.md).  Django has no identity map: each
    row loads its own copy, so this is SQLAlchemy only.
    """
    instance, relation = access.instance, access.relation
    query = instance.query
    if not access.sqlalchemy or instance.path or query is None or relation.target is None:
        return False
    column = _foreign_key_column(ctx, instance.model, relation)
    return column is not None and any(
        lookup.field == column and lookup.equality and not lookup.joined
        for lookup in query_lookups(ctx, query.node, query)
    )


def query_name(ctx: FileContext, model: ModelFact, path: tuple[str, ...]) -> str:
    """Django lookup path for annotate()/filter(): reverse accessors use their query name."""
    names = []
    for relation in hops(ctx, model, path) or []:
        if relation.kind in ("reverse_fk", "reverse_m2m", "reverse_o2o") and relation.field is not None:
            names.append(relation.field.related_name or relation.target.name.lower())
        else:
            names.append(relation.name)
    return "__".join(names) if names else "__".join(path)


# -- ORM201 -----------------------------------------------------------------------------------


def n_plus_one_findings(ctx: FileContext) -> Iterator[tuple[Access, str, str]]:
    """(access, label, fix) for every per-row relation load ORM201 reports.

    One finding per relation path and loop; a path whose eager-loading fix is
    part of a longer reported path of the same root query (``author`` inside
    ``author__publisher``, ``items`` inside ``items__book``) is folded into it.
    """
    found: dict[tuple[int, tuple[str, ...]], tuple[Access, str, str]] = {}
    for access in row_accesses(ctx):
        if access.instance.kind != "row":
            continue
        verdict = n_plus_one_verdict(ctx, access)
        if verdict is None:
            continue
        found.setdefault((id(access.instance.loop), access.path), (access, verdict[0], verdict[1]))

    def root(access: Access) -> int:
        return id(access.instance.query.node)

    eager = [(root(a), a.path) for a, _, fix in found.values() if fix.startswith("add .")]
    for (_loop, path), item in found.items():
        folded = item[2].startswith("add .") and any(
            other_root == root(item[0]) and len(other) > len(path) and other[: len(path)] == path
            for other_root, other in eager
        )
        if not folded:
            yield item


def n_plus_one_verdict(ctx: FileContext, access: Access) -> tuple[str, str] | None:
    relation = access.relation
    parent = access.parent
    if relation.forward_single:
        if access.covered or _pinned_by_filter(ctx, access):
            return None
        if _fk_id_attribute(ctx, access) is not None:
            return None  # ORM210 says it better: read the key from the row
        outer = relation_access(ctx, parent) if isinstance(parent, ast.Attribute) else None
        if outer is not None and n_plus_one_verdict(ctx, outer) is not None:
            return None  # the deeper access is reported with the full path
        return _label(access.node), eager_fix(ctx, access.instance, access.path, relation)
    if not relation.to_many:
        return None
    if access.sqlalchemy:
        lazy = relation.lazy or "select"
        if lazy == "write_only":
            return None
        if lazy == "dynamic":
            call = _related_call(access)
            if call is not None:
                method = call.func.attr  # type: ignore[union-attr]
                if method in DYNAMIC_WRITES or method == "count":
                    return None
                return _label(call), eager_fix(ctx, access.instance, access.path, relation)
            if _is_iterated(ctx, access.node):
                return _label(access.node), eager_fix(ctx, access.instance, access.path, relation)
            return None
        if access.covered or _pinned_by_filter(ctx, access):
            return None  # an untyped relationship() holding the foreign key is a many-to-one too
        return _label(access.node), eager_fix(ctx, access.instance, access.path, relation)
    call = _related_call(access)
    if call is None:
        return None
    method = call.func.attr  # type: ignore[union-attr]
    if method in CACHED_READS or method in CACHED_MAYBE:
        if access.covered:
            return None
        return _label(call), eager_fix(ctx, access.instance, access.path, relation)
    if method in FRESH_QUERIES:
        target = relation.target.name if relation.target else "the related model"
        if access.covered:
            fix = (f'a prefetched relation is queried again by .{method}(): use Prefetch("{"__".join(access.path)}", '
                   f'queryset={target}.objects.{method}(...), to_attr="...") and read that list')
        else:
            fix = (f'prefetch it once with Prefetch("{"__".join(access.path)}", '
                   f'queryset={target}.objects.{method}(...), to_attr="...")')
        return _label(call), fix
    return None


def _is_iterated(ctx: FileContext, node: ast.AST) -> bool:
    parent = parent_of(ctx, node)
    if isinstance(parent, (ast.For, ast.AsyncFor, ast.comprehension)) and parent.iter is node:
        return True
    consumers = ("list", "len", "sorted", "set", "tuple")
    return isinstance(parent, ast.Call) and isinstance(parent.func, ast.Name) and parent.func.id in consumers


@rule(
    "ORM201",
    "n-plus-one",
    Severity.CRITICAL,
    Category.QUERIES,
    "N+1 query: '{access}' is loaded once per row of {query}; {fix}",
)
def n_plus_one(ctx: FileContext) -> Iterator[Finding]:
    """
    ## What it does
    Flags a relation reached from the variable of a loop or comprehension
    over a query when the query does not eager-load it: a forward foreign
    key or one-to-one (`book.author`, `book.author.publisher.name`), a
    reverse foreign key or many-to-many manager that loads rows
    (`author.books.all()`, `post.tags.filter(..)`, related-name managers),
    and SQLAlchemy lazy relationships (`user.addresses` with the default
    `lazy="select"`, queries on `lazy="dynamic"` relationships).

    Eager loading that covers the access keeps it silent: Django
    `select_related("author")` (a bare `select_related()` for forward keys),
    `prefetch_related("tags")`, `Prefetch("tags", ...)` and its `to_attr`,
    nested paths such as `"author__publisher"` for `book.author.publisher`;
    SQLAlchemy `.options(joinedload(..)/selectinload(..)/subqueryload(..)/
    immediateload(..)/contains_eager(..))` including chained paths, and
    relationships declared `lazy="joined"`, `"selectin"`, `"subquery"`,
    `"immediate"`, `"raise"` or `"noload"`. Queries are followed through
    variables refined step by step in the same function (eager loading
    applied on only some branches does not count) and through functions of
    the same module that return them.

    Never flagged: `book.author_id` and plain columns, rows of `.values()` /
    `.values_list()`, `get()` / `first()` results, loops over literals or
    over a query sliced to one row, and a SQLAlchemy many-to-one whose key
    the query fixes by equality (`where(Post.author_id == author.id)` then
    `post.author`): every row points at one object, which the session's
    identity map returns after the first load (Django has no identity map,
    so there it is still flagged). A per-row `.count()` / `.exists()` /
    `.aggregate()` on a relation is ORM209, and `book.author.id` is ORM210.
    Filtering a prefetched relation (`author.books.filter(..)`) runs a new
    query per row despite the prefetch, so it is flagged with a
    `Prefetch(queryset=..., to_attr=...)` fix. Only the first access of a
    relation path per loop is reported.

    Test modules and migration files are not checked.

    ## Why is this bad?
    One query for the list plus one query per row: a page of 100 books with
    their authors costs 101 round trips. It is invisible with ten rows in
    development and dominates response time in production.

    ## Example
    ```python
    from django.db import models


    class Author(models.Model):
        name = models.CharField(max_length=100)


    class Book(models.Model):
        title = models.CharField(max_length=200)
        author = models.ForeignKey(Author, on_delete=models.CASCADE)


    def titles():
        return [f"{book.title} by {book.author.name}" for book in Book.objects.all()]
    ```

    ## Use instead
    ```python
    from django.db import models


    class Author(models.Model):
        name = models.CharField(max_length=100)


    class Book(models.Model):
        title = models.CharField(max_length=200)
        author = models.ForeignKey(Author, on_delete=models.CASCADE)


    def titles():
        books = Book.objects.select_related("author")
        return [f"{book.title} by {book.author.name}" for book in books]
    ```

    ## References
    - [Django: select_related](https://docs.djangoproject.com/en/stable/ref/models/querysets/#select-related)
    - [Django: prefetch_related and Prefetch](https://docs.djangoproject.com/en/stable/ref/models/querysets/#prefetch-related)
    - [SQLAlchemy: relationship loading techniques](https://docs.sqlalchemy.org/en/20/orm/queryguide/relationships.html)
    """
    if not query_rules_apply(ctx):
        return
    for access, label, fix in n_plus_one_findings(ctx):
        source = access.instance.source or access.instance.query
        yield ctx.finding("ORM201", access.node, access=label, query=source.describe(), fix=fix)


# -- ORM209 -----------------------------------------------------------------------------------


def per_row_aggregate_fix(ctx: FileContext, access: Access, method: str, call: ast.Call) -> str:
    relation = access.relation
    source = access.instance.source or access.instance.query
    rel_path = query_name(ctx, source.model, access.instance.relative_path + (relation.name,))
    where = f" to {source.describe()}"
    target = relation.target.name if relation.target else "related"
    if access.sqlalchemy:
        owner = relation.model.name
        return (f"count once for all rows: select({owner}, func.count({target}.id))"
                f".outerjoin({owner}.{relation.name}).group_by({owner}.id)")
    if method in ("exists", "aexists"):
        if relation.kind == "reverse_fk" and relation.field is not None and not access.instance.relative_path:
            return (f'add .annotate(has_{rel_path}=Exists({target}.objects.filter('
                    f'{relation.field.name}=OuterRef("pk")))){where}')
        return f'add .annotate({rel_path.replace("__", "_")}_count=Count("{rel_path}")){where} and test it'
    if method in ("aggregate", "aaggregate"):
        parts = []
        for keyword in call.keywords:
            value = keyword.value
            if (keyword.arg and isinstance(value, ast.Call) and isinstance(value.func, (ast.Name, ast.Attribute))
                    and value.args and isinstance(value.args[0], ast.Constant) and isinstance(value.args[0].value, str)):
                function = value.func.id if isinstance(value.func, ast.Name) else value.func.attr
                parts.append(f'{keyword.arg}={function}("{rel_path}__{value.args[0].value}")')
        if parts:
            return f"add .annotate({', '.join(parts)}){where}"
        return f"annotate the aggregate over \"{rel_path}\" once{where}"
    return f'add .annotate({rel_path.replace("__", "_")}_count=Count("{rel_path}")){where}'


@rule(
    "ORM209",
    "per-row-aggregate",
    Severity.MAJOR,
    Category.QUERIES,
    "per-row aggregate: '{access}' runs one query per row of {query}; {fix}",
)
def per_row_aggregate(ctx: FileContext) -> Iterator[Finding]:
    """
    ## What it does
    Flags `row.<reverse relation or many-to-many>.count()`, `.exists()` or
    `.aggregate(..)` inside a loop or comprehension over a query, and
    `.count()` on a SQLAlchemy `lazy="dynamic"` relationship per row. A
    `.count()` / `.exists()` on a relation the query prefetched reads the
    prefetch cache and is not flagged; `.aggregate()` always queries.

    Test modules and migration files are not checked.

    ## Why is this bad?
    Each row issues its own `SELECT COUNT(*)` or aggregate. One annotated
    query (`annotate(Count(..))`, `Exists(..)`, a grouped subquery) returns
    the same numbers for every row at once; a denormalised counter avoids
    even that.

    ## Example
    ```python
    from django.db import models


    class Author(models.Model):
        name = models.CharField(max_length=100)


    class Book(models.Model):
        author = models.ForeignKey(Author, on_delete=models.CASCADE, related_name="books")


    def book_counts():
        return {author.name: author.books.count() for author in Author.objects.all()}
    ```

    ## Use instead
    ```python
    from django.db import models
    from django.db.models import Count


    class Author(models.Model):
        name = models.CharField(max_length=100)


    class Book(models.Model):
        author = models.ForeignKey(Author, on_delete=models.CASCADE, related_name="books")


    def book_counts():
        authors = Author.objects.annotate(book_count=Count("books"))
        return {author.name: author.book_count for author in authors}
    ```

    ## References
    - [Django: aggregation, annotate() with Count](https://docs.djangoproject.com/en/stable/topics/db/aggregation/)
    - [Django: Exists() subqueries](https://docs.djangoproject.com/en/stable/ref/models/expressions/#exists-subqueries)
    """
    if not query_rules_apply(ctx):
        return
    for access in row_accesses(ctx):
        if access.instance.kind != "row" or not access.relation.to_many:
            continue
        call = _related_call(access)
        if call is None:
            continue
        method = call.func.attr  # type: ignore[union-attr]
        if access.sqlalchemy:
            if (access.relation.lazy or "select") != "dynamic" or method != "count":
                continue
        else:
            if method not in PER_ROW_AGGREGATES:
                continue
            if access.covered and method in CACHE_AWARE_AGGREGATES:
                continue
        source = access.instance.source or access.instance.query
        yield ctx.finding("ORM209", call, access=_label(call), query=source.describe(),
                          fix=per_row_aggregate_fix(ctx, access, method, call))


# -- ORM210 -----------------------------------------------------------------------------------


@rule(
    "ORM210",
    "fk-object-for-id",
    Severity.MINOR,
    Category.QUERIES,
    "'{access}' loads the {target} row only to read its key; use '{replacement}'",
)
def fk_object_for_id(ctx: FileContext) -> Iterator[Finding]:
    """
    ## What it does
    Flags `obj.author.id` / `obj.author.pk` where `obj` is a row of a query
    or a fetched object (`get()`, `first()`) and the key is already on the
    row: Django's `obj.author_id` for a forward `ForeignKey`/`OneToOneField`
    (without `to_field`), or the mapped local foreign-key column of a
    SQLAlchemy many-to-one relationship (`post.author_id`). Not flagged when
    the query eager-loads the relation (no query is saved then).

    Test modules and migration files are not checked.

    ## Why is this bad?
    Reading the related object runs a query (per row in a loop) just to
    return a value the row already holds in its foreign-key column.

    ## Example
    ```python
    from django.db import models


    class Author(models.Model):
        name = models.CharField(max_length=100)


    class Book(models.Model):
        author = models.ForeignKey(Author, on_delete=models.CASCADE)


    def author_ids():
        return [book.author.id for book in Book.objects.all()]
    ```

    ## Use instead
    ```python
    from django.db import models


    class Author(models.Model):
        name = models.CharField(max_length=100)


    class Book(models.Model):
        author = models.ForeignKey(Author, on_delete=models.CASCADE)


    def author_ids():
        return [book.author_id for book in Book.objects.all()]
    ```

    ## References
    - [Django: ForeignKey database representation (`<field>_id`)](https://docs.djangoproject.com/en/stable/ref/models/fields/#database-representation)
    - [Django performance: use foreign key values directly](https://docs.djangoproject.com/en/stable/topics/db/optimization/#use-foreign-key-values-directly)
    """
    if not query_rules_apply(ctx):
        return
    for access in row_accesses(ctx):
        if access.covered or not access.relation.forward_single:
            continue
        column = _fk_id_attribute(ctx, access)
        if column is None:
            continue
        parent = access.parent
        replacement = f"{ast.unparse(access.node.value)}.{column}"
        yield ctx.finding("ORM210", access.node, access=ast.unparse(parent),
                          target=access.relation.target.name, replacement=replacement)


# -- shared: queries and writes executed inside loops ---------------------------------------------


@dataclass
class LoopQuery:
    """A query expression that runs on every iteration of its innermost loop."""

    node: ast.AST
    info: QueryInfo
    loops: list[Loop]  # enclosing loops, innermost first
    iterated: bool = False  # a lazy queryset evaluated by iterating it


def in_own_scope(ctx: FileContext, node: ast.AST, loop: Loop) -> bool:
    """False for code in a nested function or lambda of the loop body (not run per iteration)."""
    return enclosing_function(ctx, node) is enclosing_function(ctx, loop.node)


def loop_queries(ctx: FileContext) -> list[LoopQuery]:
    """Every query evaluated inside a loop, reported once at its outermost call (cached per file)."""
    cached = ctx.cache.get("queries.loop_queries")
    if cached is not None:
        return cached
    found: dict[int, LoopQuery] = {}
    seen: set[int] = set()
    for loop in loops(ctx):
        for node in loop.walk_body():
            if id(node) in seen or not isinstance(node, (ast.Call, ast.Subscript, ast.Attribute, ast.Name)):
                continue
            seen.add(id(node))
            if isinstance(node, ast.Name) and not _is_iterated_node(ctx, node):
                continue
            info = query_source(ctx, node)
            if info is None or info.origin in ("related", "prefetched"):
                continue
            iterated = _is_iterated_node(ctx, node)
            if not info.evaluated and not (iterated and info.result in (INSTANCES, ROWS, MANAGER)):
                continue
            around = enclosing_loops(ctx, node)
            if not around or not in_own_scope(ctx, node, around[0]):
                continue
            found[id(node)] = LoopQuery(node, info, around, iterated)
    result = []
    for item in found.values():
        outer = _chain_parent(ctx, item.node)
        if outer is not None and id(outer) in found:
            continue  # the outer call of the same chain is the one reported
        result.append(item)
    result.sort(key=lambda q: (q.node.lineno, q.node.col_offset))
    ctx.cache["queries.loop_queries"] = result
    return result


def _chain_parent(ctx: FileContext, node: ast.AST) -> ast.AST | None:
    """The next link of a method chain or the session call wrapping a statement."""
    parent = parent_of(ctx, node)
    if isinstance(parent, ast.Attribute):
        grand = parent_of(ctx, parent)
        if isinstance(grand, ast.Call) and grand.func is parent:
            return grand
        return None
    if isinstance(parent, ast.Subscript) and parent.value is node:
        return parent
    if isinstance(parent, ast.Call) and node in parent.args:
        return parent
    return None


def _is_iterated_node(ctx: FileContext, node: ast.AST) -> bool:
    parent = parent_of(ctx, node)
    return isinstance(parent, (ast.For, ast.AsyncFor, ast.comprehension)) and parent.iter is node


def _runs_once(ctx: FileContext, node: ast.AST, loop: Loop) -> bool:
    """The statement holding ``node`` is followed by break/return/raise in the same block."""
    if loop.kind == "comprehension":
        return False
    statement = node
    while statement is not None and not isinstance(statement, ast.stmt):
        statement = parent_of(ctx, statement)
    if statement is None:
        return False
    block_owner = parent_of(ctx, statement)
    for name in ("body", "orelse", "finalbody"):
        block = getattr(block_owner, name, None)
        if isinstance(block, list) and any(s is statement for s in block):
            after = block[[id(s) for s in block].index(id(statement)):]
            return any(isinstance(s, (ast.Break, ast.Return, ast.Raise)) for s in after)
    return False


def query_names(item: LoopQuery) -> set[str]:
    """Names the query's arguments read, also through the statements/querysets it was built from."""
    used = names_in(item.node) | names_in(item.info.root)
    for _, call in item.info.chain:
        used |= names_in(call)
    return used


def receiver_names(info: QueryInfo) -> set[str]:
    """Variables that only hold the query itself (``qs``, ``stmt``): not what it depends on."""
    names = set()
    for position, (_, call) in enumerate(info.chain):
        if not isinstance(call, ast.Call):
            continue
        if isinstance(call.func, ast.Attribute) and isinstance(call.func.value, ast.Name):
            names.add(call.func.value.id)
        if position in info.executed_at and call.args and isinstance(call.args[0], ast.Name):
            names.add(call.args[0].id)
    return names


def loop_dependency(item: LoopQuery) -> tuple[Loop, set[str]] | None:
    """The innermost enclosing for-loop whose per-iteration names the query reads."""
    used = query_names(item)
    for loop in item.loops:
        if loop.kind == "while":
            continue
        shared = used & loop.assigned
        if shared:
            return loop, shared
    return None


def batched(item: LoopQuery, names: set[str]) -> bool:
    """Does the query take a whole batch per iteration (``.in_(batch)``, ``id__in=chunk``, ``or_(*preds)``)?

    Chunked loops are the fix ORM202 proposes, not the problem.
    """
    parts: list[ast.AST] = [item.node, item.info.root]
    parts.extend(call for _, call in item.info.chain)
    for part in parts:
        for node in ast.walk(part):
            if isinstance(node, ast.Starred) and names_in(node.value) & names:
                return True
            if not isinstance(node, ast.Call):
                continue
            if isinstance(node.func, ast.Attribute) and node.func.attr in ("in_", "notin_", "not_in", "any_", "all_"):
                if any(names_in(arg) & names for arg in node.args):
                    return True
            for keyword in node.keywords:
                if keyword.arg and keyword.arg.endswith("__in") and names_in(keyword.value) & names:
                    return True
    return False


def counted_loops(item: LoopQuery) -> list[Loop]:
    """Enclosing loops that repeat over data: not bounded literals, not while loops (paging/polling)."""
    return [loop for loop in item.loops if loop.kind != "while" and not loop.bounded]


def lookup_of(ctx: FileContext, info: QueryInfo, names: set[str]) -> str:
    """The field a query filters with a loop-dependent value: ``pk``, ``author``, ``id``."""
    for _name, call in info.chain:
        if not isinstance(call, ast.Call):
            continue
        for keyword in call.keywords:
            if keyword.arg and names_in(keyword.value) & names:
                return keyword.arg
        for arg in call.args:
            if isinstance(arg, ast.Compare) and len(arg.ops) == 1 and isinstance(arg.ops[0], ast.Eq):
                left, right = arg.left, arg.comparators[0]
                if isinstance(left, ast.Attribute) and names_in(right) & names:
                    return left.attr
    if isinstance(info.root, ast.Call) and len(info.root.args) >= 2 and info.origin == "session_get":
        return info.model.pk_name
    return ""


def query_in_loop_fix(ctx: FileContext, item: LoopQuery, names: set[str]) -> str:
    info = item.info
    model = info.model.name
    field = lookup_of(ctx, info, names)
    if info.framework == "django":
        manager = ast.unparse(info.root) if info.origin == "manager" else f"{model}.objects"
        if info.terminal in ("get_or_create", "update_or_create", "aget_or_create", "aupdate_or_create"):
            lookup = f"{field}__in=..." if field else "..."
            return (f"fetch the existing rows once with {manager}.filter({lookup}), then "
                    f"{manager}.bulk_create(missing, ignore_conflicts=True)")
        if info.terminal in ("get", "aget") and field in ("pk", "id", info.model.pk_name):
            return f"load every row once before the loop with {manager}.in_bulk(ids)"
        if field:
            head, _, lookup = field.rpartition("__")
            if head and lookup not in ("exact", "in", "pk", "id") and lookup not in info.model.fields:
                if lookup == "iexact":
                    field = head
                else:
                    return f"combine the per-item conditions into one {manager}.filter(Q(...) | Q(...)) before the loop"
            lookup = f"{field.removesuffix('__exact')}__in=..."
            return f"query once before the loop with {manager}.filter({lookup}) and look rows up in a dict"
        return f"query {model} once before the loop and look rows up in a dict"
    column = field or info.model.pk_name
    if info.origin == "session_get" or (info.origin in ("query", "model_query") and info.terminal == "get"):
        column = info.model.pk_name
    if info.origin in ("query", "model_query"):
        return (f"query once before the loop with {ast.unparse(info.root)}.filter({model}.{column}.in_(...)) "
                "and look rows up in a dict")
    return f"select once before the loop with select({model}).where({model}.{column}.in_(...)) and look rows up in a dict"


@rule(
    "ORM202",
    "query-in-loop",
    Severity.MAJOR,
    Category.QUERIES,
    "query in loop: {query} runs once per iteration with '{names}'; {fix}",
)
def query_in_loop(ctx: FileContext) -> Iterator[Finding]:
    """
    ## What it does
    Flags a query executed inside a `for` loop or comprehension whose
    arguments depend on the loop variable (or on names assigned in the loop):
    `Model.objects.get(pk=x.id)`, `.filter(..x..).first()` / `.exists()` /
    `.count()`, iterating `Model.objects.filter(owner=x)`, SQLAlchemy
    `session.get(M, x.id)`, `session.execute(select(M).where(M.id == x.id))`,
    `session.scalars(..)`, `M.query.get(x)`, `session.query(M).filter(..)
    .first()`.

    Not flagged: loops over a literal list/tuple (bounded), `while` loops
    (keyset paging and polling re-query on purpose), chunked loops whose
    query takes the whole batch (`.in_(batch)`, `id__in=chunk`,
    `or_(*predicates)`), code in a nested function, a query followed by
    `break`/`return` in the same block, and relation access on a loop row
    (that is ORM201/ORM209). Writes are ORM204; test modules and migrations
    are skipped.

    ## Why is this bad?
    One round trip per item: a list of 500 ids becomes 500 queries. A
    single `in_bulk(ids)`, `filter(id__in=ids)` or `where(M.id.in_(ids))`
    before the loop returns the same rows in one query.

    ## Example
    ```python
    from django.db import models


    class Product(models.Model):
        sku = models.CharField(max_length=20, unique=True)


    def products_for(skus):
        return [Product.objects.get(sku=sku) for sku in skus]
    ```

    ## Use instead
    ```python
    from django.db import models


    class Product(models.Model):
        sku = models.CharField(max_length=20, unique=True)


    def products_for(skus):
        by_sku = {p.sku: p for p in Product.objects.filter(sku__in=skus)}
        return [by_sku[sku] for sku in skus]
    ```

    ## References
    - [Django: in_bulk()](https://docs.djangoproject.com/en/stable/ref/models/querysets/#in-bulk)
    - [Django: the `in` lookup](https://docs.djangoproject.com/en/stable/ref/models/querysets/#in)
    - [SQLAlchemy: ColumnOperators.in_()](https://docs.sqlalchemy.org/en/20/core/sqlelement.html#sqlalchemy.sql.expression.ColumnOperators.in_)
    """
    if not query_rules_apply(ctx):
        return
    for item in loop_queries(ctx):
        if item.info.result == WRITE:
            continue
        if not counted_loops(item) or item.loops[0].kind == "while" or item.loops[0].bounded:
            continue
        dependency = loop_dependency(item)
        if dependency is None:
            continue
        loop, names = dependency
        if loop.bounded or _runs_once(ctx, item.node, item.loops[0]) or batched(item, names):
            continue
        names = (names - receiver_names(item.info)) or names
        yield ctx.finding("ORM202", item.node, query=item.info.describe(), names=", ".join(sorted(names)),
                          fix=query_in_loop_fix(ctx, item, names))


# -- ORM204 -----------------------------------------------------------------------------------

INSTANCE_WRITES = {"save", "delete", "asave", "adelete"}
RELATED_WRITES = {"add", "remove", "create", "aadd", "aremove", "acreate"}
SESSION_WRITES = {"commit", "flush"}


def assigned_fields(loop: Loop, name: str, model: ModelFact) -> list[str]:
    """Model fields assigned on ``name`` in the loop body (``obj.status = ..``), in order."""
    fields: list[str] = []
    for node in loop.walk_body():
        if isinstance(node, ast.Assign):
            targets = node.targets
        elif isinstance(node, (ast.AugAssign, ast.AnnAssign)):
            targets = [node.target]
        else:
            continue
        for target in targets:
            if (isinstance(target, ast.Attribute) and isinstance(target.value, ast.Name) and target.value.id == name
                    and model.field_for(target.attr) is not None and target.attr not in fields):
                fields.append(target.attr)
    return fields


def per_iteration_loop(ctx: FileContext, node: ast.AST) -> Loop | None:
    """The loop that runs ``node`` once per data item (not while/bounded/once-only, same scope)."""
    around = enclosing_loops(ctx, node)
    if not around:
        return None
    loop = around[0]
    if loop.kind == "while" or loop.bounded or not in_own_scope(ctx, node, loop) or _runs_once(ctx, node, loop):
        return None
    return loop


def write_in_loop_findings(ctx: FileContext) -> Iterator[tuple[ast.Call, str]]:
    for loop in loops(ctx):
        for node in loop.walk_body():
            if not isinstance(node, ast.Call) or not isinstance(node.func, ast.Attribute):
                continue
            around = enclosing_loops(ctx, node)
            if not around or around[0] is not loop:
                continue  # handled by the innermost loop
            fix = write_fix(ctx, node, loop)
            if fix and per_iteration_loop(ctx, node) is loop:
                yield node, fix


def write_fix(ctx: FileContext, node: ast.Call, loop: Loop) -> str | None:
    """The batch form of a per-row write, or None when ``node`` is not a write we know."""
    method = node.func.attr  # type: ignore[union-attr]
    receiver = node.func.value  # type: ignore[union-attr]
    if method in INSTANCE_WRITES:
        instance = instance_of(ctx, receiver)
        if instance is None or instance.model.framework != "django":
            return None
        model = instance.model.name
        if method in ("delete", "adelete"):
            if instance.kind == "row" and instance.source is not None and not instance.relative_path:
                return f"delete the rows in one query: {instance.source.describe()}.delete()"
            return f"delete them in one query: {model}.objects.filter(pk__in=...).delete()"
        if instance.kind == "new":
            return f"build the objects in the loop and call {model}.objects.bulk_create(objs) once after it"
        name = receiver.id if isinstance(receiver, ast.Name) else ""
        fields = assigned_fields(loop, name, instance.model) if name else []
        listed = ", ".join(f'"{f}"' for f in fields) if fields else "..."
        return f"collect the objects and call {model}.objects.bulk_update(objs, [{listed}]) once after the loop"
    if method in SESSION_WRITES and not node.args and is_session_like(ctx, receiver):
        if _deliberate_flush(ctx, node, loop):
            return None
        return f"{method} once after the loop (one transaction for all items; session.add() batches the rows until then)"
    info = query_source(ctx, node)
    if info is None or info.result != WRITE or not info.evaluated:
        return None
    model = info.model.name
    if info.origin == "related":
        if method not in RELATED_WRITES:
            return None
        owner = info.root.value if isinstance(info.root, ast.Attribute) else None
        relation = info.relation.name if info.relation else "relation"
        if method in ("add", "aadd", "remove", "aremove") and owner is not None and not (names_in(owner) & loop.assigned):
            return f"collect the objects and call {ast.unparse(owner)}.{relation}.{method}(*objs) once"
        if info.relation is not None and info.relation.kind in ("m2m", "reverse_m2m") and info.relation.field is not None:
            declaring = info.relation.target if info.relation.kind == "reverse_m2m" else info.relation.model
            through = f"{declaring.name}.{info.relation.field.name}.through" if declaring else "the through model"
            return f"create the links in one query with {through}.objects.bulk_create([...])"
        return f"create the rows in one query with {model}.objects.bulk_create([...])"
    if info.framework == "django":
        if method in ("create", "acreate"):
            return f"build {model}(...) objects in the loop and call {model}.objects.bulk_create(objs) once after it"
        if method in ("update", "aupdate"):
            fields = ", ".join(f'"{k.arg}"' for k in node.keywords if k.arg) or "..."
            return f"set the values on the objects and call {model}.objects.bulk_update(objs, [{fields}]) once"
        if method in ("delete", "adelete"):
            return f"delete in one query: {model}.objects.filter(pk__in=...).delete()"
        return None
    verb = _statement_verb(ctx, info)
    if verb == "insert":
        return f"execute once with a list of rows: session.execute(insert({model}), rows)"
    if verb == "update":
        return f"execute once with a list of rows keyed by primary key: session.execute(update({model}), rows)"
    if verb == "delete":
        return f"delete in one statement: delete({model}).where({model}.{info.model.pk_name}.in_(...))"
    if method in ("update", "delete"):
        return f"one {method}() for all items with {model}.{info.model.pk_name}.in_(...)"
    return None


def _deliberate_flush(ctx: FileContext, node: ast.AST, loop: Loop) -> bool:
    """A commit/flush that batches (``if n % 500 == 0:``, ``if len(buffer) >= N:``) or detects
    conflicts per row (inside ``try:`` with an ``except``)."""
    receiver = node.func.value if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) else None
    if receiver is not None and names_in(receiver) & loop.assigned:
        return True  # a session opened per iteration: each item is its own unit of work
    current = parent_of(ctx, node)
    while current is not None and current is not loop.node:
        if isinstance(current, ast.Try) and (current.handlers or current.finalbody):
            return True
        if isinstance(current, ast.If):
            for part in ast.walk(current.test):
                if isinstance(part, ast.BinOp) and isinstance(part.op, ast.Mod):
                    return True
                if isinstance(part, ast.Call) and isinstance(part.func, ast.Name) and part.func.id == "len":
                    return True
        current = parent_of(ctx, current)
    return False


def _statement_verb(ctx: FileContext, info: QueryInfo) -> str:
    root = info.root
    if isinstance(root, ast.Call):
        kind = canonical_of(ctx, root.func) if isinstance(root.func, (ast.Name, ast.Attribute)) else None
        if kind and kind.split(":", 1)[1] in ("insert", "update", "delete"):
            return kind.split(":", 1)[1]
        if isinstance(root.func, ast.Attribute) and root.func.attr in ("insert", "update", "delete"):
            return root.func.attr
    return ""


@rule(
    "ORM204",
    "write-in-loop",
    Severity.MAJOR,
    Category.QUERIES,
    "write in loop: {call} runs once per iteration; {fix}",
)
def write_in_loop(ctx: FileContext) -> Iterator[Finding]:
    """
    ## What it does
    Flags a database write on every iteration of a `for` loop or
    comprehension: `obj.save()` / `obj.delete()` on a model instance,
    `Model.objects.create(..)`, `qs.update(..)` / `qs.delete()` per item,
    many-to-many `.add(x)` / `.remove(x)` per item; SQLAlchemy
    `session.commit()` / `session.flush()` per item and `session.execute(..)`
    / `connection.execute(..)` of an `insert()` / `update()` / `delete()`
    per item, `Query.update()` / `.delete()` per item.

    `session.add()` in a loop is fine (the session batches the inserts until
    the flush) and is never flagged; nor are loops over literals, `while`
    loops, writes followed by `break`/`return`, `save()` on objects whose
    model is unknown (forms, files, images), a periodic commit/flush
    (`if n % 500 == 0:`, `if len(batch) >= N:`), a commit/flush inside
    `try:` (per-row conflict detection or cleanup), a commit on a session
    opened inside the loop (one unit of work per item), test modules and
    migrations.

    ## Why is this bad?
    Each write is its own round trip (and, in autocommit, its own
    transaction and fsync). `bulk_create`, `bulk_update`, one
    `QuerySet.update()` / `.delete()`, `add(*objs)`, an executemany
    `session.execute(insert(M), rows)` or a single commit do the same work
    in one statement.

    ## Example
    ```python
    from django.db import models


    class Book(models.Model):
        status = models.CharField(max_length=20)


    def publish_all():
        for book in Book.objects.filter(status="ready"):
            book.status = "live"
            book.save()
    ```

    ## Use instead
    ```python
    from django.db import models


    class Book(models.Model):
        status = models.CharField(max_length=20)


    def publish_all():
        Book.objects.filter(status="ready").update(status="live")
    ```

    ## References
    - [Django: bulk_create](https://docs.djangoproject.com/en/stable/ref/models/querysets/#bulk-create)
    - [Django: bulk_update](https://docs.djangoproject.com/en/stable/ref/models/querysets/#bulk-update)
    - [SQLAlchemy: ORM bulk INSERT statements](https://docs.sqlalchemy.org/en/20/orm/queryguide/dml.html#orm-bulk-insert-statements)
    """
    if not query_rules_apply(ctx):
        return
    for node, fix in write_in_loop_findings(ctx):
        yield ctx.finding("ORM204", node, call=_label(node.func) + "()", fix=fix)


# -- ORM205 / ORM206 / ORM207: evaluating whole querysets in Python --------------------------------

BUILTIN_AGGREGATES = {"sum": "Sum", "min": "Min", "max": "Max"}


def builtin_call(ctx: FileContext, node: ast.AST, *names: str) -> bool:
    """A call of a builtin (not shadowed by an import or a module-level definition)."""
    return (isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id in names
            and node.func.id not in ctx.imports.names and len(node.args) == 1 and not node.keywords)


def whole_query(ctx: FileContext, node: ast.AST) -> QueryInfo | None:
    """A query expression whose rows Python would load (not a per-row relation: that is ORM201)."""
    info = query_source(ctx, node)
    if info is None or info.result not in (INSTANCES, ROWS, MANAGER) or info.bounded:
        return None
    if info.origin == "prefetched":
        return None
    if info.origin == "related":
        owner = info.owner
        if info.framework != "django" or owner is None or owner.kind == "row":
            return None
        if owner.query is not None and owner.query.covers(info.path):
            return None
    return info


def used_later(ctx: FileContext, name_node: ast.AST, exclude: ast.AST | None = None) -> bool:
    """Is the variable used anywhere else in its function (outside ``exclude``)?

    Any other read counts, before or after: an earlier ``if qs:`` or
    ``len(qs)`` has already evaluated and cached the rows.  Reads that only
    refine the query into the same name (``qs = qs.filter(..)``) do not.
    """
    if not isinstance(name_node, ast.Name):
        return False
    scope = enclosing_function(ctx, name_node) or ctx.tree
    skip = {id(n) for n in ast.walk(exclude)} if exclude is not None else set()
    for node in _name_reads(ctx, scope).get(name_node.id, ()):
        if node is not name_node and id(node) not in skip and not _refines_itself(ctx, node):
            return True
    return False


def _name_reads(ctx: FileContext, scope: ast.AST) -> dict[str, list[ast.Name]]:
    """Name -> its loaded ``ast.Name`` nodes anywhere under ``scope``; one walk per scope, not one per question."""
    table = ctx.cache.setdefault("queries.name_reads", {})
    reads = table.get(id(scope))
    if reads is None:
        reads = table[id(scope)] = {}
        for node in ast.walk(scope):
            if isinstance(node, ast.Name) and isinstance(node.ctx, ast.Load):
                reads.setdefault(node.id, []).append(node)
    return reads


def _refines_itself(ctx: FileContext, node: ast.Name) -> bool:
    """``qs`` in ``qs = qs.filter(..)``: the receiver of a chain assigned back to the same name."""
    current: ast.AST | None = node
    while current is not None:
        parent = parent_of(ctx, current)
        if isinstance(parent, ast.Assign):
            return parent.value is current and any(isinstance(t, ast.Name) and t.id == node.id for t in parent.targets)
        if isinstance(parent, ast.Attribute) and parent.value is current:
            current = parent
        elif isinstance(parent, ast.Call) and parent.func is current:
            current = parent
        else:
            return False
    return False


def query_rules_apply(ctx: FileContext) -> bool:
    """Query-site rules skip migrations (historical models) and test modules (fixtures and setup loops)."""
    return not ctx.is_migration and ctx.kind != "test" and os.path.basename(ctx.path) not in ("tests.py", "test.py")


def count_fix(ctx: FileContext, node: ast.AST, info: QueryInfo) -> str:
    base = node
    if isinstance(base, ast.Call) and isinstance(base.func, ast.Attribute) and base.func.attr == "all" and not base.args:
        base = base.func.value
    if isinstance(base, ast.Call) and builtin_call(ctx, base, "list", "tuple"):
        base = base.args[0]
    if isinstance(base, ast.Name) and info.evaluated:
        # ``rows = list(qs)`` / ``.all()``: count on the query, not on the list
        text = info.describe().removesuffix(".all()")
        if info.framework == "django" or info.origin in ("query", "model_query"):
            return f"{text}.count()"
    elif info.framework == "django" or info.origin in ("query", "model_query"):
        return f"{_label(base)}.count()"
    where = ".where(...)" if info.has("where", "filter", "filter_by") else ""
    return f"session.scalar(select(func.count()).select_from({info.model.name}){where})"


def exists_fix(info: QueryInfo, base: ast.AST | None) -> str:
    if info.framework == "django":
        text = _label(base) if base is not None else info.describe()
        for suffix in (".all()", ".first()", ".count()", ".last()"):
            text = text.removesuffix(suffix)
        return f"{text}.exists()"
    if info.origin in ("query", "model_query"):
        return f"session.query({_label(base) if base is not None else _label(info.root)}.exists()).scalar()"
    where = ".where(...)" if info.has("where", "filter", "filter_by") else ""
    return f"session.scalar(select(exists(){where or '.where(...)'}))"


def existence_tests(ctx: FileContext) -> Iterator[tuple[ast.AST, str, QueryInfo, ast.AST | None]]:
    """(node to report, what it does, query, the query expression) for ORM206."""
    for node in ctx.nodes_of(ast.Compare, ast.If, ast.While, ast.IfExp, ast.Assert, ast.Call):
        if isinstance(node, ast.Compare) and len(node.ops) == 1:
            found = _count_comparison(ctx, node) or _first_is_none(ctx, node)
            if found is not None:
                yield found
        elif isinstance(node, (ast.If, ast.While, ast.IfExp, ast.Assert)):
            for test in _test_operands(node.test):
                info = whole_query(ctx, test)
                if info is not None and not info.evaluated and not used_later(ctx, test, node.test):
                    yield test, "evaluates and caches every row only to test truthiness", info, test
        elif builtin_call(ctx, node, "bool"):
            info = whole_query(ctx, node.args[0])
            if info is not None and not used_later(ctx, node.args[0], node):
                yield node, "evaluates and caches every row only to test truthiness", info, node.args[0]


def _test_operands(test: ast.AST) -> list[ast.AST]:
    if isinstance(test, ast.UnaryOp) and isinstance(test.op, ast.Not):
        return _test_operands(test.operand)
    if isinstance(test, ast.BoolOp):
        return [leaf for value in test.values for leaf in _test_operands(value)]
    return [test]


def _zero_test(node: ast.Compare) -> ast.AST | None:
    """The counted side of ``x > 0``, ``x == 0``, ``x != 0``, ``x >= 1``, ``x < 1``, ``0 < x``."""
    left, op, right = node.left, node.ops[0], node.comparators[0]

    def number(n: ast.AST) -> int | None:
        return n.value if isinstance(n, ast.Constant) and type(n.value) is int else None

    if number(right) == 0 and isinstance(op, (ast.Gt, ast.Eq, ast.NotEq, ast.LtE)):
        return left
    if number(right) == 1 and isinstance(op, (ast.GtE, ast.Lt)):
        return left
    if number(left) == 0 and isinstance(op, (ast.Lt, ast.Eq, ast.NotEq, ast.GtE)):
        return right
    return None


def _count_comparison(ctx: FileContext, node: ast.Compare):
    counted = _zero_test(node)
    if counted is None:
        return None
    if builtin_call(ctx, counted, "len"):
        info = whole_query(ctx, counted.args[0])
        if info is not None and not used_later(ctx, counted.args[0], node):
            return node, "loads every row only to compare their number with 0", info, counted.args[0]
        return None
    if isinstance(counted, ast.Call) and isinstance(counted.func, ast.Attribute) and counted.func.attr == "count":
        info = query_source(ctx, counted)
        if info is None or info.terminal != "count" or info.origin in ("related", "prefetched"):
            return None
        receiver = counted.func.value
        if used_later(ctx, receiver, node):
            return None
        return node, "counts every matching row only to compare with 0", info, receiver
    return None


def _first_is_none(ctx: FileContext, node: ast.Compare):
    op, right = node.ops[0], node.comparators[0]
    if not (isinstance(op, (ast.Is, ast.IsNot)) and isinstance(right, ast.Constant) and right.value is None):
        return None
    left = node.left
    if not (isinstance(left, ast.Call) and isinstance(left.func, ast.Attribute) and left.func.attr in ("first", "one_or_none")):
        return None
    info = query_source(ctx, left)
    if info is None or info.origin in ("related", "prefetched") or info.terminal not in ("first", "one_or_none"):
        return None
    if info.columns_only or any(name in DJANGO_ROWS for name, _ in info.chain):
        return None  # one narrow row with LIMIT 1 (session.query(M.id), values_list("id")) costs what EXISTS costs
    if used_later(ctx, left.func.value, node):
        return None
    return node, "fetches a whole row only to test that one exists", info, left.func.value


@rule(
    "ORM205",
    "len-of-queryset",
    Severity.MAJOR,
    Category.QUERIES,
    "len() of {query} loads every row to count them; use {fix}",
)
def len_of_queryset(ctx: FileContext) -> Iterator[Finding]:
    """
    ## What it does
    Flags `len(<query expression>)` (also `len(qs.all())`, `len(list(qs))`,
    `len(session.scalars(..).all())`, `len(q.all())`) when the rows are not
    iterated or reused afterwards in the same function. Comparisons of the
    length with 0 are ORM206.

    Test modules and migration files are not checked.

    ## Why is this bad?
    `len()` fetches and builds every row to count them in Python. The
    database counts without transferring anything: `.count()` /
    `select(func.count())`. When the rows are used afterwards, evaluating
    once and taking `len()` is right, and the rule stays silent.

    ## Example
    ```python
    from django.db import models


    class Order(models.Model):
        status = models.CharField(max_length=20)


    def open_orders():
        return len(Order.objects.filter(status="open"))
    ```

    ## Use instead
    ```python
    from django.db import models


    class Order(models.Model):
        status = models.CharField(max_length=20)


    def open_orders():
        return Order.objects.filter(status="open").count()
    ```

    ## References
    - [Django: count()](https://docs.djangoproject.com/en/stable/ref/models/querysets/#count)
    - [SQLAlchemy: counting rows with func.count()](https://docs.sqlalchemy.org/en/20/tutorial/data_select.html#tutorial-group-by-w-aggregates)
    """
    if not query_rules_apply(ctx):
        return
    comparisons = {id(n.left) for n in ctx.nodes_of(ast.Compare) if _zero_test(n) is not None}
    comparisons |= {id(n.comparators[0]) for n in ctx.nodes_of(ast.Compare) if len(n.ops) == 1}
    for node in ctx.nodes_of(ast.Call):
        if not builtin_call(ctx, node, "len") or id(node) in comparisons:
            continue
        argument = node.args[0]
        info = whole_query(ctx, argument)
        if info is None or used_later(ctx, argument, node):
            continue
        if info.origin == "related" and info.framework != "django":
            continue
        yield ctx.finding("ORM205", node, query=_label(argument), fix=count_fix(ctx, argument, info))


@rule(
    "ORM206",
    "inefficient-existence-check",
    Severity.MINOR,
    Category.QUERIES,
    "existence check: '{test}' {what}; use {fix}",
)
def inefficient_existence_check(ctx: FileContext) -> Iterator[Finding]:
    """
    ## What it does
    Flags a query used only to test whether rows exist: `if qs:`,
    `bool(qs)`, `not qs`, `qs.count() > 0` / `== 0` / `>= 1`,
    `len(qs) > 0`, `qs.first() is not None` / `is None`, and the SQLAlchemy
    forms `q.count() > 0` / `q.first() is not None` /
    `session.scalars(..).first() is None`. Not flagged when the same
    queryset variable is iterated or used afterwards: then evaluating it
    once is right. A `first()` over selected columns only
    (`session.query(User.id)`, `select(User.id)`, `.values_list("id")`)
    is not flagged either: one narrow row with `LIMIT 1` costs what
    `EXISTS` costs (mlflow's existence checks are written this way).

    Test modules and migration files are not checked.

    ## Why is this bad?
    Truthiness and `len()` fetch every row; `count()` counts them all;
    `first()` fetches and orders a whole row. `EXISTS` / `LIMIT 1` stops at
    the first match and transfers nothing.

    ## Example
    ```python
    from django.db import models


    class Coupon(models.Model):
        code = models.CharField(max_length=20)


    def is_taken(code):
        return Coupon.objects.filter(code=code).count() > 0
    ```

    ## Use instead
    ```python
    from django.db import models


    class Coupon(models.Model):
        code = models.CharField(max_length=20)


    def is_taken(code):
        return Coupon.objects.filter(code=code).exists()
    ```

    ## References
    - [Django: exists()](https://docs.djangoproject.com/en/stable/ref/models/querysets/#exists)
    - [SQLAlchemy: exists()](https://docs.sqlalchemy.org/en/20/core/selectable.html#sqlalchemy.sql.expression.exists)
    """
    if not query_rules_apply(ctx):
        return
    seen = set()
    for node, what, info, base in existence_tests(ctx):
        if id(node) in seen:
            continue
        seen.add(id(node))
        yield ctx.finding("ORM206", node, test=_label(node), what=what, fix=exists_fix(info, base))


def _plain_field(model: ModelFact, name: str) -> bool:
    if name == "pk" or (name == "id" and model.pk_name == "id"):
        return True
    fact = model.field_for(name)
    return fact is not None and fact.relation in ("", "fk", "o2o") and (fact.relation == "" or name != fact.name)


def _attribute_of(node: ast.AST, target: str) -> str | None:
    if isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name) and node.value.id == target:
        return node.attr
    return None


def python_aggregations(ctx: FileContext) -> Iterator[tuple[ast.AST, str, str]]:
    """(node, what, fix) for ORM207; comprehension nodes it covers are listed in ctx.cache for ORM208."""
    covered: set[int] = ctx.cache.setdefault("queries.orm207_comprehensions", set())
    for node in ctx.nodes_of(ast.Call):
        if builtin_call(ctx, node, *BUILTIN_AGGREGATES, "len"):
            comp = node.args[0]
            if not isinstance(comp, (ast.GeneratorExp, ast.ListComp)) or len(comp.generators) != 1:
                continue
            generator = comp.generators[0]
            info = whole_query(ctx, generator.iter)
            if info is None or info.result == ROWS or not isinstance(generator.target, ast.Name):
                continue
            target = generator.target.id
            name = node.func.id  # type: ignore[union-attr]
            if name == "len":
                if not generator.ifs:
                    continue
                covered.add(id(comp))
                yield node, "counts rows in Python", filter_fix(info, generator, target, count=True)
                continue
            field = _attribute_of(comp.elt, target)
            if field is None or not _plain_field(info.model, field):
                continue
            covered.add(id(comp))
            yield node, f"computes {name}() in Python", aggregate_fix(info, name, field, bool(generator.ifs))
    for node in ctx.nodes_of(ast.ListComp, ast.GeneratorExp, ast.SetComp):
        if id(node) not in covered:
            if len(node.generators) != 1 or not node.generators[0].ifs:
                continue
            generator = node.generators[0]
            info = whole_query(ctx, generator.iter)
            if info is None or info.result == ROWS or not isinstance(generator.target, ast.Name):
                continue
            target = generator.target.id
            if all(_translatable_condition(info.model, cond, target) for cond in generator.ifs):
                covered.add(id(node))
                yield node, "filters rows in Python", filter_fix(info, generator, target, count=False)


def _translatable_condition(model: ModelFact, cond: ast.AST, target: str) -> bool:
    """``x.f == v`` / ``x.f > v`` / ``x.f in (..)`` on a plain column, ``v`` not reading the row."""
    if not (isinstance(cond, ast.Compare) and len(cond.ops) == 1):
        return False
    field = _attribute_of(cond.left, target)
    if field is None or not _plain_field(model, field):
        return False
    if not isinstance(cond.ops[0], (ast.Eq, ast.NotEq, ast.Lt, ast.LtE, ast.Gt, ast.GtE, ast.In)):
        return False
    return target not in names_in(cond.comparators[0])


def _lookup(cond: ast.AST, target: str) -> str:
    if isinstance(cond, ast.Compare) and len(cond.ops) == 1:
        field = _attribute_of(cond.left, target)
        suffix = {ast.Eq: "", ast.Lt: "__lt", ast.LtE: "__lte", ast.Gt: "__gt", ast.GtE: "__gte", ast.In: "__in",
                  ast.NotEq: ""}.get(type(cond.ops[0]))
        if field is not None and suffix is not None:
            value = _label(cond.comparators[0], 30)
            if isinstance(cond.ops[0], ast.NotEq):
                return f"exclude({field}={value})"
            return f"{field}{suffix}={value}"
    return "..."


def filter_fix(info: QueryInfo, generator: ast.comprehension, target: str, count: bool) -> str:
    base = _label(generator.iter).removesuffix(".all()")
    if info.framework == "django":
        lookups = [_lookup(cond, target) for cond in generator.ifs]
        excludes = [item for item in lookups if item.startswith("exclude(")]
        filters = [item for item in lookups if not item.startswith("exclude(")]
        text = base + (f".filter({', '.join(filters)})" if filters else "") + "".join(f".{e}" for e in excludes)
        return text + (".count()" if count else "")
    model = info.model.name
    conditions = []
    for cond in generator.ifs:
        if isinstance(cond, ast.Compare) and _attribute_of(cond.left, target) and len(cond.ops) == 1:
            rendered = ast.unparse(ast.Compare(ast.Attribute(ast.Name(model), cond.left.attr), cond.ops, cond.comparators))
            conditions.append(rendered)
    where = f".where({', '.join(conditions) or '...'})"
    if count:
        return f"session.scalar(select(func.count()).select_from({model}){where})"
    return f"the condition in the query: select({model}){where}"


def aggregate_fix(info: QueryInfo, function: str, field: str, filtered: bool) -> str:
    if info.framework == "django":
        label = "total" if function == "sum" else function
        text = _label(info.node)
        for suffix in (".all()",):
            text = text.removesuffix(suffix)
        extra = ".filter(...)" if filtered else ""
        return f'{text}{extra}.aggregate({label}={BUILTIN_AGGREGATES[function]}("{field}"))["{label}"]'
    model = info.model.name
    where = ".where(...)" if filtered or info.has("where", "filter", "filter_by") else ""
    return f"session.scalar(select(func.{function}({model}.{field})){where})"


@rule(
    "ORM207",
    "python-side-aggregation",
    Severity.MAJOR,
    Category.QUERIES,
    "Python-side aggregation: '{expression}' {what} over every row; use {fix}",
)
def python_side_aggregation(ctx: FileContext) -> Iterator[Finding]:
    """
    ## What it does
    Flags aggregation and filtering done in Python over the rows of a query:
    `sum(x.amount for x in qs)` / `min(..)` / `max(..)` (generator or list
    comprehension) over a plain column, `len([x for x in qs if ..])`, and
    `[x for x in qs if x.status == "open"]` when every condition compares a
    plain column of the row with a value that does not depend on the row.

    Test modules and migration files are not checked.

    ## Why is this bad?
    Every row is fetched and turned into an object to compute one number or
    keep a few rows. The database does it with an index and returns only
    the result: `aggregate(Sum("amount"))`, `filter(..).count()`,
    `filter(status="open")`, `select(func.sum(M.amount))`.

    ## Example
    ```python
    from django.db import models


    class Payment(models.Model):
        amount = models.DecimalField(max_digits=10, decimal_places=2)


    def revenue():
        return sum(p.amount for p in Payment.objects.all())
    ```

    ## Use instead
    ```python
    from django.db import models
    from django.db.models import Sum


    class Payment(models.Model):
        amount = models.DecimalField(max_digits=10, decimal_places=2)


    def revenue():
        return Payment.objects.aggregate(total=Sum("amount"))["total"]
    ```

    ## References
    - [Django: aggregation](https://docs.djangoproject.com/en/stable/topics/db/aggregation/)
    - [SQLAlchemy: aggregate functions](https://docs.sqlalchemy.org/en/20/tutorial/data_select.html#aggregate-functions-with-group-by-having)
    """
    if not query_rules_apply(ctx):
        return
    for node, what, fix in python_aggregations(ctx):
        yield ctx.finding("ORM207", node, expression=_label(node), what=what, fix=fix)


# -- ORM203 -----------------------------------------------------------------------------------


def _opaque_calls(ctx: FileContext, info: QueryInfo) -> bool:
    """Do the query's arguments call something that may differ per call (``now()``, helpers)?"""
    arguments: list[ast.AST] = []
    for _, call in info.chain:
        if isinstance(call, ast.Call):
            arguments.extend(call.args)
            arguments.extend(k.value for k in call.keywords)
    if isinstance(info.root, ast.Call):
        arguments.extend(info.root.args[1:] if info.origin == "session_get" else info.root.args)
    for argument in arguments:
        for node in ast.walk(argument):
            if isinstance(node, ast.Call) and isinstance(node.func, (ast.Name, ast.Attribute)):
                if canonical_of(ctx, node.func) is None and query_source(ctx, node) is None:
                    return True
    return False


def writes_in_loop(ctx: FileContext, loop: Loop, model: ModelFact) -> bool:
    """Does the loop body write (or may it write) rows of ``model``?"""
    for node in loop.walk_body():
        if not isinstance(node, ast.Call) or not isinstance(node.func, ast.Attribute):
            continue
        method = node.func.attr
        if method in ("save", "delete", "asave", "adelete", "add", "commit", "flush", "merge", "bulk_create",
                      "bulk_update", "update", "create", "get_or_create", "update_or_create", "execute",
                      "remove", "set", "clear"):
            info = query_source(ctx, node)
            if info is not None and info.model.qualname != model.qualname and info.result == WRITE:
                continue
            instance = instance_of(ctx, node.func.value)
            if instance is not None and instance.model.qualname != model.qualname:
                continue
            return True
    return False


# Calls that cannot change the database: the loop may re-read it only because of other calls.
PURE_BUILTINS = {"print", "len", "str", "int", "float", "bool", "repr", "format", "sorted", "list", "dict", "set",
                 "tuple", "min", "max", "sum", "abs", "round", "isinstance", "getattr", "hasattr", "enumerate",
                 "zip", "range", "any", "all", "map", "filter", "reversed", "_", "gettext"}
PURE_METHODS = {"append", "extend", "add", "update", "get", "setdefault", "items", "keys", "values", "format",
                "join", "split", "strip", "lower", "upper", "startswith", "endswith", "write", "info", "debug",
                "warning", "error", "exception", "pop", "insert", "sort", "copy", "replace", "count", "index"}


def calls_unknown_code(ctx: FileContext, loop: Loop, query: ast.AST) -> bool:
    """Does the loop body call something that might write (a helper, a method of the row)?"""
    inside_query = {id(n) for n in ast.walk(query)}
    for node in loop.walk_body():
        if not isinstance(node, ast.Call) or id(node) in inside_query:
            continue
        if isinstance(node.func, ast.Name) and node.func.id in PURE_BUILTINS and node.func.id not in ctx.imports.names:
            continue
        if isinstance(node.func, ast.Attribute) and node.func.attr in PURE_METHODS:
            continue
        info = query_source(ctx, node)
        if info is not None and info.result != WRITE:
            continue
        if isinstance(node.func, (ast.Name, ast.Attribute)) and canonical_of(ctx, node.func) is not None:
            continue  # Q(), F(), Count(), select(), ...
        return True
    return False


@rule(
    "ORM203",
    "loop-invariant-query",
    Severity.MAJOR,
    Category.QUERIES,
    "loop-invariant query: {query} returns the same result on every iteration; run it once before the loop",
)
def loop_invariant_query(ctx: FileContext) -> Iterator[Finding]:
    """
    ## What it does
    Flags a query inside a `for` loop or comprehension whose receiver and
    arguments read nothing assigned in the loop (PowerStation's
    loop-invariant rule): `Setting.objects.get(key="vat")`,
    `Tag.objects.count()`, iterating `Tag.objects.all()` in an inner loop,
    `session.scalars(select(M).where(M.flag))` with no per-iteration value.

    Skipped when the loop body writes (or may write) rows of the same model,
    when an argument calls a function (`now()`, a helper) whose value may
    change, for counts, existence tests and lists when the body also calls a
    helper or a method that might write, in `while` loops (polling re-reads on purpose), loops over
    literals, code in nested functions and a query followed by
    `break`/`return`.

    Test modules and migration files are not checked.

    ## Why is this bad?
    The same query runs on every iteration and returns the same rows: N
    round trips for one result. Run it once before the loop and reuse the
    value (materialise a queryset with `list(..)` if it is iterated).

    ## Example
    ```python
    from django.db import models


    class Setting(models.Model):
        key = models.CharField(max_length=50, unique=True)
        value = models.CharField(max_length=200)


    def with_vat(prices):
        return [p * float(Setting.objects.get(key="vat").value) for p in prices]
    ```

    ## Use instead
    ```python
    from django.db import models


    class Setting(models.Model):
        key = models.CharField(max_length=50, unique=True)
        value = models.CharField(max_length=200)


    def with_vat(prices):
        vat = float(Setting.objects.get(key="vat").value)
        return [p * vat for p in prices]
    ```

    ## References
    - [Django: understand QuerySet evaluation and caching](https://docs.djangoproject.com/en/stable/topics/db/optimization/#understand-queryset-evaluation)
    - [UW database group: Introducing PowerStation (loop-invariant queries in ORM code)](https://medium.com/@uwdb/introducing-powerstation-26c8b3a53191)
    """
    if not query_rules_apply(ctx):
        return
    for item in loop_queries(ctx):
        info = item.info
        loop = item.loops[0]
        if info.result == WRITE or loop.kind == "while" or loop.bounded:
            continue
        if query_names(item) & loop.assigned:
            continue
        if _runs_once(ctx, item.node, loop) or _opaque_calls(ctx, info) or writes_in_loop(ctx, loop, info.model):
            continue
        if info.result != "single" and calls_unknown_code(ctx, loop, item.node):
            continue  # a count/exists/list may change because a helper in the loop writes
        yield ctx.finding("ORM203", item.node, query=info.describe())


# -- ORM208 -----------------------------------------------------------------------------------


def orm207_nodes(ctx: FileContext) -> set[int]:
    """Comprehensions ORM207 already reports (ORM208 stays silent on them)."""
    if "queries.orm207" not in ctx.cache:
        ctx.cache["queries.orm207"] = list(python_aggregations(ctx))
    return {id(node) for node, _, _ in ctx.cache["queries.orm207"]} | ctx.cache.get("queries.orm207_comprehensions", set())


def fields_read(ctx: FileContext, loop: Loop, name: str, model: ModelFact) -> list[str] | None:
    """Plain fields read from the loop row, or None when the row is used any other way."""
    fields: list[str] = []
    for node in loop.walk_body():
        if not (isinstance(node, ast.Name) and node.id == name):
            continue
        if isinstance(node.ctx, ast.Store):
            return None
        parent = parent_of(ctx, node)
        if not (isinstance(parent, ast.Attribute) and isinstance(parent.ctx, ast.Load)):
            return None  # passed on, returned, stored, compared as an object
        attribute = parent.attr
        fact = model.field_for(attribute)
        if attribute == "pk":
            attribute = model.pk_name
        elif fact is None or fact.relation not in ("", "fk", "o2o") or (fact.relation and attribute == fact.name):
            if not (attribute == "id" and model.pk_name == "id"):
                return None  # a method, a property or a relation
        grand = parent_of(ctx, parent)
        if isinstance(grand, ast.Call) and grand.func is parent:
            return None
        if attribute not in fields:
            fields.append(attribute)
    return fields


def unused_columns_fix(info: QueryInfo, fields: list[str], loop: Loop) -> str:
    listed = ", ".join(f'"{f}"' for f in fields)
    if info.framework == "django":
        if len(fields) == 1 and loop.kind == "comprehension":
            return f'.values_list({listed}, flat=True)'
        return f".only({listed}) or .values_list({listed})"
    columns = ", ".join(f"{info.model.name}.{f}" for f in fields)
    return f"select({columns}) or .options(load_only({columns}))"


@rule(
    "ORM208",
    "unused-columns",
    Severity.MINOR,
    Category.QUERIES,
    "'{var}' reads only {fields} of each {model} row of {query}; fetch just that with {fix}",
)
def unused_columns(ctx: FileContext) -> Iterator[Finding]:
    """
    ## What it does
    Flags a loop or comprehension over full model instances whose body
    reads only one or two plain columns of the loop variable and never
    passes the object on, stores it, calls its methods or follows a
    relation: `[o.id for o in qs]`, `for u in users: emails.append(u.email)`.
    Queries that already use `values()`, `values_list()`, `only()`,
    `defer()`, `select(M.a, M.b)` or `load_only()` are not flagged, nor are
    comprehensions ORM207 reports, nor a loop over a list of rows that the
    function reads again elsewhere (those reads need the full rows).

    Test modules and migration files are not checked.

    ## Why is this bad?
    Every column of every row is transferred and turned into a model object
    (wide text and JSON columns included) to use one value.
    `values_list("id", flat=True)`, `only(..)`, `select(M.a, M.b)` or
    `load_only(..)` fetch just what is used.

    ## Example
    ```python
    from django.db import models


    class Customer(models.Model):
        email = models.EmailField()
        notes = models.TextField()


    def mailing_list():
        return [c.email for c in Customer.objects.all()]
    ```

    ## Use instead
    ```python
    from django.db import models


    class Customer(models.Model):
        email = models.EmailField()
        notes = models.TextField()


    def mailing_list():
        return list(Customer.objects.values_list("email", flat=True))
    ```

    ## References
    - [Django: values_list()](https://docs.djangoproject.com/en/stable/ref/models/querysets/#values-list)
    - [Django: only()](https://docs.djangoproject.com/en/stable/ref/models/querysets/#only)
    - [SQLAlchemy: load_only()](https://docs.sqlalchemy.org/en/20/orm/queryguide/columns.html#sqlalchemy.orm.load_only)
    """
    if not query_rules_apply(ctx):
        return
    skip = orm207_nodes(ctx)
    for loop in loops(ctx):
        if loop.kind == "while" or loop.bounded or loop.query is None or id(loop.node) in skip:
            continue
        info = loop.query
        if info.origin not in ("manager", "select", "query", "model_query") or info.columns_only:
            continue
        if info.has("only", "defer", "values", "values_list", "with_entities", "options") or info.eager:
            continue
        if len(loop.targets) != 1 or (loop.kind == "comprehension" and len(loop.node.generators) != 1):
            continue
        name, instance = next(iter(loop.targets.items()))
        fields = fields_read(ctx, loop, name, instance.model)
        if not fields or len(fields) > 2:
            continue
        if isinstance(loop.node, (ast.For, ast.AsyncFor)) and loop.node.orelse or _rows_read_elsewhere(ctx, loop):
            continue
        shown = ", ".join(f"'{f}'" for f in fields)
        yield ctx.finding("ORM208", loop.node, var=name, fields=shown, model=instance.model.name,
                          query=info.describe(), fix=unused_columns_fix(info, fields, loop))


def _rows_read_elsewhere(ctx: FileContext, loop: Loop) -> bool:
    """Are the loop's rows a list that the function reads again (mlflow's ``sql_scorer_versions``)?

    Then the other reads need the full rows, and loading them once is right.
    """
    node = loop.node
    iterated = node.generators[0].iter if loop.kind == "comprehension" else getattr(node, "iter", None)
    while isinstance(iterated, ast.Call) and iterated.args and isinstance(iterated.func, ast.Name) \
            and iterated.func.id in ("enumerate", "list", "reversed", "sorted", "zip"):
        iterated = iterated.args[0]
    function = enclosing_function(ctx, node)
    if not isinstance(iterated, ast.Name) or function is None:
        return False
    return any(isinstance(other, ast.Name) and other.id == iterated.id and isinstance(other.ctx, ast.Load)
               and other is not iterated for other in ast.walk(function))


# -- ORM103 -----------------------------------------------------------------------------------

DJANGO_LOOKUP_METHODS = {"filter", "exclude", "get", "order_by", "aget"}
SQLA_LOOKUP_METHODS = {"where", "filter", "filter_by", "order_by"}
EQUALITY_LOOKUPS = {"exact", "in", "isnull"}
RANGE_LOOKUPS = {"gt", "gte", "lt", "lte", "range", "startswith", "date", "year", "month", "day", "week_day",
                 "quarter", "time", "hour", "minute", "second", "iso_year", "week"}
# Lookups a plain b-tree index cannot serve: proposing one would be wrong.
UNINDEXABLE_LOOKUPS = {"contains", "icontains", "iexact", "istartswith", "endswith", "iendswith", "regex",
                       "iregex", "search", "trigram_similar", "unaccent", "overlap", "contained_by", "has_key",
                       "has_keys", "has_any_keys"}


@dataclass
class Lookup:
    model: ModelFact
    field: str
    equality: bool
    own: bool  # written in the expression being reported (not in an earlier step)
    joined: bool = False  # fixed per joined row by a join condition, not by a value: selects nothing by itself


def django_lookups(info: QueryInfo, name: str, call: ast.Call) -> Iterator[tuple[str, bool]]:
    model = info.model
    if name == "order_by":
        for arg in call.args:
            if isinstance(arg, ast.Constant) and isinstance(arg.value, str):
                field = arg.value.lstrip("-+")
                # Not a field of the model: an annotate()/alias() name (wagtail's order_by("-latest_date")).
                if field and field != "?" and "__" not in field and model.field_for(field) is not None:
                    yield field, False
        return
    for keyword in call.keywords:
        if not keyword.arg:
            continue
        parts = keyword.arg.split("__")
        head, rest = parts[0], parts[1:]
        if head == "pk":  # always covered; an equality on it finds the row by itself
            yield head, (not rest or rest[0] in EQUALITY_LOOKUPS) and name != "exclude"
            continue
        fact = model.field_for(head)
        if fact is None or fact.relation in ("m2m", "generic", "relationship"):
            continue
        lookup = "exact"
        if rest:
            if fact.relation in ("fk", "o2o") and rest[0] in ("id", "pk") and head == fact.name:
                rest = rest[1:]
            if rest and rest[0] not in EQUALITY_LOOKUPS | RANGE_LOOKUPS | UNINDEXABLE_LOOKUPS:
                continue  # a join to another table
            lookup = rest[0] if rest else "exact"
        if lookup in UNINDEXABLE_LOOKUPS or (lookup == "isnull" and name == "exclude"):
            continue  # IS NOT NULL and pattern matches do not use a b-tree index
        equality = lookup in EQUALITY_LOOKUPS and name != "exclude"
        yield head, equality


def sqlalchemy_lookups(ctx: FileContext, info: QueryInfo, name: str, call: ast.Call) -> Iterator[tuple[str, bool]]:
    model = info.model
    if name == "filter_by":
        for keyword in call.keywords:
            if keyword.arg and model.field_for(keyword.arg) is not None:
                yield keyword.arg, True
        return
    if name == "order_by":
        for arg in call.args:
            column = _sqla_column(ctx, model, _unwrap_order(ctx, arg))
            if column:
                yield column, False
        return
    for arg in call.args:
        yield from _sqla_condition(ctx, model, arg)


def _unwrap_order(ctx: FileContext, node: ast.AST) -> ast.AST:
    modifiers = ("desc", "asc", "nulls_last", "nulls_first")
    if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.func.attr in modifiers:
        return _unwrap_order(ctx, node.func.value)
    if isinstance(node, ast.Call) and isinstance(node.func, (ast.Name, ast.Attribute)) and node.args:
        if canonical_of(ctx, node.func) in ("sqlalchemy:desc", "sqlalchemy:asc"):
            return node.args[0]
    return node


def _sqla_column(ctx: FileContext, model: ModelFact, node: ast.AST) -> str:
    """``M.col`` / ``table.c.col`` of ``model`` -> "col"; anything else -> ""."""
    if not isinstance(node, ast.Attribute):
        return ""
    owner = node.value
    if isinstance(owner, ast.Attribute) and owner.attr == "c":
        owner = owner.value
    qual = ctx.imports.resolve(owner) if isinstance(owner, (ast.Name, ast.Attribute)) else None
    found = resolve_model(ctx, qual)
    if found is None or found.qualname != model.qualname:
        return ""
    fact = model.field_for(node.attr)
    if fact is None or not fact.is_db_column:
        return ""
    return node.attr


def _sqla_condition(ctx: FileContext, model: ModelFact, node: ast.AST) -> Iterator[tuple[str, bool]]:
    if isinstance(node, ast.Call) and isinstance(node.func, (ast.Name, ast.Attribute)):
        kind = canonical_of(ctx, node.func)
        if kind == "sqlalchemy:and_":
            for arg in node.args:
                yield from _sqla_condition(ctx, model, arg)
            return
        if isinstance(node.func, ast.Attribute):
            column = _sqla_column(ctx, model, node.func.value)
            if column and node.func.attr in ("in_", "is_"):
                yield column, True
            elif column and node.func.attr in ("between", "like", "startswith"):
                yield column, False
        return
    if isinstance(node, ast.Compare) and len(node.ops) == 1:
        column = _sqla_column(ctx, model, node.left) or _sqla_column(ctx, model, node.comparators[0])
        if not column:
            return
        op = node.ops[0]
        if isinstance(op, (ast.Eq, ast.Is)):
            yield column, True
        elif isinstance(op, (ast.Lt, ast.LtE, ast.Gt, ast.GtE)):
            yield column, False


def query_lookups(ctx: FileContext, node: ast.AST, info: QueryInfo) -> list[Lookup]:
    own = {id(n) for n in ast.walk(node)}
    lookups: list[Lookup] = []
    methods = DJANGO_LOOKUP_METHODS if info.framework == "django" else SQLA_LOOKUP_METHODS
    for name, call in info.chain:
        if info.framework != "django" and name in ("join", "outerjoin", "join_from") and isinstance(call, ast.Call):
            # ``join(Role, Role.id == Permission.role_id)`` fixes role_id per joined row: an equality.
            for argument in call.args:
                for field, equality in _sqla_condition(ctx, info.model, argument):
                    if equality:
                        lookups.append(Lookup(info.model, field, True, False, joined=True))
            continue
        if name not in methods or not isinstance(call, ast.Call):
            continue
        found = django_lookups(info, name, call) if info.framework == "django" else sqlalchemy_lookups(ctx, info, name, call)
        for field, equality in found:
            lookups.append(Lookup(info.model, field, equality, id(call) in own))
    if info.origin == "related" and info.relation is not None and info.relation.kind == "reverse_fk" and info.relation.field:
        lookups.append(Lookup(info.model, info.relation.field.name, True, False))
    return lookups


def query_sites(ctx: FileContext) -> Iterator[tuple[ast.AST, QueryInfo]]:
    """Outermost query expressions holding a lookup call (one per query call), in source order."""
    methods = DJANGO_LOOKUP_METHODS | SQLA_LOOKUP_METHODS
    calls = sorted((n for n in ctx.nodes_of(ast.Call) if isinstance(n.func, ast.Attribute)
                    and n.func.attr in methods), key=lambda n: (n.lineno, n.col_offset))
    seen: set[int] = set()
    for call in calls:
        info = query_source(ctx, call)
        if info is None:
            continue
        node = call
        while True:  # climb to the outermost call of the same query
            outer = _chain_parent(ctx, node)
            outer_info = query_source(ctx, outer) if outer is not None else None
            if outer_info is None:
                break
            node, info = outer, outer_info
        if id(node) not in seen:
            seen.add(id(node))
            yield node, info


def declaring_models(ctx: FileContext, model: ModelFact, field: str) -> list[ModelFact] | None:
    """Models whose indexes can cover ``field``: the model and the abstract parent declaring it.

    None for a field of a concrete (multi-table) parent: it lives in another table
    whose lookups the rule does not follow.
    """
    facts = ctx.index.modules.get(model.module)
    own = next((c for c in (facts.classes if facts else []) if c.qualname == model.qualname), None)
    name = model.normalise_column(field)
    if own is None or name in own.fields or field in ("pk", model.pk_name):
        return [model]
    for parent in ctx.index.parents(model):
        if name in parent.fields:
            return [model, parent] if parent.abstract else None
    return [model]


def found_by_key(ctx: FileContext, model: ModelFact, lookups: list[Lookup]) -> bool:
    """Does an equality on an indexed key (primary key, unique field, foreign key) already find the rows?

    ``filter(product=p, user=u, status=ACTIVE)`` reads a handful of rows through the
    foreign-key index and checks the status on them: an index on ``status`` would
    never be used (the largest false-positive source on django-oscar, wagtail and
    mlflow, docs/noise.md).  A related manager's foreign key counts; a join
    condition does not (it fixes the column per joined row, for every row).
    """
    for lookup in lookups:
        if not lookup.equality or lookup.joined:
            continue
        for owner in declaring_models(ctx, model, lookup.field) or []:
            column = owner.normalise_column(lookup.field)
            fact = owner.fields.get(column)
            key = (column == owner.pk_name or (fact is not None and (fact.primary_key or fact.unique or fact.is_foreign_key))
                   or any(index.unique and [owner.normalise_column(c) for c in index.columns] == [column]
                          for index in owner.indexes))  # PrimaryKeyConstraint("run_uuid") in __table_args__
            if key and owner.covers(column, set()):
                return True
    return False


SELECTING_METHODS = {"filter", "get", "aget", "where", "filter_by"}  # conditions that narrow the rows (not exclude)


def hidden_filters(info: QueryInfo) -> bool:
    """Conditions the rule cannot read, maybe a key among them.

    ``filter(*conditions)``, ``filter(**lookups)``, a Django ``Q`` object or
    expression (``filter(editable_pages | editable_objects)``) and a SQLAlchemy
    condition held in a variable (``where(clause)``).
    """
    for name, call in info.chain:
        if not isinstance(call, ast.Call) or name not in SELECTING_METHODS:
            continue
        if any(keyword.arg is None for keyword in call.keywords):
            return True
        for argument in call.args:
            if isinstance(argument, (ast.Starred, ast.Name)) or info.framework == "django":
                return True
    return False


def related_key_filter(ctx: FileContext, info: QueryInfo) -> bool:
    """A Django equality through relations that ends on a foreign key (``workflow_tasks__workflow=w``).

    The join starts from that key's index (Django indexes foreign keys), so the
    rows are found without an index on the model's own columns.
    """
    if info.framework != "django":
        return False
    for name, call in info.chain:
        if name not in SELECTING_METHODS or not isinstance(call, ast.Call):
            continue
        for keyword in call.keywords:
            parts = (keyword.arg or "").split("__")
            while len(parts) > 1 and parts[-1] in ("exact", "in", "id", "pk"):
                parts.pop()
            relations = hops(ctx, info.model, tuple(parts)) if len(parts) > 1 else None
            if relations and relations[-1].kind in ("fk", "o2o") and relations[-1].field is not None \
                    and relations[-1].field.db_index is not False:
                return True
    return False


def index_fix(ctx: FileContext, model: ModelFact, fields: list[str], equality: list[str]) -> str:
    if equality and len(fields) >= 2:
        columns = equality + [f for f in fields if f not in equality][:1]
        if model.framework == "django":
            listed = ", ".join(f'"{f}"' for f in columns)
            return f"add models.Index(fields=[{listed}]) to {model.name}.Meta.indexes"
        table = ctx.index.table_name(model)
        name = f"ix_{table}_{'_'.join(columns)}"
        if model.framework == "core":
            return f'add Index("{name}", {", ".join(f"{model.name}.c.{c}" for c in columns)})'
        return f'add Index("{name}", {", ".join(f"{model.name}.{c}" for c in columns)}) to {model.name}.__table_args__'
    if model.framework == "django":
        if len(fields) == 1:
            return f'add db_index=True to {model.name}.{fields[0]} (or models.Index(fields=["{fields[0]}"]) in Meta.indexes)'
        return "add an index on each: " + ", ".join(f"{model.name}.{f} db_index=True" for f in fields)
    if model.framework == "core":
        return "add index=True to the " + ", ".join(f'Column("{f}")' for f in fields) + f" of the {model.name} Table"
    if len(fields) == 1:
        return f"add index=True to {model.name}.{fields[0]}"
    return "add index=True to " + ", ".join(f"{model.name}.{f}" for f in fields)


@rule(
    "ORM103",
    "unindexed-lookup",
    Severity.MINOR,
    Category.SCHEMA,
    "unindexed lookup: {model} is queried by {fields} and no index covers {them}; {fix}",
)
def unindexed_lookup(ctx: FileContext) -> Iterator[Finding]:
    """
    ## What it does
    Flags a query that filters, excludes, gets or orders a model by fields
    no index covers: `Model.objects.filter(status=..)`, `.exclude(..)`,
    `.get(..)`, `.order_by(..)`, related managers (`author.books.filter(..)`,
    whose foreign key counts as equality-filtered), SQLAlchemy
    `select(M).where(M.col == x)`, `.filter(M.col == x)`, `.filter_by(col=x)`,
    `.order_by(M.col)`, Core `table.c.col`, and the `where()` of
    `update()` / `delete()` statements. Queries built in steps are followed
    through variables; each field is reported at the call that names it.

    A field is covered when it leads the primary key, a unique constraint or
    an index (`db_index=True`, `index=True`, `unique=True`, Django's
    automatic foreign-key index), or is the k-th column of a composite
    index whose first k-1 columns are equality-filtered in the same query.
    Range filters (`__gte`, `<`, `between`) and ordering need coverage too.
    Lookups an ordinary index cannot serve (`__icontains`, `__iexact`,
    `__endswith`, regular expressions) and joins to other tables are
    skipped, and so are fields inherited from a concrete (multi-table)
    parent; indexes of an abstract parent count. A query with an equality
    filter on an indexed key (the primary key, a unique field, an indexed
    foreign key, also the one a related manager adds) is not flagged: the
    database finds its rows through that index and checks the other
    columns on them, so the proposed index would not be used (a composite
    index can still pay off for a key with thousands of rows, which a query
    plan shows better than a linter). The same holds for an equality through
    relations that ends on a foreign key (`workflow_tasks__workflow=w`: the
    join starts from that key's index). Neither is a query with conditions
    the rule cannot read (`filter(*conditions)`, `filter(**lookups)`, a `Q`
    object or expression, a SQLAlchemy condition in a variable): one of
    them may be such a key. One finding per query call
    names every uncovered field; when two or more equality fields (or an
    equality field and a range/ordering field) are uncovered the message
    proposes the composite index, equality columns first. Unmanaged and
    proxy models, migration files and test modules are skipped.

    ## Why is this bad?
    Without an index the database scans the whole table for every such
    query; it is fast with test data and grows linearly with the table.

    ## Example
    ```python
    from django.db import models


    class Order(models.Model):
        status = models.CharField(max_length=20)
        reference = models.CharField(max_length=20)


    def open_orders():
        return Order.objects.filter(status="open", reference="x")
    ```

    ## Use instead
    ```python
    from django.db import models


    class Order(models.Model):
        status = models.CharField(max_length=20)
        reference = models.CharField(max_length=20)

        class Meta:
            indexes = [models.Index(fields=["status", "reference"], name="order_status_ref_idx")]


    def open_orders():
        return Order.objects.filter(status="open", reference="x")
    ```

    ## References
    - [Django: Meta.indexes](https://docs.djangoproject.com/en/stable/ref/models/options/#indexes)
    - [PostgreSQL: multicolumn indexes](https://www.postgresql.org/docs/current/indexes-multicolumn.html)
    - [SQLAlchemy: Index](https://docs.sqlalchemy.org/en/20/core/constraints.html#indexes)
    """
    if not query_rules_apply(ctx):
        return
    for node, info in query_sites(ctx):
        model = info.model
        if not model.schema_owned or model.abstract:
            continue
        lookups = query_lookups(ctx, node, info)
        if found_by_key(ctx, model, lookups) or hidden_filters(info) or related_key_filter(ctx, info):
            continue
        equality = {lookup.field for lookup in lookups if lookup.equality}
        uncovered: list[str] = []
        uncovered_equality: list[str] = []
        for lookup in lookups:
            if not lookup.own or lookup.field in uncovered:
                continue
            owners = declaring_models(ctx, model, lookup.field)
            if owners is None or any(owner.covers(lookup.field, equality - {lookup.field}) for owner in owners):
                continue
            uncovered.append(lookup.field)
            if lookup.equality:
                uncovered_equality.append(lookup.field)
        if not uncovered:
            continue
        shown = ", ".join(f"'{f}'" for f in uncovered)
        yield ctx.finding("ORM103", node, model=model.name, fields=shown,
                          them="it" if len(uncovered) == 1 else "them",
                          fix=index_fix(ctx, model, uncovered, uncovered_equality))
