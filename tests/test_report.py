"""The markdown review builder: template structure, safe fencing, score, determinism."""

from __future__ import annotations

import ast
import re
import textwrap

import pytest
from hypothesis import given, settings, strategies as st

from flake8_ormreview.index import ProjectIndex
from flake8_ormreview.report.builder import (
    H_CRITICAL,
    H_DASHBOARD,
    H_EXCELLENCE,
    H_OPPORTUNITIES,
    H_TASKS,
    H_VALIDATION,
    TITLE,
    build_review,
)
from flake8_ormreview.report.examples import build_example
from flake8_ormreview.report.markdown import code, fence, parse_structure
from flake8_ormreview.report.records import ReportFinding, make_record
from flake8_ormreview.report.scoring import grade, performance_score

ISSUE_LABELS = [
    "Location", "Impact", "Technical Severity", "Root Cause", "Blast Radius",
    "Remediation Strategy", "Prevention Measures", "Implementation Example",
]

MODELS = textwrap.dedent(
    '''\
    """Shop models."""
    from django.db import models


    class Author(models.Model):
        """A writer."""

        name = models.CharField(max_length=100)
        api_token = models.CharField(max_length=64)


    class Book(models.Model):
        """A title."""

        author = models.ForeignKey(Author, on_delete=models.CASCADE, db_index=False)
        status = models.CharField(max_length=20)
    '''
)

VIEWS = textwrap.dedent(
    '''\
    from django.db import transaction

    from .models import Book


    def titles():
        return [book.author.name for book in Book.objects.filter(status="live")]


    def search(term):
        return Book.objects.raw(f"SELECT * FROM shop_book WHERE title = '{term}'")
    '''
)


def records_for(tmp_path, files: dict[str, str], findings: dict[str, list[tuple[int, int, str, str]]]):
    for name, text in files.items():
        path = tmp_path / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    index = ProjectIndex([str(tmp_path)], cache_dir=None)
    return {
        str(tmp_path / name): make_record(str(tmp_path / name), text, findings.get(name, []), index)
        for name, text in files.items()
    }


@pytest.fixture
def shop_records(tmp_path):
    return records_for(
        tmp_path,
        {"shop/__init__.py": "", "shop/models.py": MODELS, "shop/views.py": VIEWS},
        {
            "shop/models.py": [
                (9, 4, "ORM501", "Author.api_token looks like a secret ('token') stored as plain CharField: use an encrypted field"),
                (15, 4, "ORM101", "foreign key 'Book.author' -> Author has no index; drop db_index=False"),
                (16, 4, "ORM103", "Book.objects.filter(status=..) filters on 'status', which no index covers"),
                (5, 0, "ORM601", "model Author has no docstring"),
            ],
            "shop/views.py": [
                (7, 12, "ORM201", "N+1 query: 'book.author' is loaded once per row of Book.objects.filter(...); add .select_related(\"author\")"),
                (11, 11, "ORM502", "SQL built with an f-string reaches Book.objects.raw(); pass the values as params"),
                (3, 0, "F401", "'.models.Book' imported but unused"),
                (12, 1, "W391", "blank line at end of file"),
            ],
        },
    )


def headings(text: str) -> list[tuple[int, str]]:
    return parse_structure(text)[0]


def test_template_headings_in_order(shop_records):
    text = build_review(shop_records, "2026-01-02", ["shop"]).text
    top = [h for h in headings(text) if h[0] <= 2]
    assert top == [(1, TITLE), (2, H_DASHBOARD), (2, H_EXCELLENCE), (2, H_CRITICAL), (2, H_OPPORTUNITIES), (2, H_TASKS), (2, H_VALIDATION)]
    subsections = [h[1] for h in headings(text) if h[0] == 3 and not h[1].startswith("Issue")]
    assert subsections == ["Schema & Indexing", "Query Optimization", "Data Integrity & Security", "Migration Safety", "Maintainability"]


