"""The rule registry: every code is declared exactly once, next to its check.

A rule is a check function decorated with :func:`rule`.  The decorator holds
the code, name, severity, category and message template; the function's
docstring holds the documentation in ruff's sections (``## What it does``,
``## Why is this bad?``, ``## Example``, ``## Use instead``, ``## References``).
The flake8 adapter, the generated ``docs/rules/`` pages, the report and the
``orm-review --list-rules`` listing all read this registry.
"""

from __future__ import annotations

import enum
import inspect
import re
from dataclasses import dataclass
from functools import cached_property
from typing import TYPE_CHECKING, Callable, Iterable

if TYPE_CHECKING:
    from .context import FileContext


@dataclass(frozen=True, order=True)
class Finding:
    """One reported problem: what a check yields (``ctx.finding(...)`` builds it)."""

    line: int
    col: int
    code: str
    message: str


class Severity(str, enum.Enum):
    CRITICAL = "critical"
    MAJOR = "major"
    MINOR = "minor"

    @property
    def rank(self) -> int:
        return {"critical": 0, "major": 1, "minor": 2}[self.value]


class Category(str, enum.Enum):
    PLUGIN = "plugin"
    SCHEMA = "schema"
    QUERIES = "queries"
    TRANSACTIONS = "transactions"
    MIGRATIONS = "migrations"
    SECURITY = "security"
    MAINTAINABILITY = "maintainability"

    @property
    def title(self) -> str:
        return {
            "plugin": "The plugin itself",
            "schema": "Schema and indexing",
            "queries": "Query performance",
            "transactions": "Transactions and data integrity",
            "migrations": "Migration safety",
            "security": "Security and sensitive data",
            "maintainability": "Maintainability and documentation",
        }[self.value]


CheckFunction = Callable[["FileContext"], Iterable["Finding"]]

DOC_SECTIONS = ("What it does", "Why is this bad?", "Example", "Use instead", "References")


@dataclass(frozen=True)
class Rule:
    code: str
    name: str
    severity: Severity
    category: Category
    message: str
    check: CheckFunction | None
    doc_text: str = ""  # the ``## Section`` structured docstring, parsed on first use of ``docs``
    # The check runs on files that reach the ORM (FileContext.reaches_orm), and on
    # other files only when their source matches this pattern.
    outside_orm_trigger: re.Pattern[str] | None = None

    def applies_to(self, ctx: "FileContext") -> bool:
        if self.check is None:
            return False
        if ctx.reaches_orm:
            return True
        return self.outside_orm_trigger is not None and self.outside_orm_trigger.search(ctx.source) is not None

    @cached_property
    def docs(self) -> dict[str, str]:
        # Parsed when first read (docs, report, --list-rules): a lint never needs it.
        return parse_docs(self.doc_text)

    @property
    def summary(self) -> str:
        """The first clause of "What it does" (up to its first colon or full stop)."""
        text = " ".join(self.docs.get("What it does", "").split())
        if not text:
            return self.name
        sentence = re.split(r"(?<!\.)\.(?!\.)\s", text, maxsplit=1)[0]
        return sentence.split(": ", 1)[0].rstrip(".") + "."

    def code_block(self, section: str) -> str:
        """The python source of a fenced block in ``section`` ("" if none)."""
        match = re.search(r"```python\n(.*?)```", self.docs.get(section, ""), re.S)
        return match.group(1) if match else ""

    @property
    def bad_example(self) -> str:
        return self.code_block("Example")

    @property
    def good_example(self) -> str:
        return self.code_block("Use instead")

    def format(self, **values: object) -> str:
        return self.message.format(**values)


RULES: dict[str, Rule] = {}


def parse_docs(docstring: str | None) -> dict[str, str]:
    """Split a ``## Section`` structured docstring into its sections."""
    text = inspect.cleandoc(docstring or "")
    sections: dict[str, str] = {}
    current = None
    buffer: list[str] = []
    for line in text.splitlines():
        heading = re.match(r"^## (.+?)\s*$", line)
        if heading:
            if current:
                sections[current] = "\n".join(buffer).strip()
            current, buffer = heading.group(1), []
        elif current:
            buffer.append(line)
    if current:
        sections[current] = "\n".join(buffer).strip()
    return sections


def rule(
    code: str,
    name: str,
    severity: Severity,
    category: Category,
    message: str,
    outside_orm_trigger: str | None = None,
) -> Callable[[CheckFunction], CheckFunction]:
    """Register the decorated check function as the implementation of ``code``.

    A check runs only on files that reach the ORM (import it, a driver, a model
    or a models module, define models, or are migrations).  A rule that also
    recognises its target by name alone (a ``cursor``) gives the regex
    ``outside_orm_trigger``: other files whose source matches it are checked too.
    """
    trigger = re.compile(outside_orm_trigger) if outside_orm_trigger else None

    def decorate(check: CheckFunction) -> CheckFunction:
        if code in RULES:
            raise ValueError(f"{code} is declared twice")
        RULES[code] = Rule(code, name, severity, category, message, check, check.__doc__ or "", trigger)
        check.rule = RULES[code]  # type: ignore[attr-defined]
        return check

    return decorate


def declare(code: str, name: str, severity: Severity, category: Category, message: str, docs: str) -> Rule:
    """Register a rule that has no per-file check of its own (ORM000)."""
    if code in RULES:
        raise ValueError(f"{code} is declared twice")
    RULES[code] = Rule(code, name, severity, category, message, None, docs)
    return RULES[code]


def all_rules() -> list[Rule]:
    from . import rules  # noqa: F401  (importing registers every rule module)

    return [RULES[code] for code in sorted(RULES)]


def get_rule(code: str) -> Rule:
    all_rules()
    return RULES[code]
