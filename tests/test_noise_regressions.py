"""Messages of findings whose wording the noise study on real projects corrected (docs/noise.md)."""

import os
from pathlib import Path

from flake8_ormreview import analyze
from flake8_ormreview.index import ProjectIndex

from fixture_runner import fixture_options

FIXTURES = Path(__file__).parent / "fixtures"


def messages(folder: Path, file: str, code: str) -> dict[int, str]:
    cwd = os.getcwd()
    os.chdir(folder)
    try:
        index = ProjectIndex(["."], cache_dir=None)
        source = Path(file).read_text(encoding="utf-8")
        found = analyze(source, file, index=index, options=fixture_options(folder))
        return {f.line: f.message for f in found if f.code == code}
    finally:
        os.chdir(cwd)


def test_orm401_names_djangos_implicit_default_instead_of_a_failing_migration():
    found = messages(FIXTURES / "ORM401", "shop/migrations/0003_book_code_blurb.py", "ORM401")
    assert "implicit default ('' for a blank field)" in found[25] and "db_default=''" in found[25]
    assert "implicit default (the current time for auto_now)" in found[30] and "db_default=Now()" in found[30]
    assert "without any default: the migration fails on a non-empty table" in found[20]

