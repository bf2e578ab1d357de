"""The persisted model index: corrupt, unwritable, shared by concurrent runs, out of date.

Each scenario checks a cross-file finding (ORM103 in ``shop/views.py`` needs
``shop/models.py`` through the index), so a broken index shows up as a lost
finding, not only as an exception.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import time
import sys
from pathlib import Path

import pytest

from flake8_ormreview.analysis import analyze
from flake8_ormreview.index import CACHE_DIRNAME, SKIP_DIRS, ProjectIndex, get_index, mark_all_stale

from cache_project import INDEXED_MODELS, MODELS, VIEWS, make_project, touch_later, write

FLAKE8 = [sys.executable, "-m", "flake8", "--isolated", "--select=ORM"]


@pytest.fixture
def project(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    return make_project(tmp_path)


def view_codes(index: ProjectIndex) -> list[str]:
    return [f.code for f in analyze(VIEWS, "shop/views.py", index=index)]


def cache_file(root: Path) -> Path:
    return next((root / CACHE_DIRNAME).glob("index-v*.json"))


def facts_file(root: Path) -> Path:
    return next((root / CACHE_DIRNAME).glob("facts-v*.json"))


def test_the_cache_is_written_and_a_second_index_reads_it_instead_of_parsing(project, monkeypatch):
    first = ProjectIndex(["."], CACHE_DIRNAME)
    assert "ORM103" in view_codes(first)
    data = json.loads(cache_file(project).read_text())
    assert "shop/models.py" in data["files"]
    assert (project / CACHE_DIRNAME / ".gitignore").read_text().strip().endswith("*")

    import flake8_ormreview.index as index_module

    def no_parsing(*args, **kwargs):
        raise AssertionError("a warm index must not re-extract unchanged files")

    monkeypatch.setattr(index_module, "parsed_facts", no_parsing)  # every parse for the index goes through it
    second = ProjectIndex(["."], CACHE_DIRNAME)
    assert "ORM103" in view_codes(second)


@pytest.mark.parametrize(
    "content",
    [
        b"\x00\xff garbage",
        b'{"version": 3, "roots": [',  # truncated
        b"[]",
        b'{"version": "x", "roots": 1, "files": 2}',
        b'{"files": {"shop/models.py": {"mtime": "a", "size": null, "facts": []}}}',
    ],
    ids=["binary", "truncated", "list", "wrong-types", "wrong-entries"],
)
def test_a_corrupt_cache_is_ignored_and_rebuilt(project, content):
    ProjectIndex(["."], CACHE_DIRNAME).ensure_fresh()
    path = cache_file(project)
    path.write_bytes(content)
    index = ProjectIndex(["."], CACHE_DIRNAME)
    assert "ORM103" in view_codes(index)
    assert "shop/models.py" in json.loads(path.read_text())["files"]


def test_a_cache_entry_with_matching_stat_but_foreign_facts_does_not_crash(project):
    ProjectIndex(["."], CACHE_DIRNAME).ensure_fresh()
    path = facts_file(project)
    data = json.loads(path.read_text())
    data["files"]["shop/models.py"]["classes"] = [{"name": "Order"}]  # missing keys
    path.write_text(json.dumps(data))
    findings = analyze(VIEWS, "shop/views.py", index=ProjectIndex(["."], CACHE_DIRNAME))
    assert "ORM000" not in [f.code for f in findings]


def test_a_cache_folder_that_cannot_be_created_only_costs_speed(project):
    blocker = write(project, "not-a-folder", "a regular file")
    index = ProjectIndex(["."], str(blocker / "cache"))
    assert "ORM103" in view_codes(index)
    mark_all_stale()
    index.stale = True
    assert "ORM103" in view_codes(index)
    assert blocker.read_text() == "a regular file"
    assert not list(project.glob("**/.index-*.tmp"))


def test_flake8_with_an_unwritable_cache_location(project):
    # The cache goes to <first source root>/.orm-review-cache: make that path a file.
    write(project, CACHE_DIRNAME, "in the way")
    result = subprocess.run(FLAKE8 + ["shop"], capture_output=True, text=True, cwd=project)
    assert "Traceback" not in result.stderr + result.stdout
    assert "shop/views.py:5:" in result.stdout and "ORM103" in result.stdout
    assert "ORM000" not in result.stdout


def test_two_flake8_processes_writing_the_cache_at_once(project):
    for number in range(60):  # enough files that both runs overlap while extracting
        write(project, f"app{number}/models.py", MODELS.replace("class Order", f"class Order{number}"))
    serial = subprocess.run(FLAKE8 + ["."], capture_output=True, text=True, cwd=project).stdout
    shutil.rmtree(project / CACHE_DIRNAME)  # both runs start cold: both write the index and the findings
    runs = [subprocess.Popen(FLAKE8 + ["--jobs=2", "."], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=project)
            for _ in range(2)]
    outputs = [run.communicate(timeout=300) for run in runs]
    for stdout, stderr in outputs:
        assert "Traceback" not in stderr
        assert sorted(stdout.splitlines()) == sorted(serial.splitlines())
    data = json.loads(cache_file(project).read_text())
    assert "app59/models.py" in data["files"]
    assert not list((project / CACHE_DIRNAME).glob(".index-*.tmp"))
    assert not list((project / CACHE_DIRNAME).glob("findings/*/.*.tmp"))


def test_a_file_deleted_between_runs_leaves_the_index(project):
    index = ProjectIndex(["."], CACHE_DIRNAME)
    index.ensure_fresh()
    assert index.model("shop.models.Order") is not None
    (project / "shop/models.py").unlink()
    index.stale = True
    assert view_codes(index) == []  # unknown model: silent, and no ORM000
    assert index.model("shop.models.Order") is None
    assert "shop/models.py" not in json.loads(cache_file(project).read_text())["files"]


def test_a_file_edited_on_disk_is_seen_by_the_next_run(project):
    index = ProjectIndex(["."], CACHE_DIRNAME)
    assert "ORM103" in view_codes(index)
    models = write(project, "shop/models.py", INDEXED_MODELS)
    touch_later(models)
    index.stale = True
    assert "ORM103" not in view_codes(index)
    # and a new process reading the cache agrees
    assert "ORM103" not in view_codes(ProjectIndex(["."], CACHE_DIRNAME))


def flake8_in_process(*args: str) -> str:
    from flake8.main import cli

    output = Path(f"flake8-output-{os.getpid()}.txt").resolve()
    try:
        cli.main(["--isolated", "--select=ORM", "--jobs=1", f"--output-file={output}", *args])
        return output.read_text()
    finally:
        output.unlink(missing_ok=True)


def test_a_long_lived_process_sees_an_edited_model(project):
    """An editor's flake8 server: two lints in one process, the model edited in between."""
    first = flake8_in_process("shop/views.py")
    assert "ORM103" in first
    touch_later(write(project, "shop/models.py", INDEXED_MODELS))
    second = flake8_in_process("shop/views.py")
    assert "ORM103" not in second
    touch_later(write(project, "shop/models.py", MODELS), seconds=20)
    assert "ORM103" in flake8_in_process(str(project / "shop/views.py"))  # absolute, as VS Code passes it


