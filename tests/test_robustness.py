"""Odd projects through the real flake8: never a traceback, never a lost finding elsewhere.

One project holds every kind of awkward file next to two ordinary ones whose
findings must survive: ``shop/models.py`` (ORM304, a float price) and
``shop/views.py`` (ORM103 through the index).  Internal errors would be ORM000
lines; none is expected for any of these inputs.
"""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
import threading
from pathlib import Path

import pytest

from flake8_ormreview.analysis import analyze
from flake8_ormreview.index import ProjectIndex

FLAKE8 = [sys.executable, "-m", "flake8", "--isolated", "--select=E999,E902,ORM"]

MODELS = textwrap.dedent(
    '''
    from django.db import models


    class Order(models.Model):
        """An order."""

        status = models.CharField(max_length=20)
        price = models.FloatField()

        def __str__(self):
            return self.status
    '''
).lstrip()
VIEWS = textwrap.dedent(
    '''
    from shop.models import Order


    def open_orders():
        return list(Order.objects.filter(status="open"))
    '''
).lstrip()

ODD_FILES: dict[str, bytes] = {
    "odd/empty.py": b"",
    "odd/only_comment.py": b"# nothing here\n",
    "odd/broken.py": b"from django.db import models\n\nclass Broken(models.Model:\n    name = models.CharField(\n",
    "odd/tabs_and_nul.py": b"from django.db import models\n\x00\n",
    "odd/latin1.py": (
        "# -*- coding: latin-1 -*-\nfrom django.db import models\n\n\n"
        "class Caf\u00e9(models.Model):\n    \"\"\"Un caf\u00e9.\"\"\"\n\n"
        "    nom = models.CharField(max_length=20, verbose_name=\"d\u00e9nomination\")\n    price = models.FloatField()\n"
    ).encode("latin-1"),
    "odd/bom.py": "\ufefffrom django.db import models\n\n\nclass Bom(models.Model):\n    amount = models.FloatField()\n".encode("utf-8"),
    "odd/not_utf8.py": b"from django.db import models\nname = '\xff\xfe'\n",
    "odd/outside_roots.py": textwrap.dedent(
        '''
        from django.db import models
        from vendor.billing.models import Invoice  # not under the source roots
        from vendor.base import VendorBase


        class Payment(VendorBase):
            invoice = models.ForeignKey(Invoice, on_delete=models.CASCADE)


        class Refund(models.Model):
            payment = models.ForeignKey("billing.Payment", on_delete=models.CASCADE, db_index=False)
            other = models.ForeignKey("elsewhere.Thing", on_delete=models.CASCADE)
            ledger = models.ManyToManyField("ledger.Entry", related_name="+")


        def refunds():
            for refund in Refund.objects.all():
                print(refund.payment.invoice.total, refund.other.name)
            return Invoice.objects.filter(number=1)
        '''
    ).encode(),
    "odd/dynamic.py": textwrap.dedent(
        '''
        from django.db import models
        from sqlalchemy import Column, Integer, String
        from sqlalchemy.orm import declarative_base

        Base = declarative_base()
        FIELDS = ("first", "second")


        class Dynamic(models.Model):
            for name in FIELDS:
                locals()[name] = models.CharField(max_length=10)
            vars()["third"] = models.IntegerField()
            del name
            *rest, last = (1, 2)
            (a, b) = models.IntegerField(), models.IntegerField()
            fields = [models.CharField(max_length=i) for i in range(3)]

            class Meta:
                ordering = FIELDS
                indexes = [models.Index(fields=[f]) for f in FIELDS]
                unique_together = FIELDS


        for name in FIELDS:
            setattr(Dynamic, name + "_copy", models.CharField(max_length=5))
            Dynamic.add_to_class(name + "_x", models.CharField(max_length=5))

        Generated = type("Generated", (models.Model,), {"__module__": __name__, "x": models.IntegerField()})


        class Table(Base):
            __tablename__ = "t" + "able"
            __table_args__ = tuple(make_args())
            id = Column(Integer, primary_key=True)
            locals().update({"name": Column(String)})


        def query(**kwargs):
            return Dynamic.objects.filter(**kwargs).order_by(*FIELDS).values(*kwargs)
        '''
    ).encode(),
    "odd/deep.py": ("x = " + "(" * 90 + "1" + ")" * 90 + "\n").encode(),
}
# flake8 itself dies on this one (RecursionError building the AST, with or without
# plugins), so it only goes through analyze(): a parser failure is "does not parse".
TOO_DEEP_FOR_PYTHON = ("total = " + " + ".join(["1"] * 3000) + "\n").encode()


def huge_models_module(count: int = 150) -> str:
    lines = ["from django.db import models", ""]
    for number in range(count):
        lines += ["", f"class Model{number}(models.Model):", f'    """Model {number}."""', ""]
        lines += [f"    field{f} = models.CharField(max_length=20)" for f in range(25)]
        lines += [f"    parent = models.ForeignKey('Model{max(number - 1, 0)}', on_delete=models.CASCADE)", ""]
    return "\n".join(lines) + "\n"


