"""Implementation examples: the real source lines of a finding and their rewrite.

Each critical finding of the review shows ``# Current Implementation`` (the
lines as they are in the reviewed file), ``# Improved Solution`` (those very
lines rewritten for this case) and ``# Additional Safeguards``.  A rewriter
per code edits the real lines (add ``index=True`` to that column, append the
eager load the message names to that queryset, decorate that function with
``transaction.atomic`` ...).  When no specific rewrite is possible the
rule's own "Use instead" example is shown, labelled as such.
"""

from __future__ import annotations

import ast
import functools
import re
from dataclasses import dataclass
from typing import Callable

MAX_LINES = 18


@dataclass
class Example:
    start: int
    end: int
    current: str
    improved: str
    safeguards: str

    def as_dict(self) -> dict:
        return {
            "start": self.start,
            "end": self.end,
            "current": self.current,
            "improved": self.improved,
            "safeguards": self.safeguards,
        }


@dataclass
class Site:
    lines: list[str]  # the file's lines, without newlines (index 0 is line 1)
    tree: ast.Module | None
    line: int
    col: int
    code: str
    message: str
    path: str

    def text(self, start: int, end: int, lines: list[str] | None = None) -> str:
        return "\n".join((lines or self.lines)[start - 1 : end])


# -- AST helpers ----------------------------------------------------------------------


def _parents(tree: ast.AST) -> dict[int, ast.AST]:
    parents = {}
    for node in ast.walk(tree):
        for child in ast.iter_child_nodes(node):
            parents[id(child)] = node
    return parents


def _innermost(tree: ast.AST | None, line: int, kinds: tuple[type, ...]) -> list[ast.AST]:
    """Nodes of ``kinds`` spanning ``line``, outermost first."""
    if tree is None:
        return []
    found = [
        n
        for n in ast.walk(tree)
        if isinstance(n, kinds) and getattr(n, "lineno", 0) <= line <= (getattr(n, "end_lineno", 0) or 0)
    ]
    return sorted(found, key=lambda n: (n.lineno, -(n.end_lineno or 0)))


def statement_span(site: Site) -> tuple[int, int]:
    stmts = [
        s
        for s in _innermost(site.tree, site.line, (ast.stmt,))
        if not isinstance(
            s, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef, ast.For, ast.AsyncFor, ast.While, ast.With, ast.If, ast.Try)
        )
    ]
    if stmts:
        inner = stmts[-1]
        return inner.lineno, inner.end_lineno or inner.lineno
    return site.line, site.line


def finding_span(site: Site) -> tuple[int, int]:
    """The construct the finding is on: a call/statement starting on its line, else its statement."""
    if site.tree is not None:
        if site.line in _construct_ends(site.tree):
            return site.line, construct_end(site.tree, site.line)
    return statement_span(site)


@functools.lru_cache(maxsize=4)
def _construct_ends(tree: ast.Module) -> dict[int, int]:
    """Line -> last line of the outermost simple statement or call starting there (one walk per tree)."""
    ends: dict[int, int] = {}
    compound = (
        ast.FunctionDef,
        ast.AsyncFunctionDef,
        ast.ClassDef,
        ast.For,
        ast.AsyncFor,
        ast.While,
        ast.With,
        ast.AsyncWith,
        ast.If,
        ast.Try,
    )
    for node in ast.walk(tree):
        if isinstance(node, (ast.stmt, ast.Call)) and not isinstance(node, compound):
            ends[node.lineno] = max(ends.get(node.lineno, 0), node.end_lineno or node.lineno)
    return ends


def construct_end(tree: ast.Module, line: int) -> int:
    """Last line of the outermost statement or call that starts on ``line``."""
    return max(line, _construct_ends(tree).get(line, line))