def test_the_process_wide_index_is_per_working_folder(tmp_path, monkeypatch):
    for name, models in (("one", MODELS), ("two", INDEXED_MODELS)):
        write(tmp_path / name, "shop/models.py", models)
    monkeypatch.chdir(tmp_path / "one")
    index_one = get_index(["."])
    assert "ORM103" in view_codes(index_one)
    monkeypatch.chdir(tmp_path / "two")
    index_two = get_index(["."])
    assert index_two is not index_one
    assert "ORM103" not in view_codes(index_two)


def test_an_absolute_path_does_not_duplicate_the_file_in_the_index(project):
    index = ProjectIndex(["."], CACHE_DIRNAME)
    analyze(MODELS, str(project / "shop/models.py"), index=index)
    assert index.key_for(str(project / "shop/models.py")) == "shop/models.py"
    assert not index.overrides  # the buffer equals the disk copy under the same key
    assert [m.qualname for m in index.by_name["Order"]] == ["shop.models.Order"]


def test_a_cache_from_another_extractor_version_is_not_trusted(project, monkeypatch):
    """Facts cached by an older extractor must not outlive an upgrade of the plugin."""
    import flake8_ormreview.index as index_module

    ProjectIndex(["."], CACHE_DIRNAME).ensure_fresh()
    path = facts_file(project)
    data = json.loads(path.read_text())
    data["files"]["shop/models.py"]["classes"] = []  # what an older extractor might have said
    path.write_text(json.dumps(data))
    assert "ORM103" not in view_codes(ProjectIndex(["."], CACHE_DIRNAME))  # same extractor: the cache is trusted
    monkeypatch.setattr(index_module, "extractor_fingerprint", lambda: "another-version")
    assert "ORM103" in view_codes(ProjectIndex(["."], CACHE_DIRNAME))