@pytest.fixture(scope="module")
def odd_project(tmp_path_factory):
    root = tmp_path_factory.mktemp("odd")
    for relative, text in {"shop/__init__.py": "", "shop/models.py": MODELS, "shop/views.py": VIEWS}.items():
        (root / relative).parent.mkdir(parents=True, exist_ok=True)
        (root / relative).write_text(text, encoding="utf-8")
    for relative, data in ODD_FILES.items():
        (root / relative).parent.mkdir(parents=True, exist_ok=True)
        (root / relative).write_bytes(data)
    (root / "odd/huge_models.py").write_text(huge_models_module(), encoding="utf-8")
    # Bigger than the index reads (2 MB): indexed as empty.  Not linted (pycodestyle
    # alone needs minutes for it), but inside the source root the index walks.
    (root / "generated").mkdir()
    (root / "generated/huge.py").write_text("from django.db import models\n" + "x = 1\n" * 360_000, encoding="utf-8")
    # Unreadable for the index (we run as root, so no chmod): a dangling link and a FIFO.
    os.symlink(root / "nowhere.py", root / "odd/dangling.py")
    os.mkfifo(root / "fifo.py")
    return root


def run_flake8(root: Path, *targets: str, jobs: int = 2) -> subprocess.CompletedProcess:
    return subprocess.run(FLAKE8 + [f"--jobs={jobs}", *targets], capture_output=True, text=True, cwd=root, timeout=600)


def test_odd_files_never_crash_and_never_hide_other_findings(odd_project):
    # fifo.py is at the top level and not linted (flake8 would block on it too), but the
    # index walks "." and must not.
    result = run_flake8(odd_project, "shop", "odd")
    output = result.stdout + result.stderr
    assert "Traceback" not in output
    assert "ORM000" not in output
    assert "shop/models.py:8:5: ORM304" in result.stdout
    assert "shop/views.py:5:12: ORM103" in result.stdout
    assert "odd/broken.py:3:" in result.stdout and "E999" in result.stdout
    # The latin-1 and BOM modules are analysed like any other (their float money is found).
    assert "odd/latin1.py:9:5: ORM304" in result.stdout
    assert "odd/bom.py:5:5: ORM304" in result.stdout


def test_the_same_through_a_single_process(odd_project):
    result = run_flake8(odd_project, "shop", "odd", jobs=1)
    assert "Traceback" not in result.stdout + result.stderr
    assert "ORM000" not in result.stdout
    assert "shop/views.py:5:12: ORM103" in result.stdout


def test_every_odd_file_through_analyze_gives_no_internal_error(odd_project, monkeypatch):
    monkeypatch.chdir(odd_project)
    index = ProjectIndex(["."], cache_dir=None)
    for path in sorted(Path("odd").glob("*.py")):
        if path.is_symlink() or not path.is_file():
            continue
        data = path.read_bytes()
        source = data.decode("latin-1") if b"latin-1" in data[:40] else data.decode("utf-8", "replace")
        findings = analyze(source, str(path), index=index)
        assert "ORM000" not in [f.code for f in findings], path
    assert analyze(TOO_DEEP_FOR_PYTHON.decode(), "odd/too_deep.py", index=index) == []


def test_the_index_walk_skips_a_fifo_and_a_dangling_link(odd_project, monkeypatch):
    monkeypatch.chdir(odd_project)
    index = ProjectIndex(["."], cache_dir=None)
    done = threading.Event()

    def refresh() -> None:
        index.refresh()
        done.set()

    threading.Thread(target=refresh, daemon=True).start()
    assert done.wait(120), "the index walk blocked (reading a FIFO?)"
    assert "fifo.py" not in index.files and "odd/dangling.py" not in index.files
    assert "generated/huge.py" in index.files and index.files["generated/huge.py"][2].module == ""
    assert len(index.files["odd/huge_models.py"][2].classes) == 150


def test_stdin_with_odd_text(odd_project):
    for relative in ("odd/latin1.py", "odd/bom.py", "odd/dynamic.py", "odd/broken.py", "odd/empty.py"):
        data = (odd_project / relative).read_bytes()
        result = subprocess.run(FLAKE8 + ["-", "--stdin-display-name", relative], input=data,
                                capture_output=True, cwd=odd_project, timeout=300)
        output = (result.stdout + result.stderr).decode("utf-8", "replace")
        assert "Traceback" not in output, relative
        assert "ORM000" not in output, relative


def test_every_package_folder_is_a_package():
    """A folder without __init__.py is left out of the wheel by find_packages (the plugin then fails to load)."""
    package = Path(__file__).resolve().parent.parent / "flake8_ormreview"
    missing = [str(folder.relative_to(package.parent)) for folder in [package, *package.rglob("*")]
               if folder.is_dir() and folder.name != "__pycache__" and any(folder.glob("*.py"))
               and not (folder / "__init__.py").exists()]
    assert missing == []
