"""``analyze()``: the whole per-file analysis, independent of flake8."""

from __future__ import annotations

import ast
import os

from .findings_cache import FindingsCache
from .index import ProjectIndex, get_index, is_test_code, is_test_module, worth_indexing
from .options import Options
from .registry import Finding, all_rules, get_rule


def analyze(
    source: str,
    path: str = "<stdin>",
    index: ProjectIndex | None = None,
    options: Options | None = None,
    tree: ast.Module | None = None,
) -> list[Finding]:
    """Every ORM finding for one file, sorted by position.

    Never raises: a failure inside the analysis becomes a single ORM000
    finding, and the findings of every rule that did not fail are kept.
    A file that does not parse yields nothing (flake8 reports it as E999),
    and neither does test code: a test module (``test_*.py``, ``*_test.py``,
    ``tests.py``, ``test.py``, ``conftest.py``) or any file of a ``test`` /
    ``tests`` package below the source root.
    When the index has a cache folder, the findings of a file whose text,
    path and project facts are unchanged come from the findings cache.
    """
    if is_test_module(path):
        return []  # what a test does to its database is not what production does (docs/architecture.md)
    options = options or Options()
    try:
        if index is None:
            index = get_index(options.source_roots)
        index.refresh_if_stale()
        path = index.key_for(path)  # an editor's absolute path names the same file as the walk's
        if is_test_code(path, index.root_for(path)):
            return []  # a test app never meets a production database
        cache = FindingsCache.for_file(index, options, path)
        key = cache.key(path, source) if cache is not None else ""
        cached = cache.load(key) if cache is not None else None
    except Exception as exc:  # noqa: BLE001 - never crash the user's flake8 run
        return [internal_error(exc)]
    if cached is not None:
        return cached
    result = _analyze(source, path, index, options, tree)
    if cache is not None and not any(finding.code == "ORM000" for finding in result):
        cache.store(key, result)
    return result


def prepare() -> None:
    """Import what analysing a file needs (the rules, the extractor, the file context).

    ``_analyze`` imports them on first use, so a lint answered from the findings
    cache never loads them; a run about to analyse most files in forked
    ``--jobs`` workers calls this first, and the workers inherit the modules
    instead of each importing them again.
    """
    from . import context  # noqa: F401
    from .semantic import extract  # noqa: F401

    all_rules()


def _analyze(source: str, path: str, index: ProjectIndex, options: Options, tree: ast.Module | None) -> list[Finding]:
    # Imported here: an editor's lint of an unchanged file is answered from the
    # findings cache without loading the extractor, the rules or the dataflow.
    from .context import FileContext
    from .semantic.extract import ModuleExtractor
    from .semantic.facts import ModuleFacts
    from .semantic.names import module_name_for

    findings: set[Finding] = set()
    failure: BaseException | None = None
    try:
        if tree is None:
            try:
                tree = ast.parse(source, filename=path)
            except (SyntaxError, ValueError, RecursionError, MemoryError):
                return []  # too deep for CPython's parser counts as not parsing (flake8 never gets this far)
        index.ensure_fresh()
        root = index.root_for(path)
        module = module_name_for(path, root)
        extractor = ModuleExtractor(tree, path, root, module)
        indexed = worth_indexing(source, path, root)
        # The text of an unchanged file on disk: the index already holds its facts.
        facts = (index.unchanged_facts(path, source) if indexed else None) or extractor.run()
        # The index must see what a disk read would give (same pre-filter), else every
        # file the pre-filter skips would count as edited and re-resolve the project.
        index.override(facts if indexed else ModuleFacts(path=path, module=module), source)
        ctx = FileContext(
            path=os.path.normpath(path),
            source=source,
            tree=tree,
            facts=facts,
            imports=extractor.imports,
            index=index,
            options=options,
        )
    except Exception as exc:  # noqa: BLE001 - never crash the user's flake8 run (RecursionError, MemoryError too)
        return [internal_error(exc)]
    for rule in all_rules():
        try:
            if rule.applies_to(ctx):
                findings.update(rule.check(ctx))
        except Exception as exc:  # noqa: BLE001
            failure = failure or exc
    ctx.release()
    result = sorted(findings)
    if failure is not None:
        result.insert(0, internal_error(failure))
    return result


def internal_error(exc: BaseException) -> Finding:
    return Finding(1, 0, "ORM000", get_rule("ORM000").format(error=type(exc).__name__))
