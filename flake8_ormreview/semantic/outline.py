"""What a file's text says about its classes and imports, read without parsing it.

Parsing is most of what building the index costs, and most files that
mention the ORM define no model: views, forms, admin, tasks.  The index
reads every file's *outline* (class names and the last names of their bases,
names bound by imports, declarative-base factories) with regular
expressions, works out from all outlines which files can hold a model, a
model's parent or a migration (``files_needing_facts``), and parses only
those.  The others are parsed on demand, when a name is resolved through
them (``bound``).

The outline errs on the side of parsing: text that looks like a class in a
docstring, a name shared by an unrelated class, or a base it cannot read
makes a file parsed, never skipped.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any, Iterable, Mapping

from ..digest import digest_of

# Base names that make a class a model, a declarative base, a Django migration or a class the rules
# follow (a ModelForm or a ModelSerializer: mass-assignment rules walk a project's form hierarchy).
ROOT_BASES = frozenset({
    "Model", "Migration", "Base", "DeclarativeBase", "DeclarativeBaseNoMeta", "SQLModel",
    "AbstractUser", "AbstractBaseUser", "PermissionsMixin", "User", "Group", "Permission", "Site",
    "ContentType", "AbstractBaseSession", "Session",
    "ModelForm", "BaseModelForm", "ModelSerializer", "HyperlinkedModelSerializer",
})
# Never a project's model: Django's inner ``class Meta(Parent.Meta)`` names its parent's Meta.
NOT_A_PARENT = frozenset({"Meta", "object"})

# Parsed whatever its classes: an Alembic revision, and a file that may declare a SQLAlchemy Core
# table or a module-level index (Django migrations are found by their ``Migration`` base).  Plain
# substrings: the text is searched at C speed, and a needless parse is the only cost of a false match.
REVISION_WORD = "down_revision"
CORE_CALLS = ("Table(", "Index(")  # rich's Table( too: hence the SQLAlchemy words below
SQLALCHEMY_WORDS = ("sqlalchemy", "sqlmodel", "db.Table(", "db.Index(")
# Every pattern starts with a literal word, which ``re`` finds with a fast scan; ``^`` would be
# tried at every character.  Whether the word starts its line is checked after.
CLASS_WORD = re.compile(r"class[ \t]+\w")
# ``class Name(bases):`` with at most one level of parentheses inside the bases.
CLASS_HEADER = re.compile(r"class[ \t]+(\w+)[ \t]*(?:\(((?:[^()]|\([^()]*\))*)\))?[ \t]*:")
IMPORT = re.compile(r"import[ \t]+(\([^)]*\)|(?:[^\n\\]|\\\n)*)")
FROM_PREFIX = re.compile(r"[ \t]*from[ \t]+[\w.]+[ \t]+")
# ``Base = declarative_base()``, ``db = SQLAlchemy()``: the names other modules import.
FACTORY_CALLS = ("declarative_base(", "generate_base(", "automap_base(", "SQLAlchemy(", "registry(", "MetaData(")
BASE_FACTORIES = ("declarative_base(", "generate_base(", "automap_base(")
ASSIGNED_CALL = re.compile(r"[ \t]*(\w+)[ \t]*(?::[^=\n]*)?=[ \t]*[\w.]+[ \t]*\(")
COMMENT = re.compile(r"#[^\n]*")
LAST_NAME = re.compile(r"(\w+)\s*$")


@dataclass
class Outline:
    digest: str  # of the whole text (newlines normalised): is a linted text the one on disk?
    signature: str = ""  # of what other files can see (classes, imports, factories): a deferred file's index digest
    classes: list[tuple[str, list[str]]] = field(default_factory=list)  # (name, last names of its bases)
    bound: list[str] = field(default_factory=list)  # names bound by imports and calls: what a resolution may ask
    aliases: list[tuple[str, str]] = field(default_factory=list)  # (imported name, local alias)
    factories: list[str] = field(default_factory=list)  # names bound to a declarative base (``Base = declarative_base()``)
    always: bool = False  # parsed whatever the other files say (a migration, a table, a base it cannot read)

    def to_json(self) -> list[Any]:
        return [self.digest, self.signature, [[n, b] for n, b in self.classes], self.bound,
                [list(a) for a in self.aliases], self.factories, int(self.always)]

    @classmethod
    def from_json(cls, data: Any) -> "Outline":
        digest, signature, classes, bound, aliases, factories, always = data
        return cls(str(digest), str(signature), [(str(n), [str(b) for b in bases]) for n, bases in classes],
                   [str(b) for b in bound], [(str(a), str(b)) for a, b in aliases], [str(f) for f in factories], bool(always))


def text_digest(text: str) -> str:
    """The digest of source text as flake8 and a disk read both see it (newlines normalised)."""
    return digest_of(text.replace("\r\n", "\n").replace("\r", "\n").encode("utf-8", "surrogatepass"))[:16]


def outline_of(raw: bytes | str) -> Outline:
    text = raw if isinstance(raw, str) else raw.decode("utf-8", "replace")
    if text.startswith("\ufeff"):
        text = text[1:]
    outline = Outline(digest=text_digest(text), always=always_parsed(text))
    for found in CLASS_WORD.finditer(text):
        if _line_prefix(text, found.start()).strip():
            continue  # ``class`` inside a line: a word in a string or a comment
        header = CLASS_HEADER.match(text, found.start())
        if header is None:
            outline.always = True  # a class header too intricate to read here
            continue
        bases, readable = base_names(header.group(2) or "")
        outline.classes.append((header.group(1), bases))
        if not readable:
            outline.always = True  # ``class X(make_base())``, ``class X(*bases)``: only the parser knows
        elif any(base.endswith("Field") for base in bases):
            outline.always = True  # a custom model field: migration rules read what its class does
    bound: set[str] = set()
    visible: list[str] = []  # the statements other files resolve names through
    for found in IMPORT.finditer(text):
        prefix = _line_prefix(text, found.start())
        plain = not prefix.strip()  # ``import a.b``; else ``from a import b`` or no import statement
        if not plain and FROM_PREFIX.fullmatch(prefix) is None:
            continue
        visible.append(prefix.strip() + found.group(0))
        for name, alias in imported_names(found.group(1)):
            bound.add(alias or (name.split(".")[0] if plain else name))
            if alias and not plain:
                outline.aliases.append((name, alias))
    for call in FACTORY_CALLS:
        position = text.find(call)
        while position >= 0:
            assigned = ASSIGNED_CALL.match(_line_prefix(text, position) + call)
            if assigned:
                visible.append(assigned.group(0))
                bound.add(assigned.group(1))
                if call in BASE_FACTORIES:
                    outline.factories.append(assigned.group(1))
            position = text.find(call, position + 1)
    outline.bound = sorted(bound)
    outline.signature = digest_of(repr((outline.classes, outline.factories, outline.always, visible)).encode())[:16]
    return outline


def always_parsed(text: str) -> bool:
    if REVISION_WORD in text or ("revision" in text and "alembic" in text):
        return True
    return any(call in text for call in CORE_CALLS) and any(word in text for word in SQLALCHEMY_WORDS)


def _line_prefix(text: str, position: int) -> str:
    return text[text.rfind("\n", 0, position) + 1 : position]


def base_names(text: str) -> tuple[list[str], bool]:
    """The last names of a class's bases (``models.Model`` -> ``Model``), and whether all were readable."""
    names, readable = [], True
    for part in _top_level_split(COMMENT.sub("", text)):
        part = part.strip()
        if not part or re.match(r"\w+\s*=", part):
            continue  # a keyword: metaclass=, table=True
        part = re.sub(r"\[.*", "", part, flags=re.S).strip()  # Generic[T] -> Generic
        found = LAST_NAME.search(part)
        if part.startswith("*") or "(" in part or found is None:
            readable = False
            continue
        names.append(found.group(1))
    return names, readable


