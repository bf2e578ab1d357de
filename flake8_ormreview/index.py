"""The project model index: every model, field, relation and index in the source roots.

flake8 has no cross-file pass and checks files in worker processes, so the
index is built lazily in each process from per-file facts persisted in
``<first root>/.orm-review-cache/index-v<N>.json``.  Each file's facts are
keyed by its mtime and size: a warm run only stats the tree.  A long-lived
process (an editor's flake8 server) re-stats on the first use after every
``parse_options`` call, so an edited model is seen by the next lint.

The file being linted is re-extracted from the text flake8 hands us (which
may be an editor's unsaved buffer) and overrides what is on disk.
"""

from __future__ import annotations

import ast
import gc
import json
import os
import re
import tempfile
import time
from stat import S_ISREG
from dataclasses import dataclass, field, replace
from functools import lru_cache, partial
from collections.abc import Mapping
from typing import Callable, Iterable, Iterator, TypeVar

from .digest import digest_of, new_digest
from .semantic.facts import FieldFact, IndexFact, ModelFact, ModuleFacts, module_from_dict, module_to_dict
from .semantic.names import canonical, in_test_package, is_test_module, module_name_for
from .semantic.outline import Outline, files_needing_facts, outline_of, text_digest

T = TypeVar("T")
CACHE_VERSION = 9
CACHE_DIRNAME = ".orm-review-cache"
SOURCE_SUFFIXES = (".py", ".pyw")
SKIP_DIRS = {
    ".git", ".hg", ".svn", ".tox", ".nox", ".venv", "venv", "env", "node_modules", "__pycache__",
    "build", "dist", "site-packages", ".mypy_cache", ".pytest_cache", ".ruff_cache", CACHE_DIRNAME,
    ".eggs", "htmlcov",
}
# A file mentioning none of these defines no model, migration or base class.
INTERESTING = re.compile(rb"django|sqlalchemy|sqlmodel|alembic|Model|models|Column|Base|Table")
MAX_FILE_BYTES = 2_000_000
# A folder changed this recently may change again within the same tick of a coarse file-system
# clock without its mtime moving: its listing is not kept for the next walk.
RECENT_FOLDER_NS = 2_000_000_000
MODEL_SLOTS = ModelFact.__slots__
FORK_EXTRACTION_FROM = 64  # files to parse before the extraction moves to child processes
EXTRACTION_CHILDREN = 2
# A file to parse: (path, mtime_ns, size, its bytes or None to read them, its outline).
ToParse = tuple[str, int, int, "bytes | None", "Outline | None"]

DJANGO_MODEL_ROOTS = {"django:Model"}
# Django's own model classes meant to be subclassed (the index cannot read their source).
DJANGO_LIBRARY_MODELS = {
    "django.contrib.auth.models.AbstractUser", "django.contrib.auth.models.AbstractBaseUser",
    "django.contrib.auth.base_user.AbstractBaseUser", "django.contrib.auth.models.PermissionsMixin",
    "django.contrib.auth.models.User", "django.contrib.auth.models.Group", "django.contrib.auth.models.Permission",
    "django.contrib.sites.models.Site", "django.contrib.contenttypes.models.ContentType",
    "django.contrib.sessions.base_session.AbstractBaseSession", "django.contrib.sessions.models.Session",
}
SQLA_BASE_ROOTS = {"sqlalchemy:DeclarativeBase", "sqlalchemy:DeclarativeBaseNoMeta", "sqlalchemy:Base"}


@lru_cache(maxsize=1)
def extractor_fingerprint() -> str:
    """Hash of the code that turns a file into facts: an upgrade invalidates the cache.

    CACHE_VERSION only moves when someone remembers to bump it; a changed
    extractor with the same version would keep serving stale facts for every
    file that has not been touched since.
    """
    from . import __version__

    digest = new_digest()
    digest.update(__version__.encode())
    here = os.path.dirname(os.path.abspath(__file__))
    for relative in ("index.py", "semantic/extract.py", "semantic/facts.py", "semantic/names.py", "semantic/migrations.py",
                     "semantic/outline.py"):
        try:
            with open(os.path.join(here, relative), "rb") as handle:
                digest.update(handle.read())
        except OSError:  # e.g. installed as a zip: the version alone decides
            pass
    return digest.hexdigest()[:16]


def is_test_code(path: str, root: str) -> bool:
    """A test module, or any file of a ``test``/``tests`` package below the source ``root``.

    Test code is neither reviewed nor indexed: a test app's models, migrations
    and factories (``wagtail/test/testapp``, ``oscar/test/factories``) never
    meet a production database, and test modules are most of the parsing a
    large project's index would do (two thirds on wagtail).  The package is
    judged from the module name, so a checkout that itself lives in a folder
    named ``tests`` is still reviewed, and so is a project whose source root
    *is* a test tree (Django's own ``tests/``).
    """
    return is_test_module(path) or in_test_package(module_name_for(path, root))


def worth_indexing(source: str | bytes, path: str = "", root: str = ".") -> bool:
    """The index's pre-filter: no test code, and some ORM word in the text (else no model, migration or base)."""
    if path and is_test_code(path, root):
        return False
    raw = source.encode("utf-8", "surrogatepass") if isinstance(source, str) else source
    return INTERESTING.search(raw) is not None


def parsed_facts(raw: bytes, path: str, root: str, module: str) -> ModuleFacts:
    """The facts of a file the pre-filter let through (empty when it does not parse)."""
    try:
        tree = ast.parse(raw, filename=path)
    except (SyntaxError, ValueError, MemoryError, RecursionError):
        return ModuleFacts(path=path, module=module)
    from .semantic.extract import extract_module  # not needed by a run whose files are all cached

    return extract_module(tree, path, root, module)


