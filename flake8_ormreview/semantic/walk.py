"""One walk of a module's tree, shared by every rule.

``ast.walk`` is a generator over ``iter_child_nodes``; a dozen rules each
walking every file cost more than the rest of the analysis together on real
projects (see docs/performance.md).  :func:`all_nodes` walks once and keeps
the node list and each node's parent in one :class:`TreeWalk` stored on the
tree object itself, so the next file gets its own.  The analysis drops it
when done (:func:`forget`): it holds the tree in a reference cycle.

Two deliberate differences from ``ast.walk``, both measured on the benchmark
projects (``benchmarks/snapshot.py``):

- The expression-context and operator singletons (``Load``, ``Store``,
  ``Add``, ``Eq`` ...) are not visited: no rule looks for them as nodes (they
  read ``node.ctx`` / ``node.op``), and they are a third of all nodes.
- Nothing is set on the nodes themselves: an attribute on half a million
  nodes cost four times the walk itself.  Children are computed when asked
  (a loop over the node's fields) and parents kept in one dict, filled by
  the walk itself: a children map for every node of a large test module
  held more memory than flake8's own tree.
"""

from __future__ import annotations

import ast
import re
from typing import Iterator

_WALK = "_ormreview_walk"
# Fields holding the shared context/operator singletons (``ctx``, ``op``, ``ops``).
SINGLETON_FIELDS = frozenset({"ctx", "op", "ops"})
_child_fields: dict[type, tuple[str, ...]] = {}

# How a field holds children: one node or ``None`` (``expr?``), a list of nodes, in
# which ``Dict.keys`` and ``arguments.kw_defaults`` may hold ``None`` (``expr*``), or
# anything (a node class whose field types are not known: check each value).
_NODE, _LIST, _ANY = 0, 1, 2
# ASDL's builtin types: their values are never nodes (names, strings, numbers, constants).
_PRIMITIVES = frozenset({"identifier", "string", "int", "constant"})
_child_plans: dict[type, tuple[tuple[str, int], ...]] = {}


def _fields_of(cls: type) -> tuple[str, ...]:
    fields = _child_fields.get(cls)
    if fields is None:
        fields = _child_fields[cls] = tuple(name for name in cls._fields if name not in SINGLETON_FIELDS)
    return fields


def _declared_types(cls: type) -> dict[str, str]:
    """Field -> ASDL type, from the signature CPython puts in each node class's docstring
    (``FunctionDef(identifier name, arguments args, stmt* body, ...)``); empty when absent."""
    match = re.fullmatch(r"\w+\((.*)\)", cls.__doc__ or "")
    if match is None:
        return {}
    declared = {}
    for part in match.group(1).split(", "):
        kind, _, name = part.rpartition(" ")
        declared[name] = kind
    return declared


def _plan_of(cls: type) -> tuple[tuple[str, int], ...]:
    """The fields of ``cls`` that can hold child nodes, in field order, each with how it holds them.

    Skipping the names, strings and numbers (``Name.id``, ``Constant.value``) and
    trusting the declared shape saves the walk an ``isinstance`` test per field:
    a third of its time.
    """
    plan = _child_plans.get(cls)
    if plan is None:
        declared = _declared_types(cls)
        steps = []
        for name in _fields_of(cls):
            kind = declared.get(name)
            if kind is None:
                steps.append((name, _ANY))
            elif kind.rstrip("*?") not in _PRIMITIVES:
                steps.append((name, _LIST if kind.endswith("*") else _NODE))
        plan = _child_plans[cls] = tuple(steps)
    return plan


def children(node: ast.AST) -> list[ast.AST]:
    """The child nodes of ``node`` (``ast.iter_child_nodes`` without the singletons)."""
    kids: list[ast.AST] = []
    plan = _child_plans.get(type(node))
    if plan is None:
        plan = _plan_of(type(node))
    for name, kind in plan:
        value = getattr(node, name, None)
        if value is None:
            continue
        if kind == _NODE:
            kids.append(value)
        elif kind == _LIST:
            kids.extend([item for item in value if item is not None])
        elif isinstance(value, ast.AST):
            kids.append(value)
        elif type(value) is list:
            kids.extend([item for item in value if isinstance(item, ast.AST)])
    return kids