def section(text: str, heading: str) -> str:
    start = text.index(heading)
    following = re.search(r"^## ", text[start + len(heading):], re.M)
    return text[start: start + len(heading) + (following.start() if following else len(text))]


def test_dashboard_has_score_and_four_grades(shop_records):
    text = build_review(shop_records, "2026-01-02", ["shop"]).text
    dashboard = section(text, H_DASHBOARD)
    labels = re.findall(r"^- \*\*([^*]+)\*\*:", dashboard, re.M)
    assert labels == ["Performance Score", "Data Integrity", "Scalability", "Security", "Maintainability"]
    score = int(re.search(r"Performance Score\*\*: (\d+)/100", dashboard).group(1))
    assert 0 <= score < 100
    assert "docs/report.md#performance-score" in dashboard
    assert re.search(r"\*\*Security\*\*: grade D — 2 critical", dashboard)
    assert "F 1" in dashboard and "W 1" in dashboard  # flake8 counts of the same run


def test_every_critical_finding_is_an_issue_with_all_labels(shop_records):
    text = build_review(shop_records, "2026-01-02", ["shop"]).text
    critical = section(text, H_CRITICAL)
    issues = re.split(r"^### Issue \d+: ", critical, flags=re.M)[1:]
    codes = sorted(re.search(r"\((ORM\d{3})", issue.splitlines()[0]).group(1) for issue in issues)
    assert codes == ["ORM101", "ORM201", "ORM501", "ORM502"]
    for issue in issues:
        assert re.findall(r"^- \*\*([^*]+)\*\*:", issue, re.M) == ISSUE_LABELS
        block = re.search(r"^```python\n(.*?)^```$", issue, re.S | re.M).group(1)
        assert block.index("# Current Implementation (Inefficient)") < block.index("# Improved Solution (Optimized)") < block.index("# Additional Safeguards")


def example_block(text: str, code_: str) -> tuple[str, str]:
    critical = section(text, H_CRITICAL)
    for issue in re.split(r"^### Issue \d+: ", critical, flags=re.M)[1:]:
        if f"({code_}" in issue.splitlines()[0]:
            block = re.search(r"^```python\n(.*?)^```$", issue, re.S | re.M).group(1)
            current = block.split("# Improved Solution (Optimized)")[0].split("\n", 1)[1]
            improved = block.split("# Improved Solution (Optimized)\n")[1].split("# Additional Safeguards")[0]
            return current, improved
    raise AssertionError(code_)


def test_examples_rewrite_the_real_lines(shop_records):
    text = build_review(shop_records, "2026-01-02", ["shop"]).text
    current, improved = example_block(text, "ORM101")
    assert "author = models.ForeignKey(Author, on_delete=models.CASCADE, db_index=False)" in current
    assert "author = models.ForeignKey(Author, on_delete=models.CASCADE)\n" in improved
    current, improved = example_block(text, "ORM201")
    assert 'Book.objects.filter(status="live")]' in current
    assert 'Book.objects.filter(status="live").select_related("author")]' in improved
    current, improved = example_block(text, "ORM502")
    assert "f\"SELECT * FROM shop_book WHERE title = '{term}'\")" in current
    assert "Book.objects.raw('SELECT * FROM shop_book WHERE title = %s', [term])" in improved
    current, improved = example_block(text, "ORM501")
    assert "api_token = models.CharField(max_length=64)" in current
    assert "api_token = EncryptedCharField(max_length=64)" in improved


def test_select_for_update_example_wraps_that_function():
    source = "def reserve(pk):\n    book = Book.objects.select_for_update().get(pk=pk)\n    return book\n"
    example = build_example(source.splitlines(), ast.parse(source), 2, 11, "ORM302", "wrap it", "v.py")
    assert example["current"] == "def reserve(pk):\n    book = Book.objects.select_for_update().get(pk=pk)"
    assert example["improved"] == "@transaction.atomic\ndef reserve(pk):\n    book = Book.objects.select_for_update().get(pk=pk)"


