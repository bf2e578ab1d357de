"""Which files the index parses: outlines read without parsing, deferred files parsed on demand.

A file whose outline shows no model, model parent, declarative base or
migration is *deferred*: the index keeps its outline and parses it only when
a name is resolved through it.  These tests pin both halves: what the
outline reads, and that a deferred file loses nothing the rules need.
"""

from __future__ import annotations

import json
import textwrap

import pytest

from flake8_ormreview.analysis import analyze
from flake8_ormreview.index import CACHE_DIRNAME, ProjectIndex, mark_all_stale
from flake8_ormreview.semantic.outline import files_needing_facts, outline_of, text_digest

from cache_project import MODELS, VIEWS, make_project, write


def source(text: str) -> str:
    return textwrap.dedent(text).lstrip()


# -- the outline ------------------------------------------------------------------------


def test_the_outline_reads_class_bases_by_their_last_name():
    outline = outline_of(source('''
        class Book(models.Model, TimestampMixin, Generic[T], metaclass=ModelBase):
            title = "class Fake(Thing):"  # a class word inside a line is no class

        if not is_model_registered("catalogue", "Product"):
            class Product(
                abstract_models.AbstractProduct,  # Oscar's fork pattern
            ):
                pass
    '''))
    assert outline.classes == [("Book", ["Model", "TimestampMixin", "Generic"]), ("Product", ["AbstractProduct"])]
    assert not outline.always


def test_the_outline_keeps_import_names_aliases_and_declarative_base_factories():
    outline = outline_of(source('''
        import sqlalchemy.orm as orm, app.settings
        from app.catalogue import (
            Product as CoreProduct,  # aliased
            Category,
        )
        from . import signals
        Base = orm.declarative_base()
        mapper_registry = registry()
        Mapped = mapper_registry.generate_base()
    '''))
    assert outline.bound == sorted(["orm", "app", "CoreProduct", "Category", "signals", "Base", "mapper_registry", "Mapped"])
    assert outline.aliases == [("Product", "CoreProduct")]
    assert outline.factories == ["Base", "Mapped"]


@pytest.mark.parametrize("text", [
    'revision = "ab12"\ndown_revision = None\n',  # an Alembic revision
    'from sqlalchemy import Table\nusers = Table("users", metadata)\n',  # a Core table
    'import sqlalchemy as sa\nsa.Index("ix_user_email", User.email)\n',  # a module-level index
    "class Book(make_base()):\n    pass\n",  # a base only the parser can read
    "class Book(*bases):\n    pass\n",
    "class MoneyField(models.DecimalField):\n    pass\n",  # migration rules read a custom field's class
])
def test_what_the_outline_cannot_rule_out_is_always_parsed(text):
    assert outline_of(text).always


def test_the_outline_digest_is_the_same_for_disk_bytes_and_flake8_text():
    text = "from shop.models import Order\r\n\r\nx = 1\r\n"
    assert outline_of(("\ufeff" + text).encode("utf-8")).digest == text_digest(text.replace("\r\n", "\n"))


# -- which files need facts ---------------------------------------------------------------


def needed(**texts: str) -> set[str]:
    return files_needing_facts({path: outline_of(source(text)) for path, text in texts.items()})


def test_models_their_subclasses_and_their_parents_need_facts_views_do_not():
    assert needed(
        abstract='''
            class AbstractProduct(SlugMixin, models.Model):
                class Meta:
                    abstract = True
        ''',
        mixins="class SlugMixin:\n    slug_field = 'slug'\n",
        forked="from abstract import AbstractProduct as CoreProduct\nclass Product(CoreProduct):\n    pass\n",
        subclass="class DigitalProduct(Product):\n    pass\n",
        views="class ProductView(DetailView):\n    class Meta(Options.Meta):\n        pass\n",
        options="class Meta:\n    pass\n",
        helpers="def price(product):\n    return product.price\n",
    ) == {"abstract", "mixins", "forked", "subclass"}


def test_a_declarative_base_by_any_name_roots_its_models():
    assert needed(
        db="Entity = declarative_base()\n",
        models="class User(Entity):\n    __tablename__ = 'users'\n",
        forms="class UserForm(Form):\n    pass\n",
        migration="class Migration(migrations.Migration):\n    operations = []\n",
    ) == {"models", "migration"}


# -- the index with deferred files ---------------------------------------------------------


SQLA_DB = "from sqlalchemy.orm import declarative_base\n\nBase = declarative_base()\n"
SQLA_MODELS = source('''
    from sqlalchemy import Column, Integer, String

    from shop.db import Base


    class Customer(Base):
        __tablename__ = "customers"

        id = Column(Integer, primary_key=True)
        email = Column(String(200))
''')


