"""One walk of a module's tree, shared by every rule.

``ast.walk`` is a generator over ``iter_child_nodes``; a dozen rules each
walking every file cost more than the rest of the analysis together on real
projects (see docs/performance.md).  :func:`all_nodes` walks once and keeps
the node list, each node's children and (on demand) each node's parent in
one :class:`TreeWalk` stored on the tree object itself, so it lives exactly
as long as the tree and the next file gets its own.

Two deliberate differences from ``ast.walk``, both measured on the benchmark
projects (``benchmarks/snapshot.py``):

- The expression-context and operator singletons (``Load``, ``Store``,
  ``Add``, ``Eq`` ...) are not visited: no rule looks for them as nodes (they
  read ``node.ctx`` / ``node.op``), and they are a third of all nodes.
- Children are kept in a dict on the walk, not as an attribute of every
  node: setting an attribute on half a million nodes cost four times the
  walk itself.
"""

from __future__ import annotations

import ast
from typing import Iterator, Sequence

_WALK = "_ormreview_walk"
# Fields holding the shared context/operator singletons (``ctx``, ``op``, ``ops``).
SINGLETON_FIELDS = frozenset({"ctx", "op", "ops"})
_child_fields: dict[type, tuple[str, ...]] = {}


def _fields_of(cls: type) -> tuple[str, ...]:
    fields = _child_fields.get(cls)
    if fields is None:
        fields = _child_fields[cls] = tuple(name for name in cls._fields if name not in SINGLETON_FIELDS)
    return fields


def _own_children(node: ast.AST) -> list[ast.AST]:
    """The child nodes of ``node`` (``ast.iter_child_nodes`` without the singletons)."""
    kids: list[ast.AST] = []
    for name in _fields_of(type(node)):
        value = getattr(node, name, None)
        if isinstance(value, ast.AST):
            kids.append(value)
        elif type(value) is list:
            kids.extend(item for item in value if isinstance(item, ast.AST))
    return kids


class TreeWalk:
    """Every node of one tree in breadth-first order, with children, parents and per-type lists."""

    __slots__ = ("nodes", "kids", "_parents", "_by_type")

    def __init__(self, tree: ast.AST) -> None:
        nodes = [tree]
        kids: dict[ast.AST, Sequence[ast.AST]] = {}
        append = nodes.append
        for node in nodes:  # the list grows while we iterate: a breadth-first walk
            start = len(nodes)
            for name in _fields_of(type(node)):
                value = getattr(node, name, None)
                if isinstance(value, ast.AST):
                    append(value)
                elif type(value) is list:
                    for item in value:
                        if isinstance(item, ast.AST):
                            append(item)
            kids[node] = nodes[start:] if len(nodes) > start else ()  # half the nodes are leaves: share one ()
        self.nodes = nodes
        self.kids = kids
        self._parents: dict[ast.AST, ast.AST] | None = None
        self._by_type: dict[tuple[type, ...], list[ast.AST]] = {}

    @property
    def parents(self) -> dict[ast.AST, ast.AST]:
        if self._parents is None:
            self._parents = {kid: node for node, kids in self.kids.items() for kid in kids}
        return self._parents

    def of_type(self, types: tuple[type, ...]) -> list[ast.AST]:
        found = self._by_type.get(types)
        if found is None:
            found = self._by_type[types] = [node for node in self.nodes if isinstance(node, types)]
        return found


# The walk of the tree analysed last: ``children(node)`` gets no tree argument.
_current: TreeWalk | None = None


def tree_walk(tree: ast.AST) -> TreeWalk:
    """The :class:`TreeWalk` of ``tree``, made on first use and kept on the tree."""
    global _current
    cached = getattr(tree, _WALK, None)
    if cached is None:
        if _current is not None and tree in _current.kids:
            return _subtree_walk(tree, _current)
        cached = TreeWalk(tree)
        try:
            setattr(tree, _WALK, cached)
        except AttributeError:  # a node type without __dict__: just do not cache
            pass
        if isinstance(tree, ast.Module):
            _current = cached
    return cached


def _subtree_walk(tree: ast.AST, whole: TreeWalk) -> TreeWalk:
    """A subtree of the current module: reuse its children instead of walking again."""
    walk = TreeWalk.__new__(TreeWalk)
    nodes = [tree]
    for node in nodes:
        nodes.extend(whole.kids.get(node, ()))
    walk.nodes, walk.kids, walk._parents, walk._by_type = nodes, whole.kids, None, {}
    try:
        setattr(tree, _WALK, walk)
    except AttributeError:
        pass
    return walk


def all_nodes(tree: ast.AST) -> list[ast.AST]:
    """Every node under ``tree`` (itself included) in ``ast.walk`` order, singletons aside; cached."""
    return tree_walk(tree).nodes


def children(node: ast.AST) -> Sequence[ast.AST]:
    """The child nodes of ``node``, from the current walk when it covers ``node``."""
    if _current is not None:
        kids = _current.kids.get(node)
        if kids is not None:
            return kids
    return _own_children(node)


def parent_map(tree: ast.AST) -> dict[ast.AST, ast.AST]:
    """Child -> parent for every node under ``tree``; cached."""
    return tree_walk(tree).parents  # of a subtree: a superset, correct for every node under it


def walk(tree: ast.AST) -> Iterator[ast.AST]:
    """Drop-in for ``ast.walk(tree)`` over the cached node list."""
    return iter(all_nodes(tree))


def nodes_of(tree: ast.AST, *types: type) -> list[ast.AST]:
    """The nodes under ``tree`` that are instances of ``types``, in walk order; cached."""
    return tree_walk(tree).of_type(types)