def test_sqlalchemy_examples():
    source = (
        "from sqlalchemy import select, text\n"
        "def names(session):\n"
        "    for post in session.scalars(select(Post).where(Post.status == 'live')).all():\n"
        "        print(post.author.name)\n"
        "def find(session, name):\n"
        "    return session.execute(text(f\"SELECT * FROM users WHERE name = '{name}'\"))\n"
    )
    tree = ast.parse(source)
    lines = source.splitlines()
    n1 = build_example(lines, tree, 4, 14, "ORM201", "N+1; add .options(selectinload(Post.author))", "a.py")
    assert "select(Post).where(Post.status == 'live').options(selectinload(Post.author))).all():" in n1["improved"]
    sql = build_example(lines, tree, 6, 11, "ORM502", "raw", "a.py")
    assert "text('SELECT * FROM users WHERE name = :p0').bindparams(p0=name)" in sql["improved"]


def test_composite_index_proposals_come_from_multi_field_lookups(tmp_path):
    records = records_for(tmp_path, {"views.py": "x = 1\ny = 2\nz = 3\n"}, {"views.py": [
        (1, 4, "ORM103", 'unindexed lookup: Book is queried by \'status\' and \'title\' and no index covers them; add models.Index(fields=["status", "title"]) to Book.Meta.indexes'),
        (2, 4, "ORM103", 'unindexed lookup: Post is queried by \'status\' and \'author_id\' and no index covers them; add Index("ix_posts_status_author_id", Post.status, Post.author_id) to Post.__table_args__'),
        (3, 4, "ORM103", "unindexed lookup: Book is queried by 'isbn' and no index covers it; add db_index=True to Book.isbn"),
    ]})
    text = build_review(records, "2026-01-02", ["."]).text
    composite = text.split("**Composite Indexes**")[1].split("**Denormalization**")[0]
    proposals = [line for line in composite.splitlines() if "lookup(s) at" in line]
    assert len(proposals) == 2
    assert '`models.Index(fields=["status", "title"], name="book_status_title_idx")` in Book.Meta.indexes' in proposals[1]
    assert "views.py:1`" in proposals[1]
    assert '`Index("ix_posts_status_author_id", Post.status, Post.author_id)` in Post.' in proposals[0]


def test_nested_eager_load_goes_on_the_query_the_message_names():
    source = (
        "def reminders():\n"
        "    for order in Order.objects.filter(status='x'):\n"
        "        titles = [item.book.title for item in order.items.all()]\n"
    )
    message = 'N+1 query: \'item.book\' is loaded once per row of order.items.all(); add .prefetch_related("items__book") to Order.objects.filter(...)'
    example = build_example(source.splitlines(), ast.parse(source), 3, 22, "ORM201", message, "c.py")
    assert example["improved"].splitlines()[0] == "    for order in Order.objects.filter(status='x').prefetch_related(\"items__book\"):"
    assert example["improved"].splitlines()[1] == source.splitlines()[2]


def test_locations_and_tasks(shop_records):
    text = build_review(shop_records, "2026-01-02", ["shop"]).text
    assert re.search(r"\*\*Location\*\*: `[^`]*shop/models.py:lines 15-15`", text)
    tasks = section(text, H_TASKS)
    assert [line[:3] for line in tasks.splitlines() if re.match(r"\d\. ", line)] == ["1. ", "2. ", "3. ", "4. ", "5. "]
    first_task = tasks.split("2. ")[0]
    assert first_task.index("ORM101") < first_task.index("ORM103")  # most severe first


def test_validation_checklist_reflects_findings(shop_records):
    text = build_review(shop_records, "2026-01-02", ["shop"]).text
    checklist = section(text, H_VALIDATION)
    items = [line for line in checklist.splitlines() if line.startswith("- ")]
    assert len(items) == 6
    assert items[0].startswith("- ❌ Indexes on all foreign keys") and "ORM101" in items[0]
    assert items[1].startswith("- ❌ No N+1") and "ORM201" in items[1]
    assert items[2].startswith("- ✅ Migration scripts")
    assert items[3].startswith("- ❌ Sensitive data")
    assert items[5].startswith("- ❌ All ORM and schema code must pass Flake8") and "F 1" in items[5]


