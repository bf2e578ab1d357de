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


def all_nodes(tree: ast.AST) -> list[ast.AST]:
    """Every node under ``tree`` (itself included), in ``ast.walk`` order; cached on ``tree``."""
    cached = getattr(tree, _NODES, None)
    if cached is None:
        cached = list(ast.walk(tree))
        try:
            setattr(tree, _NODES, cached)
        except AttributeError:  # a node type without __dict__: just do not cache
            pass
    return cached


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
