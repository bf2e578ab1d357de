#!/usr/bin/env python3
"""Download the pinned benchmark projects from PyPI into ``benchmarks/_projects/``.

    python3 benchmarks/fetch_projects.py [NAME ...]

Each project is fetched with ``pip download --no-deps --no-binary :all:``
(its sdist); when the sdist cannot be prepared (some need build tools pip
cannot install) the wheel is fetched instead.  The archive is unpacked into
``benchmarks/_projects/<name>/`` (git-ignored).  Already unpacked projects
are skipped.
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tarfile
import tempfile
import zipfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from projects import PROJECTS_DIR, Project, by_name  # noqa: E402


def pip_download(requirement: str, dest: str, sdist: bool) -> str | None:
    formats = ["--no-binary", ":all:"] if sdist else ["--only-binary", ":all:"]
    command = [sys.executable, "-m", "pip", "download", "--quiet", "--disable-pip-version-check",
               "--no-deps", *formats, "-d", dest, requirement]
    if subprocess.call(command) != 0:
        return None
    archives = [name for name in os.listdir(dest) if name.endswith((".tar.gz", ".zip", ".whl"))]
    return os.path.join(dest, archives[0]) if archives else None


def unpack(archive: str, target: str) -> None:
    """Unpack into ``target``, dropping the sdist's single top-level folder."""
    staging = tempfile.mkdtemp(dir=os.path.dirname(target))
    try:
        if archive.endswith(".tar.gz"):
            with tarfile.open(archive) as tar:
                tar.extractall(staging, filter="data") if hasattr(tarfile, "data_filter") else tar.extractall(staging)
        else:
            with zipfile.ZipFile(archive) as zipped:
                zipped.extractall(staging)
        entries = os.listdir(staging)
        top = os.path.join(staging, entries[0]) if len(entries) == 1 and os.path.isdir(os.path.join(staging, entries[0])) else staging
        os.replace(top, target)
    finally:
        shutil.rmtree(staging, ignore_errors=True)


def fetch(project: Project) -> None:
    if os.path.isdir(project.folder):
        print(f"{project.name}: already in {project.folder}")
        return
    os.makedirs(PROJECTS_DIR, exist_ok=True)
    with tempfile.TemporaryDirectory() as download_dir:
        archive = pip_download(project.requirement, download_dir, sdist=True)
        if archive is None:
            print(f"{project.name}: no usable sdist, fetching the wheel", file=sys.stderr)
            archive = pip_download(project.requirement, download_dir, sdist=False)
        if archive is None:
            raise SystemExit(f"{project.name}: could not download {project.requirement}")
        unpack(archive, project.folder)
    count = sum(name.endswith(".py") for _, _, names in os.walk(project.folder) for name in names)
    print(f"{project.name}: {project.requirement} -> {project.folder} ({count} .py files)")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("names", nargs="*", help="project names (default: all)")
    args = parser.parse_args(argv)
    for project in by_name(args.names):
        fetch(project)
    return 0


if __name__ == "__main__":
    sys.exit(main())
