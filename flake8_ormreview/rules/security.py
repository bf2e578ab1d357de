"""ORM5xx: security and sensitive data.

ORM501 (field definitions) is here with the shared sensitive-name matcher
that ORM505 reuses; the query-site rules of this family follow it.
"""

from __future__ import annotations

import ast
from typing import Iterator

from ..context import FileContext, Finding
from ..registry import Category, Severity, rule
from ..semantic import dataflow, querysets
from ..semantic.dataflow import call_label, call_name, source_text
from ..semantic.querysets import canonical_of
from ..semantic.facts import FieldFact, ModelFact
from .schema import mapped_mixins
from .transactions import name_words

SENSITIVE_TOKENS = [
    ("social", "security"), ("tax", "id"), ("national", "id"), ("api", "key"), ("access", "key"),
    ("private", "key"), ("credit", "card"), ("card", "number"), ("account", "number"),
    ("routing", "number"), ("otp", "secret"), ("totp", "secret"),
    ("password",), ("passwd",), ("secret",), ("token",), ("apikey",), ("ssn",), ("passport",),
    ("cvv",), ("cvc",), ("iban",), ("pin",),
]
EXEMPT_SUFFIXES = {
    "hash", "hashed", "digest", "salt", "type", "count", "expires", "expiry", "at", "id", "last4",
    "hint", "length", "prefix", "enabled", "required", "url",
    "name", "label",  # secret_name / api_key_label name a secret kept elsewhere (a vault entry), not its value
}
PLAIN_TYPES = {
    "CharField", "TextField", "BinaryField", "JSONField", "String", "Text", "Unicode", "UnicodeText",
    "LargeBinary", "JSON", "JSONB", "VARCHAR", "CHAR", "TEXT", "str", "bytes", "dict",
}
DJANGO_USER_BASES = ("django.contrib.auth.base_user.AbstractBaseUser", "django.contrib.auth.models.AbstractBaseUser",
                     "django.contrib.auth.models.AbstractUser")


def sensitive_token(name: str, extra: tuple[str, ...] = ()) -> str | None:
    """The sensitive token in a field name, or ``None`` when it is not (or names a non-secret)."""
    words = name_words(name)
    tokens = sorted(SENSITIVE_TOKENS + [tuple(name_words(e)) for e in extra if e], key=len, reverse=True)
    found: tuple[int, tuple[str, ...]] | None = None
    for start in range(len(words)):
        for token in tokens:
            if tuple(words[start : start + len(token)]) == token:
                found = (start, token)  # the last one is the head noun: password_reset_token is a token
                break
    if found is None:
        return None
    start, token = found
    if any(word in EXEMPT_SUFFIXES for word in words[start + len(token) :]):
        return None
    if token == ("pin",) and words[start + 1 : start + 2] == ["code"]:
        return None  # "PIN code" is India's postal code (shipping_pin_code)
    return "_".join(token)


def is_plain_storage(fact: FieldFact) -> bool:
    if fact.relation:
        return False
    # Qualified names (``fernet_fields.EncryptedCharField``, a home-made ``app.fields.CharField``)
    # are not ORM types: only Django's and SQLAlchemy's own short names count.
    column_type = fact.column_type.split("[")[0]
    return column_type in PLAIN_TYPES


def plaintext_sensitive_fields(model: ModelFact, extra: tuple[str, ...], fields: list[FieldFact] | None = None) -> Iterator[tuple[FieldFact, str]]:
    for fact in fields if fields is not None else model.fields.values():
        token = sensitive_token(fact.name, extra)
        if token:
            yield fact, token


ENCRYPTED_DJANGO_FIELD = {"TextField": "EncryptedTextField", "JSONField": "EncryptedJSONField", "BinaryField": "EncryptedTextField"}
COMPARED_ONLY_TOKENS = {"token", "secret", "api_key", "apikey", "access_key", "otp_secret", "totp_secret", "pin"}


def _protection_fix(model: ModelFact, fact: FieldFact, token: str) -> str:
    """How to store this particular field: a hash for what is only compared, else encryption."""
    if token in ("password", "passwd"):
        if model.framework == "django":
            return "store a salted hash (django.contrib.auth.hashers.make_password), never the password"
        return "store a salted hash (sqlalchemy_utils.PasswordType or passlib's argon2), never the password"
    if model.framework == "django":
        encrypted = f"fernet_fields.{ENCRYPTED_DJANGO_FIELD.get(fact.column_type, 'EncryptedCharField')}"
    elif model.framework == "sqlmodel":
        encrypted = "sa_column=Column(sqlalchemy_utils.StringEncryptedType(String, key, AesEngine))"
    elif fact.column_type in ("LargeBinary", "bytes"):
        encrypted = "sqlalchemy_utils.EncryptedType(LargeBinary, key)"
    else:
        encrypted = "sqlalchemy_utils.StringEncryptedType(String, key, AesEngine)"
    if token in COMPARED_ONLY_TOKENS:
        return f"store only a hash (hashlib.sha256) if it is only compared, else use {encrypted}"
    return f"use {encrypted}"


