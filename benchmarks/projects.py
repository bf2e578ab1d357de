"""The real code bases the benchmarks and the noise measurement run on (pinned)."""

from __future__ import annotations

import os
from dataclasses import dataclass

HERE = os.path.dirname(os.path.abspath(__file__))
PROJECTS_DIR = os.path.join(HERE, "_projects")


@dataclass(frozen=True)
class Project:
    name: str
    requirement: str  # pinned, for reproducibility
    framework: str
    lint_target: str  # relative to the unpacked project folder
    models_module: str  # the editor-style stdin call is fed this file (the largest models module)

    @property
    def folder(self) -> str:
        return os.path.join(PROJECTS_DIR, self.name)


PROJECTS = [
    Project("django-oscar", "django-oscar==4.2.1", "Django", "src", "src/oscar/apps/catalogue/abstract_models.py"),
    Project("wagtail", "wagtail==8.0.1", "Django", "wagtail", "wagtail/models/pages.py"),
    Project("mlflow", "mlflow==3.18.0", "SQLAlchemy + Alembic", "mlflow", "mlflow/store/tracking/dbmodels/models.py"),
    Project("prefect", "prefect==3.9.1", "SQLAlchemy + Alembic", "src", "src/prefect/server/database/orm_models.py"),
]


def by_name(names: list[str] | None) -> list[Project]:
    if not names:
        return list(PROJECTS)
    wanted = set(names)
    unknown = wanted - {p.name for p in PROJECTS}
    if unknown:
        raise SystemExit(f"unknown project(s): {', '.join(sorted(unknown))}")
    return [p for p in PROJECTS if p.name in wanted]