def test_test_code_is_not_parsed_for_the_index(project, monkeypatch):
    """Test modules and test apps are most of a large project's parsing and define nothing production uses."""
    write(project, "shop/tests/test_orders.py", MODELS.replace("class Order", "class FakeOrder"))
    write(project, "shop/tests/models.py", MODELS.replace("class Order", "class TestOrder"))
    write(project, "shop/testing.py", MODELS.replace("class Order", "class SampleOrder"))  # not a test package
    index = ProjectIndex(["."], cache_dir=None)
    index.ensure_fresh()
    assert "shop.testing.SampleOrder" in index.models
    assert "shop.tests.models.TestOrder" not in index.classes
    assert "shop.tests.test_orders.FakeOrder" not in index.classes
    # linting the test module itself agrees with the disk walk: no re-resolution, no override
    analyze(MODELS.replace("class Order", "class FakeOrder"), "shop/tests/test_orders.py", index=index)
    assert not index.overrides


def test_the_text_of_an_unchanged_file_reuses_its_indexed_facts(project):
    index = ProjectIndex(["."], cache_dir=None)
    index.ensure_fresh()
    assert index.unchanged_facts("shop/models.py", MODELS) is index.entries["shop/models.py"].facts
    assert index.unchanged_facts("shop/models.py", INDEXED_MODELS) is None  # an editor's buffer
    touch_later(write(project, "shop/models.py", INDEXED_MODELS))
    assert index.unchanged_facts("shop/models.py", INDEXED_MODELS) is None  # edited since the index read it
    assert index.unchanged_facts("shop/unknown.py", "") is None


@pytest.mark.skipif(not hasattr(os, "fork"), reason="POSIX only")
def test_a_cold_index_parsed_in_a_child_process_equals_one_parsed_here(project, monkeypatch):
    import flake8_ormreview.index as index_module

    for number in range(5):
        write(project, f"app{number}/models.py", MODELS.replace("class Order", f"class Order{number}"))
    here = ProjectIndex(["."], cache_dir=None)
    here.ensure_fresh()
    monkeypatch.setattr(index_module, "FORK_EXTRACTION_FROM", 1)
    forked = ProjectIndex(["."], cache_dir=None)
    calls, waited = [], []
    real_children = ProjectIndex._parse_in_children
    monkeypatch.setattr(ProjectIndex, "_parse_in_children",
                        lambda self, to_parse: calls.append(len(to_parse)) or real_children(self, to_parse))
    forked.while_extracting = lambda: waited.append(True)
    forked.ensure_fresh()
    parsed = [path for path, entry in here.entries.items() if entry.outline is not None and not entry.deferred]
    assert calls == [len(parsed)] and len(parsed) == 6 and waited == [True]
    assert {p: e.digest for p, e in forked.entries.items()} == {p: e.digest for p, e in here.entries.items()}
    assert sorted(forked.models) == sorted(here.models)
    assert "ORM103" in [f.code for f in analyze(VIEWS, "shop/views.py", index=forked)]


@pytest.mark.skipif(not hasattr(os, "fork"), reason="POSIX only")
def test_a_failing_child_falls_back_to_parsing_here(project, monkeypatch):
    import flake8_ormreview.index as index_module

    monkeypatch.setattr(index_module, "FORK_EXTRACTION_FROM", 1)
    parent, real_parsed = os.getpid(), ProjectIndex._parsed
    children = []

    def crash_in_the_child(self, *args):
        if os.getpid() != parent:
            raise MemoryError("the child dies")
        children.append("parsed here")
        return real_parsed(self, *args)

    monkeypatch.setattr(ProjectIndex, "_parsed", crash_in_the_child)
    index = ProjectIndex(["."], cache_dir=None)
    index.ensure_fresh()
    assert children == ["parsed here"]
    assert "shop.models.Order" in index.models


def test_a_warm_run_answered_from_stored_findings_never_reads_the_facts_file(project):
    assert "ORM103" in view_codes(ProjectIndex(["."], CACHE_DIRNAME))
    facts_file(project).write_text("not even JSON")  # a warm run must not need it
    index = ProjectIndex(["."], CACHE_DIRNAME)
    assert "ORM103" in view_codes(index)
    assert all(entry._facts is None for entry in index.entries.values())


def test_a_facts_file_from_another_run_is_not_mixed_with_this_table(project):
    ProjectIndex(["."], CACHE_DIRNAME).ensure_fresh()
    path = facts_file(project)
    data = json.loads(path.read_text())
    data["token"] = "another-run"
    data["files"]["shop/models.py"]["classes"] = []  # what the other run's file might say
    path.write_text(json.dumps(data))
    index = ProjectIndex(["."], CACHE_DIRNAME)
    index.ensure_fresh()
    assert "shop.models.Order" in index.models, "facts read again from the source file, not from the other run"