@rule(
    "ORM501",
    "plaintext-sensitive-field",
    Severity.CRITICAL,
    Category.SECURITY,
    "{model}.{field} looks like a secret ('{token}') stored as plain {type}: {fix}",
)
def plaintext_sensitive_field(ctx: FileContext) -> Iterator[Finding]:
    """
    ## What it does
    Flags a model field or column whose name contains a sensitive word
    (password, secret, token, api_key, ssn, tax_id, credit_card, iban, pin,
    ... plus the `orm-sensitive-names` option) and whose type stores it as
    plain text, binary or JSON (`CharField`, `TextField`, `BinaryField`,
    `JSONField`, `String`, `Text`, `Unicode`, `LargeBinary`, `JSON`, `str`).
    Columns of a mixin that SQLAlchemy models inherit are reported once, on
    the mixin.

    Not flagged: encrypted or hashed field types (django-fernet-fields,
    django-cryptography's `encrypt(...)`, encrypted-model-fields,
    django-pgcrypto, django-mirage-field, sqlalchemy-utils
    `StringEncryptedType` / `EncryptedType` / `PasswordType`); names whose
    words after the sensitive token say it is not the secret itself
    (`password_hash`, `token_expires_at`, `api_key_id`, `card_number_last4`,
    `pin_enabled`; `national_id` and `tax_id` are themselves sensitive;
    when a name holds several tokens the last one decides, so
    `password_reset_token` is a token; `_name` and `_label` are exempt too,
    as `secret_name` names a vault entry rather than holding a secret, and
    `pin_code` is a postal code);
    Django's `password` on `AbstractBaseUser`, which stores a salted hash.

    ## Why is this bad?
    A database dump, a read replica, a backup or an over-broad admin page
    leaks every credential and identity number at once. Secrets belong
    hashed (passwords, tokens you only compare) or encrypted with a key kept
    outside the database (values you must read back).

    ## Example
    ```python
    from django.db import models


    class Integration(models.Model):
        api_key = models.CharField(max_length=64)
    ```

    ## Use instead
    ```python
    from django.db import models
    from fernet_fields import EncryptedCharField


    class Integration(models.Model):
        api_key = EncryptedCharField(max_length=64)
    ```

    ## References
    - [OWASP: Cryptographic Storage Cheat Sheet](https://cheatsheetseries.owasp.org/cheatsheets/Cryptographic_Storage_Cheat_Sheet.html)
    - [Django: password management](https://docs.djangoproject.com/en/stable/topics/auth/passwords/)
    - [sqlalchemy-utils: StringEncryptedType](https://sqlalchemy-utils.readthedocs.io/en/latest/data_types.html#module-sqlalchemy_utils.types.encrypted.encrypted_type)
    """
    if ctx.is_migration:
        return
    for model in list(ctx.models) + mapped_mixins(ctx):  # a mixin's columns are every user's columns
        is_django_user = any(ctx.index.resolve_symbol(b) in DJANGO_USER_BASES for b in model.bases) or any(
            any(ctx.index.resolve_symbol(b) in DJANGO_USER_BASES for b in parent.bases) for parent in ctx.index.parents(model)
        )
        for fact, token in plaintext_sensitive_fields(model, ctx.options.sensitive_names, ctx.own_fields(model)):
            if not is_plain_storage(fact):
                continue
            if is_django_user and fact.name == "password":
                continue
            fix = _protection_fix(model, fact, token)
            yield ctx.finding("ORM501", fact.line, fact.col, model=model.name, field=fact.name, token=token,
                              type=fact.column_type or "text", fix=fix)


# -- query-site rules: raw SQL, .extra(), mass assignment, exposed fields -------------------------


BUILTIN_SAFE = {"int", "float", "bool", "len", "abs", "round", "str", "repr"}
SQLA_STRING_CLAUSES = {"filter", "order_by", "group_by", "having"}
EXTRA_SQL_ARGS = {"select": 0, "where": 1, "tables": 3, "order_by": 4}
CURSOR_FACTORIES = {"cursor"}
# What raw_sql_sinks() recognises: these constructors, and method calls of these names.
SINK_CONSTRUCTORS = {"sqlalchemy:text", "sqlmodel:text", "django:RawSQL", "alembic:execute"}
SINK_METHODS = {"exec_driver_sql", "execute", "executemany", "raw", "extra"} | SQLA_STRING_CLAUSES
CONNECTION_FACTORIES = {"connect", "begin", "Session", "session", "sessionmaker", "scoped_session", "raw_connection",
                        "get_bind", "connection"}


def taint_analysis(ctx: FileContext) -> dataflow.TaintAnalysis:
    found = ctx.cache.get("security.taint")
    if found is None:
        shadowed = set(ctx.imports.names)
        found = dataflow.TaintAnalysis(ctx.tree, ctx.cache, is_builtin=lambda name: name in BUILTIN_SAFE and name not in shadowed)
        ctx.cache["security.taint"] = found
    return found


