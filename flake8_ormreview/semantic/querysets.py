"""Query expressions: which model a piece of code queries, how, and per which loop.

This is the shared layer behind ORM103 and the ORM2xx rules (and the
transaction/security rules that need to know "is this a query of model X?").

Public API (stable; other rule modules import it):

- ``query_source(ctx, node) -> QueryInfo | None``: the query an expression
  stands for.  Understands Django manager/queryset chains (``Book.objects``,
  custom managers from ``ModelFact.managers``, ``_default_manager``, related
  managers such as ``author.book_set`` / ``related_name`` through
  ``ctx.index.relations``), SQLAlchemy ``select(M)`` statements (also
  ``update(M)``/``insert(M)``/``delete(M)``), ``session.scalars(..)``,
  ``session.execute(..).scalars()``, ``.unique()``, ``session.query(M)``,
  ``session.get(M, id)``, Flask-SQLAlchemy ``M.query`` and SQLModel
  ``session.exec(select(M))``; names assigned from such expressions in the
  same function (flow-sensitive: eager loading added on only some branches
  does not count), calls of functions in the same module that return one,
  ``self.get_queryset()`` / ``self.queryset`` of the enclosing class, and
  parameters of a module-level helper that every call in the module passes a
  query for (``_rows(Book.objects.all())``).
  Models loaded at module level with ``X = apps.get_model("app", "Model")``
  (or Oscar's ``get_model``) count as imported.
- ``instance_of(ctx, node) -> Instance | None``: the model instance a name or
  expression holds (a loop variable over a query, a ``get()``/``first()``
  result, ``Model(..)``), with the query and relation path it came through.
- ``loops(ctx) -> list[Loop]``: every ``for``/``async for``/``while`` loop and
  comprehension of the file, with what its targets are bound to, whether it
  is bounded (literal list/tuple, ``[:1]`` slice) and the names assigned in it.
- ``enclosing_loops(ctx, node) -> list[Loop]``: the loops around a node,
  innermost first, stopping at the enclosing function.
- ``method_chain(node) -> list[(name, ast.Call)]``: the method calls from the
  receiver to the outermost call.
- ``parent_of(ctx, node)``, ``enclosing_function(ctx, node)``,
  ``is_session_like(ctx, node)``, ``names_in(node)``,
  ``relation_of(ctx, model, name)``, ``resolve_model(ctx, qualname)`` (the
  index lookup, plus a unique-suffix fallback for imports relative to a
  nested project root).

``QueryInfo.result`` says what the expression yields: ``"instances"`` (lazy
queryset / ``Query`` / scalars: iterating gives model instances), ``"rows"``
(``values()``, ``values_list()``, ``session.execute(..)`` rows,
``select(M.a, M.b)``), ``"single"`` (``get()``, ``first()``, ``one()``...),
``"scalar"`` (``count()``, ``exists()``, ``aggregate()``...), ``"statement"``
(an SQLAlchemy ``select`` not executed yet), ``"write"`` (``update()``,
``delete()``, ``create()``, ``session.execute(update(M)..)``) and
``"manager"`` (a Django manager or related manager not called yet).
``QueryInfo.evaluated`` is true when the expression itself hits the database.
Eager-loaded relation paths are tuples of attribute names
(``("author", "publisher")`` for ``select_related("author__publisher")``).
"""

from __future__ import annotations

import ast
from dataclasses import dataclass, field, replace
from typing import Iterator

from ..index import Relation
from .facts import ModelFact
from .names import dotted
from .walk import nodes_of, parent_map, subtree

INSTANCES, ROWS, SINGLE, SCALAR, STATEMENT, WRITE, MANAGER = (
    "instances", "rows", "single", "scalar", "statement", "write", "manager",
)

# -- Django method tables ------------------------------------------------------------------

DJANGO_LAZY = {
    "all", "filter", "exclude", "order_by", "select_related", "prefetch_related", "only", "defer",
    "annotate", "alias", "distinct", "reverse", "using", "select_for_update", "none", "union",
    "intersection", "difference", "extra", "complex_filter", "get_queryset", "filter_by",
}
DJANGO_ROWS = {"values", "values_list", "dates", "datetimes"}
DJANGO_SINGLE = {"get", "first", "last", "earliest", "latest", "get_or_create", "update_or_create",
                 "aget", "afirst", "alast", "aget_or_create", "aupdate_or_create"}
DJANGO_SCALAR = {"count", "exists", "aggregate", "contains", "explain", "in_bulk",
                 "acount", "aexists", "aaggregate", "acontains", "ain_bulk"}
DJANGO_WRITE = {"update", "delete", "create", "bulk_create", "bulk_update", "add", "remove", "set", "clear",
                "aupdate", "adelete", "acreate", "abulk_create", "abulk_update", "aadd", "aremove", "aset", "aclear"}
DJANGO_CREATING = {"create", "get_or_create", "update_or_create", "acreate", "aget_or_create", "aupdate_or_create"}
DJANGO_MANAGERS = {"objects", "_default_manager", "_base_manager"}

# -- SQLAlchemy method tables --------------------------------------------------------------

SQLA_LAZY = {
    "where", "filter", "filter_by", "order_by", "options", "join", "outerjoin", "join_from", "select_from",
    "limit", "offset", "distinct", "group_by", "having", "execution_options", "with_for_update", "correlate",
    "params", "yield_per", "populate_existing", "enable_eagerloads", "unique", "autoflush", "slice",
    "partitions", "order_by_clause", "with_parent", "prefix_with", "suffix_with",
}
SQLA_ROW_METHODS = {"add_columns", "with_only_columns", "with_entities", "values", "mappings", "tuples",
                    "fetchall", "fetchmany"}
SQLA_SINGLE = {"first", "one", "one_or_none", "scalar", "scalar_one", "scalar_one_or_none", "get", "fetchone"}
SQLA_SCALAR = {"count"}
SQLA_WRITE = {"update", "delete"}
SQLA_STATEMENT_CALLS = {"sqlalchemy:select", "sqlmodel:select", "sqlalchemy:update", "sqlalchemy:insert",
                        "sqlalchemy:delete", "sqlmodel:update", "sqlmodel:insert", "sqlmodel:delete"}
SESSION_EXECUTE = {"execute", "scalars", "scalar", "exec"}

# Relationship loader strategies that load at query time (or refuse to load): never N+1.
EAGER_LAZY = {"joined", "selectin", "subquery", "immediate", "raise", "raise_on_sql", "noload", "False", "false"}
EAGER_LOADERS = {"joinedload", "selectinload", "subqueryload", "immediateload", "contains_eager",
                 "raiseload", "noload"}
PATH_LOADERS = EAGER_LOADERS | {"defaultload", "lazyload", "load_only", "defer", "undefer"}

PASSTHROUGH_BUILTINS = {"list", "tuple", "sorted", "reversed", "set", "iter"}


