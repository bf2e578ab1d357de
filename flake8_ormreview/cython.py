"""Cython (.pyx/.pxd) to Python, line for line, so the same analysis runs on it.

flake8 cannot parse ``cdef``/``cpdef``/typed declarations (E999) and runs no
plugin on such files.  This transform rewrites only Cython-only syntax, keeping
every line on its line (and indentation as it was), so findings point at the
user's lines:

- ``cimport`` -> ``import``; ``include "x.pxi"``, ``ctypedef`` aliases -> ``pass``;
- ``cdef class`` / ``cdef struct`` / ``cdef enum`` / ``ctypedef struct`` -> ``class``;
- ``cdef``/``cpdef`` functions -> ``def`` with the C types dropped from the
  parameters and ``nogil``/``except``/``noexcept`` clauses removed; typed
  parameters of plain ``def`` lose their C type too;
- ``cdef int a, b = 0`` -> ``a = None; b = 0``; a ``cdef:`` block -> ``if True:``
  with the same rule on each line;
- ``cdef extern from "h":`` blocks and ``with nogil:`` / ``with gil:`` -> ``if True:``
  (extern bodies become ``pass``); casts ``<Type>x`` -> spaces + ``x``;
- ``DEF NAME = value`` -> ``NAME = value``.

Anything else Cython-only (``IF`` compile-time blocks, C++ templates in
expressions, ...) makes the result unparsable: the caller reports one ORM000
for the file instead of guessing.
"""

from __future__ import annotations

import ast
import re
from dataclasses import dataclass

IDENT = r"[A-Za-z_][A-Za-z0-9_]*"
QUALIFIERS = {
    "public",
    "readonly",
    "api",
    "inline",
    "extern",
    "static",
    "const",
    "unsigned",
    "signed",
    "long",
    "short",
    "volatile",
    "packed",
}
FUNCTION_TAIL = re.compile(
    r"\)\s*(?:->\s*[^:]+?)?\s*((?:(?:noexcept|nogil|with\s+gil|except\s*[*?+]?\s*[^:]*?)\s*)*)\s*:\s*(#.*)?$"
)
CAST = re.compile(r"<\s*(?:const\s+)?" + IDENT + r"(?:\.\w+)*(?:\s*\[[^\]<>]*\])?\s*[*&]*\s*\??\s*>(?=\s*[\w(\[.])")

ADDRESS_OF = re.compile(r"(?<=[(,=\[])(\s*)&(?=[A-Za-z_])")  # f(&x), p = &x: C address-of
OLD_FOR = re.compile(r"^for\s+(" + IDENT + r")\s+from\s+(.+?)\s*<=?\s*\1\s*<=?\s*(.+?)\s*:\s*(#.*)?$")


@dataclass
class Transformed:
    text: str
    error: str = ""  # "" when the result parses as Python
    changed: bool = False


def _indent(line: str) -> str:
    return line[: len(line) - len(line.lstrip())]


def _split_top(text: str, sep: str = ",") -> list[str]:
    parts, depth, current, quote = [], 0, [], ""
    for char in text:
        if quote:
            current.append(char)
            if char == quote:
                quote = ""
            continue
        if char in "'\"":
            quote = char
        elif char in "([{":
            depth += 1
        elif char in ")]}":
            depth -= 1
        if char == sep and depth == 0:
            parts.append("".join(current))
            current = []
        else:
            current.append(char)
    parts.append("".join(current))
    return parts


def _declared_name(declaration: str) -> str:
    """``unsigned long *p`` -> ``p``; ``double[:, ::1] grid`` -> ``grid``; ``x`` -> ``x``."""
    declaration = re.sub(r"\[[^\]]*\]", " ", declaration)
    tokens = re.findall(r"[A-Za-z_][A-Za-z0-9_]*", declaration)
    return tokens[-1] if tokens else ""