@pytest.fixture
def project(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    make_project(tmp_path)
    write(tmp_path, "crm/db.py", SQLA_DB.replace("shop", "crm"))
    write(tmp_path, "crm/models.py", SQLA_MODELS.replace("shop", "crm"))
    write(tmp_path, "crm/__init__.py", "from crm.models import Customer\n")
    return tmp_path


def test_deferred_files_are_parsed_only_when_a_name_is_resolved_through_them(project):
    index = ProjectIndex(["."], cache_dir=None)
    index.ensure_fresh()
    deferred = {path for path, entry in index.entries.items() if entry.deferred}
    assert deferred == {"shop/views.py", "crm/db.py", "crm/__init__.py"}
    # The declarative base lives in a deferred file: resolving the model's base parses it.
    assert index.models["crm.models.Customer"].framework == "sqlalchemy"
    assert index.entries["crm/db.py"]._facts is not None
    # A re-export through a deferred package resolves; a name it does not bind needs no parse.
    assert index.resolve_symbol("crm.Customer") == "crm.models.Customer"
    assert index.resolve_symbol("shop.views.Order") == "shop.models.Order"
    assert index.modules.get("shop.views") is None and "shop.views" in index.modules


def test_linting_an_unchanged_deferred_file_neither_overrides_nor_re_resolves(project, monkeypatch):
    index = ProjectIndex(["."], cache_dir=None)
    index.ensure_fresh()
    resolutions = []
    real_resolve = ProjectIndex.resolve
    monkeypatch.setattr(ProjectIndex, "resolve", lambda self: resolutions.append(1) or real_resolve(self))
    assert "ORM103" in [f.code for f in analyze(VIEWS, "shop/views.py", index=index)]
    assert not index.overrides and not resolutions
    assert index.entries["shop/views.py"]._facts is not None  # adopted from the lint: no second parse


def test_an_edited_deferred_buffer_that_adds_a_model_is_seen(project):
    index = ProjectIndex(["."], cache_dir=None)
    index.ensure_fresh()
    edited = VIEWS + "\n\nclass Refund(models.Model):\n    amount = models.IntegerField()\n"
    edited = "from django.db import models\n" + edited
    analyze(edited, "shop/views.py", index=index)
    assert "shop.views.Refund" in index.models


def test_an_unchanged_file_is_parsed_once_a_new_subclass_names_it_and_deferred_again_when_it_goes(project):
    write(project, "shop/mixins.py", "from django.db import models\n\n\nclass Stamped:\n    created = models.DateTimeField()\n")
    first = ProjectIndex(["."], CACHE_DIRNAME)
    first.ensure_fresh()
    assert first.entries["shop/mixins.py"].deferred
    refunds = write(project, "shop/refunds.py", source('''
        from django.db import models

        from shop.mixins import Stamped


        class Refund(Stamped, models.Model):
            amount = models.IntegerField()
    '''))
    second = ProjectIndex(["."], CACHE_DIRNAME)  # a new run: the unchanged mixins file comes from the cache
    second.ensure_fresh()
    assert not second.entries["shop/mixins.py"].deferred
    assert "shop.mixins.Stamped" in second.classes and "created" in second.models["shop.refunds.Refund"].fields
    stored = json.loads(next((project / CACHE_DIRNAME).glob("facts-v*.json")).read_text())["files"]
    assert "shop/mixins.py" in stored and "shop/views.py" not in stored
    refunds.unlink()
    mark_all_stale()
    second.stale = True
    second.ensure_fresh()
    assert second.entries["shop/mixins.py"].deferred and "shop.mixins.Stamped" not in second.classes


def test_a_warm_index_keeps_deferred_files_deferred_without_reading_them(project, monkeypatch):
    ProjectIndex(["."], CACHE_DIRNAME).ensure_fresh()
    import flake8_ormreview.index as index_module

    def no_parsing(*args, **kwargs):
        raise AssertionError("a warm index parses nothing")

    monkeypatch.setattr(index_module, "parsed_facts", no_parsing)
    monkeypatch.setattr(index_module, "outline_of", no_parsing)
    warm = ProjectIndex(["."], CACHE_DIRNAME)
    warm.refresh()
    assert {path for path, entry in warm.entries.items() if entry.deferred} == {"shop/views.py", "crm/db.py", "crm/__init__.py"}


def test_an_edit_inside_a_function_of_a_deferred_file_changes_nothing_other_files_see(project, monkeypatch):
    index = ProjectIndex(["."], cache_dir=None)
    index.ensure_fresh()
    digest = index.digest
    resolutions = []
    real_resolve = ProjectIndex.resolve
    monkeypatch.setattr(ProjectIndex, "resolve", lambda self: resolutions.append(1) or real_resolve(self))
    analyze(VIEWS.replace('status="open"', 'status="closed"'), "shop/views.py", index=index)
    assert not index.overrides and not resolutions
    # On disk too: the next run's index digest (and so every stored finding) stays valid.
    write(project, "shop/views.py", VIEWS.replace('status="open"', 'status="closed"'))
    assert fresh_digest() == digest
    write(project, "shop/views.py", "from shop.models import Order as Purchase\n" + VIEWS)
    assert fresh_digest() != digest  # a new import: a name others may resolve


def fresh_digest() -> str:
    index = ProjectIndex(["."], cache_dir=None)
    index.refresh()
    return index.digest


def test_a_models_parent_is_followed_up_but_not_down_to_its_other_subclasses():
    """prefect: an ORM model ``Artifact`` shares its name with a pydantic schema; the schema's
    base is every schema's base, and none of them is a model."""
    assert needed(
        orm="class Artifact(Base):\n    pass\n",
        schemas="class Artifact(PrefectBaseModel):\n    pass\nclass ImageArtifact(Artifact):\n    pass\n",
        bases="class PrefectBaseModel(BaseModel):\n    pass\n",
        filters="class FlowFilter(PrefectBaseModel):\n    pass\n",
    ) == {"orm", "schemas", "bases"}
