"""Safe markdown building blocks: escaped prose, code spans, fences, and the structure check."""

from __future__ import annotations

import re
from dataclasses import dataclass, field

_SPECIAL = re.compile(r"([\\`*\[\]<>|!~])")
_EDGE_UNDERSCORE = re.compile(r"(?<![A-Za-z0-9])_|_(?![A-Za-z0-9])")
_ENTITY = re.compile(r"&(?=#?[A-Za-z0-9]+;)")


def one_line(text: str) -> str:
    return " ".join(str(text).split())


def escape(text: str) -> str:
    """Inline prose that renders as itself: no emphasis, links, HTML or code from user text."""
    text = _SPECIAL.sub(r"\\\1", one_line(text))
    text = _EDGE_UNDERSCORE.sub(r"\\_", text)
    return _ENTITY.sub(r"\\&", text)


def code(text: str) -> str:
    """An inline code span that survives backticks inside ``text``."""
    text = one_line(text)
    longest = max((len(run) for run in re.findall(r"`+", text)), default=0)
    ticks = "`" * (longest + 1)
    pad = " " if text.startswith(("`", " ")) or text.endswith(("`", " ")) or not text else ""
    return f"{ticks}{pad}{text}{pad}{ticks}"


def fence(body: str, info: str = "python") -> str:
    """A fenced block longer than any backtick run inside, so the body cannot close it."""
    longest = max((len(run) for run in re.findall(r"`{3,}", body)), default=0)
    ticks = "`" * max(3, longest + 1)
    body = body.replace("\r\n", "\n").replace("\r", "\n").rstrip("\n")
    return f"{ticks}{info}\n{body}\n{ticks}"


@dataclass
class Document:
    lines: list[str] = field(default_factory=list)
    headings: list[tuple[int, str]] = field(default_factory=list)
    fences: int = 0

    def heading(self, level: int, text: str) -> None:
        if self.lines and self.lines[-1] != "":
            self.lines.append("")
        self.lines.append("#" * level + " " + text)
        self.lines.append("")
        self.headings.append((level, text))

    def add(self, *lines: str) -> None:
        self.lines.extend(lines)

    def blank(self) -> None:
        if self.lines and self.lines[-1] != "":
            self.lines.append("")

    def block(self, body: str, info: str = "python") -> None:
        self.blank()
        self.lines.append(fence(body, info))
        self.lines.append("")
        self.fences += 1

    def text(self) -> str:
        while self.lines and self.lines[-1] == "":
            self.lines.pop()
        return "\n".join(self.lines) + "\n"


class StructureError(Exception):
    """The rendered markdown does not parse into the headings that were written."""


def parse_structure(text: str) -> tuple[list[tuple[int, str]], int]:
    """(headings as (level, raw inline text), number of fenced blocks) as markdown-it-py parses them."""
    from markdown_it import MarkdownIt

    tokens = MarkdownIt("commonmark").parse(text)
    headings = []
    fences = 0
    for position, token in enumerate(tokens):
        if token.type == "heading_open":
            headings.append((int(token.tag[1:]), tokens[position + 1].content))
        elif token.type == "fence":
            fences += 1
    return headings, fences


def validate(document: Document, text: str) -> None:
    try:
        headings, fences = parse_structure(text)
    except ImportError:  # markdown-it-py is an install requirement; without it, skip the check
        return
    if headings != document.headings or fences != document.fences:
        raise StructureError(
            f"the review's markdown structure is broken ({len(headings)} headings / {fences} code blocks parsed, "
            f"{len(document.headings)} / {document.fences} written)"
        )


def render_html(text: str, title: str) -> str:
    """The review as a standalone HTML page (raw HTML in the markdown is escaped, never rendered)."""
    from html import escape as html_escape

    from markdown_it import MarkdownIt

    body = MarkdownIt("commonmark", {"html": False}).render(text)
    return (
        '<!DOCTYPE html>\n<html lang="en">\n<head>\n<meta charset="utf-8">\n'
        f"<title>{html_escape(title)}</title>\n"
        "<style>body{font-family:system-ui,sans-serif;max-width:60rem;margin:2rem auto;padding:0 1rem;line-height:1.5}"
        "pre{background:#f6f8fa;padding:1rem;overflow:auto}code{font-size:90%}</style>\n"
        f"</head>\n<body>\n{body}</body>\n</html>\n"
    )