@dataclass(frozen=True)
class QueryInfo:
    """What one query expression queries, and how."""

    model: ModelFact
    framework: str  # "django" or "sqlalchemy"
    node: ast.AST  # the whole expression
    root: ast.AST  # where the chain starts: ``Book.objects``, ``select(User)``, ``author.books``
    origin: str  # "manager", "related", "select", "query", "model_query", "session_get", "prefetched"
    result: str = INSTANCES
    evaluated: bool = False
    chain: tuple[tuple[str, ast.AST], ...] = ()  # (method, Call) or ("[]", Subscript), receiver first
    eager: frozenset[tuple[str, ...]] = frozenset()
    select_related_all: bool = False
    eager_all: bool = False
    to_attr: tuple[tuple[str, tuple[str, ...]], ...] = ()  # Prefetch(to_attr=) name -> lookup path
    bounded: bool = False  # sliced to at most one row
    columns_only: bool = False  # select(M.a, M.b) / session.query(M.a)
    owner: "Instance | None" = None  # the instance a related manager hangs off
    relation: Relation | None = None
    executed_at: tuple[int, ...] = ()  # chain positions that are ``session.<method>(statement)``

    # -- convenience for rules ------------------------------------------------------------

    @property
    def methods(self) -> list[str]:
        return [name for name, _ in self.chain]

    def calls(self, *names: str) -> list[ast.Call]:
        return [call for name, call in self.chain if name in names and isinstance(call, ast.Call)]

    def has(self, *names: str) -> bool:
        return any(name in names for name, _ in self.chain)

    @property
    def returns_instances(self) -> bool:
        return self.result == INSTANCES or (self.result == MANAGER and self.framework == "django")

    @property
    def terminal(self) -> str:
        return self.chain[-1][0] if self.chain else ""

    @property
    def path(self) -> tuple[str, ...]:
        """Relation path from the root query's model to this query's model."""
        if self.owner is None or self.relation is None:
            return ()
        return self.owner.path + (self.relation.name,)

    @property
    def root_query(self) -> "QueryInfo":
        """The outermost query whose eager loading governs this one's rows."""
        if self.owner is not None and self.owner.query is not None:
            return self.owner.query
        return self

    def covers(self, path: tuple[str, ...]) -> bool:
        """Does this query eager-load the relation path (attribute names)?"""
        return self.eager_all or path in self.eager

    def returns_model_object(self) -> bool:
        return not self.columns_only

    def to_attr_path(self, name: str) -> tuple[str, ...] | None:
        for attr, path in self.to_attr:
            if attr == name:
                return path
        return None

    def describe(self) -> str:
        """A short rendering: ``Book.objects.filter(...)``, ``select(User).where(...)``."""
        text = _short(self.root)
        for position, (name, call) in enumerate(self.chain):
            if position in self.executed_at and isinstance(call, ast.Call):
                receiver = _dotted_text(call.func.value) if isinstance(call.func, ast.Attribute) else ""
                text = f"{receiver or 'session'}.{name}({text})"
            elif name == "[]":
                text += "[...]"
            else:
                text += f".{name}({'...' if _has_args(call) else ''})"
        return text


@dataclass(frozen=True)
class Instance:
    """A model instance held by a name: a loop row, a fetched object, a new object."""

    model: ModelFact
    kind: str  # "row" (loop variable over a query), "single" (get/first), "new" (Model(..)/create)
    query: QueryInfo | None = None  # the root query whose eager loading applies to it
    path: tuple[str, ...] = ()  # relation path from ``query``'s model to this instance
    forward_only: bool = True  # every hop of ``path`` is a forward FK / O2O (bare select_related())
    loop: ast.AST | None = None  # the loop that binds it (kind == "row")
    source: QueryInfo | None = None  # the query iterated by that loop (``query`` or a related query of it)

    @property
    def relative_path(self) -> tuple[str, ...]:
        """Relation path from ``source``'s rows to this instance."""
        if self.source is None:
            return self.path
        return self.path[len(self.source.path):]


@dataclass
class Loop:
    """A loop or comprehension and what its variables are."""

    node: ast.AST  # ast.For / ast.AsyncFor / ast.While / a comprehension node
    kind: str  # "for", "while", "comprehension"
    iter: ast.AST | None  # the iterable (for/comprehension generator)
    query: QueryInfo | None  # the query iterated, when the iterable is one
    targets: dict[str, Instance] = field(default_factory=dict)  # loop variables bound to model rows
    bounded: bool = False  # a literal list/tuple or a query sliced to one row
    assigned: set[str] = field(default_factory=set)  # names (re)bound on each iteration
    body: list[ast.AST] = field(default_factory=list)  # statements / expressions run per iteration

    def walk_body(self) -> Iterator[ast.AST]:
        # Rules walk the body of every loop (nested loops again): the node list is kept.
        # Without the Load/Store/operator singletons: every caller looks for other nodes.
        cached = self.__dict__.get("_body_nodes")
        if cached is None:
            cached = self.__dict__["_body_nodes"] = [node for item in self.body for node in subtree(item)]
        return iter(cached)


# -- small helpers ----------------------------------------------------------------------------


def _has_args(node: ast.AST) -> bool:
    return isinstance(node, ast.Call) and bool(node.args or node.keywords)


def _short(node: ast.AST) -> str:
    try:
        text = ast.unparse(node)
    except Exception:  # noqa: BLE001 - only a label
        return "<query>"
    if len(text) > 40 and isinstance(node, ast.Call):
        head = ast.unparse(node.func)
        return f"{head}(...)"
    return text


def names_in(node: ast.AST | None) -> set[str]:
    """Every bare name read in an expression."""
    if node is None:
        return set()
    if isinstance(node, ast.Name):
        return {node.id}  # the common case, without a walk
    return {n.id for n in subtree(node) if isinstance(n, ast.Name)}


def bound_names(target: ast.AST) -> set[str]:
    """Names bound by an assignment / loop target."""
    if isinstance(target, ast.Name):  # the common case, without a walk
        return {target.id} if isinstance(target.ctx, ast.Store) else set()
    return {n.id for n in subtree(target) if isinstance(n, ast.Name) and isinstance(n.ctx, ast.Store)}


def method_chain(node: ast.AST) -> list[tuple[str, ast.Call]]:
    """``a.b(x).c(y)`` -> ``[("b", call_b), ("c", call_c)]`` (receiver first)."""
    steps: list[tuple[str, ast.Call]] = []
    current = node
    while True:
        if isinstance(current, ast.Call) and isinstance(current.func, ast.Attribute):
            steps.append((current.func.attr, current))
            current = current.func.value
        elif isinstance(current, ast.Subscript):
            current = current.value
        else:
            break
    return list(reversed(steps))


def resolve_model(ctx, qualname: str | None) -> ModelFact | None:
    """``ctx.index.model(qualname)``, else the one model whose qualified name ends with it.

    ``from shop.models import Book`` in a project whose index root is one level up
    (``backend/shop/models.py`` indexed as ``backend.shop.models``) still finds
    ``backend.shop.models.Book``; two candidates mean unknown.
    """
    if not qualname:
        return None
    index = ctx.index
    found = index.model(qualname)
    if found is not None or "." not in qualname:
        return found
    models = getattr(index, "models", None)
    if not models:
        return None
    memo = getattr(index, "memo", None)
    if memo is not None:
        # Built from the index's models alone: once per index resolution, not once per file.
        suffixes = memo("querysets.suffixes", lambda: _model_suffixes(models))
    else:
        key = ("querysets.suffixes", id(models))
        suffixes = ctx.cache.get(key)
        if suffixes is None:
            suffixes = ctx.cache[key] = _model_suffixes(models)
    candidates = suffixes.get(qualname, [])
    return candidates[0] if len(candidates) == 1 else None


