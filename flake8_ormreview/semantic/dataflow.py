"""Data flow inside one function, for the rules that are not about query shape.

What lives here (query recognition itself is :mod:`.querysets`):

- :class:`Scope`: the bindings of one function body (or of the module body):
  assignments, augmented assignments, ``for`` / ``with`` targets, parameters
  and ``list.append``/``extend`` calls, each with its line.  Nested
  functions, lambdas and classes are scopes of their own.
- :func:`sql_taint`: is this expression a string built (f-string, ``%``,
  ``.format()``, ``+``, ``str.join``) from a non-constant value?  Values are
  followed through local variables assigned before the use.  Safe values
  are literals, module-level constants (and imported ``UPPER_CASE`` names),
  ``int()``/``float()``/``bool()``/``len()`` results (also joined from a
  comprehension of them), lookups in a constant table (``ORDERING[key]``),
  ``Model._meta.*`` and ``connection.ops.quote_name(..)``.  Function
  parameters are never constants.
- :func:`request_data`: does this expression carry a whole request payload
  (``request.POST/GET/data/json/form/args/values/query_params``,
  ``request.get_json()``, ``json.loads(request.body)``, ``dict(..)`` /
  ``.copy()`` / ``.dict()`` of them, ``{**request.data}``), directly or
  through a local variable?
- :func:`in_atomic`: is a node inside ``transaction.atomic`` (``with`` block or
  decorator, imported as ``transaction`` or by name, ``method_decorator``)?
- :func:`django_write` / :func:`session_commit`: is this call a Django ORM
  write (save/create/update/delete/bulk_*/get_or_create/update_or_create,
  M2M add/remove/set/clear) or an SQLAlchemy ``session.commit()``?
  :func:`count_sites` / :func:`path_count`: how many of them one run of a
  function body reaches (branches are alternatives, loops count once).
- :func:`fetched_instance`: :func:`.querysets.instance_of` plus names bound
  from ``get_object_or_404(Model or queryset, ..)``.

Everything is lexical and per function: nothing follows calls into other
functions, and unknown values are never reported as tainted.
"""

from __future__ import annotations

import ast
import re
from dataclasses import dataclass, field
from typing import Callable, Iterator

from . import querysets
from .facts import ModelFact
from .names import dotted, iter_module_level
from .walk import children, nodes_of
from .walk import parent_map as shared_parent_map

FUNCTION_NODES = (ast.FunctionDef, ast.AsyncFunctionDef)
SCOPE_NODES = (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda, ast.ClassDef)


# -- walking ---------------------------------------------------------------------------------


_OWN_NODES = "_ormreview_own_nodes"


def own_nodes(scope: ast.AST) -> Iterator[ast.AST]:
    """Every node of a function (or module) body, not descending into nested scopes.

    The list is kept on the scope node (like :mod:`.walk` does for the whole
    tree): several rules walk every function body of the file.
    """
    cached = getattr(scope, _OWN_NODES, None)
    if cached is None:
        cached = _walk_own_nodes(scope)
        try:
            setattr(scope, _OWN_NODES, cached)
        except AttributeError:  # a node type without __dict__: just do not cache
            pass
    return iter(cached)


def _walk_own_nodes(scope: ast.AST) -> list[ast.AST]:
    body = scope.body if isinstance(scope, (ast.Module, ast.ClassDef, *FUNCTION_NODES)) else [scope]
    stack: list[ast.AST] = list(reversed(body))
    found: list[ast.AST] = []
    append, pop, extend = found.append, stack.pop, stack.extend
    while stack:
        node = pop()
        append(node)
        if isinstance(node, SCOPE_NODES):
            # A nested def's decorators and defaults run here; its body does not.
            if not isinstance(node, ast.Lambda):
                extend(reversed(node.decorator_list))
            continue
        extend(reversed(children(node)))
    return found


def functions(tree: ast.AST) -> Iterator[ast.FunctionDef | ast.AsyncFunctionDef]:
    yield from nodes_of(tree, *FUNCTION_NODES)


def parent_map(tree: ast.AST, cache: dict | None = None) -> dict[ast.AST, ast.AST]:
    """Child -> parent for every node of ``tree`` (kept in ``cache`` when given)."""
    if cache is not None and "dataflow.parents" in cache:
        return cache["dataflow.parents"]
    parents = shared_parent_map(tree)
    if cache is not None:
        cache["dataflow.parents"] = parents
    return parents


def enclosing_scope(node: ast.AST, parents: dict[ast.AST, ast.AST]) -> ast.AST | None:
    """The nearest function, lambda or class around ``node`` (``None`` at module level)."""
    current = parents.get(node)
    while current is not None and not isinstance(current, SCOPE_NODES):
        current = parents.get(current)
    return current


def enclosing_function(node: ast.AST, parents: dict[ast.AST, ast.AST]) -> ast.FunctionDef | ast.AsyncFunctionDef | None:
    current = parents.get(node)
    while current is not None and not isinstance(current, FUNCTION_NODES):
        current = parents.get(current)
    return current


def ancestors(node: ast.AST, parents: dict[ast.AST, ast.AST]) -> Iterator[ast.AST]:
    current = parents.get(node)
    while current is not None:
        yield current
        current = parents.get(current)


def call_name(call: ast.AST) -> str:
    """The called attribute or function name (``filter`` for ``qs.filter(..)``), "" otherwise."""
    if not isinstance(call, ast.Call):
        return ""
    if isinstance(call.func, ast.Attribute):
        return call.func.attr
    if isinstance(call.func, ast.Name):
        return call.func.id
    return ""


def source_text(node: ast.AST, limit: int = 40) -> str:
    try:
        text = " ".join(ast.unparse(node).split())
    except Exception:  # noqa: BLE001 - unparse of odd trees; the text is only cosmetic
        return "?"
    return text if len(text) <= limit else text[: limit - 3] + "..."


# -- bindings --------------------------------------------------------------------------------