def test_excellence_is_honest_when_nothing_qualifies(shop_records):
    text = build_review(shop_records, "2026-01-02", ["shop"]).text
    excellence = section(text, H_EXCELLENCE)
    assert re.findall(r"^- ✅ \*\*([^*]+)\*\*:", excellence, re.M) == ["Indexing Strategy", "Query Optimization", "Migration Safety", "Documentation"]
    assert "**Indexing Strategy**: none found" in excellence
    assert "**Migration Safety**: none found" in excellence
    assert "**Documentation**: 2 of 2 models have a docstring (100%)" in excellence


def test_no_critical_section_says_so(tmp_path):
    records = records_for(tmp_path, {"m.py": "x = 1\n"}, {"m.py": [(1, 0, "E225", "missing whitespace")]})
    text = build_review(records, "2026-01-02", ["."]).text
    assert "No critical finding" in section(text, H_CRITICAL)
    assert "Performance Score**: 100/100" in text


def test_same_records_same_bytes(shop_records):
    first = build_review(shop_records, "2026-01-02", ["shop"]).text
    second = build_review(dict(reversed(list(shop_records.items()))), "2026-01-02", ["shop"]).text
    assert first == second


def test_large_projects_cap_examples_but_keep_locations(tmp_path):
    lines = ["from django.db import models", "", "", "class Big(models.Model):", '    """Big."""', ""]
    findings = []
    for number in range(40):
        lines.append(f"    f{number} = models.IntegerField()")
        findings.append((len(lines), 4, "ORM303", f"Big.f{number} message"))
    records = records_for(tmp_path, {"big.py": "\n".join(lines) + "\n"}, {"big.py": findings})
    text = build_review(records, "2026-01-02", ["."]).text
    constraint = text.split("**Constraint Enforcement**")[1].split("**Sensitive Data**")[0]
    assert constraint.count("Big.f") == 5  # capped messages
    assert "and 35 more at:" in constraint
    for _, _, _, message in findings:
        line = [ln for ln, _, _, m in findings if m == message][0]
        assert f"big.py:{line}`" in constraint


PIECES = list("`~#<>*_[]()!|\\-=:\"' \tax1") + ["```", "````", "</div>", "<script>", "\n# H", "\n## H", "\n---\n", "\n    "]
ADVERSARIAL = st.lists(st.sampled_from(PIECES), max_size=30).map("".join)


@settings(max_examples=60, deadline=None)
@given(comment=ADVERSARIAL, message=ADVERSARIAL)
def test_heading_structure_survives_any_source(tmp_path_factory, comment, message):
    tmp_path = tmp_path_factory.mktemp("adv")
    comment = comment.replace("\r", "")
    source = "from django.db import models\n\n\nclass Author(models.Model):\n    '''x'''\n    password = models.CharField(max_length=9)  # " + comment.replace("\n", " ") + "\n    s = '''" + comment.replace("'", "").replace("\\", "") + "'''\n"
    records = records_for(tmp_path, {"m.py": source}, {"m.py": [(6, 4, "ORM501", "bad " + message), (7, 4, "ORM303", message)]})
    review = build_review(records, "2026-01-02", ["."])
    parsed_headings, fences = parse_structure(review.text)
    assert parsed_headings == review.document.headings
    assert [h for h in parsed_headings if h[0] == 2][0] == (2, H_DASHBOARD)
    assert fences == 1


@given(st.text(max_size=40))
def test_code_span_and_fence_cannot_be_escaped(text):
    from markdown_it import MarkdownIt

    md = MarkdownIt("commonmark")
    flat = " ".join(text.split())
    if flat:
        children = md.parseInline(code(text))[0].children
        assert [t.type for t in children] == ["code_inline"]
        assert children[0].content.strip() == flat.replace("\0", "\ufffd").strip()
    body = text.replace("\r\n", "\n").replace("\r", "\n").rstrip("\n")
    tokens = [t for t in md.parse(fence(text)) if t.type == "fence"]
    assert len(tokens) == 1 and tokens[0].content == body.replace("\0", "\ufffd") + "\n"