def subtree(node: ast.AST) -> list[ast.AST]:
    """``list(ast.walk(node))`` without the singletons, nothing cached: for the small walks
    (a loop body, an assignment target) whose callers look for no ``Load``/``Store``/operator.

    The loop is ``TreeWalk``'s without the parent map, written out twice on purpose: a
    parent flag tested per child would slow the walk every file pays for."""
    nodes = [node]
    append = nodes.append
    known_plan = _child_plans.get
    for current in nodes:  # breadth-first, as ast.walk
        plan = known_plan(type(current))
        if plan is None:
            plan = _plan_of(type(current))
        for name, kind in plan:
            value = getattr(current, name, None)
            if value is None:
                continue
            if kind == _NODE:
                append(value)
            elif kind == _LIST:
                nodes.extend([item for item in value if item is not None])
            elif isinstance(value, ast.AST):
                append(value)
            elif type(value) is list:
                nodes.extend([item for item in value if isinstance(item, ast.AST)])
    return nodes


class TreeWalk:
    """Every node of one tree in breadth-first order, its parent, and per-type lists on demand."""

    __slots__ = ("nodes", "parents", "_by_type", "_positions")

    def __init__(self, tree: ast.AST) -> None:
        # The parents come with the walk: a second loop over the fields cost almost as much
        # as the walk itself, and the query and data-flow analyses need them in most files.
        nodes = [tree]
        parents: dict[ast.AST, ast.AST] = {}
        append = nodes.append
        known_plan = _child_plans.get
        for node in nodes:  # the list grows while we iterate: a breadth-first walk
            plan = known_plan(type(node))
            if plan is None:
                plan = _plan_of(type(node))
            for name, kind in plan:
                value = getattr(node, name, None)
                if value is None:
                    continue
                if kind == _NODE:
                    append(value)
                    parents[value] = node
                elif kind == _LIST:
                    for item in value:
                        if item is not None:
                            append(item)
                            parents[item] = node
                elif isinstance(value, ast.AST):
                    append(value)
                    parents[value] = node
                elif type(value) is list:
                    for item in value:
                        if isinstance(item, ast.AST):
                            append(item)
                            parents[item] = node
        self.nodes = nodes
        self.parents = parents
        self._by_type: dict[tuple[type, ...], list[ast.AST]] = {}
        self._positions: dict[type, list[int]] | None = None

    def of_type(self, types: tuple[type, ...]) -> list[ast.AST]:
        found = self._by_type.get(types)
        if found is None:
            positions = self._positions_by_class()
            wanted = [kept for cls, kept in positions.items() if issubclass(cls, types)]
            if len(wanted) == 1:
                found = [self.nodes[i] for i in wanted[0]]
            else:  # several classes: back into walk order
                found = [self.nodes[i] for i in sorted(i for kept in wanted for i in kept)]
            self._by_type[types] = found
        return found

    def _positions_by_class(self) -> dict[type, list[int]]:
        """Walk positions of the nodes of each concrete class: one pass for every ``of_type``."""
        if self._positions is None:
            positions: dict[type, list[int]] = {}
            for index, node in enumerate(self.nodes):
                kept = positions.get(type(node))
                if kept is None:
                    positions[type(node)] = [index]
                else:
                    kept.append(index)
            self._positions = positions
        return self._positions


def tree_walk(tree: ast.AST) -> TreeWalk:
    """The :class:`TreeWalk` of ``tree``, made on first use and kept on the tree."""
    cached = getattr(tree, _WALK, None)
    if cached is None:
        cached = TreeWalk(tree)
        try:
            setattr(tree, _WALK, cached)
        except AttributeError:  # a node type without __dict__: just do not cache
            pass
    return cached


def forget(tree: ast.AST) -> None:
    """Drop the walk kept on ``tree``.

    The walk refers back to the tree (its node list and parent map hold it), so
    while it is attached the tree is a reference cycle that only a full garbage
    collection frees, long after flake8 has dropped it.  Called once a file's
    analysis is over: the tree is freed as soon as flake8 lets go of it.
    """
    try:
        delattr(tree, _WALK)
    except AttributeError:
        pass


def all_nodes(tree: ast.AST) -> list[ast.AST]:
    """Every node under ``tree`` (itself included) in ``ast.walk`` order, singletons aside; cached."""
    return tree_walk(tree).nodes


def parent_map(tree: ast.AST) -> dict[ast.AST, ast.AST]:
    """Child -> parent for every node under ``tree``; cached."""
    return tree_walk(tree).parents  # of a subtree: a superset, correct for every node under it


def walk(tree: ast.AST) -> Iterator[ast.AST]:
    """Drop-in for ``ast.walk(tree)`` over the cached node list."""
    return iter(all_nodes(tree))


def nodes_of(tree: ast.AST, *types: type) -> list[ast.AST]:
    """The nodes under ``tree`` that are instances of ``types``, in walk order; cached."""
    return tree_walk(tree).of_type(types)
