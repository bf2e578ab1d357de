"""``analyze()``: failures become ORM000, odd input is survived, the buffer wins over the disk."""

from __future__ import annotations

import ast
import gc
import os
import textwrap
import weakref
from pathlib import Path

import pytest

from flake8_ormreview.analysis import analyze
from flake8_ormreview.index import ProjectIndex
from flake8_ormreview.registry import RULES, Category, Rule, Severity, all_rules

MONEY_AS_FLOAT = textwrap.dedent(
    '''
    from django.db import models


    class Invoice(models.Model):
        """An invoice."""

        total = models.FloatField()

        def __str__(self):
            return str(self.pk)
    '''
).lstrip()
MONEY_AS_DECIMAL = MONEY_AS_FLOAT.replace("models.FloatField()", "models.DecimalField(max_digits=12, decimal_places=2)")


@pytest.fixture
def project(tmp_path, monkeypatch):
    """An empty project folder as the current directory, and a fresh index over it."""
    monkeypatch.chdir(tmp_path)
    return tmp_path


def fresh_index() -> ProjectIndex:
    return ProjectIndex(["."], cache_dir=None)


def write(root: Path, relative: str, text: str) -> None:
    target = root / relative
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text(text, encoding="utf-8")


def codes(findings) -> list[str]:
    return [f.code for f in findings]


def failing_rule(code: str, exc: Exception, lazy: bool) -> Rule:
    """A registered rule that raises on the call, or (``lazy``) while its findings are consumed."""

    def fail_on_call(ctx):
        raise exc

    def fail_while_iterating(ctx):
        yield from ()
        raise exc

    check = fail_while_iterating if lazy else fail_on_call
    return Rule(code, f"always-fails-{code[-1]}", Severity.MINOR, Category.PLUGIN, "never shown", check)


def test_a_failing_rule_gives_one_orm000_on_line_1_and_keeps_other_findings(project, monkeypatch):
    all_rules()  # register the real rules first
    monkeypatch.setitem(RULES, "ORM997", failing_rule("ORM997", ValueError("boom"), lazy=False))
    monkeypatch.setitem(RULES, "ORM998", failing_rule("ORM998", KeyError("boom"), lazy=True))
    write(project, "billing/models.py", MONEY_AS_FLOAT)

    findings = analyze(MONEY_AS_FLOAT, "billing/models.py", index=fresh_index())

    errors = [f for f in findings if f.code == "ORM000"]
    assert len(errors) == 1
    assert (errors[0].line, errors[0].col) == (1, 0)
    assert "ValueError" in errors[0].message and "Traceback" not in errors[0].message
    assert "ORM304" in codes(findings), "the findings of the rules that worked are kept"


def test_without_a_failing_rule_there_is_no_orm000(project):
    write(project, "billing/models.py", MONEY_AS_FLOAT)
    assert codes(analyze(MONEY_AS_FLOAT, "billing/models.py", index=fresh_index())) == ["ORM304"]


@pytest.mark.parametrize("source", ["class Broken(:\n    pass\n", "def f(:\n", "x = 'unterminated\n", "\0"])
def test_a_file_that_does_not_parse_gives_no_findings(project, source):
    write(project, "app/models.py", MONEY_AS_FLOAT)
    assert analyze(source, "app/models.py", index=fresh_index()) == []


@pytest.mark.parametrize("path", ["<stdin>", "-", "stdin"])
def test_stdin_style_paths_are_analysed_from_the_text(project, path):
    findings = analyze(MONEY_AS_FLOAT, path, index=fresh_index())
    assert codes(findings) == ["ORM304"]
    assert findings[0].line == 7


def test_a_display_name_that_is_not_on_disk_is_analysed_from_the_text(project):
    findings = analyze(MONEY_AS_FLOAT, "unsaved/models.py", index=fresh_index())
    assert codes(findings) == ["ORM304"]


def test_the_buffer_wins_over_the_disk_copy(project):
    write(project, "billing/models.py", MONEY_AS_DECIMAL)
    index = fresh_index()
    assert codes(analyze(MONEY_AS_FLOAT, "billing/models.py", index=index)) == ["ORM304"]
    write(project, "billing/models.py", MONEY_AS_FLOAT)
    index = fresh_index()
    assert codes(analyze(MONEY_AS_DECIMAL, "billing/models.py", index=index)) == []


def test_an_absolute_path_names_the_same_file_as_the_project_walk(project):
    write(project, "billing/models.py", MONEY_AS_DECIMAL)
    index = fresh_index()
    absolute = os.path.join(str(project), "billing", "models.py")
    assert codes(analyze(MONEY_AS_FLOAT, absolute, index=index)) == ["ORM304"]


def test_an_analysed_tree_is_freed_as_soon_as_flake8_drops_it(project):
    """No reference cycle through the tree outlives the analysis (the rules' caches, the shared walk)."""
    write(project, "billing/models.py", MONEY_AS_FLOAT)
    view = textwrap.dedent(
        """
        from billing.models import Invoice


        def totals(request):
            for invoice in Invoice.objects.filter(total__gt=request.GET["min"]):
                print(invoice.total)
        """
    ).lstrip()
    tree = ast.parse(view)
    analyze(view, "billing/views.py", index=fresh_index(), tree=tree)
    alive = weakref.ref(tree)
    gc.disable()  # freed by reference counting alone, not by a later collection
    try:
        del tree
        assert alive() is None
    finally:
        gc.enable()


BASE_WITH_STR = textwrap.dedent(
    '''
    from django.db import models


    class Named(models.Model):
        """Abstract base with a display name."""

        name = models.CharField(max_length=50)

        class Meta:
            abstract = True

        def __str__(self):
            return self.name
    '''
).lstrip()
SUBCLASS = textwrap.dedent(
    '''
    from django.db import models

    from core.models import Named


    class Tag(Named):
        """A label."""
    '''
).lstrip()


def test_an_edited_buffer_is_what_other_files_see_through_the_index(project):
    write(project, "core/models.py", BASE_WITH_STR)
    write(project, "shop/models.py", SUBCLASS)
    index = fresh_index()
    assert "ORM602" not in codes(analyze(SUBCLASS, "shop/models.py", index=index))

    unsaved = BASE_WITH_STR.replace("    def __str__(self):\n        return self.name\n", "")
    assert "__str__" not in unsaved
    analyze(unsaved, "core/models.py", index=index)  # the editor lints the edited base class
    assert "ORM602" in codes(analyze(SUBCLASS, "shop/models.py", index=index))

    analyze(BASE_WITH_STR, "core/models.py", index=index)  # and saves it back as it was
    assert "ORM602" not in codes(analyze(SUBCLASS, "shop/models.py", index=index))


@pytest.mark.parametrize(
    "source",
    [
        "",
        "# only a comment\n",
        "from django.db import models\n\nclass M(models.Model):\n    x = models.CharField(*args, **kwargs)\n",
        "from django.db import models\n\nclass M(models.Model, metaclass=Meta):\n    (a, b) = models.CharField(), 1\n",
        "import sqlalchemy as sa\nt = sa.Table(*parts)\nsa.Index()\n",
        "from sqlalchemy.orm import relationship\nclass A(Base):\n    r = relationship(backref=backref())\n",
        "from alembic import op\nrevision = 'a'\ndef upgrade():\n    op.create_foreign_key(*a)\n    op.add_column()\n",
    ],
)
def test_odd_code_never_produces_an_internal_error(project, source):
    assert "ORM000" not in codes(analyze(source, "app/models.py", index=fresh_index()))