def django_query(ctx: FileContext, node: ast.AST | None) -> "querysets.QueryInfo | None":
    if node is None:
        return None
    info = querysets.query_source(ctx, node)
    return info if info is not None and info.framework == "django" else None


def bound_from(ctx: FileContext, node: ast.AST, factories: set[str]) -> bool:
    """Is ``node`` (a name) assigned from, or ``with``-bound to, a call of one of ``factories``?"""
    if isinstance(node, ast.Call):
        return call_name(node) in factories
    if not isinstance(node, ast.Name):
        return False
    table = dataflow.scope_table(ctx.tree, ctx.cache)
    owner, is_param = dataflow.lookup(table.scope_at(node), node.id)
    if owner is None or is_param:
        return False
    return any(b.kind in ("assign", "with") and isinstance(b.value, ast.Call) and call_name(b.value) in factories
               for b in owner.bindings.get(node.id, []))


def last_identifier(node: ast.AST) -> str:
    if isinstance(node, ast.Attribute):
        return node.attr.lower()
    if isinstance(node, ast.Name):
        return node.id.lower()
    return ""


def is_cursor(ctx: FileContext, node: ast.AST) -> bool:
    name = last_identifier(node)
    return bound_from(ctx, node, CURSOR_FACTORIES) or "cursor" in name or name in ("cur", "curs")


def is_connection_or_session(ctx: FileContext, node: ast.AST) -> bool:
    if dataflow.is_session(ctx, node) or bound_from(ctx, node, CONNECTION_FACTORIES):
        return True
    name = last_identifier(node)
    return ("engine" in name or "connection" in name or name == "conn") and imports_sqlalchemy(ctx)


def imports_sqlalchemy(ctx: FileContext) -> bool:
    return any(q.split(".")[0] in ("sqlalchemy", "sqlmodel", "flask_sqlalchemy") for q in ctx.imports.names.values())


def raw_sql_sinks(ctx: FileContext) -> Iterator[tuple[ast.Call, str, list[ast.AST], str]]:
    """(call, sink label, SQL-carrying arguments, fix) for every raw-SQL sink in the file."""
    for node in ctx.nodes_of(ast.Call):
        name = call_name(node)
        kind = canonical_of(ctx, node.func)
        if kind not in SINK_CONSTRUCTORS and not (isinstance(node.func, ast.Attribute) and name in SINK_METHODS):
            continue  # no branch below can match: skip the argument work for the file's other calls
        args = list(node.args)
        keywords = {kw.arg: kw.value for kw in node.keywords if kw.arg}
        first = args[:1] or [keywords[k] for k in ("sql", "raw_query", "statement", "text", "sqltext") if k in keywords][:1]
        if kind in ("sqlalchemy:text", "sqlmodel:text"):
            yield node, "text()", first, 'use :name bind parameters, text("... :value").bindparams(value=...)'
        elif kind == "django:RawSQL":
            yield node, "RawSQL()", first, "use %s placeholders and pass the values in RawSQL's params list"
        elif kind == "alembic:execute":
            yield node, "op.execute()", first, 'use sa.text("... :value").bindparams(value=...)'
        elif not isinstance(node.func, ast.Attribute):
            continue
        elif name == "exec_driver_sql":
            yield node, "exec_driver_sql()", first, "use driver placeholders and pass the values as the second argument"
        elif name in ("execute", "executemany") and is_cursor(ctx, node.func.value):
            yield node, f"cursor.{name}()", first, f"use %s placeholders and pass the values as {name}()'s second argument"
        elif name == "execute" and is_connection_or_session(ctx, node.func.value):
            yield node, call_label(node), first, 'use text("... :value") and pass the values as a dict: execute(stmt, {"value": ...})'
        elif name == "raw" and django_query(ctx, node.func.value):
            yield node, call_label(node), first, "use %s placeholders and pass the values as raw()'s params list"
        elif name == "extra" and django_query(ctx, node.func.value):
            sql_args = [keywords[k] for k in EXTRA_SQL_ARGS if k in keywords]
            sql_args += [args[i] for k, i in EXTRA_SQL_ARGS.items() if i < len(args)]
            yield node, ".extra()", sql_args, "pass the values through params= / select_params=, or use annotate()/filter() expressions"
        elif name in SQLA_STRING_CLAUSES and querysets.may_query_sqlalchemy(ctx):
            info = querysets.query_source(ctx, node.func.value)
            if info is not None and info.framework == "sqlalchemy":
                yield node, f".{name}()", args, "use column expressions (M.col == value, M.col.desc()) instead of SQL strings"


def extra_elements(node: ast.AST) -> list[ast.AST]:
    """The SQL strings inside an ``extra()`` argument: list items or dict values."""
    if isinstance(node, (ast.List, ast.Tuple)):
        return list(node.elts)
    if isinstance(node, ast.Dict):
        return list(node.values)
    return [node]


