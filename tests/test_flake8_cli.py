"""End to end through the real ``flake8`` command line (a subprocess per run)."""

from __future__ import annotations

import argparse
import re
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from flake8.main.options import JobsArgument

from flake8_ormreview.index import CACHE_DIRNAME
from flake8_ormreview.options import FLAKE8_OPTIONS
from flake8_ormreview.plugin import forks_workers

FORMAT = "--format=%(path)s:%(row)d:%(col)d:%(code)s:%(text)s"

CORE_MODELS = '''
from django.db import models


class Named(models.Model):
    """Abstract base of the project, without __str__."""

    name = models.CharField(max_length=50)
    slug = models.SlugField(unique=True)

    class Meta:
        abstract = True
'''

SHOP_MODELS = '''
from django.db import models

from core.models import Named


class Customer(models.Model):
    """A buyer."""

    email = models.EmailField(unique=True)

    def __str__(self):
        return self.email


class Order(models.Model):
    """An order."""

    customer = models.ForeignKey(Customer, on_delete=models.CASCADE, db_index=False)
    total = models.FloatField()

    def __str__(self):
        return str(self.pk)


class Tag(Named):
    """A label; its base class lives in core/models.py."""
'''

NOQA_MODELS = '''
from django.db import models


class Customer(models.Model):
    """A buyer."""

    def __str__(self):
        return str(self.pk)


class Line(models.Model):
    """Foreign keys without an index, each with a different noqa."""

    a = models.ForeignKey(Customer, on_delete=models.CASCADE, related_name="+", db_index=False)  # noqa: ORM101
    b = models.ForeignKey(Customer, on_delete=models.CASCADE, related_name="+", db_index=False)  # noqa: ORM
    c = models.ForeignKey(Customer, on_delete=models.CASCADE, related_name="+", db_index=False)  # noqa: ORM1
    d = models.ForeignKey(Customer, on_delete=models.CASCADE, related_name="+", db_index=False)  # noqa: ORM3
    e = models.ForeignKey(Customer, on_delete=models.CASCADE, related_name="+", db_index=False)

    def __str__(self):
        return str(self.pk)
'''

CLEAN_BILLING = '''
from django.db import models


class Invoice(models.Model):
    """An invoice."""

    total = models.DecimalField(max_digits=12, decimal_places=2)

    def __str__(self):
        return str(self.pk)
'''


def write(root: Path, relative: str, text: str) -> None:
    target = root / relative
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text(textwrap.dedent(text).lstrip(), encoding="utf-8")


@pytest.fixture
def project(tmp_path: Path) -> Path:
    """A fixture-like Django project with a cross-file base class."""
    for package in ("core", "shop", "billing"):
        write(tmp_path, f"{package}/__init__.py", "")
    write(tmp_path, "core/models.py", CORE_MODELS)
    write(tmp_path, "shop/models.py", SHOP_MODELS)
    write(tmp_path, "billing/models.py", CLEAN_BILLING)
    return tmp_path


def flake8(cwd: Path, *args: str, stdin: str | None = None) -> tuple[int, list[str], str]:
    """Run flake8; return (exit code, the output lines, stderr)."""
    process = subprocess.run(
        [sys.executable, "-m", "flake8", FORMAT, *args],
        cwd=cwd,
        input=stdin,
        capture_output=True,
        text=True,
        timeout=120,
    )
    return process.returncode, [line for line in process.stdout.splitlines() if line.strip()], process.stderr


def orm(lines: list[str]) -> list[tuple[str, int, str]]:
    """``(path, row, code)`` of each ORM finding, in output order."""
    found = []
    for line in lines:
        path, row, _col, code, _text = line.split(":", 4)
        if code.startswith("ORM"):
            found.append((path.replace("\\", "/").removeprefix("./"), int(row), code))
    return found


def line_of(source: str, needle: str) -> int:
    for number, text in enumerate(textwrap.dedent(source).lstrip().splitlines(), 1):
        if needle in text:
            return number
    raise AssertionError(needle)


def test_a_file_on_the_command_line(project):
    code, lines, stderr = flake8(project, "shop/models.py")
    found = orm(lines)
    assert ("shop/models.py", line_of(SHOP_MODELS, "db_index=False"), "ORM101") in found
    assert ("shop/models.py", line_of(SHOP_MODELS, "FloatField"), "ORM304") in found
    assert code == 1 and "Traceback" not in stderr
    assert all(len(line.split(":", 4)[4]) > 0 and "\n" not in line for line in lines)


def test_a_model_in_one_file_and_its_use_in_another_share_the_index(project):
    _, lines, _ = flake8(project, "shop/models.py")
    assert ("shop/models.py", line_of(SHOP_MODELS, "class Tag(Named)"), "ORM602") in orm(lines)


def test_folders_are_walked(project):
    _, lines, _ = flake8(project, ".")
    paths = {path for path, _, _ in orm(lines)}
    assert "shop/models.py" in paths
    assert "billing/models.py" not in paths