@pytest.mark.skipif(not hasattr(os, "fork"), reason="POSIX only")
def test_a_fork_that_fails_halfway_falls_back_to_parsing_here(project, monkeypatch):
    import flake8_ormreview.index as index_module

    for number in range(3):
        write(project, f"app{number}/models.py", MODELS.replace("class Order", f"class Order{number}"))
    monkeypatch.setattr(index_module, "FORK_EXTRACTION_FROM", 1)
    real_fork, forks = os.fork, []

    def the_second_fork_fails():
        forks.append(True)
        if len(forks) == 2:
            raise OSError("Resource temporarily unavailable")
        return real_fork()

    monkeypatch.setattr(os, "fork", the_second_fork_fails)
    index = ProjectIndex(["."], cache_dir=None)
    index.ensure_fresh()
    assert len(forks) == 2
    assert {"app0.models.Order0", "app2.models.Order2", "shop.models.Order"} <= set(index.models)


def settle_folders(root: Path) -> None:
    """Date every folder an hour back: listed long after their last change, their listings are kept."""
    hour_ago = time.time_ns() - 3600 * 1_000_000_000
    for folder in [root, *(path for path in root.rglob("*") if path.is_dir())]:
        os.utime(folder, ns=(hour_ago, hour_ago))


def count_listings(monkeypatch) -> list[str]:
    import flake8_ormreview.index as index_module

    listed, real = [], index_module.list_folder
    monkeypatch.setattr(index_module, "list_folder", lambda folder, mtime: listed.append(folder) or real(folder, mtime))
    return listed


def test_a_warm_walk_lists_no_settled_folder_again(project, monkeypatch):
    write(project, "shop/locale/fr/LC_MESSAGES/django.po", "")
    settle_folders(project)
    cold = ProjectIndex(["."], CACHE_DIRNAME)
    cold.ensure_fresh()
    listed = count_listings(monkeypatch)
    warm = ProjectIndex(["."], CACHE_DIRNAME)
    warm.ensure_fresh()
    # Only the root: the cold run made the cache folder in it after listing it.
    assert listed == ["."] and sorted(warm.entries) == sorted(cold.entries)
    assert "ORM103" in view_codes(warm)


def test_a_file_added_to_a_settled_folder_is_found(project, monkeypatch):
    settle_folders(project)
    ProjectIndex(["."], CACHE_DIRNAME).ensure_fresh()
    write(project, "shop/models.py", "")  # the model moves to a new module: its folder's mtime changes
    write(project, "shop/orders.py", MODELS)
    listed = count_listings(monkeypatch)
    index = ProjectIndex(["."], CACHE_DIRNAME)
    index.ensure_fresh()
    # The changed folder, and the root, which the first run's cache folder changed.
    assert listed == [".", os.path.join(".", "shop")]
    assert "shop.orders.Order" in index.models and "shop/orders.py" in index.entries


def test_a_long_lived_process_finds_a_new_file_in_a_settled_folder(project):
    settle_folders(project)
    index = ProjectIndex(["."], cache_dir=None)
    index.ensure_fresh()
    assert index.listings, "settled folders are remembered in memory too"
    write(project, "shop/extra.py", MODELS.replace("class Order", "class Refund"))
    mark_all_stale()
    index.stale = True
    index.ensure_fresh()
    assert "shop.extra.Refund" in index.models


def test_a_folder_changed_a_moment_ago_is_listed_again_next_time(project, monkeypatch):
    ProjectIndex(["."], CACHE_DIRNAME).ensure_fresh()  # the folders were just written
    listed = count_listings(monkeypatch)
    ProjectIndex(["."], CACHE_DIRNAME).ensure_fresh()
    assert os.path.join(".", "shop") in listed  # a second file could have come within its mtime's clock tick


def test_the_walk_gives_what_os_walk_gives(project):
    write(project, "shop/migrations/0001_initial.py", "")
    write(project, "shop/.venv/lib/site.py", "")  # skipped folders
    write(project, "shop/pkg.egg-info/x.py", "")
    write(project, "b/a.pyw", "")
    write(project, "a/notes.txt", "")
    if hasattr(os, "symlink"):
        os.symlink(project / "shop", project / "linked", target_is_directory=True)  # listed, never entered
    expected = []
    for folder, subfolders, files in os.walk("."):
        subfolders[:] = sorted(d for d in subfolders if d not in SKIP_DIRS and not d.endswith(".egg-info"))
        expected += [os.path.normpath(os.path.join(folder, f)) for f in sorted(files) if f.endswith((".py", ".pyw"))]
    index = ProjectIndex(["."], cache_dir=None)
    assert list(index.iter_source_files()) == expected
    settle_folders(project)
    assert list(index.iter_source_files()) == expected  # listed, then remembered
    assert list(index.iter_source_files()) == expected and index.listings