@rule(
    "ORM502",
    "sql-built-from-strings",
    Severity.CRITICAL,
    Category.SECURITY,
    "SQL injection: {sink} receives SQL built with {how} from '{value}'; {fix}",
    outside_orm_trigger=r"\.execute(many)?\(",  # a ``cursor`` is recognised by its name alone
)
def sql_built_from_strings(ctx: FileContext) -> Iterator[Finding]:
    """
    ## What it does
    Flags a raw-SQL sink that receives a string built with an f-string, `%`
    formatting, `.format()`, `+` concatenation or `str.join()` from a value
    that is not a constant, directly or through local variables assigned
    earlier in the same function. Sinks: `Model.objects.raw()`,
    `.extra(where=/select=/tables=/order_by=)`, `RawSQL()`,
    `cursor.execute()` / `executemany()`, SQLAlchemy `text()`,
    `session.execute()` / `connection.execute()` with a plain string,
    `exec_driver_sql()`, Alembic `op.execute()`, and string arguments to
    SQLAlchemy `filter()` / `order_by()` / `group_by()` / `having()`.

    Safe, and never flagged: values passed separately as parameters;
    literals; module-level constants (and imported `UPPER_CASE` names);
    `self.table` when the class body assigns it a literal and no method
    reassigns it;
    `int()` / `float()` / `bool()` / `len()` results, also joined from a
    comprehension of them (`",".join(str(int(i)) for i in ids)`, or
    `",".join(["%s"] * len(ids))` for placeholders); values that can only
    render as numbers (`f"LIMIT {n:d}"`, `"LIMIT %d" % n`); a lookup in a constant
    table (`ORDERING[key]`, `COLUMNS.get(key, "id")`), `Model._meta.db_table`
    and `connection.ops.quote_name(..)`. Function parameters are never
    constants: the rule does not follow values across calls.

    ## Why is this bad?
    Whoever controls the interpolated value controls the statement: one
    quote in a search box reads every table, and the database driver's
    escaping, which parameters get for free, never runs.

    ## Example
    ```python
    from django.db import connection


    def find_customers(name):
        with connection.cursor() as cursor:
            cursor.execute(f"SELECT id FROM shop_customer WHERE name = '{name}'")
            return cursor.fetchall()
    ```

    ## Use instead
    ```python
    from django.db import connection


    def find_customers(name):
        with connection.cursor() as cursor:
            cursor.execute("SELECT id FROM shop_customer WHERE name = %s", [name])
            return cursor.fetchall()
    ```

    ## References
    - [Django: performing raw SQL queries](https://docs.djangoproject.com/en/stable/topics/db/sql/#passing-parameters-into-raw)
    - [SQLAlchemy: textual SQL with bound parameters](https://docs.sqlalchemy.org/en/20/core/sqlelement.html#sqlalchemy.sql.expression.text)
    - [OWASP: SQL injection prevention](https://cheatsheetseries.owasp.org/cheatsheets/SQL_Injection_Prevention_Cheat_Sheet.html)
    """
    for call, sink, arguments, fix in raw_sql_sinks(ctx):
        taint = taint_analysis(ctx)  # built on the first sink (cached): most files have none
        for argument in arguments:
            elements = extra_elements(argument) if sink == ".extra()" else [argument]
            found = next((t for t in map(taint.of, elements) if t.built), None)
            if found is not None:
                yield ctx.finding("ORM502", call, sink=sink, how=found.how, value=found.value, fix=fix)
                break


QUERYSET_NAME_HINTS = ("qs", "queryset", "objects")
NON_ORM_VALUES = (ast.Constant, ast.Dict, ast.List, ast.Tuple, ast.Set, ast.JoinedStr, ast.ListComp, ast.DictComp, ast.SetComp)


def chain_base(node: ast.AST) -> tuple[ast.AST, list[str]]:
    """The expression a method chain starts from, and the methods called on it."""
    methods = []
    while isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute):
        methods.append(node.func.attr)
        node = node.func.value
    return node, methods


def is_known_non_orm(ctx: FileContext, node: ast.AST) -> bool:
    """A local bound only to literals or to instances of this module's non-model classes."""
    if not isinstance(node, ast.Name):
        return isinstance(node, NON_ORM_VALUES)
    table = dataflow.scope_table(ctx.tree, ctx.cache)
    owner, is_param = dataflow.lookup(table.scope_at(node), node.id)
    if owner is None or is_param:
        return False
    bindings = owner.bindings.get(node.id, [])
    if not bindings:
        return False
    local_classes = {c.name for c in ctx.tree.body if isinstance(c, ast.ClassDef)}
    for binding in bindings:
        value = binding.value
        if binding.kind == "assign" and isinstance(value, NON_ORM_VALUES):
            continue
        if binding.kind == "assign" and isinstance(value, ast.Call) and isinstance(value.func, ast.Name):
            if value.func.id in local_classes and ctx.index.model(ctx.resolve(value.func)) is None:
                continue
            if value.func.id in ("dict", "list", "set", "object") and value.func.id not in ctx.imports.names:
                continue
        return False
    return True