@dataclass
class Relation:
    """One navigable relation of a model, forward or reverse."""

    name: str
    kind: str  # "fk", "o2o", "m2m", "relationship", "reverse_fk", "reverse_o2o", "reverse_m2m"
    model: ModelFact  # the model the attribute lives on
    target: ModelFact | None  # the model it leads to
    field: FieldFact | None = None  # the declaring field (on whichever side)
    lazy: str = ""

    @property
    def to_many(self) -> bool:
        if self.kind in ("m2m", "reverse_fk", "reverse_m2m"):
            return True
        if self.kind == "relationship" and self.field is not None:
            return self.field.is_to_many
        return False

    @property
    def forward_single(self) -> bool:
        return self.kind in ("fk", "o2o", "reverse_o2o") or (self.kind == "relationship" and not self.to_many)


def shallow_copy(model: ModelFact) -> ModelFact:
    """``copy.copy(model)`` without the pickle protocol (a third of a warm resolution)."""
    clone = object.__new__(ModelFact)
    for name in MODEL_SLOTS:
        object.__setattr__(clone, name, getattr(model, name))
    return clone


def facts_digest(encoded: str) -> str:
    """A digest of one file's facts as the cache file holds them (extraction is deterministic)."""
    return digest_of(encoded.encode())[:16]


class FileEntry:
    """One file's facts as the cache keeps them: decoded on first use.

    A warm run whose findings all come from the findings cache only needs each
    file's stat and digest: the facts file is not even read then.
    """

    __slots__ = ("mtime", "size", "digest", "outline", "deferred", "_facts", "_raw", "_encoded", "_stored", "_reextract")

    def __init__(self, mtime: int, size: int, *, facts: ModuleFacts | None = None, raw: dict | None = None,
                 digest: str | None = None, stored: Callable[[], dict | None] | None = None,
                 reextract: Callable[[], ModuleFacts | None] | None = None,
                 outline: Outline | None = None, deferred: bool = False, encoded: str | None = None) -> None:
        self.mtime, self.size, self._facts, self._raw, self._encoded = mtime, size, facts, raw, encoded
        self._stored, self._reextract = stored, reextract
        # A deferred file (no model, parent or migration by its outline) is parsed only if a
        # resolution goes through it; what other files can see of it stands for its facts meanwhile.
        self.outline, self.deferred = outline, deferred
        if deferred and outline is not None:
            self.digest = outline.signature
        else:
            self.digest = digest or facts_digest(self.encoded)

    @classmethod
    def deferred_file(cls, mtime: int, size: int, outline: Outline,
                      reextract: Callable[[], ModuleFacts | None] | None) -> "FileEntry":
        return cls(mtime, size, outline=outline, deferred=True, reextract=reextract)

    def adopt(self, facts: ModuleFacts) -> None:
        """Facts read from this file's unchanged text elsewhere (the lint of a deferred file): no parse later."""
        if self._facts is None and self._raw is None:
            self._facts = facts

    @property
    def facts(self) -> ModuleFacts:
        if self._facts is None:
            raw = self._raw if self._raw is not None else (self._stored() if self._stored else None)
            try:
                self._facts = module_from_dict(raw) if isinstance(raw, dict) else None
            except (KeyError, TypeError, ValueError, AttributeError):
                self._facts = None  # written by hand or by a foreign tool
            if self._facts is None:  # not in the facts file (another run replaced it) or unreadable
                self._facts = (self._reextract() if self._reextract else None) or ModuleFacts(path="", module="")
            self._raw = None  # one copy in memory; saving re-encodes
        return self._facts

    def compact(self) -> None:
        """Keep only the decoded facts (after saving), not their encoded copies."""
        if self._facts is not None:
            self._raw = self._encoded = None

    @property
    def raw(self) -> dict:
        if self._raw is None:
            stored = self._stored() if self._facts is None and self._stored else None
            self._raw = stored if isinstance(stored, dict) else module_to_dict(self.facts)
        return self._raw

    @property
    def encoded(self) -> str:
        """The facts as JSON text, as the cache file holds them: encoded once for the
        digest, the extraction children's pipes and the cache file."""
        if self._encoded is None:
            self._encoded = json.dumps(self.raw, separators=(",", ":"))
            if self._facts is not None:
                self._raw = None  # the text and the facts say it all
        return self._encoded


def _lines_of(fds: list[int]) -> Iterator[str]:
    """The lines written to the read ends ``fds``, read as they come, until every writer is done."""
    import selectors

    with selectors.DefaultSelector() as selector:
        buffers: dict[int, bytes] = {}
        for fd in fds:
            selector.register(fd, selectors.EVENT_READ)
            buffers[fd] = b""
        while buffers:
            for key, _ in selector.select():
                fd = key.fd
                chunk = os.read(fd, 1 << 16)
                if not chunk:
                    selector.unregister(fd)
                    os.close(fd)
                    if buffers.pop(fd):
                        yield "\ufffd"  # a last line without its newline: a child stopped halfway
                    continue
                *lines, buffers[fd] = (buffers[fd] + chunk).split(b"\n")
                for line in lines:
                    yield line.decode("utf-8")


def _reap(children: list[tuple[int, int]]) -> bool:
    """Wait for every child; True when all of them succeeded."""
    succeeded = True
    for pid, _ in children:
        _, status = os.waitpid(pid, 0)
        succeeded = succeeded and status == 0
    return succeeded


# A folder's listing: its mtime (ns), the sub-folders to walk and the source file names, each sorted.
Listing = tuple[int, list[str], list[str]]


def list_folder(folder: str, mtime: int) -> Listing | None:
    """What ``os.walk`` would give for ``folder``: sub-folders to enter (no symlinks, no skipped
    names) and source files; ``None`` when it cannot be read."""
    try:
        with os.scandir(folder) as scan:
            entries = list(scan)
    except OSError:
        return None
    subfolders, files = [], []
    for entry in entries:
        try:
            is_folder = entry.is_dir()
        except OSError:
            is_folder = False
        if not is_folder:
            if entry.name.endswith(SOURCE_SUFFIXES):
                files.append(entry.name)
        elif entry.name not in SKIP_DIRS and not entry.name.endswith(".egg-info") and not entry.is_symlink():
            subfolders.append(entry.name)
    return mtime, sorted(subfolders), sorted(files)