@dataclass
class Binding:
    """One way a name gets a value in a scope."""

    kind: str  # "assign", "aug", "for", "with", "unpack", "import", "def", "param", "append", "other"
    value: ast.AST | None
    line: int
    op: ast.operator | None = None


@dataclass
class Scope:
    node: ast.AST
    parent: "Scope | None" = None
    params: set[str] = field(default_factory=set)
    bindings: dict[str, list[Binding]] = field(default_factory=dict)
    appends: dict[str, list[Binding]] = field(default_factory=dict)

    def bind(self, name: str, binding: Binding) -> None:
        self.bindings.setdefault(name, []).append(binding)

    def before(self, name: str, line: int) -> list[Binding]:
        """Bindings of ``name`` on or before ``line`` (all of them when none is)."""
        found = self.bindings.get(name, [])
        earlier = [b for b in found if b.line <= line]
        return earlier or found

    def is_local(self, name: str) -> bool:
        return name in self.bindings or name in self.params


def bind_target(scope: Scope, target: ast.AST, value: ast.AST | None, kind: str, line: int) -> None:
    if isinstance(target, ast.Name):
        scope.bind(target.id, Binding(kind, value, line))
    elif isinstance(target, (ast.Tuple, ast.List)):
        values = value.elts if isinstance(value, (ast.Tuple, ast.List)) and len(value.elts) == len(target.elts) and kind == "assign" else None
        for position, element in enumerate(target.elts):
            if isinstance(element, ast.Starred):
                element = element.value
            if values is not None:
                bind_target(scope, element, values[position], kind, line)
            else:
                bind_target(scope, element, value, "unpack" if kind == "assign" else kind, line)
    elif isinstance(target, ast.Starred):
        bind_target(scope, target.value, None, "other", line)


# Every node kind the chain in build_scope looks at.
_BINDING_NODES = (
    ast.Assign, ast.AnnAssign, ast.AugAssign, ast.For, ast.AsyncFor, ast.With, ast.AsyncWith, ast.NamedExpr,
    ast.Import, ast.ImportFrom, *FUNCTION_NODES, ast.ClassDef, ast.ExceptHandler, ast.Call,
)
_binds_by_class: dict[type, bool] = {}


def build_scope(node: ast.AST, parent: Scope | None = None) -> Scope:
    scope = Scope(node, parent)
    if isinstance(node, (*FUNCTION_NODES, ast.Lambda)):
        args = node.args
        for arg in args.posonlyargs + args.args + args.kwonlyargs + [a for a in (args.vararg, args.kwarg) if a]:
            scope.params.add(arg.arg)
    statements = iter_module_level(node) if isinstance(node, ast.Module) else own_nodes(node)
    for stmt in statements:
        # Most nodes (names, constants, attributes) bind nothing: one look-up by class
        # instead of the whole chain of isinstance tests below.
        binds = _binds_by_class.get(type(stmt))
        if binds is None:
            binds = _binds_by_class[type(stmt)] = issubclass(type(stmt), _BINDING_NODES)
        if not binds:
            continue
        line = getattr(stmt, "lineno", 0)
        if isinstance(stmt, ast.Assign):
            for target in stmt.targets:
                bind_target(scope, target, stmt.value, "assign", line)
        elif isinstance(stmt, ast.AnnAssign) and stmt.value is not None:
            bind_target(scope, stmt.target, stmt.value, "assign", line)
        elif isinstance(stmt, ast.AugAssign) and isinstance(stmt.target, ast.Name):
            scope.bind(stmt.target.id, Binding("aug", stmt.value, line, stmt.op))
        elif isinstance(stmt, (ast.For, ast.AsyncFor)):
            bind_target(scope, stmt.target, stmt.iter, "for", line)
        elif isinstance(stmt, (ast.With, ast.AsyncWith)):
            for item in stmt.items:
                if item.optional_vars is not None:
                    bind_target(scope, item.optional_vars, item.context_expr, "with", line)
        elif isinstance(stmt, ast.NamedExpr):
            bind_target(scope, stmt.target, stmt.value, "assign", line)
        elif isinstance(stmt, (ast.Import, ast.ImportFrom)):
            for alias in stmt.names:
                name = alias.asname or alias.name.split(".")[0]
                scope.bind(name, Binding("import", stmt, line))
        elif isinstance(stmt, (*FUNCTION_NODES, ast.ClassDef)) and stmt is not node:
            scope.bind(stmt.name, Binding("def", stmt, line))
        elif isinstance(stmt, ast.ExceptHandler) and stmt.name:
            scope.bind(stmt.name, Binding("other", None, line))
        elif isinstance(stmt, ast.Call) and isinstance(stmt.func, ast.Attribute) and isinstance(stmt.func.value, ast.Name):
            if stmt.func.attr in ("append", "extend", "insert") and stmt.args:
                value = stmt.args[-1]
                kind = "append" if stmt.func.attr != "extend" else "extend"
                scope.appends.setdefault(stmt.func.value.id, []).append(Binding(kind, value, line))
    return scope


class ScopeTable:
    """Scopes of one module, built on demand and cached per node."""

    def __init__(self, tree: ast.Module, parents: dict[ast.AST, ast.AST]) -> None:
        self.tree = tree
        self.parents = parents
        self._scopes: dict[ast.AST, Scope] = {}
        self.module = self.scope_of_node(tree)

    def scope_of_node(self, node: ast.AST) -> Scope:
        if node not in self._scopes:
            outer = enclosing_scope(node, self.parents) if node is not self.tree else None
            while isinstance(outer, ast.ClassDef):  # class bodies are not visible from methods
                outer = enclosing_scope(outer, self.parents)
            parent = None if node is self.tree else self.scope_of_node(outer if outer is not None else self.tree)
            self._scopes[node] = build_scope(node, parent)
        return self._scopes[node]

    def scope_at(self, node: ast.AST) -> Scope:
        """The scope a node is evaluated in."""
        owner = enclosing_scope(node, self.parents)
        return self.scope_of_node(owner if owner is not None else self.tree)


