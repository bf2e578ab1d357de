#!/usr/bin/env python3
"""Developer entry point that works on a fresh machine with only Python 3 and git.

    python3 tools/dev.py review   # review the bundled example project, write the dated report
    python3 tools/dev.py test     # run the whole test suite

Both create ``.venv`` in the checkout on first use and (re)install the project
with its test tools into it whenever ``setup.cfg`` changes.
"""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
import venv

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
VENV = os.path.join(ROOT, ".venv")
BIN = os.path.join(VENV, "Scripts" if os.name == "nt" else "bin")
STAMP = os.path.join(VENV, ".flake8-ormreview-installed")


def bootstrap() -> None:
    if not os.path.exists(os.path.join(BIN, "python")) and not os.path.exists(os.path.join(BIN, "python.exe")):
        print("creating .venv ...", file=sys.stderr)
        venv.EnvBuilder(with_pip=True).create(VENV)
    with open(os.path.join(ROOT, "setup.cfg"), "rb") as handle:
        wanted = hashlib.sha256(handle.read()).hexdigest()
    if not os.path.exists(STAMP) or open(STAMP).read() != wanted:
        print("installing flake8-ormreview and its test tools into .venv ...", file=sys.stderr)
        pip = [os.path.join(BIN, "python"), "-m", "pip", "install", "--quiet", "--disable-pip-version-check"]
        subprocess.check_call(pip + ["--upgrade", "pip"], cwd=ROOT)
        subprocess.check_call(pip + ["-e", ".[test]"], cwd=ROOT)
        with open(STAMP, "w") as handle:
            handle.write(wanted)


def run(args: list[str]) -> int:
    env = dict(os.environ, PATH=BIN + os.pathsep + os.environ.get("PATH", ""), VIRTUAL_ENV=VENV)
    return subprocess.call(args, cwd=ROOT, env=env)


def main(argv: list[str]) -> int:
    command = argv[0] if argv else "test"
    if command not in ("review", "test"):
        print(__doc__, file=sys.stderr)
        return 2
    bootstrap()
    if command == "test":
        return run([os.path.join(BIN, "python"), "-m", "pytest", *argv[1:]])
    return run([os.path.join(BIN, "orm-review"), "examples", "--output-dir", "examples", "--exit-zero", *argv[1:]])


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