def table_row(entry: FileEntry) -> list:
    """``[mtime, size, digest]``, then ``outline, deferred`` for a file the pre-filter let through."""
    row: list = [entry.mtime, entry.size, entry.digest]
    if entry.outline is not None:
        row += [entry.outline.to_json(), int(entry.deferred)]
    return row


class StoredFacts:
    """The facts file of a cache, read on the first entry that needs its facts.

    It carries the token of the table it was written with; a table and a facts
    file from two different runs (written concurrently) do not mix: the facts
    are then read from the source files again.
    """

    def __init__(self, path: str, token: str) -> None:
        self.path, self.token = path, token
        self._files: dict[str, dict] | None = None

    def raw_for(self, source_path: str) -> dict | None:
        if self._files is None:
            try:
                with open(self.path, encoding="utf-8") as handle:
                    data = json.load(handle)
                files = data.get("files") if isinstance(data, dict) and data.get("token") == self.token else None
                self._files = files if isinstance(files, dict) else {}
            except (OSError, ValueError):
                self._files = {}
        return self._files.pop(source_path, None)  # handed out once: the entry keeps it from now on


class FilesView(Mapping):
    """``path -> (mtime_ns, size, facts)`` over the entries, decoding only what is read."""

    def __init__(self, entries: dict[str, FileEntry]) -> None:
        self._entries = entries

    def __getitem__(self, path: str) -> tuple[int, int, ModuleFacts]:
        entry = self._entries[path]
        return entry.mtime, entry.size, entry.facts

    def __iter__(self) -> Iterator[str]:
        return iter(self._entries)

    def __len__(self) -> int:
        return len(self._entries)

    def __contains__(self, path: object) -> bool:
        return path in self._entries


class ModuleTable(dict):
    """Module name -> facts of the parsed files, plus the deferred files, parsed when a name is resolved through them.

    ``get``/``[]`` answer for parsed files only: a deferred file holds no model.
    ``in`` knows both (the index knows the module, whatever it holds).
    """

    def __init__(self) -> None:
        super().__init__()
        self.deferred: dict[str, tuple[str, FileEntry]] = {}

    def defer(self, module: str, path: str, entry: FileEntry) -> None:
        if module:
            self.deferred[module] = (path, entry)

    def __contains__(self, module: object) -> bool:
        return dict.__contains__(self, module) or module in self.deferred

    def path_of(self, module: str) -> str | None:
        facts = dict.get(self, module)
        if facts is not None:
            return facts.path
        found = self.deferred.get(module)
        return found[0] if found else None

    def symbol(self, module: str, name: str) -> str | None:
        """What ``module.name`` stands for (an import, a factory), or ``None``."""
        facts = dict.get(self, module)
        if facts is None:
            found = self.deferred.get(module)
            outline = found[1].outline if found else None
            if outline is None or name not in outline.bound:
                return None  # the file binds no such name: no parse needed to say so
            facts = found[1].facts
        return facts.symbols.get(name)