def _parameter(param: str) -> str:
    """``int a`` -> ``a``; ``char* s=NULL`` -> ``s=NULL``; Python parameters unchanged."""
    stripped = param.strip()
    name_part, eq, default = stripped.partition("=")
    head = name_part.strip()
    if not head or ":" in head or head in ("self", "*", "/"):
        return stripped
    bare = head.lstrip("*")
    if len(bare.split()) == 1 and not re.search(r"[\[\]*&]", bare):
        return stripped  # already Python (``a``, ``*args``, ``**kw``)
    name = _declared_name(head)
    if not name:
        return stripped
    return f"{name}={default.strip()}" if eq else name


def _parameters(text: str) -> str:
    return ", ".join(_parameter(p) for p in _split_top(text) if p.strip() or text.strip() == "")


def _function(line: str, keyword_removed: str) -> str | None:
    """``cdef inline int f(int a) nogil except -1:`` (keyword removed) -> ``def f(a):``."""
    match = re.match(r"^(?P<head>[^(]*?)(?P<name>" + IDENT + r")\s*\((?P<params>.*)$", keyword_removed)
    if not match:
        return None
    params_and_tail = match.group("params")
    depth = 1
    for position, char in enumerate(params_and_tail):
        depth += {"(": 1, ")": -1}.get(char, 0)
        if depth == 0:
            params, tail = params_and_tail[:position], params_and_tail[position:]
            break
    else:
        return None  # parameters continue on the next line: not supported
    tail_match = FUNCTION_TAIL.match(tail)
    if not tail_match:
        return None
    comment = tail_match.group(2) or ""
    return f"{_indent(line)}def {match.group('name')}({_parameters(params)}):" + (f"  {comment}" if comment else "")


def _declaration(indent: str, text: str) -> str:
    """``int a, b = 0`` -> ``a = None; b = 0`` (a C variable declaration)."""
    text = text.split("#", 1)[0].rstrip()
    statements = []
    for number, part in enumerate(_split_top(text)):
        declaration, eq, value = part.partition("=")
        name = (
            _declared_name(declaration)
            if number == 0 or len(declaration.split()) > 1 or "*" in declaration
            else declaration.strip()
        )
        if not name:
            continue
        statements.append(f"{name} = {value.strip() if eq else 'None'}")
    return indent + ("; ".join(statements) if statements else "pass")


class _Block:
    def __init__(self, indent: int, kind: str) -> None:
        self.indent = indent
        self.kind = kind  # "extern" (body -> pass), "declarations" (body -> assignments), "struct"
        self.body = ""  # indentation of the block's first line: nested C blocks inside stay at it