def scope_table(tree: ast.Module, cache: dict | None = None) -> ScopeTable:
    if cache is not None and "dataflow.scopes" in cache:
        return cache["dataflow.scopes"]
    table = ScopeTable(tree, parent_map(tree, cache))
    if cache is not None:
        cache["dataflow.scopes"] = table
    return table


def lookup(scope: Scope, name: str) -> tuple[Scope | None, bool]:
    """The scope that binds ``name`` (closures included) and whether it is a parameter there."""
    current: Scope | None = scope
    while current is not None:
        if name in current.bindings:
            return current, False
        if name in current.params:
            return current, True
        current = current.parent
    return None, False


# -- string-building taint (ORM502) ----------------------------------------------------------

SAFE, OPAQUE, BUILT = 0, 1, 2
SAFE_CALLS = {"int", "float", "bool", "len", "abs", "round"}
STR_METHODS = {"upper", "lower", "strip", "lstrip", "rstrip", "title", "casefold", "replace", "format", "join", "zfill"}
SANITIZERS = {"quote_name", "quote_ident", "quote_identifier", "quote_schema", "escape_identifier"}
# Upper-case attributes that are client input, not named constants (request.GET, request.META).
REQUEST_ATTRIBUTES = {"GET", "POST", "REQUEST", "FILES", "META", "COOKIES", "DATA"}


@dataclass(frozen=True)
class Taint:
    state: int
    value: str = ""  # source text of the non-constant value
    how: str = ""  # how the string was built

    @property
    def built(self) -> bool:
        return self.state == BUILT


SAFE_TAINT = Taint(SAFE)
PERCENT_CONVERSION = re.compile(r"%(?:\([^)]*\))?[#0\- +]*(?:\*|\d+)?(?:\.(?:\*|\d+))?[hlL]?([a-zA-Z%])")


def numeric_spec(value: ast.FormattedValue) -> bool:
    """``{n:d}`` / ``{x:.2f}``: the format spec only renders numbers (a string raises)."""
    spec = value.format_spec
    if not (isinstance(spec, ast.JoinedStr) and len(spec.values) == 1 and isinstance(spec.values[0], ast.Constant)):
        return False
    text = str(spec.values[0].value)
    return bool(text) and text[-1] in "dfFeEgGxXob%n" and value.conversion == -1


def numeric_conversions_only(template: ast.AST) -> bool:
    """A constant ``%`` template whose every conversion is numeric (``%d``, ``%.2f``, ``%%``)."""
    if not (isinstance(template, ast.Constant) and isinstance(template.value, str)):
        return False
    kinds = PERCENT_CONVERSION.findall(template.value)
    return bool(kinds) and all(kind in "diouxXeEfFgG%" for kind in kinds)


def named_constant(node: ast.AST) -> bool:
    """A literal or an upper-case name (``SEP``, ``Status.DRAFT``), never request data (``request.GET``)."""
    if isinstance(node, ast.Constant):
        return True
    name = node.id if isinstance(node, ast.Name) else node.attr if isinstance(node, ast.Attribute) else ""
    return len(name) > 1 and name.isupper() and name not in REQUEST_ATTRIBUTES


def worst(*taints: Taint) -> Taint:
    result = SAFE_TAINT
    for taint in taints:
        if taint.state > result.state:
            result = taint
    return result