def _model_suffixes(models: dict[str, ModelFact]) -> dict[str, list[ModelFact]]:
    """Every proper dotted suffix (two parts or more) of each model's qualified name -> those models."""
    suffixes: dict[str, list[ModelFact]] = {}
    for name, model in models.items():
        parts = name.split(".")
        for start in range(1, len(parts) - 1):
            suffixes.setdefault(".".join(parts[start:]), []).append(model)
    return suffixes


def canonical_of(ctx, node: ast.AST | None) -> str | None:
    """``ctx.canonical(node)``, memoised per file.

    The answer depends only on the node's dotted text (``ctx.imports`` and the
    index are fixed while a file is analysed), and several rules ask it for
    every call of the file, so it is computed once per distinct name.
    """
    by_node = ctx.cache.get("querysets.canonical_nodes")
    if by_node is None:
        by_node = ctx.cache["querysets.canonical_nodes"] = {}
        ctx.cache["querysets.canonical_names"] = {}
    if node in by_node:
        return by_node[node]
    name = dotted(node) if node is not None else None
    if name is None:
        found = None  # not a Name/Attribute chain: ctx.canonical says None too
    else:
        by_name = ctx.cache["querysets.canonical_names"]
        if name not in by_name:
            by_name[name] = ctx.canonical(node)
        found = by_name[name]
    by_node[node] = found
    return found


def may_query_sqlalchemy(ctx) -> bool:
    """Can :func:`query_source` answer ``framework == "sqlalchemy"`` anywhere in this file?

    Such a query always starts from a non-Django model of the index
    (``Model.query``, ``session.query(M)``, relationships, Core tables) or from
    an SQLAlchemy/SQLModel statement call in this file (``select(M)``,
    ``insert``/``update``/``delete``, which take any model).  A cheap pre-check
    for rules that only care about SQLAlchemy queries; ``True`` when unsure.
    """
    found = ctx.cache.get("querysets.may_query_sqlalchemy")
    if found is None:
        models = getattr(ctx.index, "models", None)
        memo = getattr(ctx.index, "memo", None)
        if models is None or memo is None:
            found = True
        else:
            found = memo("querysets.non_django_models", lambda: any(m.framework != "django" for m in models.values()))
            found = found or any(canonical_of(ctx, call.func) in SQLA_STATEMENT_CALLS for call in nodes_of(ctx.tree, ast.Call))
        ctx.cache["querysets.may_query_sqlalchemy"] = found
    return found


def relation_of(ctx, model: ModelFact, name: str) -> Relation | None:
    try:
        return ctx.index.relations(model).get(name)
    except Exception:  # noqa: BLE001 - unknown means silent
        return None


def is_literal_collection(node: ast.AST | None) -> bool:
    if isinstance(node, (ast.List, ast.Tuple, ast.Set)):
        return True
    if isinstance(node, ast.Dict):
        return True
    if isinstance(node, ast.Constant) and isinstance(node.value, (str, bytes)):
        return True
    if isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id == "range":
        return all(isinstance(a, ast.Constant) for a in node.args)
    return False


def slice_upper(node: ast.Subscript) -> int | None:
    """The row limit of ``qs[:n]`` / ``qs[a:b]`` when literal."""
    sl = node.slice
    if isinstance(sl, ast.Slice):
        lower = sl.lower.value if isinstance(sl.lower, ast.Constant) and isinstance(sl.lower.value, int) else 0
        if isinstance(sl.upper, ast.Constant) and isinstance(sl.upper.value, int):
            return max(sl.upper.value - lower, 0)
    return None


def is_session_like(ctx, node: ast.AST) -> bool:
    """Heuristic for an SQLAlchemy session/connection receiver (``session``, ``db.session``, ``self.session``)."""
    if isinstance(node, (ast.Name, ast.Attribute)) and canonical_of(ctx, node) == "sqlalchemy:session":
        return True  # Flask-SQLAlchemy ``db.session``
    text = _dotted_text(node)
    if not text:
        return False
    last = text.rsplit(".", 1)[-1].lower()
    if "session" in last or last in ("conn", "connection", "db_session", "s", "tx"):
        return _file_uses_sqlalchemy(ctx)
    return False


def _dotted_text(node: ast.AST) -> str:
    parts = []
    while isinstance(node, ast.Attribute):
        parts.append(node.attr)
        node = node.value
    if isinstance(node, ast.Name):
        parts.append(node.id)
        return ".".join(reversed(parts))
    if isinstance(node, ast.Call):
        inner = _dotted_text(node.func)
        return ".".join([inner + "()"] + list(reversed(parts))) if inner else ""
    return ""


def _file_uses_sqlalchemy(ctx) -> bool:
    return any(q.split(".")[0] in ("sqlalchemy", "sqlmodel", "flask_sqlalchemy") for q in ctx.imports.names.values())


# -- the per-file analysis --------------------------------------------------------------------


def analysis(ctx) -> "QueryAnalysis":
    """The query analysis of ``ctx``'s file (built once, kept in ``ctx.cache``)."""
    found = ctx.cache.get("querysets")
    if found is None:
        found = QueryAnalysis(ctx)
        ctx.cache["querysets"] = found
    return found


def query_source(ctx, node: ast.AST) -> QueryInfo | None:
    try:
        return analysis(ctx).query_at(node)
    except RecursionError:
        return None


def instance_of(ctx, node: ast.AST) -> Instance | None:
    try:
        return analysis(ctx).instance_at(node)
    except RecursionError:
        return None


def loops(ctx) -> list[Loop]:
    try:
        return analysis(ctx).loops()
    except RecursionError:  # absurdly nested code: no loop facts rather than a crash
        return []


def enclosing_loops(ctx, node: ast.AST) -> list[Loop]:
    try:
        return analysis(ctx).enclosing_loops(node)
    except RecursionError:
        return []


def parent_of(ctx, node: ast.AST) -> ast.AST | None:
    return analysis(ctx).parents.get(node)


def enclosing_function(ctx, node: ast.AST) -> ast.AST | None:
    return analysis(ctx).function_of(node)


FUNCTIONS = (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda)
COMPREHENSIONS = (ast.ListComp, ast.SetComp, ast.DictComp, ast.GeneratorExp)
_STATEMENT_OR_FUNCTION = (ast.stmt,) + FUNCTIONS
Env = dict  # name -> QueryInfo | Instance