def _calls_on_line(site: Site, line: int) -> list[ast.Call]:
    if site.tree is None:
        return []
    calls = [n for n in ast.walk(site.tree) if isinstance(n, ast.Call) and n.lineno == line]
    return sorted(calls, key=lambda c: (c.col_offset, -(c.end_col_offset or 0)))


def _insert(lines: list[str], line: int, col: int, text: str) -> list[str]:
    """Insert ``text`` at 1-based ``line``, 0-based character ``col`` (ast offsets are UTF-8 bytes)."""
    result = list(lines)
    current = result[line - 1]
    raw = current.encode("utf-8")
    col = len(raw[:col].decode("utf-8", "ignore"))
    result[line - 1] = current[:col] + text + current[col:]
    return result


def _indent(text: str) -> str:
    return text[: len(text) - len(text.lstrip())]


def _add_keyword(site: Site, call: ast.Call, keyword: str) -> list[str] | None:
    """Insert ``, keyword`` before the closing parenthesis of ``call``."""
    end_line, end_col = call.end_lineno, call.end_col_offset
    if end_line is None or end_col is None:
        return None
    has_args = bool(call.args or call.keywords)
    return _insert(site.lines, end_line, end_col - 1, (", " if has_args else "") + keyword)


def _replace_segment(site: Site, node: ast.AST, text: str) -> list[str] | None:
    if node.lineno != node.end_lineno:
        return None
    line = site.lines[node.lineno - 1]
    raw = line.encode("utf-8")
    start = len(raw[: node.col_offset].decode("utf-8", "ignore"))
    end = len(raw[: node.end_col_offset].decode("utf-8", "ignore"))
    result = list(site.lines)
    result[node.lineno - 1] = line[:start] + text + line[end:]
    return result


def _segment(site: Site, node: ast.AST) -> str:
    return ast.get_source_segment("\n".join(site.lines) + "\n", node) or ""


def _example(site: Site, start: int, end: int, new_lines: list[str], safeguards: str) -> Example:
    added = len(new_lines) - len(site.lines)
    return Example(start, end, site.text(start, end), "\n".join(new_lines[start - 1 : end + added]), safeguards)


def _quoted(message: str) -> list[str]:
    return re.findall(r"'([^']+)'", message)


# -- rewriters --------------------------------------------------------------------------


def _call_in_message(message: str, prefix: str) -> str:
    """``op.create_index(...)`` with balanced parentheses, as the message spells it ("" if absent)."""
    begin = message.find(prefix)
    if begin < 0:
        return ""
    depth = 0
    for position in range(begin + len(prefix) - 1, len(message)):
        depth += {"(": 1, ")": -1}.get(message[position], 0)
        if depth == 0:
            return message[begin : position + 1]
    return ""


def rewrite_orm101(site: Site) -> Example | None:
    start, end = statement_span(site)
    create_index = _call_in_message(site.message, "op.create_index(")
    if create_index:
        new = list(site.lines)
        new.insert(end, _indent(site.lines[start - 1]) + create_index)
        return _example(
            site,
            start,
            end,
            new,
            "# On a populated table build it without blocking writes:\n# with op.get_context().autocommit_block():\n#     "
            + create_index[:-1]
            + ", postgresql_concurrently=True)",
        )
    for call in _calls_on_line(site, site.line):
        for kw in call.keywords:
            if kw.arg == "db_index" and isinstance(kw.value, ast.Constant) and kw.value.value is False:
                new = list(site.lines)
                new[kw.lineno - 1] = re.sub(r",\s*db_index\s*=\s*False", "", new[kw.lineno - 1], count=1)
                if new[kw.lineno - 1] == site.lines[kw.lineno - 1]:
                    new = _replace_segment(site, kw, "db_index=True")
                if new:
                    return _example(site, start, end, new, _django_index_safeguard(site))
    calls = [c for c in _calls_on_line(site, site.line) if _callee(c) in ("Column", "mapped_column", "Field", "column")]
    if calls:
        call = calls[0]
        keyword = "index=True"
        new = _add_keyword(site, call, keyword)
        if new:
            column = _column_name(site) or "the_column"
            return _example(site, start, end, new, _alembic_index_safeguard(_table_name(site), column))
    op_calls = [c for c in _calls_on_line(site, site.line) if _callee(c) in ("create_foreign_key", "add_column", "create_table")]
    if op_calls:
        fk = _quoted(site.message)
        column = fk[-1].split(".")[-1] if fk else "the_fk_column"
        indent = _indent(site.lines[start - 1])
        new = list(site.lines)
        new.insert(end, f'{indent}op.create_index("ix_{column}", "<table>", ["{column}"])  # index the referencing column')
        return _example(site, start, end, new, "# Review the index name and table, then run the revision on a staging copy.")
    return None