class TaintAnalysis:
    """Classify expressions of one module as constant, opaque, or SQL-unsafe strings."""

    def __init__(self, tree: ast.Module, cache: dict | None = None, is_builtin: Callable[[str], bool] | None = None) -> None:
        self.table = scope_table(tree, cache)
        self.is_builtin = is_builtin or (lambda name: True)
        self._active: set[tuple[int, str]] = set()

    def of(self, node: ast.AST) -> Taint:
        if isinstance(node, ast.Constant):
            return SAFE_TAINT  # what classify() answers first, without building the scope
        return self.classify(node, self.table.scope_at(node), {})

    # A string built from an opaque value is BUILT; an opaque value itself stays OPAQUE.
    def classify(self, node: ast.AST, scope: Scope, env: dict[str, Taint], depth: int = 0) -> Taint:
        if depth > 40:
            return Taint(OPAQUE, "?")
        rec = lambda child: self.classify(child, scope, env, depth + 1)  # noqa: E731
        if isinstance(node, ast.Constant):
            return SAFE_TAINT
        if isinstance(node, ast.JoinedStr):
            parts = [rec(v.value) for v in node.values if isinstance(v, ast.FormattedValue) and not numeric_spec(v)]
            return self.built(worst(*parts), "an f-string")
        if isinstance(node, (ast.Tuple, ast.List, ast.Set)):
            return worst(*(rec(e.value if isinstance(e, ast.Starred) else e) for e in node.elts))
        if isinstance(node, ast.Dict):
            return worst(*(rec(v) for v in node.values), *(rec(k) for k in node.keys if k is not None))
        if isinstance(node, ast.BinOp):
            return self.binop(node, scope, env, depth)
        if isinstance(node, ast.UnaryOp):
            return rec(node.operand)
        if isinstance(node, ast.IfExp):
            return worst(rec(node.body), rec(node.orelse))
        if isinstance(node, ast.BoolOp):
            return worst(*(rec(v) for v in node.values))
        if isinstance(node, ast.Compare):
            return SAFE_TAINT  # a bool
        if isinstance(node, ast.Name):
            return self.name(node, scope, env, depth)
        if isinstance(node, ast.Attribute):
            return self.attribute(node, scope, env, depth)
        if isinstance(node, ast.Subscript):
            # A lookup in a constant table (ORDERING[key]) yields one of its constants.
            container = rec(node.value)
            return container if container.state != SAFE else SAFE_TAINT
        if isinstance(node, ast.Call):
            return self.call(node, scope, env, depth)
        if isinstance(node, (ast.ListComp, ast.SetComp, ast.GeneratorExp)):
            return self.comprehension(node.elt, node.generators, scope, env, depth)
        if isinstance(node, ast.DictComp):
            return self.comprehension(node.value, node.generators, scope, env, depth)
        if isinstance(node, ast.NamedExpr):
            return rec(node.value)
        if isinstance(node, ast.Await):
            return rec(node.value)
        return Taint(OPAQUE, source_text(node))

    def built(self, inner: Taint, how: str) -> Taint:
        """A string assembled from ``inner``: unsafe as soon as any part is not constant."""
        if inner.state == SAFE:
            return SAFE_TAINT
        return Taint(BUILT, inner.value, inner.how if inner.state == BUILT and inner.how else how)

    def binop(self, node: ast.BinOp, scope: Scope, env: dict[str, Taint], depth: int) -> Taint:
        left = self.classify(node.left, scope, env, depth + 1)
        right = self.classify(node.right, scope, env, depth + 1)
        if isinstance(node.op, ast.Mod) and self.stringish(node.left, scope):
            if numeric_conversions_only(node.left):
                return SAFE_TAINT  # "LIMIT %d" % n: the value can only render as a number
            return self.built(worst(left, right), "% formatting")
        if isinstance(node.op, ast.Add) and (self.stringish(node.left, scope) or self.stringish(node.right, scope)):
            return self.built(worst(left, right), "+ concatenation")
        return worst(left, right)

    def name(self, node: ast.Name, scope: Scope, env: dict[str, Taint], depth: int) -> Taint:
        if node.id in env:
            return env[node.id]
        owner, is_param = lookup(scope, node.id)
        if owner is None:
            # Not bound in this module: a builtin or a star import.
            return Taint(OPAQUE, node.id)
        if is_param:
            return Taint(OPAQUE, node.id)
        key = (id(owner), node.id)
        if key in self._active:
            return SAFE_TAINT  # a cycle (sql = sql + ...) adds nothing new
        self._active.add(key)
        try:
            bindings = owner.before(node.id, node.lineno) if owner is scope else owner.bindings.get(node.id, [])
            if owner.parent is None:  # module level: only constants are safe
                return self.module_name(node.id, bindings, owner, depth)
            results = [self.binding(b, node.id, owner, depth) for b in bindings]
            results += [self.classify(b.value, owner, {}, depth + 1) for b in owner.appends.get(node.id, []) if b.value is not None]
            found = worst(*results)
            # Name the variable the reader sees, not the expression it was assigned from.
            return Taint(OPAQUE, node.id) if found.state == OPAQUE else found
        finally:
            self._active.discard(key)

    def module_name(self, name: str, bindings: list[Binding], owner: Scope, depth: int) -> Taint:
        results = []
        for binding in bindings:
            if binding.kind == "import":
                results.append(SAFE_TAINT if name.isupper() else Taint(OPAQUE, name))
            elif binding.kind == "assign" and binding.value is not None:
                results.append(self.classify(binding.value, owner, {}, depth + 1))
            elif binding.kind == "def":
                results.append(Taint(OPAQUE, name))
            else:
                results.append(Taint(OPAQUE, name))
        return worst(*results) if results else Taint(OPAQUE, name)

    def binding(self, binding: Binding, name: str, owner: Scope, depth: int) -> Taint:
        value = binding.value
        if value is None or binding.kind in ("import", "def", "other", "param"):
            return Taint(OPAQUE, name)
        taint = self.classify(value, owner, {}, depth + 1)
        if binding.kind == "assign":
            return taint
        if binding.kind == "aug":
            if isinstance(binding.op, (ast.Add, ast.Mod)) and (self.name_is_stringish(name, owner) or self.stringish(value, owner)):
                return self.built(taint, "+ concatenation" if isinstance(binding.op, ast.Add) else "% formatting")
            return taint
        if binding.kind in ("for", "unpack", "with"):
            # An element of a constant collection is constant; anything else is opaque.
            return SAFE_TAINT if taint.state == SAFE else Taint(OPAQUE, name)
        return Taint(OPAQUE, name)

    def attribute(self, node: ast.Attribute, scope: Scope, env: dict[str, Taint], depth: int) -> Taint:
        chain = dotted(node) or ""
        parts = chain.split(".") if chain else []
        if "_meta" in parts[1:] or node.attr in ("__tablename__", "__name__") or (parts[-2:-1] == ["__table__"]):
            return SAFE_TAINT
        if node.attr.isupper() and len(node.attr) > 1 and node.attr not in REQUEST_ATTRIBUTES:
            return SAFE_TAINT  # settings.SCHEMA, self.TABLE: named constants
        if node.attr in ("value", "name") and isinstance(node.value, ast.Attribute) and named_constant(node.value):
            return SAFE_TAINT  # Status.DRAFT.value: an enum member's value is a constant
        if isinstance(node.value, ast.Name) and node.value.id in ("self", "cls") and self.class_constant(node.attr, scope, depth):
            return SAFE_TAINT  # ``table = "orders"`` in the class body, never reassigned
        return Taint(OPAQUE, source_text(node))

    def class_constant(self, attr: str, scope: Scope, depth: int) -> bool:
        """Is ``self.<attr>`` a constant class attribute of the method's class that no method reassigns?"""
        owner = self.table.parents.get(scope.node)
        if not isinstance(owner, ast.ClassDef):
            return False
        values = [stmt.value for stmt in owner.body if isinstance(stmt, (ast.Assign, ast.AnnAssign)) and stmt.value is not None
                  and any(isinstance(t, ast.Name) and t.id == attr for t in (stmt.targets if isinstance(stmt, ast.Assign) else [stmt.target]))]
        if len(values) != 1 or not isinstance(values[0], (ast.Constant, ast.Tuple, ast.List, ast.Dict, ast.JoinedStr)):
            return False
        for node in ast.walk(owner):
            if (isinstance(node, ast.Attribute) and node.attr == attr and isinstance(node.ctx, ast.Store)
                    and isinstance(node.value, ast.Name) and node.value.id in ("self", "cls")):
                return False  # set per instance somewhere: not a constant
        class_scope = self.table.scope_of_node(owner)
        return self.classify(values[0], class_scope, {}, depth + 1).state == SAFE

    def call(self, node: ast.Call, scope: Scope, env: dict[str, Taint], depth: int) -> Taint:
        rec = lambda child: self.classify(child, scope, env, depth + 1)  # noqa: E731
        name = call_name(node)
        if isinstance(node.func, ast.Name) and self.is_builtin(name) and lookup(scope, name)[0] is None:
            if name in SAFE_CALLS:
                return SAFE_TAINT
            if name in ("str", "repr") and len(node.args) == 1:
                return rec(node.args[0])
        if self.is_sanitizer(node, scope):
            return SAFE_TAINT  # quoted identifiers (Django's ops.quote_name, SQLAlchemy's IdentifierPreparer)
        if isinstance(node.func, ast.Attribute):
            target = node.func.value
            args = [a.value if isinstance(a, ast.Starred) else a for a in node.args] + [k.value for k in node.keywords]
            if name == "format" and self.stringish(target, scope):
                return self.built(worst(rec(target), *(rec(a) for a in args)), ".format()")
            if name == "join" and self.stringish(target, scope) and node.args:
                return self.built(worst(rec(target), self.joined(node.args[0], scope, env, depth)), "str.join()")
            owner = rec(target)
            if owner.state == SAFE:
                if name == "get":  # CONSTANT_TABLE.get(key, default)
                    return worst(*(rec(a) for a in args[1:]))
                # ``stmt = stmt.join(M)`` is SQLAlchemy's join (the cycle reads as safe), not str.join:
                # only a named constant separator (SEP.join) joins strings here.
                if name in STR_METHODS and (name != "join" or named_constant(target)):
                    return self.built(worst(*(rec(a) for a in args)), "str." + name + "()")
                if all(rec(a).state == SAFE for a in args):
                    return SAFE_TAINT
            elif owner.state == BUILT and name in STR_METHODS:
                return owner
        return Taint(OPAQUE, source_text(node))

    def is_sanitizer(self, node: ast.Call, scope: Scope) -> bool:
        """``quote_name(..)`` and friends, also through a local alias (``qn = connection.ops.quote_name``)."""
        name = call_name(node)
        if name in SANITIZERS or name.startswith("quote_name"):
            return True
        if ("quote" in name or name.startswith("format_")) and "preparer" in source_text(node.func, 200):
            return True
        if isinstance(node.func, ast.Name):
            owner, is_param = lookup(scope, name)
            if owner is not None and not is_param:
                return any(b.kind == "assign" and isinstance(b.value, ast.Attribute) and b.value.attr in SANITIZERS
                           for b in owner.bindings.get(name, []))
        return False

    def joined(self, node: ast.AST, scope: Scope, env: dict[str, Taint], depth: int) -> Taint:
        """The elements of what ``sep.join(..)`` receives."""
        if isinstance(node, ast.Name) and node.id not in env:
            owner, is_param = lookup(scope, node.id)
            if owner is not None and not is_param:
                return self.name(node, scope, env, depth + 1)
        return self.classify(node, scope, env, depth + 1)

    def comprehension(self, element: ast.AST, generators: list[ast.comprehension], scope: Scope, env: dict[str, Taint], depth: int) -> Taint:
        inner = dict(env)
        for generator in generators:
            source = self.classify(generator.iter, scope, inner, depth + 1)
            for target in ast.walk(generator.target):
                if isinstance(target, ast.Name):
                    inner[target.id] = SAFE_TAINT if source.state == SAFE else Taint(OPAQUE, target.id)
        return self.classify(element, scope, inner, depth + 1)

    # -- is this a string? ---------------------------------------------------------------

    def stringish(self, node: ast.AST, scope: Scope, depth: int = 0) -> bool:
        if depth > 8:
            return False
        if isinstance(node, ast.Constant):
            return isinstance(node.value, str)
        if isinstance(node, ast.JoinedStr):
            return True
        if isinstance(node, ast.BinOp) and isinstance(node.op, (ast.Add, ast.Mod)):
            return self.stringish(node.left, scope, depth + 1) or (isinstance(node.op, ast.Add) and self.stringish(node.right, scope, depth + 1))
        if isinstance(node, ast.Call):
            if isinstance(node.func, ast.Attribute) and node.func.attr in STR_METHODS:
                return self.stringish(node.func.value, scope, depth + 1)
            return isinstance(node.func, ast.Name) and node.func.id == "str"
        if isinstance(node, ast.IfExp):
            return self.stringish(node.body, scope, depth + 1) or self.stringish(node.orelse, scope, depth + 1)
        if isinstance(node, ast.Name):
            owner, is_param = lookup(scope, node.id)
            return owner is not None and not is_param and self.name_is_stringish(node.id, owner, depth + 1)
        return False

    def name_is_stringish(self, name: str, owner: Scope, depth: int = 0) -> bool:
        key = (id(owner), "str:" + name)
        if key in self._active or depth > 8:
            return False
        self._active.add(key)
        try:
            return any(
                b.value is not None and b.kind in ("assign", "aug") and self.stringish(b.value, owner, depth + 1)
                for b in owner.bindings.get(name, [])
            )
        finally:
            self._active.discard(key)