def test_two_jobs_give_the_same_findings_as_one(project):
    for number in range(4):  # enough files for flake8 to really use its worker pool
        write(project, f"extra{number}/__init__.py", "")
        write(project, f"extra{number}/models.py", SHOP_MODELS.replace("from core.models import Named", "from core.models import Named  # noqa: F401"))
    _, serial, _ = flake8(project, "--jobs=1", ".")
    # Cold again: the workers analyse every file, forked from a main process that froze its heap.
    shutil.rmtree(project / CACHE_DIRNAME)
    code, parallel, stderr = flake8(project, "--jobs=2", ".")
    assert sorted(orm(serial)) == sorted(orm(parallel))
    assert "Traceback" not in stderr
    tag_line = line_of(SHOP_MODELS, "class Tag(Named)")
    cross_file = {(path, row) for path, row, code in orm(parallel) if code == "ORM602"}
    assert {(f"extra{n}/models.py", tag_line) for n in range(4)} <= cross_file, "workers must see core/models.py"


@pytest.mark.parametrize("jobs, forks", [("auto", True), ("2", True), ("1", False), (None, False)])
def test_only_a_run_with_workers_counts_as_forking(jobs, forks):
    options = argparse.Namespace() if jobs is None else argparse.Namespace(jobs=JobsArgument(jobs))
    assert forks_workers(options) is forks


def test_stdin_uses_the_display_name_and_the_text_from_stdin(project):
    dirty = CLEAN_BILLING.replace("models.DecimalField(max_digits=12, decimal_places=2)", "models.FloatField()")
    _, lines, stderr = flake8(project, "--stdin-display-name", "billing/models.py", "-", stdin=textwrap.dedent(dirty).lstrip())
    assert orm(lines) == [("billing/models.py", line_of(dirty, "FloatField"), "ORM304")], stderr
    _, on_disk, _ = flake8(project, "billing/models.py")
    assert orm(on_disk) == [], "the disk copy is clean"


def test_stdin_buffer_of_a_dirty_file_that_is_clean_in_the_editor(project):
    clean = SHOP_MODELS.replace("models.FloatField()", "models.DecimalField(max_digits=12, decimal_places=2)")
    _, lines, _ = flake8(project, "--stdin-display-name", "shop/models.py", "-", stdin=textwrap.dedent(clean).lstrip())
    assert "ORM304" not in {code for _, _, code in orm(lines)}
    assert "ORM101" in {code for _, _, code in orm(lines)}


def test_noqa_by_code_blanket_and_prefix(project):
    write(project, "shop/noqa_models.py", NOQA_MODELS)
    _, lines, _ = flake8(project, "shop/noqa_models.py")
    reported = {row for _, row, code in orm(lines) if code == "ORM101"}
    assert reported == {line_of(NOQA_MODELS, "db_index=False)  # noqa: ORM3"), line_of(NOQA_MODELS, "    e = ")}


def test_extend_select_adds_orm_to_an_explicit_selection(project):
    _, lines, _ = flake8(project, "--select=E9", "--extend-select=ORM", "shop/models.py")
    assert {code for _, _, code in orm(lines)} >= {"ORM101", "ORM304", "ORM602"}


def test_select_e_f_hides_orm_codes(project):
    _, lines, _ = flake8(project, "--select=E,F", "shop/models.py")
    assert orm(lines) == []


def test_help_lists_every_orm_option(project):
    code, lines, _ = flake8(project, "--help")
    text = "\n".join(lines)
    assert code == 0
    missing = [flag for flag, *_ in FLAKE8_OPTIONS if flag not in text]
    assert not missing, missing
    assert [flag for flag, *_ in FLAKE8_OPTIONS if flag.startswith("--orm-")] == [flag for flag, *_ in FLAKE8_OPTIONS]


def test_options_are_read_from_setup_cfg(project):
    _, before, _ = flake8(project, "shop/models.py")
    assert "ORM604" not in {code for _, _, code in orm(before)}
    write(project, "setup.cfg", "[flake8]\norm-max-model-fields = 1\n")
    _, after, _ = flake8(project, "shop/models.py")
    oversized = {row for _, row, code in orm(after) if code == "ORM604"}
    assert oversized == {line_of(SHOP_MODELS, "class Order("), line_of(SHOP_MODELS, "class Tag(Named)")}
    assert any(re.search(r"has 2 fields \(limit 1\)", line) for line in after)


def test_a_syntax_error_is_e999_and_never_a_crash(project):
    write(project, "shop/broken.py", "class Broken(:\n    pass\n")
    code, lines, stderr = flake8(project, "shop/broken.py", "shop/models.py")
    codes = {line.split(":", 4)[3] for line in lines}
    assert "E999" in codes and "ORM101" in codes
    assert "Traceback" not in stderr