def _callee(call: ast.Call) -> str:
    func = call.func
    if isinstance(func, ast.Attribute):
        return func.attr
    if isinstance(func, ast.Name):
        return func.id
    return ""


def _target_name(site: Site, line: int) -> str:
    text = site.lines[line - 1].strip()
    match = re.match(r"([A-Za-z_][A-Za-z0-9_]*)\s*[:=]", text)
    if match:
        return match.group(1)
    match = re.search(r"Column\(\s*['\"]([^'\"]+)['\"]", text)
    return match.group(1) if match else ""


def _column_name(site: Site) -> str:
    text = site.lines[site.line - 1]
    match = re.search(r"Column\(\s*['\"]([^'\"]+)['\"]", text)
    if match:
        return match.group(1)
    return _target_name(site, site.line)


def _table_name(site: Site) -> str:
    """The table of the class or ``Table(..)`` around the finding, or a placeholder."""
    for node in reversed(_innermost(site.tree, site.line, (ast.ClassDef, ast.Call))):
        if isinstance(node, ast.ClassDef):
            for stmt in node.body:
                if isinstance(stmt, (ast.Assign, ast.AnnAssign)):
                    targets = stmt.targets if isinstance(stmt, ast.Assign) else [stmt.target]
                    if any(isinstance(t, ast.Name) and t.id == "__tablename__" for t in targets) and isinstance(
                        stmt.value, ast.Constant
                    ):
                        return str(stmt.value.value)
        elif _callee(node) in ("Table", "create_table") and node.args and isinstance(node.args[0], ast.Constant):
            return str(node.args[0].value)
    return "<table>"


def _django_index_safeguard(site: Site) -> str:
    return (
        "# Ship the index without locking writes (PostgreSQL):\n"
        "# from django.contrib.postgres.operations import AddIndexConcurrently\n"
        "# class Migration(migrations.Migration):\n"
        "#     atomic = False\n"
        "#     operations = [AddIndexConcurrently(...)]  # generated by makemigrations, then edited"
    )


def _alembic_index_safeguard(table: str, column: str) -> str:
    return (
        f"# Alembic revision that builds the index without blocking writes:\n"
        f"# with op.get_context().autocommit_block():\n"
        f'#     op.create_index("ix_{table}_{column}", "{table}", ["{column}"], postgresql_concurrently=True)'
    )


QUERY_TERMINALS = ("all", "scalars", "unique", "fetchall")


def _loop_iter(site: Site) -> tuple[ast.AST, ast.expr] | None:
    loops = _innermost(site.tree, site.line, (ast.For, ast.AsyncFor, ast.ListComp, ast.SetComp, ast.DictComp, ast.GeneratorExp))
    for loop in reversed(loops):
        if isinstance(loop, (ast.For, ast.AsyncFor)):
            return loop, loop.iter
        if loop.generators:
            return loop, loop.generators[0].iter
    return None


def _assignment_of(site: Site, name: str, before: int) -> ast.expr | None:
    best = None
    if site.tree is None:
        return None
    for node in ast.walk(site.tree):
        if isinstance(node, ast.Assign) and node.lineno < before:
            if any(isinstance(t, ast.Name) and t.id == name for t in node.targets):
                if best is None or node.lineno > best.lineno:
                    best = node
    return best.value if best is not None else None