# -- request data (ORM504) -------------------------------------------------------------------

REQUEST_PAYLOADS = {"POST", "GET", "data", "json", "form", "args", "values", "query_params", "REQUEST"}
REQUEST_PAYLOAD_CALLS = {"get_json", "json"}
PAYLOAD_COPIES = {"dict", "copy", "to_dict", "items_dict"}
REQUEST_NAMES = {"request", "req"}


def _may_carry_payload(node: ast.AST) -> bool:
    """False for the nodes :meth:`RequestData.source` always answers None for (checked before building a scope)."""
    if isinstance(node, (ast.Await, ast.Subscript, ast.DictComp, ast.Name)):
        return True
    if isinstance(node, ast.Attribute):
        return node.attr in REQUEST_PAYLOADS
    if isinstance(node, ast.Call):
        func = node.func
        if isinstance(func, ast.Attribute):
            return func.attr in REQUEST_PAYLOAD_CALLS or func.attr in PAYLOAD_COPIES or func.attr == "loads"
        return isinstance(func, ast.Name) and func.id == "dict"
    if isinstance(node, ast.Dict):
        return any(key is None for key in node.keys)
    return False


class RequestData:
    """Which expressions carry a whole client payload, in one module."""

    def __init__(self, tree: ast.Module, resolve: Callable[[ast.AST], str | None], cache: dict | None = None) -> None:
        self.table = scope_table(tree, cache)
        self.resolve = resolve
        self._active: set[tuple[int, str]] = set()

    def is_request(self, node: ast.AST, scope: Scope) -> bool:
        """``request`` (a parameter or Flask's global), ``self.request``."""
        if isinstance(node, ast.Name):
            if self.resolve(node) in ("flask.request", "quart.request"):
                return True
            owner, is_param = lookup(scope, node.id)
            return node.id in REQUEST_NAMES and (is_param or (owner is not None and owner.parent is not None))
        if isinstance(node, ast.Attribute) and node.attr == "request":
            return isinstance(node.value, ast.Name) and node.value.id in ("self", "cls")
        return False

    def source(self, node: ast.AST, scope: Scope | None = None, depth: int = 0) -> str | None:
        """``"request.POST"``-style text when ``node`` carries a whole request payload."""
        if depth > 12 or node is None or not _may_carry_payload(node):
            return None
        scope = scope or self.table.scope_at(node)
        rec = lambda child: self.source(child, scope, depth + 1)  # noqa: E731
        if isinstance(node, ast.Await):
            return rec(node.value)
        if isinstance(node, ast.Attribute) and node.attr in REQUEST_PAYLOADS and self.is_request(node.value, scope):
            return source_text(node)
        if isinstance(node, ast.Subscript):
            return rec(node.value)  # request.json["user"] is a nested payload
        if isinstance(node, ast.Call):
            func = node.func
            if isinstance(func, ast.Attribute):
                if func.attr in REQUEST_PAYLOAD_CALLS and self.is_request(func.value, scope):
                    return source_text(node)
                if func.attr in PAYLOAD_COPIES and not node.args:
                    return rec(func.value)
                if func.attr == "loads" and self.resolve(func) == "json.loads" and node.args:
                    body = node.args[0]
                    if isinstance(body, ast.Attribute) and body.attr == "body" and self.is_request(body.value, scope):
                        return source_text(node)
            elif isinstance(func, ast.Name) and func.id == "dict" and len(node.args) == 1 and not node.keywords:
                return rec(node.args[0])
            return None
        if isinstance(node, ast.Dict):
            for key, value in zip(node.keys, node.values):
                if key is None:
                    found = rec(value)
                    if found:
                        return found
            return None
        if isinstance(node, ast.DictComp) and len(node.generators) == 1:
            generator = node.generators[0]
            if generator.ifs:
                return None  # filtered through a whitelist
            iterable = generator.iter
            if isinstance(iterable, ast.Call) and call_name(iterable) == "items" and isinstance(iterable.func, ast.Attribute):
                return rec(iterable.func.value)
            return None
        if isinstance(node, ast.Name):
            owner, is_param = lookup(scope, node.id)
            if owner is None or is_param or owner.parent is None:
                return None
            key = (id(owner), node.id)
            if key in self._active:
                return None
            self._active.add(key)
            try:
                for binding in owner.before(node.id, node.lineno) if owner is scope else owner.bindings.get(node.id, []):
                    if binding.kind in ("assign", "for") and binding.value is not None:
                        # ``for item in request.data["items"]``: each element is a client payload too
                        found = self.source(binding.value, owner, depth + 1)
                        if found:
                            return found
            finally:
                self._active.discard(key)
        return None