def _convert_line(line: str, blocks: list[_Block]) -> str:
    stripped = line.strip()
    indent = _indent(line)
    width = len(indent.expandtabs())
    if stripped and not stripped.startswith("#"):
        while blocks and width <= blocks[-1].indent:
            blocks.pop()
    if blocks and stripped and not stripped.startswith("#"):
        kind = blocks[-1].kind
        if kind == "extern":
            blocks[-1].body = blocks[-1].body or indent
            return f"{blocks[-1].body}pass"
        if kind in ("declarations", "struct"):
            if re.match(r"^(cdef|cpdef)\b", stripped):
                stripped = re.sub(r"^(cdef|cpdef)\s+", "", stripped)
            if stripped.endswith(":") and "(" in stripped:
                return _function(line, indent + stripped) or line
            if kind == "struct" and re.match(IDENT + r"\s*(=.*)?$", stripped):
                return line  # enum member
            return _declaration(indent, stripped)
    if not stripped or stripped.startswith("#"):
        return line
    match = re.match(r"^from\s+(\S+)\s+cimport\s+(.*)$", stripped)
    if match:
        return f"{indent}from {match.group(1)} import {match.group(2)}"
    match = re.match(r"^cimport\s+(.*)$", stripped)
    if match:
        return f"{indent}import {match.group(1)}"
    if re.match(r"^include\s+['\"]", stripped):
        return f"{indent}pass"
    match = re.match(r"^DEF\s+(" + IDENT + r")\s*=\s*(.*)$", stripped)
    if match:
        return f"{indent}{match.group(1)} = {match.group(2)}"
    match = OLD_FOR.match(stripped)
    if match:
        return f"{indent}for {match.group(1)} in range({match.group(2)}, {match.group(3)}):"
    if re.match(r"^with\s+(nogil|gil)\s*(\(.*\))?\s*:", stripped):
        return f"{indent}if True:"
    match = re.match(
        r"^(?:cdef|ctypedef)\s+(?:public\s+|packed\s+|cpdef\s+)*(?:class|struct|union|enum|cppclass)\s+(?:[\w.]+\s+)*?("
        + IDENT
        + r")\s*(\([^)]*\))?\s*(\[[^\]]*\])?\s*:",
        stripped,
    )
    if match:
        body_kind = "struct" if re.search(r"\b(struct|union|enum)\b", stripped.split(":")[0]) else "class"
        if body_kind == "struct":
            blocks.append(_Block(width, "struct"))
        bases = match.group(2) or ""
        if bases:
            bases = "(" + ", ".join(_declared_name(b) or b for b in _split_top(bases[1:-1])) + ")"
        return f"{indent}class {match.group(1)}{bases}:"
    match = re.match(r"^cpdef\s+enum\s+(" + IDENT + r")\s*:", stripped)
    if match:
        blocks.append(_Block(width, "struct"))
        return f"{indent}class {match.group(1)}:"
    if re.match(r"^cdef\s+extern\b.*:\s*(#.*)?$", stripped):
        blocks.append(_Block(width, "extern"))
        return f"{indent}if True:"
    if re.match(r"^ctypedef\b", stripped):
        if stripped.split("#", 1)[0].rstrip().endswith(":"):  # ctypedef fused T: / a C block
            blocks.append(_Block(width, "extern"))
            return f"{indent}if True:"
        return f"{indent}pass"
    if re.match(r"^cdef\s+extern\b", stripped):
        return f"{indent}pass"
    if re.match(r"^(cdef|cpdef)\s*:\s*(#.*)?$", stripped):
        blocks.append(_Block(width, "declarations"))
        return f"{indent}if True:"
    match = re.match(r"^(?:cdef|cpdef)\s+(.*)$", stripped)
    if match:
        rest = match.group(1)
        if (
            rest.rstrip().endswith(":")
            or re.search(r"\)\s*(nogil|except|noexcept|with\s+gil)", rest)
            or "(" in rest.split("=")[0]
        ):
            converted = _function(line, indent + rest)
            if converted is not None:
                return converted
            if "(" in rest.split("=")[0] and not rest.rstrip().endswith(":"):
                return f"{indent}pass"  # a C function prototype (.pxd)
        return _declaration(indent, rest)
    if stripped.startswith("def ") and "(" in stripped:
        converted = _function(line, indent + stripped[4:])
        if converted is not None and converted != line:
            return converted
    return line


def to_python(source: str) -> Transformed:
    """The Python equivalent of a Cython module, line for line (never raises)."""
    try:
        ast.parse(source)
        return Transformed(source)
    except (SyntaxError, ValueError):
        pass
    except (RecursionError, MemoryError) as exc:
        return Transformed(source, f"{type(exc).__name__}")
    blocks: list[_Block] = []
    out = []
    try:
        for line in source.splitlines():
            converted = _convert_line(line, blocks)
            converted = CAST.sub(lambda m: " " * len(m.group(0)), converted) if "<" in converted else converted
            converted = ADDRESS_OF.sub(" ", converted) if "&" in converted else converted
            out.append(converted)
    except Exception as exc:  # noqa: BLE001 - report, never crash
        return Transformed(source, f"Cython transform failed: {type(exc).__name__}", True)
    text = "\n".join(out) + ("\n" if source.endswith("\n") else "")
    try:
        ast.parse(text)
    except SyntaxError as exc:
        return Transformed(text, f"Cython syntax it cannot translate, line {exc.lineno}", True)
    except (ValueError, RecursionError, MemoryError) as exc:
        return Transformed(text, f"{type(exc).__name__}", True)
    return Transformed(text, "", True)
