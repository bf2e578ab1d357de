"""Editors: the command lines they really run (INTEGRATION.md), and a real python-lsp-server over stdio."""

from __future__ import annotations

import json
import queue
import re
import shutil
import subprocess
import sys
import textwrap
import threading
from pathlib import Path

import pytest

BIN = Path(sys.executable).parent
FLAKE8 = str(BIN / "flake8")

MODELS = textwrap.dedent(
    '''\
    """Catalogue."""
    from django.db import models


    class Author(models.Model):
        """A writer."""

        name = models.CharField(max_length=100)


    class Book(models.Model):
        """A title."""

        author = models.ForeignKey(Author, on_delete=models.CASCADE, related_name="books", db_index=False)
    '''
)
FK_LINE = 14


@pytest.fixture
def project(tmp_path):
    (tmp_path / "shop").mkdir()
    (tmp_path / "shop" / "__init__.py").write_text("")
    (tmp_path / "shop" / "models.py").write_text(MODELS)
    # Users who put the formatter in their config get it in every editor too: it must write nothing there.
    (tmp_path / "setup.cfg").write_text("[flake8]\nformat = orm-review\norm-review-date = 2026-07-08\nmax-line-length = 130\n")
    return tmp_path


def run(cwd: Path, args: list[str], stdin: str | None = None) -> subprocess.CompletedProcess:
    return subprocess.run(args, cwd=cwd, input=stdin, capture_output=True, text=True, timeout=300)


def no_report_written(root: Path) -> bool:
    return not list(root.rglob("orm-optimization-review-*"))


def test_vscode_flake8_extension(project):
    path = str(project / "shop" / "models.py")
    result = run(project, [FLAKE8, "--format=%(row)d,%(col)d,%(code).1s,%(code)s:%(text)s", path])
    lines = result.stdout.splitlines()
    assert all(re.fullmatch(r"\d+,\d+,[A-Z],[A-Z]+\d+:.+", line) for line in lines), lines
    assert any(line.startswith(f"{FK_LINE},5,O,ORM101:") for line in lines)
    assert no_report_written(project)


def test_python_lsp_server_command_line(project):
    result = run(project, [FLAKE8, "-", "--stdin-display-name", "shop/models.py"], stdin=MODELS)
    assert re.search(rf"^shop/models.py:{FK_LINE}:5: ORM101 ", result.stdout, re.M)
    assert no_report_written(project)


def test_ale(project):
    path = str(project / "shop" / "models.py")
    result = run(project, [FLAKE8, "--format=default", "--stdin-display-name", path, "-"], stdin=MODELS)
    assert re.search(rf"^{re.escape(path)}:{FK_LINE}:5: ORM101 ", result.stdout, re.M)
    assert no_report_written(project)


def test_nvim_lint(project):
    path = str(project / "shop" / "models.py")
    args = [FLAKE8, "--format=%(path)s:%(row)d:%(col)d:%(code)s:%(text)s", "--no-show-source", "--stdin-display-name", path, "-"]
    result = run(project, args, stdin=MODELS)
    lines = result.stdout.splitlines()
    assert any(line.startswith(f"{path}:{FK_LINE}:5:ORM101:") for line in lines)
    assert all(line.startswith(path + ":") for line in lines)  # one line per finding
    assert no_report_written(project)


def test_vscode_notebook_cells_on_stdin(project):
    cells = "from shop.models import Book\n\nfor book in Book.objects.all():\n    print(book.author.name)\n"
    result = run(project, [FLAKE8, "-", "--stdin-display-name", "nb.ipynb"], stdin=cells)
    assert re.search(r"^nb.ipynb:4:\d+: ORM201 ", result.stdout, re.M)
    assert no_report_written(project)


class LanguageServer:
    """A minimal LSP client speaking JSON-RPC over the server's stdio."""

    def __init__(self, command: list[str], cwd: Path) -> None:
        self.process = subprocess.Popen(command, cwd=cwd, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
        self.messages: queue.Queue = queue.Queue()
        self.next_id = 0
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        stream = self.process.stdout
        while True:
            headers = {}
            while True:
                line = stream.readline()
                if not line:
                    return
                line = line.decode("ascii").strip()
                if not line:
                    break
                key, _, value = line.partition(":")
                headers[key.lower()] = value.strip()
            body = stream.read(int(headers["content-length"]))
            self.messages.put(json.loads(body))

    def send(self, method: str, params: dict, request: bool = False) -> None:
        message = {"jsonrpc": "2.0", "method": method, "params": params}
        if request:
            self.next_id += 1
            message["id"] = self.next_id
        body = json.dumps(message).encode("utf-8")
        self.process.stdin.write(b"Content-Length: %d\r\n\r\n" % len(body) + body)
        self.process.stdin.flush()

    def wait_for(self, predicate, timeout: float = 120.0) -> dict:
        import time

        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                message = self.messages.get(timeout=max(0.1, deadline - time.monotonic()))
            except queue.Empty:
                break
            if predicate(message):
                return message
        raise AssertionError("the language server sent no matching message")

    def close(self) -> None:
        try:
            self.send("shutdown", {}, request=True)
            self.send("exit", {})
            self.process.wait(timeout=10)
        except Exception:  # noqa: BLE001 - best effort
            self.process.kill()


@pytest.mark.skipif(shutil.which("pylsp", path=str(BIN)) is None, reason="python-lsp-server is not installed")
def test_real_python_lsp_server_publishes_orm_diagnostics(project):
    server = LanguageServer([str(BIN / "pylsp")], project)
    uri = (project / "shop" / "models.py").as_uri()
    try:
        server.send("initialize", {"processId": None, "rootUri": project.as_uri(), "capabilities": {}}, request=True)
        server.wait_for(lambda m: m.get("id") == 1 and "result" in m)
        server.send("initialized", {})
        plugins = {name: {"enabled": False} for name in ("pycodestyle", "pyflakes", "mccabe", "pylint", "autopep8", "yapf")}
        plugins["flake8"] = {"enabled": True, "executable": FLAKE8}
        server.send("workspace/didChangeConfiguration", {"settings": {"pylsp": {"plugins": plugins}}})
        server.send("textDocument/didOpen", {"textDocument": {"uri": uri, "languageId": "python", "version": 1, "text": MODELS}})

        def orm_diagnostics(message: dict) -> bool:
            params = message.get("params", {})
            if message.get("method") != "textDocument/publishDiagnostics" or params.get("uri") != uri:
                return False
            return any(d.get("code") == "ORM101" for d in params.get("diagnostics", []))

        published = server.wait_for(orm_diagnostics)
        diagnostic = next(d for d in published["params"]["diagnostics"] if d["code"] == "ORM101")
        assert diagnostic["range"]["start"]["line"] == FK_LINE - 1
        assert "OrderItem" not in diagnostic["message"] and "Book.author" in diagnostic["message"]
    finally:
        server.close()
    assert no_report_written(project)
