"""Findings of unchanged files, reused from the previous run.

A file's findings depend on its text, its path, the options, the plugin's own
code and the facts of every other file (through the project index).  An entry
is keyed by the first four and kept in a folder named by the index digest,
which covers the facts of every file on disk: editing a model starts a new
folder, editing the body of a view does not.  A re-run over an unchanged tree
(pre-commit, CI with a restored cache, an editor re-linting a saved file)
then costs a hash and a small read per file instead of the analysis.

Entries are written atomically (a temporary file renamed into place), so
concurrent runs never read half an entry; a folder of another digest that has
not been written to for ``STALE_SECONDS`` is removed at the start of a run,
and the current folder is trimmed when it outgrows the project.
Findings that include an internal error (ORM000) are never stored.
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
import time
from dataclasses import fields
from functools import lru_cache

from .digest import digest_of, new_digest
from .index import ProjectIndex
from .options import Options
from .semantic.facts import ModuleFacts
from .registry import Finding

FINDINGS_DIRNAME = "findings"
STALE_SECONDS = 600
# Options that only shape the written review, not the findings.
REPORT_ONLY_OPTIONS = {"review_dir", "review_date", "review_html"}


@lru_cache(maxsize=1)
def package_fingerprint() -> str:
    """Hash of every module of this package: an upgrade (or a local edit) invalidates all entries."""
    from . import __version__

    digest = new_digest()
    digest.update(__version__.encode())
    here = os.path.dirname(os.path.abspath(__file__))
    for folder, dirnames, filenames in os.walk(here):
        dirnames[:] = sorted(d for d in dirnames if d != "__pycache__")
        for name in sorted(filenames):
            if name.endswith(".py"):
                try:
                    with open(os.path.join(folder, name), "rb") as handle:
                        digest.update(name.encode() + b"\0" + handle.read())
                except OSError:
                    pass
    return digest.hexdigest()


def options_fingerprint(options: Options) -> str:
    values = [(f.name, getattr(options, f.name)) for f in fields(Options) if f.name not in REPORT_ONLY_OPTIONS]
    return repr(sorted((name, sorted(value.items()) if isinstance(value, dict) else value) for name, value in values))


class FindingsCache:
    """The entries of one index digest: ``key(path, source)`` -> findings."""

    def __init__(self, folder: str, options: Options) -> None:
        self.folder = folder
        self.salt = f"{package_fingerprint()}\0{options_fingerprint(options)}\0"

    @classmethod
    def for_file(cls, index: ProjectIndex, options: Options, path: str) -> "FindingsCache | None":
        """The cache for linting ``path`` now, or ``None`` when findings must not be reused.

        Another file's unsaved buffer in the index (an override) would change
        this file's findings without changing the digest: no cache then,
        unless that buffer declares nothing another file can see (no class,
        no migration), like a notebook or a file outside the source roots.
        """
        if not index.cache_dir:
            return None
        if any(other != path and visible_to_other_files(facts) for other, facts in index.overrides.items()):
            return None
        return cls(findings_folder(index), options)

    def key(self, path: str, source: str) -> str:
        text = f"{self.salt}{path}\0{source}".encode("utf-8", "surrogatepass")
        return digest_of(text)

    def load(self, key: str) -> list[Finding] | None:
        try:
            with open(os.path.join(self.folder, key + ".json"), encoding="utf-8") as handle:
                return [Finding(int(line), int(col), str(code), str(message)) for line, col, code, message in json.load(handle)]
        except (OSError, ValueError, TypeError):
            return None  # absent, or damaged: analyse again

    def store(self, key: str, findings: list[Finding]) -> None:
        rows = [[f.line, f.col, f.code, f.message] for f in findings]
        tmp = None
        try:
            os.makedirs(self.folder, exist_ok=True)
            fd, tmp = tempfile.mkstemp(dir=self.folder, prefix=".", suffix=".tmp")
            with os.fdopen(fd, "w", encoding="utf-8") as handle:
                handle.write(json.dumps(rows, separators=(",", ":")))
            os.replace(tmp, os.path.join(self.folder, key + ".json"))
        except OSError:
            if tmp is not None:
                try:
                    os.unlink(tmp)
                except OSError:
                    pass


def visible_to_other_files(facts: ModuleFacts) -> bool:
    return bool(facts.classes or facts.migration or facts.extra)


def findings_folder(index: ProjectIndex) -> str:
    return os.path.join(index.cache_dir or "", FINDINGS_DIRNAME, index.digest)


def has_findings(index: ProjectIndex) -> bool:
    """Whether a previous run stored findings for the index as it is now (a warm run)."""
    return bool(index.cache_dir) and os.path.isdir(findings_folder(index))


def prune(index: ProjectIndex, now: float | None = None) -> None:
    """Remove the folders of other digests that no run has written to for a while."""
    if not index.cache_dir:
        return
    parent = os.path.join(index.cache_dir, FINDINGS_DIRNAME)
    now = time.time() if now is None else now
    try:
        names = os.listdir(parent)
    except OSError:
        return
    for name in names:
        folder = os.path.join(parent, name)
        try:
            if name != index.digest and now - os.stat(folder).st_mtime > STALE_SECONDS:
                shutil.rmtree(folder, ignore_errors=True)
        except OSError:
            pass
    trim(os.path.join(parent, index.digest), limit=4 * len(index.entries) + 256)


def trim(folder: str, limit: int) -> None:
    """Keep the current folder bounded: edited files, renamed files and nbqa's
    temporary copies (a new name every run) leave entries no run reads again.
    Past ``limit`` entries, the older half (by write time) goes."""
    try:
        with os.scandir(folder) as found:
            entries = [entry for entry in found if entry.name.endswith(".json")]
        if len(entries) <= limit:
            return
        entries.sort(key=lambda entry: entry.stat().st_mtime)
        for entry in entries[: len(entries) // 2]:
            os.unlink(entry.path)
    except OSError:
        pass