def _query_anchor(expr: ast.expr) -> ast.expr:
    """The node after which an eager-loading call belongs in this query expression."""
    # session.scalars(select(M)...) / session.execute(select(M)...): load options go on the select.
    if isinstance(expr, ast.Call) and _callee(expr) in ("scalars", "execute") and expr.args:
        return _query_anchor(expr.args[0])
    # qs.all() / result.scalars().all(): put the option before the terminal call.
    if (
        isinstance(expr, ast.Call)
        and isinstance(expr.func, ast.Attribute)
        and expr.func.attr in QUERY_TERMINALS
        and not expr.args
    ):
        return _query_anchor(expr.func.value)
    return expr


def _eager_fix(message: str) -> tuple[str, str]:
    """(the eager-loading call the message proposes, the query it goes on or "")."""
    for prefix in (".select_related(", ".prefetch_related(", ".options("):
        begin = message.find("add " + prefix)
        if begin >= 0:
            fix = _call_in_message(message[begin + 4 :], prefix)
            if fix:
                rest = message[begin + 4 + len(fix) :]
                target = rest[4:].strip().rstrip(".;") if rest.startswith(" to ") else ""
                return fix, target
    return "", ""


def _matches(site: Site, node: ast.AST, target: str) -> bool:
    """Does the source of ``node`` read like ``target`` (where the message elides arguments as ``(...)``)?"""
    pattern = re.escape(" ".join(target.split()))
    pattern = pattern.replace(r"\(\.\.\.\)", r"\(.*?\)").replace(r"\[\.\.\.\]", r"\[.*?\]")
    return re.fullmatch(pattern, " ".join(_segment(site, node).split())) is not None


def _query_for(site: Site, target: str) -> tuple[ast.expr, int] | None:
    """The query expression to rewrite and the first line to show: the loop's own iterable, or the
    enclosing query the message names ("add .prefetch_related(..) to Order.objects.filter(...)")."""
    loops = _innermost(site.tree, site.line, (ast.For, ast.AsyncFor, ast.ListComp, ast.SetComp, ast.DictComp, ast.GeneratorExp))
    candidates: list[tuple[ast.expr, int]] = []
    for loop in reversed(loops):
        iterables = [loop.iter] if isinstance(loop, (ast.For, ast.AsyncFor)) else [g.iter for g in loop.generators]
        for iterable in iterables:
            candidates.append((iterable, loop.lineno))
            if isinstance(iterable, ast.Name):
                assigned = _assignment_of(site, iterable.id, loop.lineno)
                if assigned is not None:
                    candidates.append((assigned, assigned.lineno))
    if not target:
        for iterable, line in candidates:
            if not isinstance(iterable, ast.Name):
                return iterable, line
        return None
    for node, line in candidates:
        if not isinstance(node, ast.Name) and _matches(site, node, target):
            return node, line
    return None


def rewrite_orm201(site: Site) -> Example | None:
    fix, target = _eager_fix(site.message)
    found = _query_for(site, target) if fix else None
    if not found:
        return None
    query, start = found
    anchor = _query_anchor(query)
    if anchor.end_lineno is None or anchor.end_col_offset is None:
        return None
    new = _insert(site.lines, anchor.end_lineno, anchor.end_col_offset, fix)
    end = max(site.line, statement_span(site)[1])
    if end - start + 1 > MAX_LINES:
        return None
    return _example(
        site,
        start,
        end,
        new,
        (
            "# Pin the query count in a test so the N+1 cannot come back:\n"
            "# with self.assertNumQueries(2):   # Django; SQLAlchemy: count statements with an event listener\n"
            "#     render_the_page()"
        ),
    )


