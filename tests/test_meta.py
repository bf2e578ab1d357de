"""Meta-tests: the registry, the rule docs, the fixtures and the changelog stay in step."""

from __future__ import annotations

import configparser
import os
import re
import string
from argparse import Namespace
from pathlib import Path

import pytest

from fixture_runner import FIXTURES, MARKER, fixture_codes
from flake8_ormreview import docs
from flake8_ormreview.analysis import analyze
from flake8_ormreview.index import ProjectIndex
from flake8_ormreview.options import FLAKE8_OPTIONS, Options
from flake8_ormreview.registry import DOC_SECTIONS, Category, all_rules

REPO = Path(__file__).resolve().parent.parent
RULES = all_rules()
CHECKED_RULES = [r for r in RULES if r.check is not None]
CATEGORY_BY_DIGIT = {
    "0": Category.PLUGIN,
    "1": Category.SCHEMA,
    "2": Category.QUERIES,
    "3": Category.TRANSACTIONS,
    "4": Category.MIGRATIONS,
    "5": Category.SECURITY,
    "6": Category.MAINTAINABILITY,
}
OPTION_LINE = re.compile(r"\(with `(orm-[\w-]+)\s*=\s*([^`]*)`\)")


def spec_rules_file() -> Path | None:
    """The product specification's RULES.md, wherever this checkout can see it."""
    candidates = [os.environ.get("FLAKE8_ORMREVIEW_SPEC", ""), REPO / "docs" / "spec", "/work/shared/spec"]
    for folder in candidates:
        if folder and (Path(folder) / "RULES.md").is_file():
            return Path(folder) / "RULES.md"
    return None


def test_codes_are_well_formed_and_names_unique():
    codes = [r.code for r in RULES]
    assert len(codes) == len(set(codes))
    assert all(re.fullmatch(r"ORM\d{3}", code) for code in codes), codes
    names = [r.name for r in RULES]
    assert len(names) == len(set(names)), "two rules share a name"
    assert all(re.fullmatch(r"[a-z0-9]+(-[a-z0-9]+)*", name) for name in names), names


@pytest.mark.parametrize("rule", RULES, ids=lambda r: r.code)
def test_category_matches_the_hundreds_digit(rule):
    assert rule.category == CATEGORY_BY_DIGIT[rule.code[3]], f"{rule.code} is in {rule.category.value}"


@pytest.mark.parametrize("rule", RULES, ids=lambda r: r.code)
def test_message_is_one_line_without_code_or_severity(rule):
    assert "\n" not in rule.message
    assert not re.search(r"\bORM\d", rule.message), "the adapter adds the code"
    assert not rule.message.lower().startswith(tuple(s.value for s in type(rule.severity))), "no severity in the text"
    fields = [name for _, name, _, _ in string.Formatter().parse(rule.message) if name]
    rendered = rule.format(**{name: "x" for name in fields})
    assert "\n" not in rendered and rendered.strip() == rendered


@pytest.mark.parametrize("rule", RULES, ids=lambda r: r.code)
def test_rule_has_every_doc_section(rule):
    missing = [section for section in DOC_SECTIONS if not rule.docs.get(section, "").strip()]
    assert not missing, f"{rule.code} lacks {missing}"


def test_every_rule_has_a_fixture_with_markers_and_every_fixture_is_a_rule():
    registered = {r.code for r in RULES}
    folders = set(fixture_codes())
    assert not folders - registered, f"fixture folders for unregistered codes: {sorted(folders - registered)}"
    missing = sorted(registered - folders - {"ORM000"})
    assert not missing, f"codes without a fixture folder: {missing}"
    unmarked = []
    for code in sorted(registered - {"ORM000"}):
        markers = [
            line
            for path in (FIXTURES / code).rglob("*.py")
            for line in path.read_text(encoding="utf-8").splitlines()
            if (m := MARKER.search(line)) and code in m.group(1)
        ]
        if not markers:
            unmarked.append(code)
    assert not unmarked, f"fixtures without a '# error: CODE' marker: {unmarked}"


def test_every_rule_has_a_docs_page_and_the_docs_are_current():
    folder = REPO / "docs" / "rules"
    expected = docs.expected_files()
    assert {f"{r.code}.md" for r in RULES} <= set(expected)
    on_disk = {p.name: p.read_text(encoding="utf-8") for p in folder.glob("*.md")}
    stale = sorted(name for name in set(expected) | set(on_disk) if expected.get(name) != on_disk.get(name))
    assert not stale, f"docs/rules is stale, run `python -m flake8_ormreview.docs`: {stale}"


def test_changelog_mentions_every_code():
    changelog = (REPO / "CHANGELOG.md").read_text(encoding="utf-8")
    missing = [r.code for r in RULES if not re.search(rf"\b{r.code}\b", changelog)]
    assert not missing, f"CHANGELOG.md does not mention {missing}"