def looks_like_queryset(ctx: FileContext, node: ast.AST) -> bool:
    if django_query(ctx, node) is not None:
        return True
    base, methods = chain_base(node)
    if is_known_non_orm(ctx, base):
        return False
    if isinstance(base, ast.Call) and call_name(base) == "get_queryset":
        return True
    if any(m == "get_queryset" for m in methods):
        return True
    name = last_identifier(base)
    return any(name == hint or name.endswith("_" + hint) or name.startswith(hint + "_") for hint in QUERYSET_NAME_HINTS)


def extra_fix(call: ast.Call) -> str:
    keywords = {kw.arg for kw in call.keywords if kw.arg}
    fixes = []
    if "select" in keywords:
        fixes.append("annotate(name=RawSQL(sql, params)) for select=")
    if "where" in keywords:
        fixes.append("filter() with Q/F/Func expressions (or RawSQL in alias()) for where=")
    if "order_by" in keywords:
        fixes.append("order_by() with expressions for order_by=")
    if "tables" in keywords:
        fixes.append("a relation or Subquery() for tables=")
    return "use " + "; ".join(fixes) if fixes else "use annotate()/filter() expressions or RawSQL(sql, params)"


@rule(
    "ORM503",
    "queryset-extra",
    Severity.MINOR,
    Category.SECURITY,
    "{receiver}.extra() is Django's last-resort API, slated for deprecation and easy to inject through; {fix}",
)
def queryset_extra(ctx: FileContext) -> Iterator[Finding]:
    """
    ## What it does
    Flags every `.extra(...)` call on a Django queryset or manager: a
    recognised query expression (`Book.objects...`, a related manager, a
    variable assigned from one, a same-module function returning one), or a
    receiver that looks like one (`self.get_queryset()`, `User.objects` of a
    model outside the project, a variable called `qs` / `queryset` /
    `*_qs`). An `.extra` attribute of something the file shows is not a
    queryset (a literal, an instance of a non-model class of this module) is
    not flagged.

    ## Why is this bad?
    Django documents `QuerySet.extra()` as a last resort that it no longer
    improves and plans to deprecate; its raw `where`/`select` strings bypass
    the ORM's quoting and are the usual door for SQL injection. Everything it
    does has a supported form.

    ## Example
    ```python
    from django.db import models


    class Book(models.Model):
        title = models.CharField(max_length=200)
        price = models.DecimalField(max_digits=8, decimal_places=2)


    def expensive_books():
        return Book.objects.extra(where=["price > 100"])
    ```

    ## Use instead
    ```python
    from django.db import models


    class Book(models.Model):
        title = models.CharField(max_length=200)
        price = models.DecimalField(max_digits=8, decimal_places=2)


    def expensive_books():
        return Book.objects.filter(price__gt=100)
    ```

    ## References
    - [Django: QuerySet.extra()](https://docs.djangoproject.com/en/stable/ref/models/querysets/#extra)
    - [Django: query expressions](https://docs.djangoproject.com/en/stable/ref/models/expressions/)
    """
    for node in ctx.nodes_of(ast.Call):
        if call_name(node) == "extra" and isinstance(node.func, ast.Attribute):
            if looks_like_queryset(ctx, node.func.value):
                yield ctx.finding("ORM503", node, receiver=source_text(node.func.value, 30), fix=extra_fix(node))


MASS_ASSIGNING_METHODS = {"create", "update", "get_or_create", "update_or_create", "acreate", "aupdate",
                          "aget_or_create", "aupdate_or_create"}


def request_data(ctx: FileContext) -> dataflow.RequestData:
    found = ctx.cache.get("security.request")
    if found is None:
        found = dataflow.RequestData(ctx.tree, ctx.resolve, ctx.cache)
        ctx.cache["security.request"] = found
    return found


def mass_assignment_target(ctx: FileContext, call: ast.Call) -> tuple[str, str] | None:
    """(model label, framework) when ``call`` writes its keyword arguments into model columns."""
    func = call.func
    model = ctx.index.model(ctx.resolve(func)) if isinstance(func, (ast.Name, ast.Attribute)) else None
    if model is not None:
        return model.name, model.framework
    if not isinstance(func, ast.Attribute):
        return None
    if func.attr in MASS_ASSIGNING_METHODS:
        info = querysets.query_source(ctx, func.value)
        if info is not None:
            return info.model.name, info.framework
        if isinstance(func.value, ast.Attribute) and func.value.attr == "objects":
            return source_text(func.value.value, 30), "django"
    if func.attr == "values":
        info = querysets.query_source(ctx, func.value)
        if info is not None and info.framework == "sqlalchemy" and info.result == querysets.WRITE:
            return info.model.name, "sqlalchemy"
    if func.attr == "execute" and call.args:
        statement = querysets.query_source(ctx, call.args[0])
        if statement is not None and statement.framework == "sqlalchemy" and statement.result == querysets.WRITE:
            return statement.model.name, "sqlalchemy"
    return None