class QueryAnalysis:
    def __init__(self, ctx) -> None:
        self.ctx = ctx
        self.tree: ast.Module = ctx.tree
        self.parents: dict[ast.AST, ast.AST] = parent_map(self.tree)  # the shared map (nodes hash by identity)
        self.env_before: dict[int, Env] = {}  # statement id -> names known before it runs
        self.flowed: set[int] = set()
        self.module_functions = {
            n.name: n for n in self.tree.body if isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef))
        }
        self.returns: dict[int, QueryInfo | None] = {}
        self._returns_busy: set[int] = set()
        self._loops: list[Loop] | None = None
        self._query_memo: dict[int, QueryInfo | None] = {}
        self._loaded: dict[str, ModelFact] | None = None
        self._function_uses: dict[str, list[ast.Name]] | None = None
        self._instance_memo: dict[int, Instance | None] = {}
        self._loops_by_node: dict[int, Loop] | None = None
        self._function_memo: dict[ast.AST, ast.AST | None] = {}
        self._class_members: dict[ast.ClassDef, dict[str, ast.AST]] = {}
        self._model_memo: dict[str | None, ModelFact | None] = {}
        self._returns_by_function: dict[ast.AST | None, list[ast.Return]] | None = None

    # -- structure ------------------------------------------------------------------------

    def function_of(self, node: ast.AST) -> ast.AST | None:
        memo = self._function_memo
        if node in memo:
            return memo[node]
        # Every node passed on the way up has the same answer: remember it for each, and
        # stop at the first one already known (rules ask for most nodes of a function).
        chain = [node]
        parents = self.parents
        while True:
            parent = parents.get(chain[-1])
            if parent is None or isinstance(parent, FUNCTIONS):
                found = parent
                break
            if parent in memo:
                found = memo[parent]
                break
            chain.append(parent)
        for passed in chain:
            memo[passed] = found
        return found

    def statement_of(self, node: ast.AST) -> ast.stmt | None:
        current: ast.AST | None = node
        while current is not None and not isinstance(current, ast.stmt):
            current = self.parents.get(current)
        return current

    def env_at(self, node: ast.AST) -> Env:
        """Names known just before the statement holding ``node`` runs."""
        function = self.function_of(node)
        if function is not None and id(function) not in self.flowed:
            self.flowed.add(id(function))
            body = function.body if isinstance(function.body, list) else []
            self.flow(body, self.parameter_queries(function))
        if function is None and id(self.tree) not in self.flowed:
            self.flowed.add(id(self.tree))
            self.flow(self.tree.body, {}, module_level=True)
        statement = self.statement_of(node)
        env = self.env_before.get(id(statement), {}) if statement is not None else {}
        return self.with_comprehension_targets(node, env)

    def parameter_queries(self, function: ast.AST) -> Env:
        """Parameters of a module-level helper that every call in this module passes a query for.

        ``def _rows(books): for b in books: ...`` called as ``_rows(Book.objects.all())``:
        ``books`` is that query (eager loading common to every call site).  A helper
        referenced other than by direct calls (a callback, a decorator target) binds nothing.
        """
        if not isinstance(function, (ast.FunctionDef, ast.AsyncFunctionDef)) or function.decorator_list:
            return {}
        if self.parents.get(function) is not self.tree:
            return {}
        if self._function_uses is None:
            self._function_uses = {}
            for node in nodes_of(self.tree, ast.Name):
                if node.id in self.module_functions and isinstance(node.ctx, ast.Load):
                    self._function_uses.setdefault(node.id, []).append(node)
        calls = []
        for node in self._function_uses.get(function.name, []):
            parent = self.parents.get(node)
            if not (isinstance(parent, ast.Call) and parent.func is node):
                return {}  # passed around: other callers are unknown
            if self.function_of(parent) is function:
                return {}  # recursive
            calls.append(parent)
        if not calls:
            return {}
        params = [a.arg for a in function.args.posonlyargs + function.args.args]
        env: Env = {}
        for position, name in enumerate(params):
            merged: Env | None = None
            for call in calls:
                argument = self.argument_for(call, position, name)
                info = self.argument_query(argument) if argument is not None else None
                if info is None:
                    merged = None
                    break
                merged = {name: info} if merged is None else merge_envs(merged, {name: info})
            if merged and name in merged:
                env[name] = merged[name]
        return env

    def argument_query(self, argument: ast.AST) -> QueryInfo | None:
        """The query passed as an argument, without memoising: the caller may be mid-flow."""
        caller = self.function_of(argument)
        if id(caller if caller is not None else self.tree) not in self.flowed:
            env = self.env_at(argument)
        else:
            statement = self.statement_of(argument)
            env = self.with_comprehension_targets(argument, self.env_before.get(id(statement), {}))
        return self.resolve(argument, env)

    @staticmethod
    def argument_for(call: ast.Call, position: int, name: str) -> ast.AST | None:
        if any(isinstance(a, ast.Starred) for a in call.args[: position + 1]):
            return None
        if position < len(call.args):
            return call.args[position]
        return next((k.value for k in call.keywords if k.arg == name), None)

    def with_comprehension_targets(self, node: ast.AST, env: Env) -> Env:
        """Add the variables of comprehensions enclosing ``node`` (outermost first)."""
        ancestors = [node]
        parents = self.parents
        current = parents.get(node)
        in_comprehension = False
        while current is not None and not isinstance(current, _STATEMENT_OR_FUNCTION):
            ancestors.append(current)
            in_comprehension = in_comprehension or isinstance(current, COMPREHENSIONS)
            current = parents.get(current)
        if not in_comprehension:
            return env  # the common case: no enclosing comprehension, nothing to add
        found = [(i, a) for i, a in enumerate(ancestors) if isinstance(a, COMPREHENSIONS) and i >= 1]
        env = dict(env)
        for position, comp in reversed(found):
            child = ancestors[position - 1]
            grandchild = ancestors[position - 2] if position >= 2 else None
            for generator in comp.generators:
                if child is generator and grandchild is generator.iter:
                    break  # an iterable sees only the earlier generators' targets
                self.bind_target(generator.target, generator.iter, env, comp)
                if child is generator:
                    break
        return env

    # -- flow: names assigned from queries, merged over branches ----------------------------

    def flow(self, body: list[ast.stmt], env: Env, module_level: bool = False) -> Env:
        for stmt in body:
            self.env_before[id(stmt)] = dict(env)
            env = self.flow_statement(stmt, env, module_level)
        return env

    def flow_statement(self, stmt: ast.stmt, env: Env, module_level: bool) -> Env:
        if isinstance(stmt, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            env = dict(env)
            env.pop(stmt.name, None)
            return env
        if isinstance(stmt, ast.Assign):
            value = self.evaluate(stmt.value, env)
            env = dict(env)
            for target in stmt.targets:
                self.assign(target, value, stmt.value, env)
            return env
        if isinstance(stmt, ast.AnnAssign) and stmt.value is not None:
            env = dict(env)
            self.assign(stmt.target, self.evaluate(stmt.value, env), stmt.value, env)
            return env
        if isinstance(stmt, ast.AugAssign):
            env = dict(env)
            for name in bound_names(stmt.target):
                env.pop(name, None)
            return env
        if isinstance(stmt, ast.If):
            then = self.flow(stmt.body, dict(env))
            other = self.flow(stmt.orelse, dict(env))
            return merge_envs(then, other)
        if isinstance(stmt, (ast.For, ast.AsyncFor)):
            inner = dict(env)
            for name in bound_names(stmt.target):
                inner.pop(name, None)
            self.bind_target(stmt.target, stmt.iter, inner, stmt)
            after_body = self.flow(stmt.body, inner)
            after = merge_envs(env, after_body)
            return merge_envs(after, self.flow(stmt.orelse, dict(after)))
        if isinstance(stmt, ast.While):
            after_body = self.flow(stmt.body, dict(env))
            after = merge_envs(env, after_body)
            return merge_envs(after, self.flow(stmt.orelse, dict(after)))
        if isinstance(stmt, (ast.With, ast.AsyncWith)):
            env = dict(env)
            for item in stmt.items:
                if item.optional_vars is not None:
                    for name in bound_names(item.optional_vars):
                        env.pop(name, None)
            return self.flow(stmt.body, env)
        if isinstance(stmt, ast.Try) or stmt.__class__.__name__ == "TryStar":
            after_body = self.flow(stmt.body, dict(env))
            result = merge_envs(env, self.flow(stmt.orelse, dict(after_body)))
            for handler in stmt.handlers:
                result = merge_envs(result, self.flow(handler.body, dict(env)))
            return self.flow(stmt.finalbody, result)
        if stmt.__class__.__name__ == "Match":
            result = dict(env)
            for case in stmt.cases:
                result = merge_envs(result, self.flow(case.body, dict(env)))
            return result
        if isinstance(stmt, ast.Expr) and isinstance(stmt.value, ast.Call) and stmt.value.args:
            call = stmt.value
            target = call.args[0]
            if (isinstance(call.func, (ast.Name, ast.Attribute)) and isinstance(target, ast.Name)
                    and isinstance(env.get(target.id), QueryInfo)
                    and canonical_of(self.ctx, call.func) == "django:prefetch_related_objects"):
                env = dict(env)
                env[target.id] = replace(env[target.id], eager_all=True)  # prefetched after the fact
                return env
        if isinstance(stmt, ast.Expr) and isinstance(stmt.value, ast.NamedExpr):
            env = dict(env)
            self.assign(stmt.value.target, self.evaluate(stmt.value.value, env), stmt.value.value, env)
            return env
        if isinstance(stmt, ast.Delete):
            env = dict(env)
            for target in stmt.targets:
                for name in bound_names(target) | names_in(target):
                    env.pop(name, None)
            return env
        return env

    def assign(self, target: ast.AST, value, value_node: ast.AST, env: Env) -> None:
        for name in bound_names(target):
            env.pop(name, None)
        if isinstance(target, ast.Name):
            if value is not None:
                env[target.id] = value
        elif isinstance(target, (ast.Tuple, ast.List)) and target.elts:
            # ``obj, created = M.objects.get_or_create(..)``
            if isinstance(value, Instance) and isinstance(target.elts[0], ast.Name):
                env[target.elts[0].id] = value

    def evaluate(self, node: ast.AST, env: Env):
        """A QueryInfo or Instance for an assigned value, or None."""
        info = self.resolve(node, env)
        if info is not None:
            if info.result == SINGLE and info.returns_model_object():
                return Instance(info.model, "single", info.root_query, info.path, source=info)
            if info.framework == "django" and info.terminal in DJANGO_CREATING:
                return Instance(info.model, "new" if info.terminal in ("create", "acreate") else "single", None)
            return info
        if isinstance(node, ast.Call):
            model = self.model_of(node.func)
            if model is not None:
                return Instance(model, "new")
        inst = self.instance(node, env)
        return inst

    def bind_target(self, target: ast.AST, iterable: ast.AST, env: Env, loop: ast.AST) -> None:
        """Bind a loop target to the rows of ``iterable`` when it is a query."""
        inner = iterable
        element = target
        if (isinstance(inner, ast.Call) and isinstance(inner.func, ast.Name) and inner.func.id == "enumerate"
                and inner.args and isinstance(target, ast.Tuple) and len(target.elts) == 2):
            inner, element = inner.args[0], target.elts[1]
        if not isinstance(element, ast.Name):
            return
        info = self.resolve(inner, env)
        if info is None or not info.returns_instances or info.bounded or info.columns_only:
            return
        env[element.id] = self.row_instance(info, loop)

    def row_instance(self, info: QueryInfo, loop: ast.AST | None) -> Instance:
        owner = info.owner
        forward = owner.forward_only if owner is not None else True
        if info.relation is not None and not info.relation.forward_single:
            forward = False
        return Instance(info.model, "row", info.root_query, info.path, forward, loop, info)

    # -- resolution ------------------------------------------------------------------------

    def query_at(self, node: ast.AST) -> QueryInfo | None:
        key = id(node)
        if key not in self._query_memo:
            self._query_memo[key] = None  # re-entry (a function returning itself) resolves to unknown
            self._query_memo[key] = self.resolve(node, self.env_at(node))
        return self._query_memo[key]

    def instance_at(self, node: ast.AST) -> Instance | None:
        key = id(node)
        if key not in self._instance_memo:
            self._instance_memo[key] = self.instance(node, self.env_at(node))
        return self._instance_memo[key]

    def model_of(self, node: ast.AST) -> ModelFact | None:
        if not isinstance(node, (ast.Name, ast.Attribute)):
            return None
        # The answer depends only on the dotted text (a Name has no dot): memoised per file.
        text = dotted(node)
        if text not in self._model_memo:
            self._model_memo[text] = self._model_of_text(text)
        return self._model_memo[text]

    def _model_of_text(self, text: str | None) -> ModelFact | None:
        qual = self.ctx.imports.resolve(text) if text else None
        if not qual:
            return None
        model = resolve_model(self.ctx, qual)
        if model is None and "." not in text:
            model = self.loaded_models().get(text)
        if model is not None and model.framework and not model.abstract:
            return model
        return None

    def loaded_models(self) -> dict[str, ModelFact]:
        """Module-level ``Product = get_model("catalogue", "Product")`` (Django apps registry, Oscar)."""
        if self._loaded is None:
            self._loaded = {}
            for stmt in self.tree.body:
                if not (isinstance(stmt, ast.Assign) and len(stmt.targets) == 1 and isinstance(stmt.value, ast.Call)):
                    continue
                target, call = stmt.targets[0], stmt.value
                called = self.ctx.imports.resolve(call.func) if isinstance(call.func, (ast.Name, ast.Attribute)) else None
                if not called or not called.endswith("get_model") or call.keywords:
                    continue
                labels = [a.value for a in call.args if isinstance(a, ast.Constant) and isinstance(a.value, str)]
                if len(labels) != len(call.args):
                    continue
                if len(labels) == 1 and labels[0].count(".") == 1:
                    labels = labels[0].split(".")
                if len(labels) != 2 or not isinstance(target, ast.Name):
                    continue
                model = self.ctx.index.by_label.get((labels[0], labels[1]))
                if model is not None:
                    self._loaded[target.id] = model
        return self._loaded

    def instance(self, node: ast.AST, env: Env) -> Instance | None:
        """The model instance an expression holds: a bound name or ``row.fk`` / ``row.o2o``."""
        if isinstance(node, ast.Name):
            value = env.get(node.id)
            return value if isinstance(value, Instance) else None
        if isinstance(node, ast.Attribute):
            owner = self.instance(node.value, env)
            if owner is None:
                return None
            relation = relation_of(self.ctx, owner.model, node.attr)
            if relation is None or relation.target is None or not relation.forward_single:
                return None
            return Instance(relation.target, owner.kind, owner.query, owner.path + (relation.name,),
                            owner.forward_only and relation.kind in ("fk", "o2o", "relationship"), owner.loop,
                            owner.source)
        return None

    def resolve(self, node: ast.AST, env: Env, depth: int = 0) -> QueryInfo | None:
        if depth > 40:
            return None
        if isinstance(node, ast.Await):
            return self.resolve(node.value, env, depth + 1)
        if isinstance(node, ast.Name):
            value = env.get(node.id)
            return value if isinstance(value, QueryInfo) else None
        if isinstance(node, ast.Subscript):
            base = self.resolve(node.value, env, depth + 1)
            if base is None or base.result not in (INSTANCES, ROWS, MANAGER):
                return None
            if isinstance(node.slice, ast.Slice):
                limit = slice_upper(node)
                return replace(base, node=node, chain=base.chain + (("[]", node),),
                               bounded=base.bounded or (limit is not None and limit <= 1),
                               result=INSTANCES if base.result == MANAGER else base.result)
            return replace(base, node=node, chain=base.chain + (("[]", node),), result=SINGLE, evaluated=True)
        if isinstance(node, ast.Attribute):
            return self.resolve_attribute(node, env, depth)
        if isinstance(node, ast.Call):
            return self.resolve_call(node, env, depth)
        return None

    def resolve_attribute(self, node: ast.Attribute, env: Env, depth: int) -> QueryInfo | None:
        member = self.own_class_member(node, node.value, node.attr)
        if member is not None and not isinstance(member, (ast.FunctionDef, ast.AsyncFunctionDef)):
            return self.resolve(member, {}, depth + 1)  # ``queryset = Book.objects...`` on the class
        model = self.model_of(node.value)
        if model is not None:
            if model.framework == "django" and (node.attr in DJANGO_MANAGERS or node.attr in model.managers):
                return QueryInfo(model, "django", node, node, "manager", MANAGER)
            if model.framework in ("sqlalchemy", "sqlmodel") and node.attr == "query":
                return QueryInfo(model, "sqlalchemy", node, node, "model_query", INSTANCES)
            return None
        owner = self.instance(node.value, env)
        if owner is not None:
            relation = relation_of(self.ctx, owner.model, node.attr)
            if relation is not None and relation.target is not None and relation.to_many:
                if owner.model.framework == "django":
                    return QueryInfo(relation.target, "django", node, node, "related", MANAGER,
                                     owner=owner, relation=relation)
                lazy = relation.lazy or "select"
                # A "dynamic" relationship is a Query; any other collection is a loaded list.
                return QueryInfo(relation.target, "sqlalchemy", node, node, "related", INSTANCES,
                                 evaluated=lazy != "dynamic", owner=owner, relation=relation)
            if owner.query is not None:
                prefetched = owner.query.to_attr_path(node.attr) if not owner.path else None
                if prefetched is not None:
                    target = self.model_along(owner.model, prefetched)
                    if target is not None:
                        fake = Relation(node.attr, "reverse_fk", owner.model, target)
                        return QueryInfo(target, "django", node, node, "prefetched", INSTANCES, evaluated=True,
                                         owner=replace(owner, path=owner.path + prefetched[:-1]), relation=fake)
        return None

    def model_along(self, model: ModelFact, path: tuple[str, ...]) -> ModelFact | None:
        current: ModelFact | None = model
        for name in path:
            relation = relation_of(self.ctx, current, name) if current else None
            current = relation.target if relation else None
        return current

    def resolve_call(self, node: ast.Call, env: Env, depth: int) -> QueryInfo | None:
        func = node.func
        if isinstance(func, ast.Attribute):
            base = self.resolve(func.value, env, depth + 1)
            if base is not None:
                return self.apply(base, func.attr, node, env)
            if func.attr in SESSION_EXECUTE and node.args:
                statement = self.resolve(node.args[0], env, depth + 1)
                if statement is not None and statement.result in (STATEMENT, WRITE) and not statement.evaluated:
                    return self.execute(statement, func.attr, node)
            member = self.own_class_member(node, func.value, func.attr)
            if isinstance(member, (ast.FunctionDef, ast.AsyncFunctionDef)):
                return self.returns_of(member)  # ``self.get_queryset()`` of a class-based view
            if func.attr == "query" and node.args:
                return self.session_query(node)
            if func.attr == "get" and len(node.args) >= 2:
                model = self.model_of(node.args[0])
                if model is not None and model.framework in ("sqlalchemy", "sqlmodel"):
                    return QueryInfo(model, "sqlalchemy", node, node, "session_get", SINGLE, evaluated=True)
            # ``users.select()`` / ``users.insert()`` on a Core table
            model = self.model_of(func.value)
            if model is not None and model.framework == "core" and func.attr in ("select", "insert", "update", "delete"):
                return QueryInfo(model, "sqlalchemy", node, node, "select", STATEMENT if func.attr == "select" else WRITE)
            return None
        kind = canonical_of(self.ctx, func) if isinstance(func, (ast.Name, ast.Attribute)) else None
        if kind in SQLA_STATEMENT_CALLS and node.args:
            return self.statement(node, kind.split(":", 1)[1])
        if isinstance(func, ast.Name):
            if func.id in PASSTHROUGH_BUILTINS and len(node.args) == 1 and func.id not in env:
                inner = self.resolve(node.args[0], env, depth + 1)
                if inner is not None and inner.result in (INSTANCES, ROWS, MANAGER):
                    return replace(inner, evaluated=True, result=INSTANCES if inner.result == MANAGER else inner.result)
                return None
            if func.id in self.module_functions and func.id not in env:
                return self.function_returns(func.id)
        return None

    def statement(self, node: ast.Call, verb: str) -> QueryInfo | None:
        first = node.args[0]
        model = self.model_of(first)
        if verb == "select":
            if model is not None and len(node.args) == 1:
                return QueryInfo(model, "sqlalchemy", node, node, "select", STATEMENT)
            owner = first.value if isinstance(first, ast.Attribute) else None
            if isinstance(owner, ast.Attribute) and owner.attr == "c":
                owner = owner.value
            model = self.model_of(owner) if owner is not None else None
            if model is not None:
                return QueryInfo(model, "sqlalchemy", node, node, "select", STATEMENT, columns_only=True)
            return None
        if model is not None:
            return QueryInfo(model, "sqlalchemy", node, node, "select", WRITE)
        return None

    def session_query(self, node: ast.Call) -> QueryInfo | None:
        first = node.args[0]
        model = self.model_of(first)
        if model is not None and model.framework in ("sqlalchemy", "sqlmodel", "core"):
            return QueryInfo(model, "sqlalchemy", node, node, "query", INSTANCES, columns_only=len(node.args) > 1)
        if isinstance(first, ast.Attribute):
            model = self.model_of(first.value)
            if model is not None and model.framework in ("sqlalchemy", "sqlmodel"):
                return QueryInfo(model, "sqlalchemy", node, node, "query", INSTANCES, columns_only=True)
        return None

    def execute(self, statement: QueryInfo, method: str, node: ast.Call) -> QueryInfo:
        chain = statement.chain + ((method, node),)
        statement = replace(statement, executed_at=statement.executed_at + (len(statement.chain),))
        if statement.result == WRITE:
            return replace(statement, node=node, chain=chain, evaluated=True)
        if method == "scalar":
            result = SINGLE
        elif method == "execute" or statement.columns_only:
            result = ROWS
        else:  # scalars / exec of select(M)
            result = INSTANCES
        return replace(statement, node=node, chain=chain, result=result, evaluated=True)

    def apply(self, base: QueryInfo, method: str, node: ast.Call, env: Env) -> QueryInfo | None:
        chain = base.chain + ((method, node),)
        step = replace(base, node=node, chain=chain)
        if base.framework == "django":
            return self.apply_django(step, method, node, env)
        return self.apply_sqlalchemy(base, step, method, node, env)

    def apply_django(self, step: QueryInfo, method: str, node: ast.Call, env: Env) -> QueryInfo | None:
        lazy_result = ROWS if step.result == ROWS else INSTANCES
        if method in DJANGO_LAZY:
            if step.result not in (INSTANCES, ROWS, MANAGER):
                return None
            step = replace(step, result=lazy_result)
            if method == "select_related":
                return self.add_select_related(step, node)
            if method == "prefetch_related":
                return self.add_prefetch(step, node, env)
            return step
        if method == "iterator" or method == "aiterator":
            return replace(step, result=lazy_result, evaluated=True)
        if method in DJANGO_ROWS:
            return replace(step, result=ROWS)
        if step.result not in (INSTANCES, ROWS, MANAGER):
            return None
        if method in DJANGO_SINGLE:
            return replace(step, result=SINGLE if step.result != ROWS else ROWS, evaluated=True)
        if method in DJANGO_SCALAR:
            return replace(step, result=SCALAR, evaluated=True)
        if method in DJANGO_WRITE:
            return replace(step, result=WRITE, evaluated=True)
        return None

    def add_select_related(self, step: QueryInfo, node: ast.Call) -> QueryInfo:
        if not node.args and not node.keywords:
            return replace(step, select_related_all=True)
        eager = set(step.eager)
        for arg in node.args:
            if isinstance(arg, ast.Constant) and isinstance(arg.value, str):
                eager |= prefixes(tuple(arg.value.split("__")))
            else:
                return replace(step, eager_all=True)  # computed lookups: unknown, so assume covered
        return replace(step, eager=frozenset(eager))

    def add_prefetch(self, step: QueryInfo, node: ast.Call, env: Env) -> QueryInfo:
        eager = set(step.eager)
        to_attr = list(step.to_attr)
        for arg in node.args:
            if isinstance(arg, ast.Constant) and isinstance(arg.value, str):
                eager |= prefixes(tuple(arg.value.split("__")))
            elif isinstance(arg, ast.Call) and canonical_of(self.ctx, arg.func) == "django:Prefetch" and arg.args:
                lookup = arg.args[0]
                if not (isinstance(lookup, ast.Constant) and isinstance(lookup.value, str)):
                    return replace(step, eager_all=True)
                path = tuple(lookup.value.split("__"))
                keywords = {kw.arg: kw.value for kw in arg.keywords if kw.arg}
                queryset = keywords.get("queryset") or (arg.args[1] if len(arg.args) > 1 else None)
                attr = keywords.get("to_attr") or (arg.args[2] if len(arg.args) > 2 else None)
                inner_paths: set[tuple[str, ...]] = set()
                if queryset is not None:
                    inner = self.resolve(queryset, env)
                    if inner is not None:
                        inner_paths = {path + p for p in inner.eager}
                if isinstance(attr, ast.Constant) and isinstance(attr.value, str):
                    to_attr.append((attr.value, path))
                    # The prefetched rows live under the to_attr name, not the relation.
                    eager |= prefixes(path[:-1]) | {path[:-1] + (attr.value,) + p[len(path):] for p in inner_paths}
                    eager.add(path[:-1] + (attr.value,))
                else:
                    eager |= prefixes(path) | inner_paths
            else:
                return replace(step, eager_all=True)  # a Prefetch held in a variable, *lookups: unknown
        return replace(step, eager=frozenset(eager), to_attr=tuple(to_attr))

    def apply_sqlalchemy(self, base: QueryInfo, step: QueryInfo, method: str, node: ast.Call, env: Env) -> QueryInfo | None:
        if base.result == WRITE:
            return step if method in SQLA_LAZY or method == "values" else None
        if base.result in (SINGLE, SCALAR):
            return None
        if method in SQLA_LAZY:
            if method == "options":
                return self.add_options(step, node)
            return step
        if method == "scalars":
            if base.result == ROWS and base.evaluated:
                return replace(step, result=ROWS if base.columns_only else INSTANCES)
            return None
        if base.result == STATEMENT:
            if method in ("add_columns", "with_only_columns"):
                return replace(step, columns_only=True)
            return None
        if method in SQLA_ROW_METHODS:
            return replace(step, result=ROWS, columns_only=True)
        if method == "all":
            return replace(step, evaluated=True)
        if method in SQLA_SINGLE:
            if base.result == STATEMENT:
                return None
            return replace(step, result=SINGLE, evaluated=True)
        if method in SQLA_SCALAR and base.result != STATEMENT:
            return replace(step, result=SCALAR, evaluated=True)
        if method == "exists" and base.result != STATEMENT:
            return replace(step, result=STATEMENT)
        if method in SQLA_WRITE and base.result != STATEMENT and not base.evaluated:
            return replace(step, result=WRITE, evaluated=True)
        return None

    def add_options(self, step: QueryInfo, node: ast.Call) -> QueryInfo:
        eager = set(step.eager)
        eager_all = step.eager_all
        for option in node.args:
            loaders = loader_chain(self.ctx, option)
            if not loaders and not _is_column_option(self.ctx, option):
                eager_all = True  # loader options we cannot read (variables, *options): unknown
            path: tuple[str, ...] = ()
            for strategy, attrs in loaders:
                if "*" in attrs and strategy in EAGER_LOADERS:
                    eager_all = True
                for attr in attrs:
                    if attr == "*":
                        continue
                    path = path + (attr,)
                    if strategy in EAGER_LOADERS:
                        eager.add(path)
        return replace(step, eager=frozenset(eager), eager_all=eager_all)

    def function_returns(self, name: str) -> QueryInfo | None:
        """The query a module-level function returns on every path, if any."""
        return self.returns_of(self.module_functions[name])

    def returns_of(self, function: ast.AST) -> QueryInfo | None:
        """The query ``function`` returns on every path (eager loading common to all), if any."""
        key = id(function)
        if key in self.returns:
            return self.returns[key]
        if key in self._returns_busy:
            return None
        self._returns_busy.add(key)
        found: list[QueryInfo | None] = []
        for node in self.returns_in(function):
            found.append(self.query_at(node.value) if node.value is not None else None)
        self._returns_busy.discard(key)
        result = None
        if found and all(f is not None for f in found):
            merged: Env = {"value": found[0]}
            for other in found[1:]:
                merged = merge_envs(merged, {"value": other})
            result = merged.get("value")
        self.returns[key] = result
        return result

    def returns_in(self, function: ast.AST) -> list[ast.Return]:
        """The ``return`` statements of ``function`` itself (not of nested functions), in walk order.

        Grouped once per file: the file's walk order restricted to one function's
        subtree is that subtree's own ``ast.walk`` order.
        """
        if self._returns_by_function is None:
            self._returns_by_function = {}
            for node in nodes_of(self.tree, ast.Return):
                self._returns_by_function.setdefault(self.function_of(node), []).append(node)
        return self._returns_by_function.get(function, [])

    def own_class_member(self, call_or_attribute: ast.AST, receiver: ast.AST, name: str) -> ast.AST | None:
        """``self.<name>`` inside a method: the method or class attribute of the enclosing class."""
        function = self.function_of(call_or_attribute)
        if not isinstance(function, (ast.FunctionDef, ast.AsyncFunctionDef)) or not function.args.args:
            return None
        if not (isinstance(receiver, ast.Name) and receiver.id == function.args.args[0].arg):
            return None
        owner = self.parents.get(function)
        if not isinstance(owner, ast.ClassDef):
            return None
        members = self._class_members.get(owner)
        if members is None:
            # Once per class, not once per ``self.x`` of its methods: the first statement
            # naming each member wins, as a scan of the body in order would find it.
            members = self._class_members[owner] = {}
            for stmt in owner.body:
                if isinstance(stmt, (ast.FunctionDef, ast.AsyncFunctionDef)):
                    members.setdefault(stmt.name, stmt)
                elif isinstance(stmt, ast.Assign) and len(stmt.targets) == 1 and isinstance(stmt.targets[0], ast.Name):
                    members.setdefault(stmt.targets[0].id, stmt.value)
        return members.get(name)

    # -- loops ------------------------------------------------------------------------------

    def loops(self) -> list[Loop]:
        if self._loops is None:
            found = nodes_of(self.tree, ast.For, ast.AsyncFor, ast.While, *COMPREHENSIONS)
            self._loops = [self.loop_for(node) for node in found]
        return self._loops

    def loop_for(self, node: ast.AST) -> Loop:
        if isinstance(node, (ast.For, ast.AsyncFor)):
            env = self.env_at(node)
            query = self.resolve(node.iter, env)
            inner = dict(env)
            for name in bound_names(node.target):
                inner.pop(name, None)
            self.bind_target(node.target, node.iter, inner, node)
            targets = {k: v for k, v in inner.items() if isinstance(v, Instance) and v.loop is node}
            loop = Loop(node, "for", node.iter, query, targets)
            loop.bounded = is_literal_collection(node.iter) or bool(query and query.bounded)
            loop.body = list(node.body)
            loop.assigned = bound_names(node.target) | assigned_in(node.body)
            return loop
        if isinstance(node, ast.While):
            loop = Loop(node, "while", None, None)
            loop.body = [node.test] + list(node.body)
            loop.assigned = assigned_in(node.body)
            return loop
        generator = node.generators[0]
        query = self.query_at(generator.iter)
        inner = dict(self.env_at(generator.iter))
        for gen in node.generators:
            for name in bound_names(gen.target):
                inner.pop(name, None)
            self.bind_target(gen.target, gen.iter, inner, node)
        targets = {k: v for k, v in inner.items() if isinstance(v, Instance) and v.loop is node}
        loop = Loop(node, "comprehension", generator.iter, query, targets)
        loop.bounded = is_literal_collection(generator.iter) or bool(query and query.bounded)
        element = [node.key, node.value] if isinstance(node, ast.DictComp) else [node.elt]
        loop.body = element + [c for g in node.generators for c in g.ifs] + [g.iter for g in node.generators[1:]]
        loop.assigned = set().union(*(bound_names(g.target) for g in node.generators))
        return loop

    def enclosing_loops(self, node: ast.AST) -> list[Loop]:
        by_node = self._loops_by_node
        if by_node is None:
            by_node = self._loops_by_node = {id(loop.node): loop for loop in self.loops()}
        result = []
        child, current = node, self.parents.get(node)
        while current is not None and not isinstance(current, FUNCTIONS + (ast.ClassDef,)):
            loop = by_node.get(id(current))
            if loop is not None and self.in_body(loop, child):
                result.append(loop)
            child, current = current, self.parents.get(current)
        return result

    @staticmethod
    def in_body(loop: Loop, child: ast.AST) -> bool:
        """Is ``child`` (a direct child of the loop node) run once per iteration?"""
        if isinstance(loop.node, (ast.For, ast.AsyncFor)):
            return any(child is stmt for stmt in loop.node.body)
        if isinstance(loop.node, ast.While):
            return child is loop.node.test or any(child is stmt for stmt in loop.node.body)
        if isinstance(child, ast.comprehension):
            return child is not loop.node.generators[0]  # nested generators run per outer row
        return True  # element / key / value


def assigned_in(body: list[ast.AST]) -> set[str]:
    names: set[str] = set()
    for stmt in body:
        for node in subtree(stmt):
            if isinstance(node, ast.Name) and isinstance(node.ctx, ast.Store):
                names.add(node.id)
            elif isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
                names.add(node.name)
    return names


def prefixes(path: tuple[str, ...]) -> set[tuple[str, ...]]:
    return {path[: i + 1] for i in range(len(path)) if path[: i + 1]}


def loader_chain(ctx, option: ast.AST) -> list[tuple[str, list[str]]]:
    """``joinedload(User.posts).selectinload(Post.tags)`` -> [("joinedload", ["posts"]), ("selectinload", ["tags"])]."""
    steps: list[tuple[str, list[str]]] = []
    current = option
    while isinstance(current, ast.Call):
        func = current.func
        attrs = [a for a in (_loader_attr(arg) for arg in current.args) if a]
        kind = canonical_of(ctx, func) if isinstance(func, (ast.Name, ast.Attribute)) else None
        if kind and kind.startswith("sqlalchemy:"):
            name = kind.split(":", 1)[1]
            if name == "Load":
                break
            steps.append((name, attrs))
            break
        if isinstance(func, ast.Attribute) and func.attr in PATH_LOADERS:
            steps.append((func.attr, attrs))
            current = func.value
            continue
        return []
    steps.reverse()
    expanded: list[tuple[str, list[str]]] = []
    for strategy, attrs in steps:
        if strategy not in PATH_LOADERS:
            continue
        if strategy in ("load_only", "defer", "undefer"):
            continue
        # 1.x style ``joinedload("a.b")`` / ``joinedload(A.b, B.c)``: every element is a hop.
        for attr in attrs[:-1]:
            expanded.append(("defaultload", [attr]))
        if attrs:
            expanded.append((strategy, [attrs[-1]]))
    return expanded


def _is_column_option(ctx, option: ast.AST) -> bool:
    """``load_only(..)`` / ``defer(..)`` / ``undefer(..)``: options that load no relation."""
    if isinstance(option, ast.Call) and isinstance(option.func, (ast.Name, ast.Attribute)):
        kind = canonical_of(ctx, option.func) or ""
        return kind.split(":")[-1] in ("load_only", "defer", "undefer", "undefer_group", "with_expression", "raiseload")
    return False


def _loader_attr(node: ast.AST) -> str:
    if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.func.attr == "of_type":
        node = node.func.value
    if isinstance(node, ast.Attribute):
        return node.attr
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        return node.value
    return ""


def merge_envs(a: Env, b: Env) -> Env:
    """Names known on both paths; a query keeps only eager loading applied on both."""
    merged: Env = {}
    for name in set(a) | set(b):
        left, right = a.get(name), b.get(name)
        if left is None or right is None:
            continue
        if left is right:
            merged[name] = left
        elif isinstance(left, QueryInfo) and isinstance(right, QueryInfo):
            if left.model.qualname == right.model.qualname and left.result == right.result:
                common = 0
                for (_, mine), (_, theirs) in zip(left.chain, right.chain):
                    if mine is not theirs:
                        break
                    common += 1
                merged[name] = replace(
                    left,
                    chain=left.chain[:common] if left.root is right.root else left.chain,
                    executed_at=tuple(i for i in left.executed_at if i < common or left.root is not right.root),
                    eager=left.eager & right.eager,
                    select_related_all=left.select_related_all and right.select_related_all,
                    eager_all=left.eager_all and right.eager_all,
                    to_attr=tuple(t for t in left.to_attr if t in right.to_attr),
                    bounded=left.bounded and right.bounded,
                    columns_only=left.columns_only or right.columns_only,
                )
        elif isinstance(left, Instance) and isinstance(right, Instance):
            if left.model.qualname == right.model.qualname and left.kind == right.kind:
                merged[name] = left
    return merged