def finding(code_: str, line: int = 1) -> ReportFinding:
    return ReportFinding("m.py", line, 0, code_, "m")


def test_score_is_100_only_without_performance_findings():
    assert performance_score([], 5, 5) == 100
    assert performance_score([finding("ORM601"), finding("ORM501")], 5, 5) == 100
    assert performance_score([finding("ORM103")], 1000, 1000) == 99


@given(
    st.lists(st.sampled_from(["ORM101", "ORM102", "ORM103", "ORM201", "ORM202", "ORM208"]), max_size=30),
    st.sampled_from(["ORM101", "ORM102", "ORM103", "ORM201", "ORM202", "ORM208"]),
    st.integers(0, 200),
    st.integers(0, 200),
)
def test_more_findings_never_raise_the_score(codes, extra, models, sites):
    findings = [finding(c, n) for n, c in enumerate(codes, 1)]
    before = performance_score(findings, models, sites)
    after = performance_score(findings + [finding(extra, 999)], models, sites)
    assert after <= before < 101
    assert after < 100


def test_graver_findings_never_raise_the_score():
    minor = performance_score([finding("ORM103")], 10, 10)
    major = performance_score([finding("ORM102")], 10, 10)
    critical = performance_score([finding("ORM101")], 10, 10)
    assert critical <= major <= minor < 100


def test_grades():
    assert grade([]).letter == "A"
    assert grade([finding("ORM601")]).letter == "B"
    assert grade([finding("ORM304"), finding("ORM601")]).letter == "C"
    assert grade([finding("ORM501")]).letter == "D"
    result = grade([finding("ORM501", 3), finding("ORM502", 2), finding("ORM501", 1), finding("ORM505")])
    assert result.letter == "F" and result.worst == finding("ORM501", 1)


def test_a_broken_structure_is_never_written(tmp_path, monkeypatch):
    from flake8_ormreview.report import builder, writer

    def broken(self):
        self.doc.heading(2, "A heading")
        self.doc.add("text with an unclosed fence", "```")
        self.doc.heading(2, "Swallowed by the fence")

    monkeypatch.setattr(builder.ReviewBuilder, "tasks", broken)
    with pytest.raises(writer.ReportError, match="markdown structure is broken"):
        writer.write_review({}, str(tmp_path), "2026-01-02", ["."])
    assert not (tmp_path / "orm-optimization-review-2026-01-02.md").exists()


MIGRATION = '''\
from django.contrib.postgres.operations import AddIndexConcurrently
from django.db import migrations, models

from shop.models import Book


class Migration(migrations.Migration):
    dependencies = [("shop", "0001_initial")]

    operations = [
        AddIndexConcurrently(
            model_name="book",
            index=models.Index(fields=["title"], name="book_title_idx"),
        ),
        migrations.RenameField(model_name="book", old_name="name", new_name="title"),
    ]
'''


def migration_example(line: int, code_: str, message: str = "m") -> dict:
    return build_example(MIGRATION.splitlines(), ast.parse(MIGRATION), line, 8, code_, message, "0002.py")


def test_migration_rewrites():
    concurrent = migration_example(11, "ORM408")
    assert concurrent["improved"].splitlines()[:2] == ["class Migration(migrations.Migration):", "    atomic = False  # concurrent index builds cannot run in a transaction"]
    assert "AddIndexConcurrently(" in concurrent["current"] and "AddIndexConcurrently(" in concurrent["improved"]
    imported = migration_example(4, "ORM409")
    assert imported["current"] == "from shop.models import Book"
    assert 'Book = apps.get_model("shop", "Book")' in imported["improved"]
    renamed = migration_example(15, "ORM403")
    assert renamed["current"].strip() == 'migrations.RenameField(model_name="book", old_name="name", new_name="title"),'
    assert "migrations.SeparateDatabaseAndState(" in renamed["improved"] and "state_operations=[" in renamed["improved"]
    ast.parse(textwrap.dedent(renamed["improved"].split("\n", 1)[1]).rstrip(","))


