"""A ``FileContext`` for a snippet, the way ``analyze()`` builds one, for tests of the semantic layer."""

from __future__ import annotations

import ast
import os
import textwrap

from flake8_ormreview.context import FileContext
from flake8_ormreview.index import ProjectIndex
from flake8_ormreview.semantic.extract import extract_module
from flake8_ormreview.semantic.names import ImportMap, module_name_for


def file_context(source: str, path: str = "shop/views.py") -> FileContext:
    """``source`` as the file ``path`` of the project in the current folder (a fresh index)."""
    source = textwrap.dedent(source)
    index = ProjectIndex(["."], cache_dir=None)
    tree = ast.parse(source)
    module = module_name_for(path, ".")
    facts = extract_module(tree, os.path.normpath(path), ".", module)
    index.override(facts)
    return FileContext(path, source, tree, facts, ImportMap.from_tree(tree, module), index)
