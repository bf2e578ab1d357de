"""The migration model (flake8_ormreview.semantic.migrations): operations as facts, history, leaves."""

import ast
import textwrap

from flake8_ormreview.index import ProjectIndex
from flake8_ormreview.semantic.migrations import is_leaf, read_migration, state_before, summarize_migration
from flake8_ormreview.semantic.names import ImportMap


def read(source, path="shop/migrations/0002_x.py", kind="django_migration"):
    tree = ast.parse(textwrap.dedent(source))
    return read_migration(tree, ImportMap.from_tree(tree), path, kind)


def test_separate_database_and_state_marks_where_each_operation_acts():
    migration = read(
        """
        from django.db import migrations as m, models

        class Migration(m.Migration):
            atomic = False
            operations = [
                m.SeparateDatabaseAndState(
                    database_operations=[m.RunSQL("ALTER TABLE shop_book DROP COLUMN x", "..")],
                    state_operations=[m.RemoveField("book", "x")],
                ),
                m.RunSQL("..", "..", state_operations=[m.AddField("book", "y", models.IntegerField(null=True))]),
                m.AddField(model_name="Book", name="z", field=models.IntegerField()),
            ]
        """
    )
    facts = [(op.kind, op.model, op.name, op.in_database, op.in_state) for op in migration.operations]
    assert facts == [
        ("SeparateDatabaseAndState", "", "", True, True),
        ("RunSQL", "", "", True, False),
        ("RemoveField", "book", "x", False, True),
        ("RunSQL", "", "", True, True),
        ("AddField", "book", "y", False, True),
        ("AddField", "book", "z", True, True),
    ]
    assert migration.atomic is False
    assert migration.operations[-1].field.type == "IntegerField" and migration.operations[-1].field.null is False


def test_operations_on_a_model_created_earlier_in_the_migration_are_marked():
    migration = read(
        """
        from django.db import migrations, models

        class Migration(migrations.Migration):
            operations = [
                migrations.AddField("book", "a", models.IntegerField()),
                migrations.CreateModel("Book", [("id", models.AutoField(primary_key=True))]),
                migrations.AddField("book", "b", models.IntegerField()),
                migrations.SeparateDatabaseAndState(state_operations=[migrations.CreateModel("Shelf", [])]),
                migrations.AddField("shelf", "c", models.IntegerField()),
            ]
        """
    )
    created = {op.name: op.created_here for op in migration.operations if op.kind == "AddField"}
    assert created == {"a": False, "b": True, "c": False}


def test_alembic_directives_know_their_table_batch_and_autocommit_block():
    migration = read(
        '''
        """add things"""
        import sqlalchemy as sa
        from alembic import op

        revision = "b"
        down_revision = ("a1", "a2")

        def upgrade():
            op.create_table("t", sa.Column("id", sa.Integer(), primary_key=True))
            op.add_column("t", sa.Column("x", sa.Integer(), nullable=False, server_default="0"))
            with op.batch_alter_table("u") as batch_op:
                batch_op.drop_column("old")
            with op.get_context().autocommit_block():
                op.create_index(op.f("ix_u_x"), "u", ["x"], postgresql_concurrently=True)

        def downgrade():
            op.drop_table("t")
        ''',
        path="alembic/versions/b_add.py",
        kind="alembic",
    )
    assert migration.revision == "b" and migration.down_revisions == ["a1", "a2"] and migration.message == "add things"
    ops = [(op.kind, op.table, op.name, op.created_here, op.batch, op.autocommit) for op in migration.operations]
    assert ops == [
        ("create_table", "t", "", False, False, False),
        ("add_column", "t", "x", True, False, False),
        ("drop_column", "u", "old", False, True, False),
        ("create_index", "u", "ix_u_x", False, False, True),
    ]
    column = migration.operations[1].column
    assert column.nullable is False and column.server_default is True


def write(root, files):
    for path, source in files.items():
        target = root / path
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(textwrap.dedent(source))


MIGRATION = """
from django.db import migrations, models

class Migration(migrations.Migration):
    dependencies = {deps}
    operations = [{ops}]
"""