# -- transaction.atomic ----------------------------------------------------------------------

ATOMIC = "django:transaction.atomic"


def is_atomic(node: ast.AST, canonical_of: Callable[[ast.AST], str | None]) -> bool:
    """``transaction.atomic``, ``transaction.atomic(using=..)``, ``atomic`` imported by name."""
    target = node.func if isinstance(node, ast.Call) else node
    return canonical_of(target) == ATOMIC


def is_atomic_decorator(node: ast.AST, canonical_of: Callable[[ast.AST], str | None]) -> bool:
    """``@transaction.atomic``, ``@atomic(..)``, ``@method_decorator(transaction.atomic, ..)``."""
    if is_atomic(node, canonical_of):
        return True
    return (isinstance(node, ast.Call) and bool(node.args) and isinstance(node.func, (ast.Name, ast.Attribute))
            and dotted(node.func) is not None and dotted(node.func).split(".")[-1] == "method_decorator"
            and is_atomic(node.args[0], canonical_of))


def atomic_function(func: ast.AST, canonical_of: Callable[[ast.AST], str | None], parents: dict | None = None) -> bool:
    """A function decorated atomic, or a method of a class decorated ``method_decorator(atomic, ..)``."""
    if not isinstance(func, FUNCTION_NODES):
        return False
    if any(is_atomic_decorator(d, canonical_of) for d in func.decorator_list):
        return True
    owner = parents.get(func) if parents is not None else None
    return isinstance(owner, ast.ClassDef) and any(is_atomic_decorator(d, canonical_of) for d in owner.decorator_list)


def in_atomic(node: ast.AST, parents: dict[ast.AST, ast.AST], canonical_of: Callable[[ast.AST], str | None]) -> bool:
    """Is ``node`` lexically inside an atomic block of its own function (or an atomic function)?"""
    child = node
    for parent in ancestors(node, parents):
        if isinstance(parent, (ast.With, ast.AsyncWith)) and child in parent.body:
            if any(is_atomic(item.context_expr, canonical_of) for item in parent.items):
                return True
        if isinstance(parent, SCOPE_NODES):
            return atomic_function(parent, canonical_of, parents)
        child = parent
    return False


