"""One walk of a module's tree, shared by every rule.

``ast.walk`` is a generator over ``iter_child_nodes``; a dozen rules each
walking every file cost more than the rest of the analysis together on real
projects (see docs/performance.md).  :func:`all_nodes` walks once and keeps
the node list on the tree object itself, so it lives exactly as long as the
tree and the next file gets its own.
"""

from __future__ import annotations

import ast
from typing import Iterator

_NODES = "_ormreview_nodes"
_BY_TYPE = "_ormreview_nodes_by_type"
_CHILDREN = "_ormreview_children"
_PARENTS = "_ormreview_parents"


def all_nodes(tree: ast.AST) -> list[ast.AST]:
    """Every node under ``tree`` (itself included), in ``ast.walk`` order; cached on ``tree``.

    The same breadth-first pass keeps each node's children on the node, so
    :func:`children` (and the scope walkers built on it) never re-run
    ``ast.iter_child_nodes``.
    """
    cached = getattr(tree, _NODES, None)
    if cached is None:
        cached = [tree]
        position = 0
        while position < len(cached):
            node = cached[position]
            position += 1
            kids = getattr(node, _CHILDREN, None)
            if kids is None:
                kids = list(ast.iter_child_nodes(node))
                try:
                    setattr(node, _CHILDREN, kids)
                except AttributeError:  # a node type without __dict__: just do not cache
                    pass
            cached.extend(kids)
        try:
            setattr(tree, _NODES, cached)
        except AttributeError:
            pass
    return cached


def children(node: ast.AST) -> list[ast.AST]:
    """``list(ast.iter_child_nodes(node))``, from the cache when the tree was walked."""
    kids = getattr(node, _CHILDREN, None)
    return kids if kids is not None else list(ast.iter_child_nodes(node))


def parent_map(tree: ast.AST) -> dict[ast.AST, ast.AST]:
    """Child -> parent for every node under ``tree``; cached on ``tree``."""
    parents = getattr(tree, _PARENTS, None)
    if parents is None:
        parents = {kid: node for node in all_nodes(tree) for kid in children(node)}
        try:
            setattr(tree, _PARENTS, parents)
        except AttributeError:
            pass
    return parents


def walk(tree: ast.AST) -> Iterator[ast.AST]:
    """Drop-in for ``ast.walk(tree)`` over the cached node list."""
    return iter(all_nodes(tree))


def nodes_of(tree: ast.AST, *types: type) -> list[ast.AST]:
    """The nodes under ``tree`` that are instances of ``types``, in walk order; cached."""
    by_type = getattr(tree, _BY_TYPE, None)
    if by_type is None:
        by_type = {}
        try:
            setattr(tree, _BY_TYPE, by_type)
        except AttributeError:
            pass
    found = by_type.get(types)
    if found is None:
        found = by_type[types] = [node for node in all_nodes(tree) if isinstance(node, types)]
    return found