def mass_assignment_fix(framework: str) -> str:
    if framework == "django":
        return "validate with a ModelForm/serializer listing the editable fields and pass its cleaned data"
    return "copy only the allowed keys explicitly (or validate with a schema that lists them)"


def setattr_loops(ctx: FileContext) -> Iterator[tuple[ast.Call, str]]:
    """``setattr(obj, key, value)`` over ``<request data>.items()`` without a whitelist test on the key."""
    for loop in ctx.nodes_of(ast.For, ast.AsyncFor):
        if not isinstance(loop.target, ast.Tuple) or len(loop.target.elts) != 2:
            continue
        key = loop.target.elts[0]
        items = loop.iter
        if not (isinstance(key, ast.Name) and isinstance(items, ast.Call) and call_name(items) == "items" and isinstance(items.func, ast.Attribute)):
            continue
        source = request_data(ctx).source(items.func.value)
        if not source or key_is_checked(loop, key.id):
            continue
        for node in ast.walk(loop):
            if (isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id == "setattr"
                    and "setattr" not in ctx.imports.names and len(node.args) == 3
                    and isinstance(node.args[1], ast.Name) and node.args[1].id == key.id
                    and is_persisted_object(ctx, node.args[0], loop)):
                yield node, source


def is_persisted_object(ctx: FileContext, target: ast.AST, loop: ast.AST) -> bool:
    """A model instance, or an object the same function saves, adds to a session or commits."""
    if dataflow.fetched_instance(ctx, target) is not None:
        return True
    if not isinstance(target, ast.Name):
        return False
    function = dataflow.enclosing_function(loop, dataflow.parent_map(ctx.tree, ctx.cache))
    if function is None:
        return False
    for node in dataflow.own_nodes(function):
        if not isinstance(node, ast.Call) or not isinstance(node.func, ast.Attribute):
            continue
        saves_it = node.func.attr in ("save", "asave") and isinstance(node.func.value, ast.Name) and node.func.value.id == target.id
        adds_it = node.func.attr in ("add", "merge") and any(isinstance(a, ast.Name) and a.id == target.id for a in node.args)
        if saves_it or adds_it or (node.func.attr == "commit" and dataflow.is_session(ctx, node.func.value)):
            return True
    return False


def key_is_checked(loop: ast.AST, key: str) -> bool:
    """Does the loop test the key (``if key in ALLOWED``) before using it?"""
    for node in ast.walk(loop):
        if isinstance(node, (ast.If, ast.IfExp, ast.While)) and key in querysets.names_in(node.test):
            return True
    return False


@rule(
    "ORM504",
    "mass-assignment",
    Severity.MAJOR,
    Category.SECURITY,
    "mass assignment: {call} takes every key of {source}, so a client can set any column of {model}; {fix}",
)
def mass_assignment(ctx: FileContext) -> Iterator[Finding]:
    """
    ## What it does
    Flags request data splatted into a model: `Model.objects.create(**request.POST)`,
    `Model(**request.data)`, `qs.update(**request.data)`,
    `get_or_create(defaults=request.data)`, `Model(**request.get_json())`,
    SQLAlchemy statement builders (`update(M).values(**request.json)`,
    `insert(M).values(request.json)`, `session.execute(insert(M), request.json)`),
    `session.query(M).update(request.json)`,
    and `setattr(obj, key, value)` in a loop over `request.<payload>.items()`
    that never tests the key, when `obj` is a model instance or the function
    saves it, adds it to a session or commits. Request data is `request.POST` / `GET` /
    `data` / `json` / `form` / `args` / `values` / `query_params`,
    `request.get_json()`, `json.loads(request.body)` and copies of them
    (`dict(..)`, `.copy()`, `.dict()`, `{**request.data, ...}`), also through
    a local variable. A dict comprehension with an `if` (a whitelist) and
    validated data (`form.cleaned_data`, `serializer.validated_data`) are
    not request data.

    ## Why is this bad?
    Every key the client sends becomes a column value: `is_staff=true`,
    `price=0`, `owner_id=<someone else>`. The form or serializer that should
    decide which fields are editable is bypassed.

    ## Example
    ```python
    from django.db import models


    class Ticket(models.Model):
        title = models.CharField(max_length=200)
        is_paid = models.BooleanField(default=False)


    def open_ticket(request):
        return Ticket.objects.create(**request.POST.dict())
    ```

    ## Use instead
    ```python
    from django.db import models


    class Ticket(models.Model):
        title = models.CharField(max_length=200)
        is_paid = models.BooleanField(default=False)


    def open_ticket(request):
        return Ticket.objects.create(title=request.POST["title"])
    ```

    ## References
    - [OWASP: Mass assignment cheat sheet](https://cheatsheetseries.owasp.org/cheatsheets/Mass_Assignment_Cheat_Sheet.html)
    - [Django: creating forms from models](https://docs.djangoproject.com/en/stable/topics/forms/modelforms/)
    """
    for node in ctx.nodes_of(ast.Call):
        if not node.keywords and not (isinstance(node.func, ast.Attribute) and node.func.attr in ("values", "update", "execute")):
            continue  # no payload below can be collected
        payloads = [kw.value for kw in node.keywords if kw.arg in (None, "defaults", "create_defaults")]
        if isinstance(node.func, ast.Attribute) and node.func.attr in ("values", "update") and node.args:
            payloads.append(node.args[0])
        if isinstance(node.func, ast.Attribute) and node.func.attr == "execute" and len(node.args) >= 2:
            parameters = node.args[1]  # session.execute(insert(M), request.json) / [request.json]
            payloads.extend(parameters.elts if isinstance(parameters, (ast.List, ast.Tuple)) else [parameters])
        if not payloads:
            continue  # request_data() (a scope table) is built only for files with a candidate call
        source = next((s for s in map(request_data(ctx).source, payloads) if s), None)
        if not source:
            continue
        target = mass_assignment_target(ctx, node)
        if target is None:
            continue
        if isinstance(node.func, ast.Attribute) and node.func.attr == "update" and node.args and target[1] == "django":
            continue  # Django's update() takes no positional dict
        yield ctx.finding("ORM504", node, call=call_label(node), source=source, model=target[0],
                          fix=mass_assignment_fix(target[1]))
    for node, source in setattr_loops(ctx):
        yield ctx.finding("ORM504", node, call="setattr()", source=source + ".items()", model=source_text(node.args[0], 20),
                          fix="set the editable fields one by one (or validate with a form/serializer)")