# -- ORM writes ------------------------------------------------------------------------------

QUERYSET_WRITES = {
    "create", "update", "delete", "bulk_create", "bulk_update", "get_or_create", "update_or_create",
    "acreate", "aupdate", "adelete", "abulk_create", "abulk_update", "aget_or_create", "aupdate_or_create",
}
INSTANCE_WRITES = {"save", "delete", "asave", "adelete"}
RELATED_WRITES = {"add", "remove", "set", "clear", "aadd", "aremove", "aset", "aclear"}


@dataclass(frozen=True)
class Write:
    call: ast.Call
    text: str  # "Book.objects.create()", "order.save()"


def path_count(statements: list[ast.stmt], counted: Callable[[ast.AST], int]) -> int:
    """How many counted sites one run through ``statements`` can reach at most.

    Branches of an ``if``/``match``/``try`` handler are alternatives (the
    larger one counts), a ``return``/``raise`` ends its path (sites after it
    are on another path), and a loop body counts once (a write repeated per
    row is ORM204's business).  ``counted`` is asked about expressions and
    simple statements only, never about a compound statement's body.
    """
    through, ended = _sequence(statements, counted)
    return max(through or 0, ended or 0)


def _best(*values: int | None) -> int | None:
    present = [v for v in values if v is not None]
    return max(present) if present else None


def _plus(value: int | None, extra: int) -> int | None:
    return None if value is None else value + extra


def _sequence(statements: list[ast.stmt], counted: Callable[[ast.AST], int]) -> tuple[int | None, int | None]:
    """(most sites on a path that falls through, most sites on a path that returns/raises)."""
    current: int | None = 0
    ended: int | None = None
    for stmt in statements:
        if current is None:
            break
        through, stopped = _statement(stmt, counted)
        ended = _best(ended, _plus(stopped, current))
        current = _plus(through, current)
    return current, ended


def _statement(stmt: ast.stmt, counted: Callable[[ast.AST], int]) -> tuple[int | None, int | None]:
    if isinstance(stmt, (ast.Return, ast.Raise)):
        return None, counted(stmt)
    if isinstance(stmt, (ast.Break, ast.Continue)):
        return None, 0
    if isinstance(stmt, ast.If):
        test = counted(stmt.test)
        body, other = _sequence(stmt.body, counted), _sequence(stmt.orelse, counted)
        return _plus(_best(body[0], other[0]), test), _plus(_best(body[1], other[1]), test)
    if isinstance(stmt, (ast.For, ast.AsyncFor, ast.While)):
        head = counted(stmt.iter if isinstance(stmt, (ast.For, ast.AsyncFor)) else stmt.test)
        body = _sequence(stmt.body, counted)
        other = _sequence(stmt.orelse, counted)
        # break/continue end an iteration, not the function: the loop falls through.
        once = _best(body[0], body[1] if body[1] is not None and _has_loop_exit(stmt.body) else None, 0) or 0
        return head + once + (other[0] or 0), _plus(body[1], head)
    if isinstance(stmt, (ast.With, ast.AsyncWith)):
        head = sum(counted(item.context_expr) for item in stmt.items)
        body = _sequence(stmt.body, counted)
        return _plus(body[0], head), _plus(body[1], head)
    if isinstance(stmt, ast.Try) or stmt.__class__.__name__ == "TryStar":
        body = _sequence(stmt.body, counted)
        other = _sequence(stmt.orelse, counted)
        handlers = [_sequence(h.body, counted) for h in stmt.handlers]
        final = _sequence(stmt.finalbody, counted)
        after_body = _plus(other[0], body[0] or 0) if body[0] is not None else None
        through = _best(after_body, *(h[0] for h in handlers))
        ended = _best(body[1], _plus(other[1], body[0] or 0) if body[0] is not None else None, *(h[1] for h in handlers))
        extra = final[0] or 0
        return _plus(through, extra), _plus(ended, extra)
    if stmt.__class__.__name__ == "Match":
        head = counted(stmt.subject)
        cases = [_sequence(c.body, counted) for c in stmt.cases]
        return _plus(_best(0, *(c[0] for c in cases)), head), _plus(_best(*(c[1] for c in cases)), head)
    if isinstance(stmt, (*FUNCTION_NODES, ast.ClassDef)):
        return 0, None
    return counted(stmt), None


def _has_loop_exit(body: list[ast.stmt]) -> bool:
    return any(isinstance(n, (ast.Break, ast.Continue)) for stmt in body for n in ast.walk(stmt))


def calls_in(node: ast.AST) -> Iterator[ast.Call]:
    """Calls evaluated by ``node`` itself (not inside nested functions or lambdas)."""
    for child in own_nodes(node) if isinstance(node, (ast.Module, *FUNCTION_NODES)) else _own_expression_nodes(node):
        if isinstance(child, ast.Call):
            yield child


def _own_expression_nodes(node: ast.AST) -> Iterator[ast.AST]:
    stack = [node]
    while stack:
        current = stack.pop()
        yield current
        if isinstance(current, SCOPE_NODES):
            continue
        stack.extend(children(current))


def call_label(call: ast.Call, limit: int = 30) -> str:
    """``Book.objects.filter(..).update()``: the receiver chain of a call, arguments elided."""
    steps = []
    node: ast.AST = call
    while isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute):
        steps.append(f".{node.func.attr}({'..' if node.args or node.keywords else ''})")
        node = node.func.value
    steps[:1] = [f".{call.func.attr}()"] if steps else []
    if isinstance(call.func, ast.Name):
        return f"{call.func.id}()"
    return source_text(node, limit) + "".join(reversed(steps))