def test_every_code_of_the_specification_is_registered():
    spec = spec_rules_file()
    if spec is None:
        pytest.skip("RULES.md (the product specification) is not available here")
    specified = set(re.findall(r"^\|\s*(ORM\d{3})\s*\|", spec.read_text(encoding="utf-8"), re.M))
    assert specified, "no rule table found in RULES.md"
    registered = {r.code for r in RULES}
    assert not registered - specified, f"registered but not specified: {sorted(registered - specified)}"
    missing = sorted(specified - registered)
    if missing:
        pytest.xfail(f"rules still landing: {missing}")


def test_names_and_severities_agree_with_the_specification():
    spec = spec_rules_file()
    if spec is None:
        pytest.skip("RULES.md (the product specification) is not available here")
    rows = re.findall(r"^\|\s*(ORM\d{3})\s*\|\s*([\w-]+)\s*\|\s*(critical|major|minor)\s*\|", spec.read_text(encoding="utf-8"), re.M)
    assert rows, "no rule table found in RULES.md"
    registered = {r.code: r for r in RULES}
    disagree = [
        f"{code}: {registered[code].name}/{registered[code].severity.value} != {name}/{severity}"
        for code, name, severity in rows
        if code in registered and (registered[code].name, registered[code].severity.value) != (name, severity)
    ]
    assert not disagree, disagree


# -- the docs' examples are executed ---------------------------------------------------------


def snippet_path(source: str) -> str:
    """Where a docs snippet lives in the temporary project, decided by what it is."""
    if re.search(r"^class Migration\(", source, re.M) and "migrations" in source:
        return "app/migrations/0002_x.py"
    if re.search(r"^revision\s*=", source, re.M) and re.search(r"^def upgrade\(", source, re.M):
        return "alembic/versions/x.py"
    return "app/models.py"


def section_options(rule, section: str) -> Options:
    values = {name.replace("-", "_"): value.strip() for name, value in OPTION_LINE.findall(rule.docs.get(section, ""))}
    return Options.from_namespace(Namespace(**values))


def codes_for_snippet(source: str, options: Options, tmp_path: Path) -> list[str]:
    relative = snippet_path(source)
    target = tmp_path / relative
    target.parent.mkdir(parents=True, exist_ok=True)
    for folder in {target.parent, target.parent.parent} - {tmp_path}:
        if folder.name in ("app", "migrations"):
            (folder / "__init__.py").write_text("", encoding="utf-8")
    target.write_text(source, encoding="utf-8")
    cwd = os.getcwd()
    os.chdir(tmp_path)
    try:
        index = ProjectIndex(["."], cache_dir=None)
        return [f.code for f in analyze(source, relative, index=index, options=options)]
    finally:
        os.chdir(cwd)


@pytest.mark.parametrize("rule", CHECKED_RULES, ids=lambda r: r.code)
def test_docs_example_triggers_the_rule(rule, tmp_path):
    assert rule.bad_example, f"{rule.code}: no ```python block under ## Example"
    codes = codes_for_snippet(rule.bad_example, section_options(rule, "Example"), tmp_path)
    assert "ORM000" not in codes
    assert rule.code in codes, f"{rule.code}: the Example does not trigger it (got {codes})"


@pytest.mark.parametrize("rule", CHECKED_RULES, ids=lambda r: r.code)
def test_docs_fix_does_not_trigger_the_rule(rule, tmp_path):
    assert rule.good_example, f"{rule.code}: no ```python block under ## Use instead"
    codes = codes_for_snippet(rule.good_example, section_options(rule, "Use instead"), tmp_path)
    assert "ORM000" not in codes
    assert rule.code not in codes, f"{rule.code}: the Use instead example still triggers it"


KNOWN_OPTIONS = {flag[2:] for flag, *_ in FLAKE8_OPTIONS}


@pytest.mark.parametrize("rule", RULES, ids=lambda r: r.code)
def test_docs_option_lines_name_real_options(rule):
    named = [name for section in ("Example", "Use instead") for name, _ in OPTION_LINE.findall(rule.docs.get(section, ""))]
    assert set(named) <= KNOWN_OPTIONS, f"{rule.code}: unknown option in a (with ...) line: {set(named) - KNOWN_OPTIONS}"


@pytest.mark.parametrize("code", fixture_codes())
def test_fixture_setup_cfg_sets_only_real_options(code):
    config = configparser.ConfigParser()
    config.read(FIXTURES / code / "setup.cfg")
    keys = {k for k in config["flake8"] if k.startswith("orm")} if config.has_section("flake8") else set()
    assert keys <= KNOWN_OPTIONS, f"{code}/setup.cfg: unknown options {sorted(keys - KNOWN_OPTIONS)}"


def test_snippet_paths_follow_the_content():
    django = "from django.db import migrations\n\n\nclass Migration(migrations.Migration):\n    operations = []\n"
    alembic = 'revision = "a"\ndown_revision = None\n\n\ndef upgrade():\n    pass\n'
    assert snippet_path(django) == "app/migrations/0002_x.py"
    assert snippet_path(alembic) == "alembic/versions/x.py"
    assert snippet_path("from django.db import models\n") == "app/models.py"


def test_option_lines_reach_the_checks():
    from flake8_ormreview.registry import get_rule

    rule = get_rule("ORM604")
    assert section_options(rule, "Example").max_model_fields == 2
    assert section_options(rule, "Use instead").max_model_fields == 30