MODEL_FORM_BASES = {"django.forms.ModelForm", "django.forms.models.ModelForm", "django.forms.models.BaseModelForm"}
MODEL_SERIALIZER_BASES = {"rest_framework.serializers.ModelSerializer", "rest_framework.serializers.HyperlinkedModelSerializer"}
ALL_FIELDS_NAMES = {"django.forms.models.ALL_FIELDS", "django.forms.ALL_FIELDS"}


def form_kind(ctx: FileContext, qualnames: list[str], depth: int = 0) -> str | None:
    """"form" / "serializer" when one of these bases is (or inherits from) a ModelForm / ModelSerializer."""
    if depth > 8:
        return None
    for qualname in qualnames:
        target = ctx.index.resolve_symbol(qualname) if qualname else ""
        if target in MODEL_FORM_BASES or qualname in MODEL_FORM_BASES:
            return "form"
        if target in MODEL_SERIALIZER_BASES or qualname in MODEL_SERIALIZER_BASES:
            return "serializer"
        parent = ctx.index.classes.get(target)
        if parent is not None:
            found = form_kind(ctx, parent.bases, depth + 1)
            if found:
                return found
    return None


def meta_options(meta: ast.ClassDef) -> dict[str, ast.Assign]:
    return {stmt.targets[0].id: stmt for stmt in meta.body
            if isinstance(stmt, ast.Assign) and len(stmt.targets) == 1 and isinstance(stmt.targets[0], ast.Name)}


def write_only_fields(extra_kwargs: ast.Assign | None) -> set[str]:
    """DRF ``extra_kwargs = {"password": {"write_only": True}}`` entries."""
    if extra_kwargs is None or not isinstance(extra_kwargs.value, ast.Dict):
        return set()
    found = set()
    for key, value in zip(extra_kwargs.value.keys, extra_kwargs.value.values):
        if isinstance(key, ast.Constant) and isinstance(value, ast.Dict):
            for option, flag in zip(value.keys, value.values):
                if isinstance(option, ast.Constant) and option.value == "write_only" and isinstance(flag, ast.Constant) and flag.value is True:
                    found.add(key.value)
    return found


def string_items(node: ast.AST) -> set[str] | None:
    if isinstance(node, (ast.List, ast.Tuple, ast.Set)):
        return {e.value for e in node.elts if isinstance(e, ast.Constant) and isinstance(e.value, str)}
    return None


DJANGO_AUTH_USER = "django.contrib.auth.models.User"
AUTH_PASSWORD = FieldFact(name="password", line=0, column_type="CharField")


