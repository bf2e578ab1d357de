"""The findings cache: reused only while the text, path, options, plugin and project facts are unchanged.

Each test proves reuse by making the real analysis impossible (it raises)
and invalidation by a finding that changes with the edit.  ORM103 in
``shop/views.py`` depends on ``shop/models.py`` through the index, so it
shows whether another file's edit reaches a cached file.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

import flake8_ormreview.analysis as analysis_module
from flake8_ormreview import findings_cache
from flake8_ormreview.analysis import analyze
from flake8_ormreview.findings_cache import FINDINGS_DIRNAME, MAX_SHARDS, SHARD_SUFFIX, STALE_SECONDS, findings_folder
from flake8_ormreview.index import CACHE_DIRNAME, ProjectIndex
from flake8_ormreview.options import Options

from cache_project import INDEXED_MODELS, VIEWS, make_project, touch_later, write


@pytest.fixture
def project(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    return make_project(tmp_path)


def edit(root: Path, relative: str, text: str) -> Path:
    """Write ``relative`` with a later mtime: an edit within the same clock tick must still count."""
    target = write(root, relative, text)
    touch_later(target)
    return target


def new_run() -> ProjectIndex:
    """The index a new flake8 process would have (reading the on-disk cache)."""
    return ProjectIndex(["."], CACHE_DIRNAME)


def view_codes(source: str = VIEWS, options: Options | None = None) -> list[str]:
    return [f.code for f in analyze(source, "shop/views.py", index=new_run(), options=options)]


def shards(project: Path) -> list[Path]:
    return sorted((project / CACHE_DIRNAME / FINDINGS_DIRNAME).glob(f"*/*{SHARD_SUFFIX}"))


def stored_lines(project: Path) -> list[str]:
    return [line for shard in shards(project) for line in shard.read_text(encoding="ascii").splitlines()]


def test_an_unchanged_file_gets_its_stored_findings_without_analysis(project, monkeypatch):
    assert view_codes() == ["ORM103"]
    monkeypatch.setattr(analysis_module, "_analyze", lambda *a, **k: pytest.fail("analysed again"))
    assert view_codes() == ["ORM103"]
    assert len(shards(project)) == 1 and len(stored_lines(project)) == 1


def test_an_edited_model_invalidates_the_findings_of_other_files(project):
    assert view_codes() == ["ORM103"]
    edit(project, "shop/models.py", INDEXED_MODELS)
    assert view_codes() == []


def test_an_edited_function_body_elsewhere_keeps_the_stored_findings(project):
    edit(project, "shop/services.py", "def total(rows):\n    return sum(rows)\n")
    index = new_run()
    index.refresh()
    digest = index.digest
    edit(project, "shop/services.py", "def total(rows):\n    return sum(r for r in rows if r)\n")
    index = new_run()
    index.refresh()
    assert index.digest == digest, "a body edit changes no fact, so no stored finding is thrown away"


def test_the_buffer_text_is_part_of_the_key(project):
    assert view_codes() == ["ORM103"]
    assert view_codes(VIEWS.replace('status="open"', 'pk=1')) == []


def test_other_options_are_another_key(project):
    assert view_codes() == ["ORM103"]
    stored = Options()
    other = Options(max_model_fields=5)
    index = new_run()
    index.refresh()
    cache = findings_cache.FindingsCache.for_file(index, stored, "shop/views.py")
    assert cache.key("shop/views.py", VIEWS) != findings_cache.FindingsCache.for_file(index, other, "shop/views.py").key("shop/views.py", VIEWS)
    # review-only options do not change findings, so they share the entries
    same = Options(review_dir="elsewhere", review_date="2026-01-01")
    assert cache.key("shop/views.py", VIEWS) == findings_cache.FindingsCache.for_file(index, same, "shop/views.py").key("shop/views.py", VIEWS)


def test_findings_with_an_internal_error_are_not_stored(project, monkeypatch):
    from flake8_ormreview.context import Finding

    with monkeypatch.context() as patch:
        patch.setattr(analysis_module, "_analyze", lambda *a, **k: [Finding(1, 0, "ORM000", "boom")])
        assert view_codes() == ["ORM000"]
    assert view_codes() == ["ORM103"]


@pytest.mark.parametrize("damage", [
    lambda line: line.partition("\t")[0] + '\t[["not", "a", "finding"\n',  # not JSON
    lambda line: line.partition("\t")[0] + '\t[["one", "two"]]\n',  # not findings
    lambda line: line[:-3],  # cut short while written: no end of line
])
def test_a_damaged_entry_is_analysed_again(project, damage):
    assert view_codes() == ["ORM103"]
    (shard,) = shards(project)
    shard.write_text(damage(shard.read_text(encoding="ascii")), encoding="ascii")
    assert view_codes() == ["ORM103"]


def test_a_forked_process_appends_to_a_shard_of_its_own(project, monkeypatch):
    index = new_run()
    assert [f.code for f in analyze(VIEWS, "shop/views.py", index=index)] == ["ORM103"]
    monkeypatch.setattr(findings_cache.os, "getpid", lambda: -1)  # what a --jobs worker sees after the fork
    analyze(VIEWS.replace('status="open"', 'pk=1'), "shop/views.py", index=index)
    assert len(shards(project)) == 2 and len(stored_lines(project)) == 2


def test_another_files_unsaved_buffer_disables_the_cache(project):
    index = new_run()
    analyze(INDEXED_MODELS, "shop/models.py", index=index)  # the editor's unsaved model
    assert index.overrides
    assert findings_cache.FindingsCache.for_file(index, Options(), "shop/views.py") is None
    assert [f.code for f in analyze(VIEWS, "shop/views.py", index=index)] == []


def test_folders_of_other_digests_are_pruned_once_stale(project):
    assert view_codes() == ["ORM103"]
    parent = project / CACHE_DIRNAME / FINDINGS_DIRNAME
    old, recent = parent / "0123456789abcdef", parent / "fedcba9876543210"
    for folder in (old, recent):
        folder.mkdir()
        (folder / "x.json").write_text("[]")
    os.utime(old, (0, 0))
    index = new_run()
    index.refresh()
    findings_cache.prune(index)
    assert not old.exists()
    assert recent.exists(), f"another run may still use it for {STALE_SECONDS} s"
    assert Path(findings_folder(index)).exists()


def test_no_cache_folder_means_no_findings_cache(project):
    index = ProjectIndex(["."], cache_dir=None)
    assert findings_cache.FindingsCache.for_file(index, Options(), "shop/views.py") is None
    assert [f.code for f in analyze(VIEWS, "shop/views.py", index=index)] == ["ORM103"]
    assert not (project / CACHE_DIRNAME).exists()


def test_flake8_reruns_give_the_same_output_from_the_cache(project):
    command = [sys.executable, "-m", "flake8", "--isolated", "--select=ORM", "--jobs=2", "shop"]
    first = subprocess.run(command, capture_output=True, text=True, cwd=project)
    stored = stored_lines(project)
    second = subprocess.run(command, capture_output=True, text=True, cwd=project)
    assert "ORM103" in first.stdout and first.stdout == second.stdout
    assert len(stored) == 3  # __init__.py, models.py, views.py
    assert stored_lines(project) == stored
    edit(project, "shop/models.py", INDEXED_MODELS)
    third = subprocess.run(command, capture_output=True, text=True, cwd=project)
    assert "ORM103" not in third.stdout


def test_an_unsaved_buffer_that_declares_nothing_keeps_the_cache(project):
    index = new_run()
    analyze("def helper():\n    return 1\n", "notebooks/scratch.py", index=index)  # not on disk: an override
    assert index.overrides
    assert findings_cache.FindingsCache.for_file(index, Options(), "shop/views.py") is not None


def test_the_shards_are_merged_and_trimmed_when_they_outgrow_the_project(project):
    assert view_codes() == ["ORM103"]
    index = new_run()
    index.refresh()
    folder = Path(findings_folder(index))
    (real,) = shards(project)
    os.utime(real, (0, 0))  # the oldest shard
    for number in range(MAX_SHARDS + 4):  # what nbqa's temporary copies, renames and edits leave behind
        shard = folder / f"{number:016x}{SHARD_SUFFIX}"
        shard.write_text(f"{2 * number:040x}\t[]\n{2 * number + 1:040x}\t[]\n", encoding="ascii")
        os.utime(shard, (number + 1, number + 1))
    findings_cache.compact(str(folder), limit=30)
    (merged,) = shards(project)
    kept = merged.read_text(encoding="ascii").splitlines()
    assert len(kept) == 21, "41 entries, past the limit: the older half goes"
    assert kept[-1] == f"{2 * (MAX_SHARDS + 3) + 1:040x}\t[]" and f"{0:040x}\t[]" not in kept
    findings_cache.prune(index)  # one shard: nothing to merge
    assert shards(project) == [merged]


def test_a_few_shards_are_left_as_they_are(project):
    assert view_codes() == ["ORM103"]
    assert view_codes(VIEWS.replace('status="open"', 'pk=1')) == []
    before = shards(project)
    assert len(before) == 2
    index = new_run()
    index.refresh()
    findings_cache.prune(index)
    assert shards(project) == before
    assert view_codes() == ["ORM103"]