def test_history_follows_the_dependency_graph_not_file_names(tmp_path):
    # 0002_b depends on 0003_a (renumbered by hand): the replay must apply 0003_a first.
    write(tmp_path, {
        "shop/migrations/0001_initial.py": MIGRATION.format(deps=[], ops='migrations.CreateModel("Book", [("n", models.SmallIntegerField())])'),
        "shop/migrations/0003_a.py": MIGRATION.format(deps=[("shop", "0001_initial")], ops='migrations.AlterField("book", "n", models.IntegerField())'),
        "shop/migrations/0002_b.py": MIGRATION.format(deps=[("shop", "0003_a")], ops='migrations.RenameField("book", "n", "m")'),
        "shop/migrations/0004_c.py": MIGRATION.format(deps=[("shop", "0002_b"), ("auth", "0001_initial")], ops='migrations.AlterField("book", "m", models.BigIntegerField())'),
    })
    index = ProjectIndex([str(tmp_path)], cache_dir=None)
    index.ensure_fresh()
    path = tmp_path / "shop/migrations/0004_c.py"
    tree = ast.parse(path.read_text())
    migration = read_migration(tree, ImportMap.from_tree(tree), str(path), "django_migration")
    summary = summarize_migration(tree, ImportMap.from_tree(tree), str(path), "django_migration")
    state = state_before(index, migration, summary, migration.operations[0])
    assert state["book"]["fields"]["m"].type == "IntegerField"
    assert is_leaf(index, migration)
    first = tmp_path / "shop/migrations/0003_a.py"
    tree = ast.parse(first.read_text())
    assert not is_leaf(index, read_migration(tree, ImportMap.from_tree(tree), str(first), "django_migration"))


def test_history_of_an_unknown_dependency_is_empty(tmp_path):
    write(tmp_path, {
        "shop/migrations/0009_x.py": MIGRATION.format(deps=[("shop", "0008_gone")], ops='migrations.AlterField("book", "n", models.IntegerField())'),
    })
    index = ProjectIndex([str(tmp_path)], cache_dir=None)
    index.ensure_fresh()
    path = tmp_path / "shop/migrations/0009_x.py"
    tree = ast.parse(path.read_text())
    migration = read_migration(tree, ImportMap.from_tree(tree), str(path), "django_migration")
    summary = summarize_migration(tree, ImportMap.from_tree(tree), str(path), "django_migration")
    assert state_before(index, migration, summary, migration.operations[0]) == {}


def test_a_squashed_migration_is_not_a_leaf_when_a_later_one_depends_on_what_it_replaces(tmp_path):
    write(tmp_path, {
        "shop/migrations/0001_initial.py": MIGRATION.format(deps=[], ops=""),
        "shop/migrations/0002_b.py": MIGRATION.format(deps=[("shop", "0001_initial")], ops=""),
        "shop/migrations/0001_squashed_0002_b.py": MIGRATION.format(deps=[], ops="").replace(
            "dependencies", 'replaces = [("shop", "0001_initial"), ("shop", "0002_b")]\n    dependencies'
        ),
        "shop/migrations/0003_c.py": MIGRATION.format(deps=[("shop", "0002_b")], ops=""),
    })
    index = ProjectIndex([str(tmp_path)], cache_dir=None)
    index.ensure_fresh()

    def leaf(name):
        path = tmp_path / "shop/migrations" / name
        tree = ast.parse(path.read_text())
        return is_leaf(index, read_migration(tree, ImportMap.from_tree(tree), str(path), "django_migration"))

    assert not leaf("0001_squashed_0002_b.py")
    assert not leaf("0002_b.py")
    assert leaf("0003_c.py")


def test_the_app_label_is_read_from_the_dependencies_when_it_differs_from_the_folder(tmp_path):
    # wagtail/migrations/ belongs to the app labelled "wagtailcore".
    write(tmp_path, {
        "wagtail/migrations/0001_initial.py": MIGRATION.format(deps=[("auth", "0002_x")], ops='migrations.CreateModel("Page", [("depth", models.SmallIntegerField())])'),
        "wagtail/migrations/0002_x.py": MIGRATION.format(deps=[("wagtailcore", "0001_initial")], ops=""),
        "wagtail/migrations/0003_y.py": MIGRATION.format(deps=[("wagtailcore", "0002_x")], ops='migrations.AlterField("page", "depth", models.IntegerField())'),
    })
    index = ProjectIndex([str(tmp_path)], cache_dir=None)
    index.ensure_fresh()
    path = tmp_path / "wagtail/migrations/0003_y.py"
    tree = ast.parse(path.read_text())
    migration = read_migration(tree, ImportMap.from_tree(tree), str(path), "django_migration")
    summary = summarize_migration(tree, ImportMap.from_tree(tree), str(path), "django_migration")
    assert state_before(index, migration, summary, migration.operations[0])["page"]["fields"]["depth"].type == "SmallIntegerField"
    second = tmp_path / "wagtail/migrations/0002_x.py"
    tree = ast.parse(second.read_text())
    assert not is_leaf(index, read_migration(tree, ImportMap.from_tree(tree), str(second), "django_migration"))