def sensitive_model_fields(ctx: FileContext, model: ModelFact | None, qualname: str | None) -> list[tuple[FieldFact, str]]:
    """Fields ORM501 would call sensitive by name (stored encrypted or not), plus Django's inherited password hash."""
    if model is None:
        return [(AUTH_PASSWORD, "password")] if qualname and ctx.index.resolve_symbol(qualname) == DJANGO_AUTH_USER else []
    found = [(fact, token) for fact, token in plaintext_sensitive_fields(model, ctx.options.sensitive_names)
             if not fact.relation and not fact.primary_key]
    if "password" not in model.fields and model.framework == "django":
        bases = [b for cls in [model, *ctx.index.parents(model)] for b in cls.bases]
        if any(ctx.index.resolve_symbol(b) in DJANGO_USER_BASES for b in bases):
            found.append((AUTH_PASSWORD, "password"))  # AbstractBaseUser.password: the salted hash
    return found


@rule(
    "ORM505",
    "sensitive-field-exposed",
    Severity.MAJOR,
    Category.SECURITY,
    "{form} exposes sensitive {model} field(s) {fields} through {option}: clients can read or overwrite them; list the safe fields explicitly in Meta.fields",
)
def sensitive_field_exposed(ctx: FileContext) -> Iterator[Finding]:
    """
    ## What it does
    Flags a Django `ModelForm` or DRF `ModelSerializer` /
    `HyperlinkedModelSerializer` (also through project base classes) whose
    `Meta` says `fields = "__all__"` or uses an `exclude` list, when its
    `Meta.model` (resolved through the project index, in any file) has a
    field that ORM501 would call sensitive by name (password, token,
    api_key, ssn, iban, ... plus `orm-sensitive-names`), encrypted or not,
    or is Django's `User` / a subclass of `AbstractBaseUser` (whose
    inherited `password` holds the hash), and the form does not take it out: listed in `exclude`, redeclared on
    the class (a `PasswordInput` form field, a `write_only` serializer
    field), DRF `extra_kwargs = {"f": {"write_only": True}}`, or a
    non-editable model field in a `ModelForm`.

    ## Why is this bad?
    `"__all__"` and `exclude` expose whatever the model gains tomorrow. A
    serializer ships the secret in every API response; a form renders it
    into HTML and accepts a new value from the client. Encryption at rest
    does not help once the application decrypts it for the response.

    ## Example
    ```python
    from django import forms
    from django.db import models


    class Integration(models.Model):
        name = models.CharField(max_length=100)
        api_key = models.CharField(max_length=64)


    class IntegrationForm(forms.ModelForm):
        class Meta:
            model = Integration
            fields = "__all__"
    ```

    ## Use instead
    ```python
    from django import forms
    from django.db import models


    class Integration(models.Model):
        name = models.CharField(max_length=100)
        api_key = models.CharField(max_length=64)


    class IntegrationForm(forms.ModelForm):
        class Meta:
            model = Integration
            fields = ["name"]
    ```

    ## References
    - [Django: selecting the fields to use](https://docs.djangoproject.com/en/stable/topics/forms/modelforms/#selecting-the-fields-to-use)
    - [DRF: specifying which fields to include](https://www.django-rest-framework.org/api-guide/serializers/#specifying-which-fields-to-include)
    """
    if ctx.is_migration:
        return
    for cls in ctx.nodes_of(ast.ClassDef):
        kind = form_kind(ctx, [ctx.resolve(b) or "" for b in cls.bases])
        meta = next((s for s in cls.body if isinstance(s, ast.ClassDef) and s.name == "Meta"), None)
        if kind is None or meta is None:
            continue
        options = meta_options(meta)
        model_option = options.get("model")
        model_name = ctx.resolve(model_option.value) if model_option is not None else None
        model = ctx.index.model(model_name)
        sensitive = sensitive_model_fields(ctx, model, model_name)
        if not sensitive:
            continue
        fields_option, exclude_option = options.get("fields"), options.get("exclude")
        if fields_option is not None:
            value = fields_option.value
            if not ((isinstance(value, ast.Constant) and value.value == "__all__") or ctx.resolve(value) in ALL_FIELDS_NAMES):
                continue
            excluded = string_items(exclude_option.value) if exclude_option is not None else set()
            reported, hidden, option = fields_option, excluded or set(), 'fields = "__all__"'
        elif exclude_option is not None:
            hidden = string_items(exclude_option.value)
            if hidden is None:
                continue  # computed exclude: unknown
            reported, option = exclude_option, "an exclude list"
        else:
            continue
        declared = {t.id for s in cls.body if isinstance(s, (ast.Assign, ast.AnnAssign))
                    for t in (s.targets if isinstance(s, ast.Assign) else [s.target]) if isinstance(t, ast.Name)}
        hidden = hidden | declared | write_only_fields(options.get("extra_kwargs"))
        exposed = []
        for fact, token in sensitive:
            if fact.name in hidden or (kind == "form" and "editable" in fact.kwargs):
                continue  # taken out, or editable=False (not a form field)
            exposed.append(fact.name if fact.name == token else f"{fact.name} ('{token}')")
        if exposed:
            label = model.name if model is not None else model_name.rsplit(".", 1)[-1]
            yield ctx.finding("ORM505", reported, form=cls.name, model=label, fields=", ".join(exposed), option=option)
