"""ORM5xx: security and sensitive data.

ORM501 (field definitions) is here with the shared sensitive-name matcher
that ORM505 reuses; the query-site rules of this family follow it.
"""

from __future__ import annotations

from typing import Iterator

from ..context import FileContext, Finding
from ..registry import Category, Severity, rule
from ..semantic.facts import FieldFact, ModelFact
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
    for start in range(len(words)):
        for token in tokens:
            if tuple(words[start : start + len(token)]) == token:
                after = words[start + len(token) :]
                if any(word in EXEMPT_SUFFIXES for word in after):
                    return None
                return "_".join(token)
    return None


def is_plain_storage(fact: FieldFact) -> bool:
    if fact.relation:
        return False
    column_type = fact.column_type.split("[")[0].split(".")[-1]
    return column_type in PLAIN_TYPES


def plaintext_sensitive_fields(model: ModelFact, extra: tuple[str, ...], fields: list[FieldFact] | None = None) -> Iterator[tuple[FieldFact, str]]:
    for fact in fields if fields is not None else model.fields.values():
        token = sensitive_token(fact.name, extra)
        if token:
            yield fact, token


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

    Not flagged: encrypted or hashed field types (django-fernet-fields,
    django-cryptography's `encrypt(...)`, encrypted-model-fields,
    django-pgcrypto, django-mirage-field, sqlalchemy-utils
    `StringEncryptedType` / `EncryptedType` / `PasswordType`); names whose
    words after the sensitive token say it is not the secret itself
    (`password_hash`, `token_expires_at`, `api_key_id`, `card_number_last4`,
    `pin_enabled`; `national_id` and `tax_id` are themselves sensitive);
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
    for model in ctx.models:
        is_django_user = any(ctx.index.resolve_symbol(b) in DJANGO_USER_BASES for b in model.bases) or any(
            any(ctx.index.resolve_symbol(b) in DJANGO_USER_BASES for b in parent.bases) for parent in ctx.index.parents(model)
        )
        for fact, token in plaintext_sensitive_fields(model, ctx.options.sensitive_names, ctx.own_fields(model)):
            if not is_plain_storage(fact):
                continue
            if is_django_user and fact.name == "password":
                continue
            if token in ("password", "passwd"):
                fix = "store a salted hash (make_password / passlib), never the password"
            elif model.framework == "django":
                fix = "use an encrypted field (e.g. fernet_fields.EncryptedCharField) or store a hash"
            else:
                fix = "use sqlalchemy_utils.StringEncryptedType (or store a hash)"
            yield ctx.finding("ORM501", fact.line, fact.col, model=model.name, field=fact.name, token=token,
                              type=fact.column_type or "text", fix=fix)
