"""Findings of unchanged files, reused from the previous run.

A file's findings depend on its text, its path, the options, the plugin's own
code and the facts of every other file (through the project index).  An entry
is keyed by the first four and kept in a folder named by the index digest,
which covers the facts of every file on disk: editing a model starts a new
folder, editing the body of a view does not.  A re-run over an unchanged tree
(pre-commit, CI with a restored cache, an editor re-linting a saved file)
then costs a hash and a lookup per file instead of the analysis.

An entry is one line, ``<key><TAB><findings as JSON>``, appended to a shard
file of the process that analysed the file (see ``Shards``); each process
reads the folder's shards once.  A line is written with one ``write`` on an
``O_APPEND`` descriptor, so concurrent runs never interleave inside a line,
and a line cut short (a crash) is ignored.  A folder of another digest that
has not been written to for ``STALE_SECONDS`` is removed at the start of a
run, and the shards of the current folder are merged, and trimmed when they
outgrow the project, once there are more than ``MAX_SHARDS``.
Findings that include an internal error (ORM000) are never stored.
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
import time
import weakref
from dataclasses import fields
from functools import lru_cache

from .digest import digest_of, new_digest
from .index import ProjectIndex
from .options import Options
from .semantic.facts import ModuleFacts
from .registry import Finding

FINDINGS_DIRNAME = "findings"
STALE_SECONDS = 600
SHARD_SUFFIX = ".jsonl"
MAX_SHARDS = 16  # past this many shards in the current folder, a run merges them (``compact``)
SHARD_LINES = 4096  # a long-lived process starts a new shard after this many entries, for ``compact`` to trim
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

    def __init__(self, shards: "Shards", options: Options) -> None:
        self.shards = shards
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
        return cls(shards_of(index), options)

    def key(self, path: str, source: str) -> str:
        text = f"{self.salt}{path}\0{source}".encode("utf-8", "surrogatepass")
        return digest_of(text)

    def load(self, key: str) -> list[Finding] | None:
        stored = self.shards.get(key)
        if stored is None:
            return None
        try:
            return [Finding(int(line), int(col), str(code), str(message)) for line, col, code, message in json.loads(stored)]
        except (ValueError, TypeError):
            return None  # damaged: analyse again

    def store(self, key: str, findings: list[Finding]) -> None:
        self.shards.add(key, json.dumps([[f.line, f.col, f.code, f.message] for f in findings], separators=(",", ":")))


class Shards:
    """The entries of one findings folder, as one process reads and adds them.

    Every shard of the folder is read once, on the first lookup.  New entries
    go to a shard of this process's own, one line each, so a cold run creates
    a file per process rather than one per linted file (file creation was the
    costliest part of storing the findings of a cold run).
    """

    def __init__(self, folder: str) -> None:
        self.folder = folder
        self._entries: dict[str, str] | None = None  # key -> findings as JSON text
        self._shard: int | None = None  # this process's shard, opened on the first entry
        self._shard_pid = 0
        self._shard_lines = 0

    def get(self, key: str) -> str | None:
        if self._entries is None:
            self._entries = read_shards(shard_paths(self.folder))
        return self._entries.get(key)

    def add(self, key: str, findings: str) -> None:
        if self._entries is not None:
            self._entries[key] = findings
        try:
            if self._shard is None or self._shard_pid != os.getpid() or self._shard_lines >= SHARD_LINES:
                self._open_shard()  # a forked worker (or a long-lived process) starts a shard of its own
            # One write on an O_APPEND descriptor: lines of concurrent processes never interleave.
            os.write(self._shard, f"{key}\t{findings}\n".encode("ascii"))
            self._shard_lines += 1
        except OSError:
            pass  # an unwritable cache only costs speed

    def _open_shard(self) -> None:
        os.makedirs(self.folder, exist_ok=True)
        name = digest_of(os.urandom(16))[:16] + SHARD_SUFFIX
        self._shard = os.open(os.path.join(self.folder, name), os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
        self._shard_pid, self._shard_lines = os.getpid(), 0
        weakref.finalize(self, os.close, self._shard)


def shards_of(index: ProjectIndex) -> Shards:
    """The findings of the current digest as this process sees them in this run (see ``ProjectIndex.run_state``)."""
    folder = findings_folder(index)
    shards = index.run_state.get("findings")
    if not isinstance(shards, Shards) or shards.folder != folder:
        shards = index.run_state["findings"] = Shards(folder)
    return shards


def shard_paths(folder: str) -> list[str]:
    """The shards of ``folder``, oldest first (a newer entry for the same key wins)."""
    try:
        with os.scandir(folder) as found:
            shards = [(entry.stat().st_mtime_ns, entry.path) for entry in found if entry.name.endswith(SHARD_SUFFIX)]
    except OSError:
        return []
    return [path for _, path in sorted(shards)]


def read_shards(paths: list[str]) -> dict[str, str]:
    """``key -> findings`` over ``paths``, a later line moved to the end (the newest entries last)."""
    entries: dict[str, str] = {}
    for path in paths:
        try:
            with open(path, encoding="ascii") as handle:
                text = handle.read()
        except (OSError, ValueError):
            continue  # merged away by another run meanwhile, or damaged
        for line in text.split("\n")[:-1]:  # the last piece is empty, or a line still being written
            key, tab, findings = line.partition("\t")
            if tab:
                entries.pop(key, None)
                entries[key] = findings
    return entries


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
    compact(os.path.join(parent, index.digest), limit=4 * len(index.entries) + 256)


def compact(folder: str, limit: int) -> None:
    """Merge the shards of ``folder`` into one once there are more than ``MAX_SHARDS``.

    Every run that analyses something leaves a shard (an editor, one per
    lint of an edited buffer), and edited files, renamed files and nbqa's
    temporary copies (a new name every run) leave entries no run reads again:
    past ``limit`` entries, the older half goes.  A line another process
    appends to a shard while it is merged is lost: a file analysed again.
    """
    shards = shard_paths(folder)
    if len(shards) <= MAX_SHARDS:
        return
    entries = read_shards(shards)
    kept = list(entries.items())
    if len(kept) > limit:
        kept = kept[len(kept) // 2 :]
    tmp = None
    try:
        fd, tmp = tempfile.mkstemp(dir=folder, prefix=".", suffix=".tmp")
        with os.fdopen(fd, "w", encoding="ascii") as handle:
            handle.write("".join(f"{key}\t{findings}\n" for key, findings in kept))
        os.replace(tmp, os.path.join(folder, digest_of(os.urandom(16))[:16] + SHARD_SUFFIX))
        tmp = None
        for path in shards:
            os.unlink(path)
    except OSError:
        if tmp is not None:
            try:
                os.unlink(tmp)
            except OSError:
                pass