@dataclass
class ProjectIndex:
    roots: list[str]
    cache_dir: str | None = None
    entries: dict[str, FileEntry] = field(default_factory=dict)
    overrides: dict[str, ModuleFacts] = field(default_factory=dict)
    stale: bool = True
    _resolved: bool = False
    _keys_by_abspath: dict[str, str] | None = None
    _digest: str | None = None
    # What other parts keep for one run of this process (the findings cache's entries): cleared by refresh().
    run_state: dict[str, object] = field(default_factory=dict, repr=False, compare=False)
    # Called while forked children parse (this process would only wait): the plugin loads the rules then.
    while_extracting: Callable[[], None] | None = field(default=None, repr=False, compare=False)
    # Each folder's (mtime, sub-folders to walk, source file names) as the last walk found them.
    listings: dict[str, Listing] = field(default_factory=dict, repr=False, compare=False)

    @property
    def files(self) -> FilesView:
        return FilesView(self.entries)

    @property
    def digest(self) -> str:
        """What the files on disk say, as one digest: changes when any file's facts change."""
        if self._digest is None:
            digest = new_digest()
            digest.update(extractor_fingerprint().encode())
            for path in sorted(self.entries):
                digest.update(f"{path}\0{self.entries[path].digest}\n".encode())
            self._digest = digest.hexdigest()[:16]
        return self._digest

    # -- building -----------------------------------------------------------------------

    @property
    def cache_file(self) -> str | None:
        """The table: every file's stat and facts digest (small: a warm run reads only this)."""
        return os.path.join(self.cache_dir, f"index-v{CACHE_VERSION}.json") if self.cache_dir else None

    @property
    def facts_file(self) -> str | None:
        """Every file's facts, read only when something is analysed."""
        return os.path.join(self.cache_dir, f"facts-v{CACHE_VERSION}.json") if self.cache_dir else None

    def iter_source_files(self) -> Iterator[str]:
        """Every source file below the roots, in ``os.walk`` order (sorted, top-down).

        Creating, deleting or renaming an entry changes its folder's mtime, so a
        folder whose mtime is the one it had at the last walk holds the same
        names: its listing is reused, a stat instead of reading the folder.
        Listing the folders was most of what a warm run costs on a project
        with many of them (wagtail's 2,400: locales, static files, templates).
        """
        known, listed = self.listings, {}
        settled = time.time_ns() - RECENT_FOLDER_NS
        for root in self.roots:
            if os.path.isfile(root):
                yield os.path.normpath(root)
                continue
            pending = [root]
            while pending:
                folder = pending.pop()
                try:
                    mtime = os.stat(folder).st_mtime_ns
                except OSError:
                    continue  # gone, or not a folder we may read: as os.walk
                listing = known.get(folder)
                if listing is None or listing[0] != mtime:
                    listing = list_folder(folder, mtime)
                    if listing is None:
                        continue
                if mtime < settled:
                    listed[folder] = listing
                _, subfolders, files = listing
                for name in files:
                    yield os.path.normpath(os.path.join(folder, name))
                pending.extend(os.path.join(folder, name) for name in reversed(subfolders))
        self.listings = listed

    def key_for(self, path: str) -> str:
        """The key the tree walk uses for ``path``: absolute and relative spellings agree.

        Editors pass absolute paths while the walk yields root-relative ones; without
        this the same file would be indexed twice and re-resolved on every lint.
        """
        key = os.path.normpath(path)
        if key in self.entries:
            return key
        if self._keys_by_abspath is None:
            self._keys_by_abspath = {os.path.abspath(known): known for known in self.entries}
        return self._keys_by_abspath.get(os.path.abspath(key), key)

    def root_for(self, path: str) -> str:
        roots = self.__dict__.setdefault("_roots_by_path", {})  # asked several times per file
        found = roots.get(path)
        if found is None:
            found = roots[path] = self._root_for(path)
        return found

    def _root_for(self, path: str) -> str:
        absolute = os.path.abspath(path)
        for root in self.roots:
            base = os.path.abspath(root)
            if absolute == base or absolute.startswith(base.rstrip(os.sep) + os.sep):
                return root
        return self.roots[0] if self.roots else "."

    def load_cache(self) -> dict[str, FileEntry]:
        if not self.cache_file or not self.facts_file:
            return {}
        try:
            with open(self.cache_file, encoding="utf-8") as handle:
                data = json.load(handle)
            if data.get("version") != CACHE_VERSION or data.get("roots") != [os.path.abspath(r) for r in self.roots]:
                return {}
            if data.get("extractor") != extractor_fingerprint():
                return {}  # facts written by another version of the extraction code
            stored = StoredFacts(self.facts_file, str(data["token"]))
            self.listings = {str(folder): (int(mtime), [str(n) for n in subfolders], [str(n) for n in files])
                             for folder, (mtime, subfolders, files) in data.get("folders", {}).items()}
            entries = {}
            for path, row in data["files"].items():
                mtime, size, digest = row[:3]
                if not isinstance(digest, str):
                    return {}
                outline = Outline.from_json(row[3]) if len(row) > 3 else None
                reextract = partial(self.extract_file, path)
                if outline is not None and row[4]:
                    entries[path] = FileEntry.deferred_file(int(mtime), int(size), outline, reextract)
                else:
                    entries[path] = FileEntry(int(mtime), int(size), digest=digest, stored=partial(stored.raw_for, path),
                                              reextract=reextract, outline=outline)
            return entries
        except (OSError, ValueError, KeyError, TypeError, AttributeError, IndexError):
            return {}  # missing, unreadable or corrupt: rebuild

    def save_cache(self) -> None:
        if not self.cache_file or not self.facts_file:
            return
        token = digest_of(os.urandom(16))
        header = {"version": CACHE_VERSION, "extractor": extractor_fingerprint(), "token": token,
                  "roots": [os.path.abspath(r) for r in self.roots]}
        ordered = sorted(self.entries.items())
        # dumps, not dump: json.dump streams through the pure-Python encoder (10x slower)
        table = json.dumps(dict(header, files={path: table_row(entry) for path, entry in ordered}, folders=self.listings),
                           separators=(",", ":"))
        # The JSON object {"token": .., "files": {path: facts}}, from each file's facts encoded once.
        files = ",".join(f"{json.dumps(path)}:{entry.encoded}" for path, entry in ordered if not entry.deferred)
        facts = f'{{"token":{json.dumps(token)},"files":{{{files}}}}}'
        try:
            os.makedirs(self.cache_dir, exist_ok=True)
            ignore = os.path.join(self.cache_dir, ".gitignore")
            if not os.path.exists(ignore):
                with open(ignore, "w", encoding="utf-8") as handle:
                    handle.write("# Created by flake8-ormreview: the model index cache.\n*\n")
            # The facts first: a table is never on disk before the facts it points to.
            for target, text in ((self.facts_file, facts), (self.cache_file, table)):
                fd, tmp = tempfile.mkstemp(dir=self.cache_dir, prefix=".index-", suffix=".tmp")
                with os.fdopen(fd, "w", encoding="utf-8") as handle:
                    handle.write(text)
                os.replace(tmp, target)  # atomic: concurrent writers never leave half a file
        except OSError:
            try:
                os.unlink(tmp)  # type: ignore[possibly-undefined]
            except (OSError, UnboundLocalError, NameError):
                pass

    def refresh(self) -> None:
        """Bring every file's facts up to date (stat only for unchanged files)."""
        previous = self.entries or self.load_cache()
        current: dict[str, FileEntry] = {}
        pending: list[tuple[str, int, int]] = []
        changed = not self.entries and not previous
        for path in self.iter_source_files():
            try:
                stat = os.stat(path)
            except OSError:
                continue  # vanished or a dangling link
            if not S_ISREG(stat.st_mode):
                continue  # a FIFO or device named *.py would block the read forever
            entry = previous.get(path)
            if entry and entry.mtime == stat.st_mtime_ns and entry.size == stat.st_size:
                current[path] = entry
                continue
            changed = True
            pending.append((path, stat.st_mtime_ns, stat.st_size))
        removed = set(previous) - set(current) - {path for path, _, _ in pending}
        self.extract_all(pending, current, reconsider=bool(pending or removed))
        if removed:
            changed = True
        self.entries = current
        self._keys_by_abspath = None
        self._digest = None
        self.run_state.clear()
        self.stale = False
        self._resolved = False
        if changed or not (self.cache_file and os.path.exists(self.cache_file)):
            self.save_cache()
        for entry in current.values():
            entry.compact()

    def extract_all(self, pending: list[tuple[str, int, int]], entries: dict[str, FileEntry], reconsider: bool = True) -> None:
        """Add to ``entries`` the ``(path, mtime_ns, size)`` files that changed, read from disk.

        With ``reconsider`` (some file changed or went), which files need
        facts is worked out again from every outline: an unchanged file may
        now need parsing (a new subclass names it as a base) or no longer.

        Many files to parse (a cold index) are parsed in two forked children,
        which stream each file's facts back: the syntax trees of a large
        project would leave this process's heap fragmented (5 MB of wagtail's
        RSS), and every forked flake8 worker would inherit it; two, because
        the index is built before flake8 starts its workers, so this is wall
        time on a machine with idle cores.  Few files, no fork (Windows) or a
        failed child: parsed here.
        """
        if not reconsider:
            return
        to_parse = self._plan(pending, entries)
        if len(to_parse) >= FORK_EXTRACTION_FROM and hasattr(os, "fork"):
            received = self._parse_in_children(to_parse)
            if received is not None:
                entries.update(received)
                return
        entries.update(self._parsed(to_parse))

    def _plan(self, pending: list[tuple[str, int, int]], entries: dict[str, FileEntry]) -> list[ToParse]:
        """Read the changed files' outlines and decide which files need facts.

        ``entries`` (the unchanged files) gets every entry that needs no parse:
        changed files without ORM words, deferred files, and unchanged files
        deferred from now on.  Returned: the files to parse.
        """
        unchanged = dict(entries)
        outlines = {path: entry.outline for path, entry in unchanged.items() if entry.outline is not None}
        readable: list[ToParse] = []
        for path, mtime, size in pending:
            try:
                with open(path, "rb") as handle:
                    raw = handle.read() if size <= MAX_FILE_BYTES else b""
            except OSError:
                continue  # vanished or unreadable since the stat
            root = self.root_for(path)
            if size > MAX_FILE_BYTES or not worth_indexing(raw, path, root):
                module = "" if size > MAX_FILE_BYTES else module_name_for(path, root)
                entries[path] = FileEntry(mtime, size, facts=ModuleFacts(path=path, module=module))
                continue
            try:
                outlines[path] = outline_of(raw)
            except Exception:  # noqa: BLE001 - read it the slow way: parsed
                outlines.pop(path, None)
            readable.append((path, mtime, size, raw, outlines.get(path)))
        needed = files_needing_facts(outlines)
        to_parse: list[ToParse] = []
        for path, mtime, size, raw, outline in readable:
            if outline is not None and path not in needed:
                entries[path] = FileEntry.deferred_file(mtime, size, outline, partial(self.extract_file, path))
            else:
                to_parse.append((path, mtime, size, raw, outline))
        for path, entry in unchanged.items():
            if entry.outline is None or (path in needed) != entry.deferred:
                continue  # still as it was
            if entry.deferred:
                to_parse.append((path, entry.mtime, entry.size, None, entry.outline))
            else:
                entries[path] = FileEntry.deferred_file(entry.mtime, entry.size, entry.outline, partial(self.extract_file, path))
        return to_parse

    def _parsed(self, to_parse: list[ToParse]) -> Iterator[tuple[str, FileEntry]]:
        for path, mtime, size, raw, outline in to_parse:
            # raw None: an unchanged file, parsed from now on (read again; None if it went since)
            facts = self.extract_file(path, size) if raw is None else self._facts_of(raw, path)
            if facts is not None:
                yield path, FileEntry(mtime, size, facts=facts, outline=outline)

    def _parse_in_children(self, to_parse: list[ToParse]) -> dict[str, FileEntry] | None:
        """Parse ``to_parse`` in forked children, each streaming ``[path, mtime, size, digest]<tab>facts`` lines back."""
        # Imported before the fork: the children inherit the extractor, and this process,
        # about to analyse the files that changed, needs it too.
        from .semantic import extract  # noqa: F401

        shares: list[list[ToParse]] = [[] for _ in range(EXTRACTION_CHILDREN)]
        loads = [0] * EXTRACTION_CHILDREN
        for item in sorted(to_parse, key=lambda item: -item[2]):  # largest first, each to the lightest share
            lightest = loads.index(min(loads))
            shares[lightest].append(item)
            loads[lightest] += item[2]
        children: list[tuple[int, int]] = []  # (pid, read end)
        for share in filter(None, shares):
            read_end, write_end = os.pipe()
            try:
                pid = os.fork()
            except OSError:
                for fd in (read_end, write_end, *(other for _, other in children)):
                    os.close(fd)  # a started child then fails to write and exits
                _reap(children)
                return None
            if pid == 0:  # a child: parse, send; exit without running the parent's cleanup
                status = 1
                try:
                    # Nothing inherited becomes garbage here: collections skip it (and copy none of its pages).
                    gc.freeze()
                    os.close(read_end)
                    for _, other in children:
                        os.close(other)
                    with os.fdopen(write_end, "w", encoding="utf-8") as out:
                        for path, entry in self._parsed(share):
                            # JSON never holds a raw tab: the facts text after it is kept as it is
                            out.write(f"[{json.dumps(path)},{entry.mtime},{entry.size},{json.dumps(entry.digest)}]\t{entry.encoded}\n")
                    status = 0
                finally:
                    os._exit(status)
            os.close(write_end)
            children.append((pid, read_end))
        if self.while_extracting is not None:
            try:
                self.while_extracting()  # this process would only wait: e.g. load the rules meanwhile
            except Exception:  # noqa: BLE001 - an optimisation, never a reason to fail
                pass
        outlines = {path: outline for path, _, _, _, outline in to_parse}
        entries: dict[str, FileEntry] | None = {}
        for line in _lines_of([read_end for _, read_end in children]):  # one file at a time
            try:
                header, encoded = line.split("\t", 1)
                path, mtime, size, digest = json.loads(header)
                # The text as the child encoded it: the cache file gets it without a second encoding.
                entry = FileEntry(int(mtime), int(size), facts=module_from_dict(json.loads(encoded)), digest=str(digest),
                                  outline=outlines.get(path), encoded=encoded)
            except (ValueError, TypeError, KeyError, AttributeError):
                entries = None
                continue  # keep reading: a child blocked on a full pipe would never exit
            if entries is not None:
                entries[path] = entry
        return entries if _reap(children) else None

    def extract_file(self, path: str, size: int = 0) -> ModuleFacts | None:
        """The facts of the file on disk (``None`` if it cannot be read)."""
        if size > MAX_FILE_BYTES:
            return ModuleFacts(path=path, module="")
        try:
            with open(path, "rb") as handle:
                raw = handle.read()
        except OSError:
            return None
        if not worth_indexing(raw, path, self.root_for(path)):
            return ModuleFacts(path=path, module=module_name_for(path, self.root_for(path)))
        return self._facts_of(raw, path)

    def _facts_of(self, raw: bytes, path: str) -> ModuleFacts:
        """The facts of a file the pre-filter let through."""
        root = self.root_for(path)
        try:
            return parsed_facts(raw, path, root, module_name_for(path, root))
        except Exception:  # noqa: BLE001 - one odd file must not break every other file's analysis
            return ModuleFacts(path=path, module="")

    def unchanged_facts(self, path: str, source: str) -> ModuleFacts | None:
        """The cached facts of ``path`` when ``source`` is exactly what they were read from.

        flake8 hands every file's text to the plugin; when it is the file on
        disk, unchanged since the index read it, the facts need no second
        extraction.  ``None`` otherwise (an editor's buffer, a file edited since).
        """
        entry = self.entries.get(path)
        if entry is None or entry.deferred:
            return None  # a deferred file's facts would be a second parse: the caller extracts its own tree
        try:
            stat = os.stat(path)
            if stat.st_mtime_ns != entry.mtime or stat.st_size != entry.size:
                return None
            with open(path, "rb") as handle:
                if handle.read().decode("utf-8") != source:
                    return None
        except (OSError, UnicodeDecodeError):
            return None
        return entry.facts

    def refresh_if_stale(self) -> None:
        """Re-stat the project if a new run started; no resolution (see ``ensure_fresh``)."""
        if self.stale:
            self.refresh()

    def ensure_fresh(self) -> None:
        if self.stale:
            self.refresh()
        if not self._resolved:
            self.resolve()

    def override(self, facts: ModuleFacts, source: str | None = None) -> None:
        """Use ``facts`` (from the text being linted) for its path in place of the disk copy.

        A deferred file is compared by its text (``source``), its facts were never read:
        the same text, or the same outline (an edit inside a function changes nothing
        another file can see).
        """
        self.ensure_fresh()
        key = os.path.normpath(facts.path)
        known = self.entries.get(key)
        if known is not None and known.deferred and known.outline is not None:
            same_text = source is not None and text_digest(source) == known.outline.digest
            if same_text:
                known.adopt(facts)
            unchanged = same_text or (source is not None and outline_of(source).signature == known.outline.signature)
        else:
            unchanged = known is not None and known.facts == facts
        if unchanged:
            if key in self.overrides:
                del self.overrides[key]
                self._resolved = False
        elif self.overrides.get(key) != facts:
            self.overrides[key] = facts
            self._resolved = False
        if not self._resolved:
            self.resolve()

    # -- resolution ----------------------------------------------------------------------

    def unread(self, path: str) -> bool:
        """A deferred file that no linted text overrides: its facts were never read."""
        entry = self.entries.get(path)
        return entry is not None and entry.deferred and path not in self.overrides

    def all_facts(self) -> Iterable[ModuleFacts]:
        """Every file's facts, but a deferred file's only when the text being linted overrides it."""
        for path, entry in self.entries.items():
            if self.unread(path):
                continue
            yield self.overrides.get(path) or entry.facts
        for path, facts in self.overrides.items():
            if path not in self.entries:
                yield facts

    def memo(self, key: object, compute: Callable[[], T]) -> T:
        """A value derived from the resolved index, computed once per resolution.

        For project-wide groupings a rule would otherwise rebuild for every file
        (e.g. a migration folder's history); cleared whenever the index changes.
        """
        self.ensure_fresh()
        store = self.__dict__.setdefault("_memo", {})
        if key not in store:
            store[key] = compute()
        return store[key]

    def resolve(self) -> None:
        self._symbol_cache: dict[str, str] = {}
        self._memo: dict[object, object] = {}
        self.modules = ModuleTable()
        self.classes: dict[str, ModelFact] = {}
        for path, entry in self.entries.items():
            if self.unread(path):
                self.modules.defer(module_name_for(path, self.root_for(path)), path, entry)
        for facts in self.all_facts():
            if facts.module:
                self.modules[facts.module] = facts
            for cls in facts.classes:
                # Resolution adds inherited fields and decisions: work on copies so
                # the cached per-file facts stay exactly what the file says.
                resolved = shallow_copy(cls)
                resolved.fields = dict(cls.fields)
                resolved.indexes = list(cls.indexes)
                self.classes[cls.qualname] = resolved
        self._attach_foreign_indexes()
        self._decide_models()
        self.models = {q: c for q, c in self.classes.items() if c.is_model}
        self.by_name: dict[str, list[ModelFact]] = {}
        self.by_table: dict[str, ModelFact] = {}
        self.by_label: dict[tuple[str, str], ModelFact] = {}
        for model in self.models.values():
            self.by_name.setdefault(model.name, []).append(model)
            self.by_table.setdefault(self.table_name(model), model)
            self.by_label.setdefault((model.app_label, model.name), model)
        self._relations: dict[str, dict[str, Relation]] = {}
        self._resolved = True

    def _attach_foreign_indexes(self) -> None:
        """Module-level ``Index(..)`` declared in another module than its table."""
        for facts in self.all_facts():
            for entry in facts.extra.get("foreign_indexes", []) if isinstance(facts.extra, dict) else []:
                try:
                    target = self.classes.get(self.resolve_symbol(entry["owner"]))
                    if target is not None:
                        target.indexes.append(IndexFact(**entry["index"]))
                except (KeyError, TypeError):
                    continue  # a cache entry from another version: ignore it

    def resolve_symbol(self, qualname: str, depth: int = 0) -> str:
        """Follow re-exports and module-level factories (``Base = declarative_base()``)."""
        if depth == 0:
            # Rules ask for the same names over and over; the answer only changes with resolve().
            cache = self.__dict__.setdefault("_symbol_cache", {})
            found = cache.get(qualname)
            if found is None:
                found = cache[qualname] = self._resolve_symbol(qualname, 0)
            return found
        return self._resolve_symbol(qualname, depth)

    def _resolve_symbol(self, qualname: str, depth: int) -> str:
        if depth > 8 or not qualname:
            return qualname
        module, _, name = qualname.rpartition(".")
        target = self.modules.symbol(module, name) if module else None
        if target is not None and target != qualname:
            return self.resolve_symbol(target, depth + 1)
        if qualname not in self.classes and module:
            # ``pkg.mod.Class.attr``-style names: resolve the head, keep the tail.
            head = self.resolve_symbol(module, depth + 1)
            if head != module:
                return f"{head}.{name}"
        return qualname

    def _decide_models(self) -> None:
        decided: dict[str, tuple[str, bool, bool]] = {}  # qualname -> (framework, is_model, is_base)

        def decide(cls: ModelFact, seen: frozenset[str]) -> tuple[str, bool, bool]:
            if cls.qualname in decided:
                return decided[cls.qualname]
            if cls.framework == "core":
                return ("core", True, False)
            result = ("", False, False)
            for base in cls.bases:
                target = self.resolve_symbol(base)
                kind = canonical(target)
                if kind in DJANGO_MODEL_ROOTS or target in DJANGO_LIBRARY_MODELS:
                    result = ("django", True, False)
                elif kind in SQLA_BASE_ROOTS:
                    is_declared_base = kind != "sqlalchemy:Base"
                    result = ("sqlalchemy", not is_declared_base, is_declared_base)
                elif kind == "sqlmodel:SQLModel":
                    result = ("sqlmodel", cls.keywords.get("table") is True, cls.keywords.get("table") is not True)
                elif target in self.classes and target not in seen:
                    framework, is_model, is_base = decide(self.classes[target], seen | {target})
                    if framework == "sqlmodel":
                        result = ("sqlmodel", cls.keywords.get("table") is True or is_model, False)
                    elif framework:
                        result = (framework, True, False)
                if result[0]:
                    break
            decided[cls.qualname] = result
            return result

        for cls in self.classes.values():
            framework, is_model, is_base = decide(cls, frozenset({cls.qualname}))
            if cls.framework != "core":
                cls.framework, cls.is_model, cls.is_base = framework, is_model, is_base
            if is_model and framework in ("sqlalchemy", "sqlmodel") and not cls.table:
                # Abstract/mixin declarative classes without a table are not tables.
                if cls.abstract or (framework == "sqlalchemy" and not any(f.is_db_column and f.type != "annotation" for f in cls.fields.values())):
                    cls.abstract = True
        # Django: inherit fields of abstract parents so lookups see them.
        for cls in self.classes.values():
            if cls.framework == "django" and cls.is_model:
                for parent in self.parents(cls):
                    for name, fact in parent.fields.items():
                        cls.fields.setdefault(name, fact)
                    self._inherit_column_indexes(cls, parent)
                    if parent.has_str:
                        cls.has_str = True
                    if not cls.ordering and parent.ordering and parent.abstract:
                        cls.ordering = parent.ordering
                self._inherit_declared_indexes(cls)
                # Bare annotations (``id: int``, django-stubs style) declare no Django field.
                cls.fields = {name: fact for name, fact in cls.fields.items() if fact.type != "annotation"}
            elif cls.framework in ("sqlalchemy", "sqlmodel") and cls.is_model:
                for parent in self.parents(cls):
                    for name, fact in parent.fields.items():
                        cls.fields.setdefault(name, fact)
                    self._inherit_column_indexes(cls, parent)
                self._inherit_declared_indexes(cls)

    def _inherit_declared_indexes(self, cls: ModelFact) -> None:
        """Indexes a subclass gets from its parent's ``Meta`` (Django) or ``__table_args__`` (SQLAlchemy).

        Django: an abstract parent's ``Meta`` applies when the child declares
        none, or extends it (``class Meta(Base.Meta)``).  SQLAlchemy: a class
        attribute ``__table_args__`` is inherited unless the class sets its own.
        """
        for parent in self.parents(cls):
            if cls.framework == "django":
                if cls.has_meta and not cls.meta_inherits:
                    return
                if not (parent.abstract and parent.has_meta):
                    continue
                wanted = ("meta", "inherited")
            else:
                if cls.declares_table_args:
                    return
                if not parent.declares_table_args:
                    continue
                wanted = ("table_args", "inherited")
            cls.indexes.extend(replace(i, source="inherited") for i in parent.indexes if i.source in wanted)
            cls.dynamic_indexes = cls.dynamic_indexes or parent.dynamic_indexes
            return

    @staticmethod
    def _inherit_column_indexes(cls: ModelFact, parent: ModelFact) -> None:
        """Inherited columns bring their own ``db_index``/``unique``/``index=True`` indexes."""
        for index in parent.indexes:
            if index.source == "column" and len(index.columns) == 1 and cls.fields.get(index.columns[0]) is parent.fields.get(index.columns[0]):
                if not any(i.source == "column" and i.columns == index.columns and i.kind == index.kind for i in cls.indexes):
                    cls.indexes.append(index)

    def parents(self, cls: ModelFact, depth: int = 0) -> list[ModelFact]:
        """Project base classes of ``cls``, nearest first."""
        result = []
        if depth > 8:
            return result
        for base in cls.bases:
            target = self.resolve_symbol(base)
            parent = self.classes.get(target)
            if parent is not None and parent is not cls:
                result.append(parent)
                result.extend(self.parents(parent, depth + 1))
        return result

    # -- queries used by rules ---------------------------------------------------------

    def model(self, qualname: str | None) -> ModelFact | None:
        self.ensure_fresh()
        if not qualname:
            return None
        found = self.models.get(qualname) or self.models.get(self.resolve_symbol(qualname))
        return found

    def table_name(self, model: ModelFact) -> str:
        if model.table:
            return model.table
        if model.framework == "django":
            return f"{model.app_label}_{model.name.lower()}"
        if model.framework == "sqlmodel":
            return model.name.lower()
        return model.name

    def related_model(self, model: ModelFact, fact: FieldFact) -> ModelFact | None:
        """The model a relation or foreign key leads to; ``None`` when unknown."""
        self.ensure_fresh()
        if fact.target_qualname:
            found = self.model(fact.target_qualname)
            if found:
                return found
        target = fact.target
        if fact.relation in ("fk", "o2o", "m2m"):
            if target in ("self", "'self'"):
                return model
            if "." in target:
                label, _, name = target.rpartition(".")
                return self.by_label.get((label.split(".")[-1], name)) or self._unique(name, model)
            return self.by_label.get((model.app_label, target)) or self._unique(target, model)
        if fact.relation == "relationship":
            name = target.split(".")[-1].strip("'\"")
            return self._unique(name, model)
        if fact.foreign_key:
            table = fact.foreign_key.rsplit(".", 1)[0] if "." in fact.foreign_key else ""
            return self.by_table.get(table)
        return None

    def _unique(self, name: str, near: ModelFact) -> ModelFact | None:
        candidates = [m for m in self.by_name.get(name, []) if m.framework == near.framework or {m.framework, near.framework} <= {"sqlalchemy", "sqlmodel"}]
        if len(candidates) == 1:
            return candidates[0]
        same_module = [m for m in candidates if m.module == near.module]
        return same_module[0] if len(same_module) == 1 else None

    def relations(self, model: ModelFact) -> dict[str, Relation]:
        """Forward and reverse relations navigable from ``model`` by attribute name."""
        self.ensure_fresh()
        if not self._relations:
            self._build_relations()
        return self._relations.get(model.qualname, {})

    def _build_relations(self) -> None:
        rel: dict[str, dict[str, Relation]] = {q: {} for q in self.models}
        for model in self.models.values():
            for fact in model.fields.values():
                if fact.relation in ("fk", "o2o", "m2m"):
                    target = self.related_model(model, fact)
                    rel[model.qualname][fact.name] = Relation(fact.name, fact.relation, model, target, fact)
                    if target is None or target.qualname not in rel or fact.related_name.endswith("+"):
                        continue
                    if fact.relation == "o2o":
                        accessor, kind = fact.related_name or model.name.lower(), "reverse_o2o"
                    else:
                        accessor = fact.related_name or f"{model.name.lower()}_set"
                        kind = "reverse_fk" if fact.relation == "fk" else "reverse_m2m"
                    rel[target.qualname].setdefault(accessor, Relation(accessor, kind, target, model, fact))
                elif fact.relation == "relationship":
                    target = self.related_model(model, fact)
                    rel[model.qualname][fact.name] = Relation(fact.name, "relationship", model, target, fact, fact.lazy or "select")
                    if target is not None and fact.backref and fact.backref != "backref" and target.qualname in rel:
                        back = FieldFact(name=fact.backref, line=fact.line, relation="relationship", target=model.name, uselist=None if not fact.is_to_many else False)
                        rel[target.qualname].setdefault(fact.backref, Relation(fact.backref, "relationship", target, model, back, "select"))
        # Subclasses of Django abstract models inherit relations through fields already.
        self._relations = rel

    def models_in(self, path: str) -> list[ModelFact]:
        self.ensure_fresh()
        key = os.path.normpath(path)
        entry = self.entries.get(key)
        if self.unread(key):
            return []  # no model by its outline
        facts = self.overrides.get(key) or (entry.facts if entry is not None else None)
        if facts is None:
            return []
        return [self.classes.get(c.qualname, c) for c in facts.classes if self.classes.get(c.qualname, c).is_model]

    def query_sites_for(self, model: ModelFact) -> int:
        return 0


_INDEXES: dict[tuple[tuple[str, ...], str | None], ProjectIndex] = {}


def get_index(roots: Iterable[str], cache_dir: str | None = "auto") -> ProjectIndex:
    """The process-wide index for these roots (built on first use)."""
    roots = [os.path.normpath(r) for r in roots] or ["."]
    if cache_dir == "auto":
        first = roots[0] if os.path.isdir(roots[0]) else os.path.dirname(roots[0]) or "."
        cache_dir = os.path.join(first, CACHE_DIRNAME)
    # Relative roots mean different folders in a process that changes directory
    # (a language server, a test run): never hand one folder's index to another.
    try:
        here = os.getcwd()
    except OSError:  # the current folder was deleted
        here = ""
    key = (tuple(roots), cache_dir, here)
    if key not in _INDEXES:
        _INDEXES[key] = ProjectIndex(list(roots), cache_dir)
    return _INDEXES[key]


def mark_all_stale() -> None:
    """Called at the start of every flake8 run: re-stat files on next use."""
    for index in _INDEXES.values():
        index.stale = True
        index.overrides.clear()