def imported_names(text: str) -> Iterable[tuple[str, str]]:
    """``(name, alias)`` pairs of an import's name list (alias ``""`` when there is none)."""
    text = COMMENT.sub("", text).replace("\\\n", " ").strip("() \t\n")
    for part in text.split(","):
        words = part.split()
        if len(words) == 3 and words[1] == "as":
            yield words[0], words[2]
        elif len(words) == 1 and words[0] != "*":
            yield words[0], ""


def _top_level_split(text: str) -> list[str]:
    parts, depth, start = [], 0, 0
    for position, char in enumerate(text):
        if char in "([{":
            depth += 1
        elif char in ")]}":
            depth -= 1
        elif char == "," and depth == 0:
            parts.append(text[start:position])
            start = position + 1
    parts.append(text[start:])
    return parts


def files_needing_facts(outlines: Mapping[str, Outline]) -> set[str]:
    """The files whose facts the index needs: each that may hold a model, a model's parent or a migration.

    A class may be a model when one of its bases is a root (``models.Model``, a
    declarative base, ``SQLModel``) or a class that may be a model (also under an
    import alias).  The classes a possible model names as bases are its parents
    (a mixin, an abstract model), and so are theirs; a parent's other subclasses
    are not followed unless they may be models themselves.  Names are matched
    across the whole project, so an unrelated class sharing a name only costs
    a parse.
    """
    roots = set(ROOT_BASES)
    aliases: dict[str, set[str]] = {}  # imported name -> local aliases
    originals: dict[str, set[str]] = {}  # local alias -> imported names
    by_base: dict[str, list[tuple[str, int]]] = {}
    by_name: dict[str, list[tuple[str, int]]] = {}
    for path, outline in outlines.items():
        roots.update(outline.factories)
        for name, alias in outline.aliases:
            aliases.setdefault(name, set()).add(alias)
            originals.setdefault(alias, set()).add(name)
        for position, (name, bases) in enumerate(outline.classes):
            by_name.setdefault(name, []).append((path, position))
            for base in bases:
                by_base.setdefault(base, []).append((path, position))
    needed = {path for path, outline in outlines.items() if outline.always}
    maybe_models: set[tuple[str, int]] = set()
    parents: set[tuple[str, int]] = set()
    # Each name is followed once: every Django migration is a ``Migration(migrations.Migration)``,
    # and following each one's name again would queue every other one (quadratic).
    subclassed: set[str] = set()  # names whose subclasses are queued as possible models
    parented: set[str] = set()  # names whose classes are queued as parents
    pending = [(path, position, True) for path, outline in outlines.items()
               for position, (_, bases) in enumerate(outline.classes) if roots.intersection(bases)]
    while pending:
        path, position, maybe_model = pending.pop()
        key = (path, position)
        if key in maybe_models or (not maybe_model and key in parents):
            continue
        (maybe_models if maybe_model else parents).add(key)
        needed.add(path)
        name, bases = outlines[path].classes[position]
        if maybe_model:
            for known_as in {name, *aliases.get(name, ())} - subclassed:
                subclassed.add(known_as)
                pending.extend((*subclass, True) for subclass in by_base.get(known_as, ()))
        for base in bases:
            if base in NOT_A_PARENT:
                continue
            for parent in {base, *originals.get(base, ())} - parented:
                parented.add(parent)
                pending.extend((*found, False) for found in by_name.get(parent, ()))
    return needed
