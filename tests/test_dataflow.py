"""The data-flow layer behind ORM301/302/306 and ORM502/504: taint, request data, atomic, path counting."""

import ast
import textwrap

import pytest

from flake8_ormreview.semantic import dataflow
from flake8_ormreview.semantic.names import ImportMap, canonical


def parse(source):
    return ast.parse(textwrap.dedent(source))


def marked_call(tree, name="sink"):
    """The argument of the ``sink(...)`` call in ``tree``."""
    for node in ast.walk(tree):
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id == name:
            return node.args[0]
    raise AssertionError("no sink() call")


PRELUDE = """
TABLE = "books"
ORDER = {"new": "id DESC"}
from settings_module import SCHEMA, helper
"""


@pytest.mark.parametrize(
    "body, built",
    [
        ('sink(f"SELECT * FROM t WHERE a = {value}")', True),
        ('sink("SELECT * FROM t WHERE a = %s" % value)', True),
        ('sink("SELECT * FROM t WHERE a = {}".format(value))', True),
        ('sink("SELECT * FROM t WHERE a = " + value)', True),
        ('sink(value)', False),  # not built: a string handed through is not this rule's business
        ('sink("SELECT 1")', False),
        ('sink(f"SELECT * FROM {TABLE}")', False),
        ('sink(f"SELECT * FROM {SCHEMA}.t")', False),
        ('sink(f"SELECT * FROM t ORDER BY {ORDER[value]}")', False),
        ('sink(f"SELECT * FROM t ORDER BY {ORDER.get(value, \'id\')}")', False),
        ('sink(f"SELECT * FROM t LIMIT {int(value)}")', False),
        ('sink(f"SELECT * FROM t WHERE id IN ({\',\'.join(str(int(v)) for v in value)})")', False),
        ('sink(f"SELECT * FROM t WHERE id IN ({\',\'.join([\'%s\'] * len(value))})")', False),
        ('sink(f"SELECT * FROM t WHERE id IN ({\',\'.join(v for v in value)})")', True),
        ('sink(f"SELECT * FROM {helper()}")', True),
        ('sql = f"SELECT {value}"\n    query = sql\n    sink(query)', True),
        ('sql = "SELECT 1"\n    sql += " WHERE a = " + value\n    sink(sql)', True),
        ('sql = "SELECT 1"\n    sql += " WHERE a = %s"\n    sink(sql)', False),
        ('parts = []\n    parts.append(f"a = {value}")\n    sink(" AND ".join(parts))', True),
        ('parts = []\n    parts.append("a = %s")\n    sink(" AND ".join(parts))', False),
        ('for column in ("a", "b"):\n        sink(f"SELECT {column} FROM t")', False),
        ('for column in value:\n        sink(f"SELECT {column} FROM t")', True),
        ('sink(f"SELECT * FROM {Book._meta.db_table}")', False),
        ('sink(f"SELECT * FROM t WHERE {connection.ops.quote_name(value)} = 1")', False),
        ('sink(f"SELECT * FROM t LIMIT {value:d}")', False),
        ('qn = connection.ops.quote_name\n    sink("SELECT * FROM %s" % qn(value))', False),
        ('qn = str.upper\n    sink("SELECT * FROM %s" % qn(value))', True),
        ('sink(f"SELECT * FROM t WHERE a = {value:>10}")', True),
        ('sink("SELECT * FROM t LIMIT %d OFFSET %d" % (value, value))', False),
        ('sink("SELECT * FROM t WHERE a = %s LIMIT %d" % (value, value))', True),
        ('sink("SELECT * FROM t WHERE a LIKE \'x%%\' LIMIT %d" % value)', False),
    ],
)
def test_sql_taint(body, built):
    tree = parse(PRELUDE + "\ndef view(value, Book, connection):\n    " + body + "\n")
    taint = dataflow.TaintAnalysis(tree).of(marked_call(tree))
    assert taint.built is built, taint


def test_taint_names_the_variable_and_the_construction():
    tree = parse('def view(name):\n    term = name.strip()\n    sink("SELECT " + term)\n')
    taint = dataflow.TaintAnalysis(tree).of(marked_call(tree))
    assert (taint.built, taint.value, taint.how) == (True, "term", "+ concatenation")


def test_assignment_after_the_use_does_not_taint_it():
    tree = parse('def view(name):\n    sql = "SELECT 1"\n    sink(sql)\n    sql = f"SELECT {name}"\n')
    assert not dataflow.TaintAnalysis(tree).of(marked_call(tree)).built


@pytest.mark.parametrize(
    "source, expected",
    [
        ("def v(request):\n    sink(request.POST)", "request.POST"),
        ("def v(request):\n    data = request.data.copy()\n    sink(data)", "request.data"),
        ("from flask import request\ndef v():\n    sink(request.get_json())", "request.get_json()"),
        ("import json\ndef v(request):\n    sink(json.loads(request.body))", "json.loads(request.body)"),
        ("class V:\n    def post(self):\n        sink({**self.request.data, 'owner': 1})", "self.request.data"),
        ("def v(request):\n    sink({k: v for k, v in request.POST.items()})", "request.POST"),
        ("def v(request):\n    sink({k: v for k, v in request.POST.items() if k in ('a',)})", None),
        ("def v(request, form):\n    sink(form.cleaned_data)", None),
        ("def v(request):\n    sink(request.POST['name'])", "request.POST"),
        ("request = object()\ndef v():\n    sink(request.POST)", None),  # a module-level object called request
        ("def v(request):\n    for item in request.data['items']:\n        sink(item)", "request.data"),
        ("def v(request):\n    for key, value in request.POST.items():\n        sink(value)", None),
    ],
)
def test_request_data(source, expected):
    tree = parse(source)
    imports = ImportMap.from_tree(tree, "views")
    found = dataflow.RequestData(tree, imports.resolve).source(marked_call(tree))
    assert found == expected