def rewrite_orm302(site: Site) -> Example | None:
    functions = _innermost(site.tree, site.line, (ast.FunctionDef, ast.AsyncFunctionDef))
    start, end = statement_span(site)
    if functions:
        function = functions[-1]
        first = function.decorator_list[0].lineno if function.decorator_list else function.lineno
        new = list(site.lines)
        new.insert(first - 1, _indent(site.lines[function.lineno - 1]) + "@transaction.atomic")
        if end - first + 1 > MAX_LINES:
            return None
        return _example(
            site,
            first,
            end,
            new,
            (
                "# from django.db import transaction\n"
                "# Test it outside TestCase's wrapping transaction (TransactionTestCase) so autocommit is real."
            ),
        )
    indent = _indent(site.lines[start - 1])
    new = (
        site.lines[: start - 1]
        + [f"{indent}with transaction.atomic():"]
        + ["    " + line for line in site.lines[start - 1 : end]]
        + site.lines[end:]
    )
    return _example(site, start, end, new, "# from django.db import transaction")


def rewrite_orm408(site: Site) -> Example | None:
    start, end = finding_span(site)
    if site.tree is None:
        return None
    for node in site.tree.body:
        if isinstance(node, ast.ClassDef) and node.name == "Migration":
            new = list(site.lines)
            body_indent = _indent(site.lines[node.body[0].lineno - 1]) if node.body else "    "
            new.insert(node.lineno, f"{body_indent}atomic = False  # concurrent index builds cannot run in a transaction")
            current = "\n".join([site.lines[node.lineno - 1], "    ...", site.text(start, end)])
            improved = "\n".join([new[node.lineno - 1], new[node.lineno], "    ...", "\n".join(new[start : end + 1])])
            return Example(node.lineno, end, current, improved, "# Keep concurrent index operations in a migration of their own.")
    indent = _indent(site.lines[start - 1])
    new = (
        site.lines[: start - 1]
        + [f"{indent}with op.get_context().autocommit_block():"]
        + ["    " + line for line in site.lines[start - 1 : end]]
        + site.lines[end:]
    )
    return _example(site, start, end, new, "# Keep concurrent index operations in a revision of their own.")


SENSITIVE_HASH = ("password", "passwd", "pin", "otp")


def rewrite_orm501(site: Site) -> Example | None:
    start, end = statement_span(site)
    name = _target_name(site, start)
    calls = _calls_on_line(site, site.line)
    if not name or not calls:
        return None
    hashed = any(token in name.lower() for token in SENSITIVE_HASH)
    line = site.lines[start - 1]
    if hashed:
        new = list(site.lines)
        new[start - 1] = line.replace(name, f"{name}_hash", 1) + "  # store make_password(raw) / a salted hash, never the value"
        return _example(
            site,
            start,
            end,
            new,
            (
                f"# Data migration: hash the existing values into {name}_hash, then drop {name}.\n"
                "# Check with django.contrib.auth.hashers.check_password (or passlib) at login."
            ),
        )
    call = calls[0]
    callee = _callee(call)
    if callee in ("CharField", "TextField", "BinaryField", "JSONField", "EmailField"):
        replacement = "Encrypted" + callee
        new = _replace_segment(site, call.func, replacement)
        if new:
            new[start - 1] += "  # from fernet_fields import " + replacement
            return _example(
                site,
                start,
                end,
                new,
                f"# Data migration: encrypt the existing {name} values; restrict who can read the key (settings.FERNET_KEYS).",
            )
    for arg in call.args:
        if isinstance(arg, (ast.Call, ast.Name, ast.Attribute)) and _segment(site, arg).split("(")[0].split(".")[-1] in (
            "String",
            "Text",
            "Unicode",
            "LargeBinary",
            "JSON",
        ):
            new = _replace_segment(site, arg, f'StringEncryptedType({_segment(site, arg)}, get_key, AesEngine, "pkcs5")')
            if new:
                return _example(
                    site,
                    start,
                    end,
                    new,
                    (
                        "# from sqlalchemy_utils import StringEncryptedType\n"
                        "# from sqlalchemy_utils.types.encrypted.encrypted_type import AesEngine\n"
                        f"# Alembic revision: encrypt the existing {name} values in batches."
                    ),
                )
    return None