def is_session(ctx, node: ast.AST) -> bool:
    """An SQLAlchemy session: Flask-SQLAlchemy's ``db.session`` (resolved through imports) or a session-like name."""
    if isinstance(node, (ast.Name, ast.Attribute)) and querysets.canonical_of(ctx, node) == "sqlalchemy:session":
        return True
    return querysets.is_session_like(ctx, node)


# -- which calls write (needs query recognition) ---------------------------------------------

def django_model_of_self(ctx, node: ast.AST) -> ModelFact | None:
    """The Django model whose method ``node`` (``self`` / ``super()``) is used in."""
    is_self = isinstance(node, ast.Name) and node.id == "self"
    is_super = isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id == "super"
    if not (is_self or is_super):
        return None
    parents = parent_map(ctx.tree, ctx.cache)
    function = enclosing_function(node, parents)
    owner = parents.get(function) if function is not None else None
    if not isinstance(owner, ast.ClassDef):
        return None
    for model in ctx.models:
        if model.name == owner.name and model.line == owner.lineno and model.framework == "django":
            return model
    return None


SHORTCUTS = {"django.shortcuts.get_object_or_404", "django.shortcuts.aget_object_or_404"}


def fetched_instance(ctx, node: ast.AST) -> "querysets.Instance | None":
    """``querysets.instance_of``, plus names bound from ``get_object_or_404(Model or queryset, ..)``."""
    instance = querysets.instance_of(ctx, node)
    if instance is not None or not isinstance(node, ast.Name):
        return instance
    table = scope_table(ctx.tree, ctx.cache)
    scope = table.scope_at(node)
    if not scope.is_local(node.id):
        return None
    bindings = scope.before(node.id, node.lineno)
    if len(bindings) != 1 or bindings[0].kind != "assign":
        return None
    value = bindings[0].value
    if isinstance(value, ast.Await):
        value = value.value
    if not (isinstance(value, ast.Call) and value.args and ctx.resolve(value.func) in SHORTCUTS):
        return None
    source = value.args[0]
    model = ctx.index.model(ctx.resolve(source)) if isinstance(source, (ast.Name, ast.Attribute)) else None
    if model is not None:
        return querysets.Instance(model, "single", None)
    info = querysets.query_source(ctx, source)
    if info is not None and info.framework == "django":
        return querysets.Instance(info.model, "single", info)
    return None


def django_write(ctx, call: ast.Call) -> str | None:
    """A label such as ``order.save()`` when ``call`` is a Django ORM write, else ``None``."""
    if not isinstance(call.func, ast.Attribute):
        return None
    name = call.func.attr
    target = call.func.value
    if name in INSTANCE_WRITES:
        instance = fetched_instance(ctx, target)
        if (instance is not None and instance.model.framework == "django") or django_model_of_self(ctx, target):
            return call_label(call)
    if name in QUERYSET_WRITES or name in RELATED_WRITES:
        info = querysets.query_source(ctx, call)
        if info is not None and info.framework == "django" and info.terminal == name:
            return call_label(call)
    if name in RELATED_WRITES and isinstance(target, ast.Attribute):
        # ``order.tags.add(tag)`` on an instance only this module's shortcuts resolve
        owner = fetched_instance(ctx, target.value)
        model = owner.model if owner is not None else django_model_of_self(ctx, target.value)
        relation = querysets.relation_of(ctx, model, target.attr) if model is not None else None
        if relation is not None and relation.to_many:
            return call_label(call)
    return None


def session_commit(ctx, call: ast.Call) -> bool:
    return (isinstance(call.func, ast.Attribute) and call.func.attr == "commit" and not call.args
            and is_session(ctx, call.func.value))


WRITE_METHOD_NAMES = INSTANCE_WRITES | QUERYSET_WRITES | RELATED_WRITES | {"commit"}


def write_shaped_calls(ctx) -> list[ast.Call]:
    """Calls of the file named like a write or a commit (:data:`WRITE_METHOD_NAMES`); cached."""
    found = ctx.cache.get("dataflow.write_shaped_calls")
    if found is None:
        found = ctx.cache["dataflow.write_shaped_calls"] = [
            call for call in nodes_of(ctx.tree, ast.Call)
            if isinstance(call.func, ast.Attribute) and call.func.attr in WRITE_METHOD_NAMES]
    return found


def _write_shaped_calls_under(ctx, parents: dict[ast.AST, ast.AST]) -> dict[ast.AST, int]:
    """Function -> number of write-shaped calls anywhere under it (one pass over the file's calls)."""
    counts = ctx.cache.get("dataflow.write_calls_under")
    if counts is None:
        counts = ctx.cache["dataflow.write_calls_under"] = {}
        for call in write_shaped_calls(ctx):
            for owner in ancestors(call, parents):
                if isinstance(owner, (*SCOPE_NODES, ast.Module)):
                    counts[owner] = counts.get(owner, 0) + 1
    return counts


def count_sites(ctx, function: ast.AST, label_of) -> tuple[int, list[tuple[int, str]]]:
    """Most sites one run of ``function`` reaches (outside atomic blocks), and all of them."""
    parents = parent_map(ctx.tree, ctx.cache)
    if _write_shaped_calls_under(ctx, parents).get(function, 0) < 2:
        return 0, []  # its whole subtree (own body included) holds fewer than two write-shaped calls
    candidates = [node for node in own_nodes(function)
                  if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.func.attr in WRITE_METHOD_NAMES]
    if len(candidates) < 2:
        return 0, []  # fewer than two write-shaped calls: nothing to count
    sites: dict[ast.Call, str] = {}
    for node in candidates:
        label = label_of(ctx, node)
        if label and not in_atomic(node, parents, ctx.canonical):
            sites[node] = label
    if len(sites) < 2:
        return len(sites), sorted((call.lineno, label) for call, label in sites.items())

    def counted(node: ast.AST) -> int:
        return sum(1 for call in calls_in(node) if call in sites)

    total = path_count(function.body, counted)
    return total, sorted((call.lineno, label) for call, label in sites.items())
