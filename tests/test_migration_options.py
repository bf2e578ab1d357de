"""The migration rules under other `orm-database` / `orm-migration-scope` settings.

Each fixture project of tests/fixtures/ORM4xx runs with the default options
(PostgreSQL, every migration). Here the same projects are copied and given a
`setup.cfg` with other settings, exactly as a user would configure flake8.
"""

import json
import shutil

import pytest

from fixture_runner import FIXTURES, actual_findings, expected_markers
from flake8_ormreview.index import ProjectIndex


def with_setup_cfg(tmp_path, code, options):
    folder = tmp_path / code
    shutil.copytree(FIXTURES / code, folder)
    (folder / "setup.cfg").write_text("[flake8]\n" + "".join(f"{k} = {v}\n" for k, v in options.items()))
    return folder


@pytest.mark.parametrize("code", ["ORM404", "ORM405", "ORM407", "ORM408"])
def test_database_specific_rules_are_silent_on_sqlite(tmp_path, code):
    assert expected_markers(FIXTURES / code, code), "the fixture must have findings to silence"
    folder = with_setup_cfg(tmp_path, code, {"orm-database": "sqlite"})
    actual, errors = actual_findings(folder, code)
    assert not errors
    assert actual == set()


@pytest.mark.parametrize("code", ["ORM405", "ORM407", "ORM408"])
def test_postgresql_only_rules_are_silent_on_mysql(tmp_path, code):
    folder = with_setup_cfg(tmp_path, code, {"orm-database": "mysql"})
    actual, _ = actual_findings(folder, code)
    assert actual == set()


def test_column_changes_are_still_checked_on_mysql(tmp_path):
    folder = with_setup_cfg(tmp_path, "ORM404", {"orm-database": "mysql"})
    actual, _ = actual_findings(folder, "ORM404")
    assert actual == expected_markers(FIXTURES / "ORM404", "ORM404")


@pytest.mark.parametrize("code", ["ORM401", "ORM406", "ORM409"])
def test_database_neutral_rules_ignore_sqlite(tmp_path, code):
    folder = with_setup_cfg(tmp_path, code, {"orm-database": "sqlite"})
    actual, _ = actual_findings(folder, code)
    assert actual == expected_markers(FIXTURES / code, code)


def test_leaf_scope_checks_only_the_newest_migration_and_the_alembic_heads(tmp_path):
    # ORM402: shop 0002 is followed by 0003; the Alembic folder has one revision (a head).
    folder = with_setup_cfg(tmp_path, "ORM402", {"orm-migration-scope": "leaf"})
    actual, _ = actual_findings(folder, "ORM402")
    everything = expected_markers(FIXTURES / "ORM402", "ORM402")
    leaves = {(path, line) for path, line in everything if "0002_" not in path}
    assert any("0002_" in path for path, _ in everything)
    assert actual == leaves


def test_leaf_scope_follows_alembic_down_revisions(tmp_path):
    # ORM406: every revision but b8c9.. has a descendant (the merge revision d4c3.. too): b8c9.. is the only head.
    folder = with_setup_cfg(tmp_path, "ORM406", {"orm-migration-scope": "leaf"})
    actual, _ = actual_findings(folder, "ORM406")
    assert {path for path, _ in actual} == {"shop/migrations/0002_fill_slugs.py", "alembic/versions/b8c9d0e1f2a3_order_total_check.py"}


def test_all_scope_asks_every_empty_alembic_message_but_never_renames_an_applied_django_migration(tmp_path):
    """django-oscar's auto-named migrations of 2014-2025: renaming one others depend on breaks databases."""
    folder = with_setup_cfg(tmp_path, "ORM603", {"orm-migration-scope": "all"})
    actual, _ = actual_findings(folder, "ORM603")
    paths = {path for path, _ in actual}
    assert "shop/migrations/0002_auto_20240105_1130.py" not in paths
    assert "shop/migrations/0003_auto_20240311_1502.py" in paths
    assert "alembic/versions/11aa22bb33cc_.py" in paths  # an Alembic message can be edited any time
    assert "alembic/versions/22bb33cc44dd_add_orders_note.py" not in paths


def persisted_summaries(tmp_path, folder: str) -> dict:
    """The migration summaries the index cache holds for a copy of ``folder`` (by file name)."""
    project = tmp_path / "project"
    shutil.copytree(FIXTURES / folder, project / folder.rsplit("/", 1)[-1])
    cache = tmp_path / "cache"
    ProjectIndex([str(project)], cache_dir=str(cache)).refresh()
    data = json.loads(next(cache.glob("facts-v*.json")).read_text())
    return {path.rsplit("/", 1)[-1]: facts["migration"] for path, facts in data["files"].items()}


def test_migration_history_is_persisted_in_the_index_cache(tmp_path):
    summaries = persisted_summaries(tmp_path, "ORM404/shop")
    initial = summaries["0001_initial.py"]
    assert initial["framework"] == "django" and initial["app"] == "shop"
    created = initial["state"][0]
    assert created["op"] == "CreateModel" and created["fields"]["pages"]["type"] == "SmallIntegerField"
    assert summaries["0002_alter_book_columns.py"]["dependencies"] == [["shop", "0001_initial"]]
    assert summaries["models.py"] is None


def test_alembic_schema_history_is_persisted_in_the_index_cache(tmp_path):
    """Later revisions read the keys and column types earlier ones created (ORM101, ORM404)."""
    summaries = persisted_summaries(tmp_path, "ORM404/alembic")
    created = summaries["7b8c9d0e1f2a_create_orders.py"]
    assert ["orders", "id"] in created["leads"]
    assert ["orders", "quantity", "sa.SmallInteger()", False] in created["types"]
    assert ["orders", "is_paid", "sa.Boolean(create_constraint=False)", False] in created["types"]
    assert summaries["8c9d0e1f2a3b_alter_order_columns.py"]["down_revisions"] == ["7b8c9d0e1f2a"]