def test_alembic_not_null_column_rewrite():
    source = 'def upgrade():\n    op.add_column("posts", sa.Column("status", sa.String(20), nullable=False, default="draft"))\n'
    example = build_example(source.splitlines(), ast.parse(source), 2, 4, "ORM401", "m", "r.py")
    assert example["improved"] == '    op.add_column("posts", sa.Column("status", sa.String(20), nullable=False, default="draft", server_default=\'draft\'))'


def test_unknown_case_falls_back_to_the_rules_own_example():
    source = "x = compute()\n"
    example = build_example(source.splitlines(), ast.parse(source), 1, 0, "ORM999", "m", "a.py", fallback="y = better()\n")
    assert example["current"] == "x = compute()"
    assert example["improved"] == "# No line-level rewrite for this case; the rule's recommended pattern:\ny = better()"


def test_html_escapes_html_from_the_source(tmp_path):
    from flake8_ormreview.report.markdown import render_html

    source = "from django.db import models\n\n\nclass A(models.Model):\n    '''x'''\n    password = models.CharField(max_length=9, help_text='<script>alert(1)</script>')\n"
    records = records_for(tmp_path, {"m.py": source}, {"m.py": [(6, 4, "ORM501", "A.password <b>plain</b> <script>x</script>")]})
    html = render_html(build_review(records, "2026-01-02", ["."]).text, "t")
    assert "<script>" not in html and "&lt;script&gt;alert(1)&lt;/script&gt;" in html and "<b>" not in html


@settings(max_examples=40, deadline=None)
@given(source=__import__("hypothesmith").from_grammar(auto_target=False), code_=st.sampled_from(["ORM101", "ORM201", "ORM302", "ORM401", "ORM402", "ORM403", "ORM408", "ORM409", "ORM501", "ORM502"]))
def test_any_python_source_gives_a_valid_review(tmp_path_factory, source, code_):
    tmp_path = tmp_path_factory.mktemp("src")
    lines = max(1, len(source.splitlines()))
    findings = [(line, 0, code_, f"m {line}") for line in range(1, lines + 1, max(1, lines // 3))]
    records = records_for(tmp_path, {"m.py": source}, {"m.py": findings})
    review = build_review(records, "2026-01-02", ["."])
    assert parse_structure(review.text)[0] == review.document.headings


def test_denormalization_proposes_a_counter_on_the_iterated_model(shop_records, tmp_path):
    path = next(p for p in shop_records if p.endswith("views.py"))
    shop_records[path]["findings"].append({
        "line": 7, "col": 12, "code": "ORM209", "cell": 0, "end_line": 7,
        "message": "per-row aggregate: 'author.books.count()' runs one query per row of Author.objects.all(); add .annotate(books_count=Count(\"books\"))",
    })
    text = build_review(shop_records, "2026-01-02", ["shop"]).text
    denormalization = text.split("**Denormalization**")[1].split("### Query Optimization")[0]
    assert "store `books_count = models.PositiveIntegerField(default=0)` on `Author`" in denormalization
    assert "views.py:7`" in denormalization
    empty = records_for(tmp_path, {"x.py": "x = 1\n"}, {})
    assert "**Denormalization**: none warranted" in build_review(empty, "2026-01-02", ["."]).text


def test_a_failed_write_leaves_no_partial_file(tmp_path, monkeypatch):
    from flake8_ormreview.report import writer

    def refuse(src, dst):
        raise PermissionError(13, "Permission denied")

    monkeypatch.setattr(writer.os, "replace", refuse)
    with pytest.raises(writer.ReportError, match="cannot write .*Permission denied"):
        writer.write_review({}, str(tmp_path), "2026-01-02", ["."])
    assert sorted(p.name for p in tmp_path.iterdir()) == [".orm-optimization-review-2026-01-02.lock"]
