"""The plugin's options, shared by the flake8 adapter, the CLI and the tests."""

from __future__ import annotations

import argparse
from dataclasses import dataclass, field, fields

DATABASES = ("postgresql", "mysql", "sqlite")
MIGRATION_SCOPES = ("all", "leaf")


def _split(value: object) -> list[str]:
    if value is None:
        return []
    if isinstance(value, (list, tuple)):
        items = [str(v) for v in value]
    else:
        items = str(value).replace("\n", ",").split(",")
    return [item.strip() for item in items if item.strip()]


@dataclass(frozen=True)
class Options:
    database: str = "postgresql"
    source_roots: tuple[str, ...] = (".",)
    sensitive_names: tuple[str, ...] = ()
    max_model_fields: int = 30
    max_models_per_module: int = 15
    migration_scope: str = "all"
    review_dir: str = "."
    review_date: str = ""
    review_html: bool = False
    extra: dict = field(default_factory=dict, compare=False, hash=False)

    @classmethod
    def from_namespace(cls, namespace: argparse.Namespace) -> "Options":
        get = lambda name, default: getattr(namespace, name, default)  # noqa: E731
        database = str(get("orm_database", "postgresql") or "postgresql").lower()
        scope = str(get("orm_migration_scope", "all") or "all").lower()
        return cls(
            database=database if database in DATABASES else "postgresql",
            source_roots=tuple(_split(get("orm_source_roots", ".")) or ["."]),
            sensitive_names=tuple(n.lower() for n in _split(get("orm_sensitive_names", ""))),
            max_model_fields=int(get("orm_max_model_fields", 30) or 30),
            max_models_per_module=int(get("orm_max_models_per_module", 15) or 15),
            migration_scope=scope if scope in MIGRATION_SCOPES else "all",
            review_dir=str(get("orm_review_dir", ".") or "."),
            review_date=str(get("orm_review_date", "") or ""),
            review_html=bool(get("orm_review_html", False)),
        )


# (flag, dest default, help, extra add_option kwargs)
FLAKE8_OPTIONS = [
    ("--orm-database", "postgresql", "Database backend for the database-specific migration rules: postgresql (default), mysql or sqlite.", {}),
    ("--orm-source-roots", ".", "Comma-separated folders where the model index looks for models and migrations (default: .).", {"comma_separated_list": True}),
    ("--orm-sensitive-names", "", "Comma-separated extra field-name tokens for ORM501/ORM505.", {"comma_separated_list": True}),
    ("--orm-max-model-fields", 30, "ORM604: most fields a model may have (default: 30).", {"type": int}),
    ("--orm-max-models-per-module", 15, "ORM605: most models one module may define (default: 15).", {"type": int}),
    ("--orm-migration-scope", "all", "Which migrations the ORM4xx rules check: all (default) or leaf (each app's newest, the Alembic heads).", {}),
    ("--orm-review-dir", ".", "Where --format=orm-review writes orm-optimization-review-YYYY-MM-DD.md (default: .).", {}),
    ("--orm-review-date", "", "Fixed date (YYYY-MM-DD) for reproducible reports (default: today).", {}),
    ("--orm-review-html", False, "Also write an HTML rendering of the review next to the markdown.", {"action": "store_true"}),
]

OPTION_NAMES = [f.name for f in fields(Options)]