def atomic_calls(source):
    tree = parse(source)
    imports = ImportMap.from_tree(tree, "views")
    parents = dataflow.parent_map(tree)
    canon = lambda node: canonical(imports.resolve(node))  # noqa: E731
    return {
        node.func.id: dataflow.in_atomic(node, parents, canon)
        for node in ast.walk(tree)
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id.startswith("w")
    }


def test_in_atomic_recognises_with_blocks_and_decorators_by_qualified_name():
    found = atomic_calls(
        """
        from django.db import transaction
        from django.db.transaction import atomic as atomic_block

        def a():
            with transaction.atomic(using="default"):
                w1()
            w2()

        @transaction.atomic
        def b():
            w3()
            def later():
                w4()

        @atomic_block(durable=True)
        def c():
            w5()

        def d():
            with atomic():  # not imported: someone else's atomic
                w6()
        """
    )
    assert found == {"w1": True, "w2": False, "w3": True, "w4": False, "w5": True, "w6": False}


@pytest.mark.parametrize(
    "body, expected",
    [
        ("w()\nw()", 2),
        ("if x:\n    w()\nelse:\n    w()", 1),
        ("if x:\n    w()\n    return\nw()", 1),
        ("for i in x:\n    w()", 1),
        ("for i in x:\n    w()\nw()", 2),
        ("try:\n    w()\nexcept E:\n    w()", 1),
        ("try:\n    w()\nfinally:\n    w()", 2),
        ("with x:\n    w()\n    w()", 2),
        ("def inner():\n    w()\n    w()\nw()", 1),
        ("return w() or w()", 2),
    ],
)
def test_path_count(body, expected):
    tree = parse("def f(x):\n" + textwrap.indent(body, "    ") + "\n")
    function = tree.body[0]

    def counted(node):
        return sum(1 for call in dataflow.calls_in(node) if isinstance(call.func, ast.Name) and call.func.id == "w")

    assert dataflow.path_count(function.body, counted) == expected


def test_call_label_elides_arguments():
    call = parse("Book.objects.filter(pk=1).update(stock=2)").body[0].value
    assert dataflow.call_label(call) == "Book.objects.filter(..).update()"


ODD_CODE = '''
from django.db import connection, models, transaction
from django.shortcuts import get_object_or_404
from flask import request
from sqlalchemy import text, update


class Thing(models.Model):
    name = models.CharField(max_length=10)
    count = models.IntegerField()


def odd(*args, **kwargs):
    Thing.objects.get_or_create(*args)
    Thing.objects.get_or_create(**kwargs, defaults={})
    Thing.objects.extra(*args, **kwargs)
    Thing.objects.raw(*args)
    Thing(**{**kwargs})
    setattr(*args)
    for k, v in request.form.items():
        setattr(k, v)
    things = [Thing.objects.get(pk=1)]
    things[0].count += 1
    things[0].save()
    thing = get_object_or_404()
    thing.count += 1
    thing.save()
    (lambda sql=f"{args}": connection.cursor().execute(sql))()
    with connection.cursor() as (a, b):
        a.execute(f"{b}")
    text(*args)
    update(*args).values(**request.json)
    sql = sql = f"{args}"
    sql += sql
    connection.cursor().execute(sql)
    match args:
        case [x]:
            Thing.objects.create()
        case _:
            transaction.atomic()(odd)
    return Thing.objects.select_for_update()[0]


class Meta:
    model = Thing
    fields = "__all__"
'''


def test_odd_code_never_errors(tmp_path):
    from flake8_ormreview.analysis import analyze
    from flake8_ormreview.index import ProjectIndex

    path = tmp_path / "views.py"
    path.write_text(ODD_CODE)
    findings = analyze(ODD_CODE, str(path), index=ProjectIndex([str(tmp_path)], cache_dir=None))
    assert [f for f in findings if f.code == "ORM000"] == []
    codes = {f.code for f in findings}
    assert {"ORM502", "ORM503"} <= codes  # the odd shapes still report what is certain


@pytest.mark.parametrize(
    "body, built",
    [
        ('table = "orders"\n\n    def run(self, x):\n        sink(f"SELECT * FROM {self.table} WHERE a = %s")', False),
        ('table = "orders"\n\n    def __init__(self, t):\n        self.table = t\n\n    def run(self):\n        sink(f"SELECT * FROM {self.table}")', True),
        ('def run(self, x):\n        sink(f"SELECT * FROM {self.table}")', True),
    ],
)
def test_class_constants(body, built):
    tree = parse("class Repository:\n    " + body + "\n")
    assert dataflow.TaintAnalysis(tree).of(marked_call(tree)).built is built