def rewrite_orm409(site: Site) -> Example | None:
    start, end = statement_span(site)
    if site.tree is None:
        return None
    for node in ast.walk(site.tree):
        if isinstance(node, ast.ImportFrom) and node.lineno == site.line and node.module:
            app = node.module.split(".")[0]
            new = list(site.lines)
            replacement = [f"# removed: {site.lines[start - 1].strip()}  (the live model changes after this migration)"]
            for alias in node.names:
                replacement.append(
                    f'# inside the RunPython function: {alias.asname or alias.name} = apps.get_model("{app}", "{alias.name}")'
                )
            new[start - 1 : end] = replacement
            return Example(
                start,
                end,
                site.text(start, end),
                "\n".join(replacement),
                "# Run the migration from an empty database in CI (migrate from zero) to catch this.",
            )
    return None


def rewrite_orm401(site: Site) -> Example | None:
    start, end = finding_span(site)
    for call in _calls_on_line(site, site.line) + [c for ln in range(site.line, end + 1) for c in _calls_on_line(site, ln)]:
        keywords = {k.arg: k for k in call.keywords if k.arg}
        callee = _callee(call)
        if callee.endswith("Field") and callee not in ("AddField", "AlterField") and "null" not in keywords:
            default = keywords.get("default")
            if default is not None and isinstance(default.value, ast.Constant):
                new = _add_keyword(site, call, f"db_default={_segment(site, default.value)}")
            else:
                new = _add_keyword(site, call, "null=True")
            if new:
                return _example(
                    site,
                    start,
                    end,
                    new,
                    "# Later release: backfill the rows, then AlterField to null=False once every writer sets it.",
                )
        if callee == "Column" and "nullable" in keywords and "server_default" not in keywords:
            default = keywords.get("default")
            if default is not None and isinstance(default.value, ast.Constant):
                new = _add_keyword(site, call, f"server_default={repr(str(default.value.value))}")
            else:
                new = _replace_segment(site, keywords["nullable"], "nullable=True")
            if new:
                return _example(site, start, end, new, "# Later revision: backfill, then op.alter_column(..., nullable=False).")
    return None


def _state_only(site: Site, start: int, end: int, note: str = "") -> str:
    """The operation at ``start..end`` wrapped as a state-only operation."""
    import textwrap

    indent = _indent(site.lines[start - 1])
    body = textwrap.indent(textwrap.dedent(site.text(start, end)).rstrip().rstrip(",") + ",", indent + " " * 8)
    head = f"{indent}{note}\n" if note else ""
    return (
        f"{head}{indent}migrations.SeparateDatabaseAndState(\n{indent}    state_operations=[\n{body}\n{indent}    ],\n{indent}),"
    )


def rewrite_orm402(site: Site) -> Example | None:
    start, end = finding_span(site)
    text = site.text(start, end)
    indent = _indent(site.lines[start - 1])
    if re.match(r"\s*(migrations\.)?(RemoveField|DeleteModel)\(", site.lines[start - 1]):
        return Example(
            start,
            end,
            text,
            _state_only(site, start, end),
            "# Drop the column in a later release, once no deployed code reads it.",
        )
    improved = "\n".join(
        f"{indent}# {line.strip()}  -- moved to a later revision, after the code stops reading it" for line in text.splitlines()
    )
    return Example(
        start, end, text, improved, "# Expand/contract: stop reading the column, deploy, then drop it in its own revision."
    )


