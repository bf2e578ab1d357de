"""Messages of findings whose wording the noise study on real projects corrected (docs/noise.md)."""

import os
from pathlib import Path

from flake8_ormreview import analyze
from flake8_ormreview.index import ProjectIndex
from flake8_ormreview.options import Options

from fixture_runner import fixture_options

FIXTURES = Path(__file__).parent / "fixtures"


def messages(folder: Path, file: str, code: str, options: Options | None = None) -> dict[int, str]:
    cwd = os.getcwd()
    os.chdir(folder)
    try:
        index = ProjectIndex(["."], cache_dir=None)
        source = Path(file).read_text(encoding="utf-8")
        found = analyze(source, file, index=index, options=options or fixture_options(folder))
        return {f.line: f.message for f in found if f.code == code}
    finally:
        os.chdir(cwd)


def test_orm401_names_djangos_implicit_default_instead_of_a_failing_migration():
    found = messages(FIXTURES / "ORM401", "shop/migrations/0003_book_code_blurb.py", "ORM401")
    assert "implicit default ('' for a blank field)" in found[25] and "db_default=''" in found[25]
    assert "implicit default (the current time for auto_now)" in found[30] and "db_default=Now()" in found[30]
    assert "without any default: the migration fails on a non-empty table" in found[20]


def test_orm603_never_asks_to_rename_a_django_migration_others_depend_on():
    """django-oscar's auto-named migrations of 2014-2025: renaming an applied migration breaks databases."""
    everything = Options(migration_scope="all")
    folder = FIXTURES / "ORM603"
    assert messages(folder, "shop/migrations/0002_auto_20240105_1130.py", "ORM603", everything) == {}
    assert list(messages(folder, "shop/migrations/0003_auto_20240311_1502.py", "ORM603", everything)) == [1]
    # An Alembic message can be edited any time: a revision that is no head is still asked for one.
    assert list(messages(folder, "alembic/versions/11aa22bb33cc_.py", "ORM603", everything)) == [1]