def rewrite_orm403(site: Site) -> Example | None:
    start, end = finding_span(site)
    text = site.text(start, end)
    if re.match(r"\s*(migrations\.)?Rename(Field|Model)\(", site.lines[start - 1]):
        improved = _state_only(
            site, start, end, '# keep the old column: give the renamed field db_column="<old name>" in the model'
        )
        return Example(
            start,
            end,
            text,
            improved,
            "# Rename the column itself later, with an expand/contract sequence (add, backfill, switch, drop).",
        )
    return None


def rewrite_orm502(site: Site) -> Example | None:
    start, end = statement_span(site)
    if site.tree is None:
        return None
    for node in ast.walk(site.tree):
        if isinstance(node, ast.JoinedStr) and start <= node.lineno <= end and node.lineno == node.end_lineno:
            return _parametrise(site, node, start, end)
    # The sink receives a variable assigned from an f-string earlier in the function.
    for call in _calls_on_line(site, site.line):
        for arg in call.args[:1]:
            if isinstance(arg, ast.Name):
                assigned = _assignment_of(site, arg.id, site.line)
                if isinstance(assigned, ast.JoinedStr) and assigned.lineno == assigned.end_lineno:
                    example = _parametrise(site, assigned, assigned.lineno, end, sink_arg=arg)
                    if example and end - assigned.lineno + 1 <= MAX_LINES:
                        return example
    return None


def _parametrise(site: Site, fstring: ast.JoinedStr, start: int, end: int, sink_arg: ast.Name | None = None) -> Example | None:
    text = "\n".join(site.lines)
    sqlalchemy = "text(" in site.text(start, end)
    values: list[str] = []
    combined = ""
    for value in fstring.values:
        if isinstance(value, ast.Constant):
            combined += str(value.value)
        elif isinstance(value, ast.FormattedValue):
            values.append(ast.get_source_segment(text + "\n", value.value) or "value")
            combined += f"\0{len(values) - 1}\0"
    sql, params, identifiers = _placeholders(combined, values, sqlalchemy)
    literal = ("f" + repr(sql)) if identifiers else repr(sql)
    if sqlalchemy:
        binds = ", ".join(f"p{i}={p}" for i, p in enumerate(params))
        wrappers = [c for c in _calls_on_line(site, fstring.lineno) if _callee(c) == "text" and c.args and c.args[0] is fstring]
        if wrappers:
            new = _replace_segment(site, wrappers[0], f"text({literal}).bindparams({binds})")
        else:
            new = _replace_segment(site, fstring, f"text({literal}).bindparams({binds})")
        if new is None:
            return None
    else:
        new = _replace_segment(site, fstring, literal)
        if new is None:
            return None
        target = sink_arg
        call = None
        for candidate in _calls_on_line(site, site.line):
            if candidate.args and (candidate.args[0] is target or candidate.args[0] is fstring):
                call = candidate
        if call is None:
            return None
        # Insert the parameter list after the SQL argument (positions shift only on that line).
        shift = len(literal) - ((fstring.end_col_offset or 0) - fstring.col_offset) if call.args[0] is fstring else 0
        arg = call.args[0]
        new = _insert(new, arg.end_lineno or arg.lineno, (arg.end_col_offset or 0) + shift, ", [" + ", ".join(params) + "]")
    if identifiers:
        indent = _indent(site.lines[start - 1])
        checks = []
        for expr in identifiers:
            checks += [
                f"{indent}if {expr} not in ALLOWED_SQL_NAMES:  # a fixed set of column/table names",
                f'{indent}    raise ValueError(f"unexpected SQL name {{{expr}!r}}")',
            ]
        new = new[: start - 1] + checks + new[start - 1 :]
    return _example(site, start, end, new, "# Add a test that passes a quote (') through this path: it must stay data, not SQL.")


IDENTIFIER_POSITION = re.compile(r"(?:\b(?:ORDER|GROUP)\s+BY|\b(?:FROM|JOIN|INTO|UPDATE|TABLE))\s*$", re.I)
MARKER = re.compile(r"\0(\d+)\0")


def _placeholders(combined: str, values: list[str], named: bool) -> tuple[str, list[str], list[str]]:
    """SQL with placeholders, the parameters, and the values kept as (allow-listed) identifiers.

    A value inside a quoted SQL literal (``'%{term}%'``) becomes one parameter
    holding the whole literal (``f"%{term}%"``); a value in an identifier
    position (``ORDER BY {order}``) cannot be a parameter and stays in the
    f-string, guarded by an allow-list check.
    """
    params: list[str] = []
    identifiers: list[str] = []
    out = []

    def placeholder() -> str:
        return f":p{len(params) - 1}" if named else "%s"

    def plain(chunk: str) -> str:
        chunk = chunk.replace("{", "{{").replace("}", "}}")
        return chunk if named else chunk.replace("%", "%%")

    position = 0
    for match in re.finditer(r"'[^']*'|\0\d+\0", combined):
        before = combined[position : match.start()]
        out.append(plain(before))
        token = match.group(0)
        if token.startswith("'"):
            inner = token[1:-1]
            if not MARKER.search(inner):
                out.append(plain(token))
            else:
                whole = MARKER.fullmatch(inner)
                if whole:
                    params.append(values[int(whole.group(1))])
                else:
                    literal = MARKER.sub(
                        lambda m: "{" + values[int(m.group(1))] + "}", inner.replace("{", "{{").replace("}", "}}")
                    )
                    params.append("f" + repr(literal))
                out.append(placeholder())
        else:
            expr = values[int(MARKER.fullmatch(token).group(1))]
            if IDENTIFIER_POSITION.search("".join(out)):
                identifiers.append(expr)
                out.append("{" + expr + "}")
            else:
                params.append(expr)
                out.append(placeholder())
        position = match.end()
    out.append(plain(combined[position:]))
    sql = "".join(out)
    if not identifiers:
        sql = sql.replace("{{", "{").replace("}}", "}")
    return sql, params, identifiers


REWRITERS: dict[str, Callable[[Site], Example | None]] = {
    "ORM101": rewrite_orm101,
    "ORM201": rewrite_orm201,
    "ORM302": rewrite_orm302,
    "ORM401": rewrite_orm401,
    "ORM402": rewrite_orm402,
    "ORM403": rewrite_orm403,
    "ORM408": rewrite_orm408,
    "ORM409": rewrite_orm409,
    "ORM501": rewrite_orm501,
    "ORM502": rewrite_orm502,
}


def _clip(text: str) -> str:
    lines = text.splitlines()
    if len(lines) <= MAX_LINES + 6:
        return text
    head, tail = lines[: MAX_LINES // 2], lines[-MAX_LINES // 2 :]
    return "\n".join(head + [f"# ... {len(lines) - len(head) - len(tail)} more lines ..."] + tail)


def build_example(
    lines: list[str], tree: ast.Module | None, line: int, col: int, code: str, message: str, path: str, fallback: str = ""
) -> dict:
    """The implementation example for one finding (never raises)."""
    site = Site(lines, tree, line, col, code, message, path)
    example = None
    if 1 <= line <= len(lines):
        try:
            rewriter = REWRITERS.get(code)
            example = rewriter(site) if rewriter else None
        except Exception:  # noqa: BLE001 - fall back to the rule's own example
            example = None
    if example is None:
        start, end = finding_span(site) if 1 <= line <= len(lines) else (line, line)
        if end - start + 1 > MAX_LINES:
            end = start + MAX_LINES - 1
        current = site.text(start, end) if 1 <= line <= len(lines) else ""
        improved = "# No line-level rewrite for this case; the rule's recommended pattern:\n" + (
            fallback.strip() or "# see the rule's documentation"
        )
        example = Example(
            start, end, current, improved, "# Keep this rule enabled in CI and pre-commit: flake8 --extend-select=ORM"
        )
    example.current = _clip(example.current)
    example.improved = _clip(example.improved)
    return example.as_dict()
