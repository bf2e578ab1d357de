"""Writing the review: one lock, a sidecar of per-file records, atomic replace.

pre-commit splits long file lists over several flake8 processes that each
write "the" report of the day.  Each run takes an exclusive lock on
``.orm-optimization-review-DATE.lock``, merges its records into the sidecar
``.orm-optimization-review-DATE.json`` (keyed by file: a file reviewed again
replaces its old record), and rebuilds the markdown from the merged records.
Every file is written to a temporary file and renamed, so a reader or a
crash never sees half a report.
"""

from __future__ import annotations

import contextlib
import datetime
import json
import os
import re
import tempfile
from dataclasses import dataclass
from typing import Any, Iterator

from .. import __version__
from .builder import build_review
from .markdown import StructureError, render_html

SIDECAR_VERSION = 1
DATE_RE = re.compile(r"^\d{4}-\d{2}-\d{2}$")


class ReportError(Exception):
    """The review cannot be written; the message is one line for the user."""


def review_date(value: str = "") -> str:
    if value:
        if not DATE_RE.match(value):
            raise ReportError(f"orm-review: invalid review date {value!r}: use YYYY-MM-DD")
        try:
            datetime.date.fromisoformat(value)
        except ValueError:
            raise ReportError(f"orm-review: invalid review date {value!r}: use YYYY-MM-DD") from None
        return value
    return datetime.date.today().isoformat()


def report_name(date: str) -> str:
    return f"orm-optimization-review-{date}.md"


@dataclass
class Written:
    markdown: str
    html: str | None


@contextlib.contextmanager
def _locked(path: str) -> Iterator[None]:
    handle = open(path, "a+")
    try:
        try:
            import fcntl
        except ImportError:  # Windows: msvcrt locks a byte range
            import msvcrt

            handle.seek(0)
            msvcrt.locking(handle.fileno(), msvcrt.LK_LOCK, 1)
            try:
                yield
            finally:
                handle.seek(0)
                msvcrt.locking(handle.fileno(), msvcrt.LK_UNLCK, 1)
            return
        fcntl.flock(handle.fileno(), fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle.fileno(), fcntl.LOCK_UN)
    finally:
        handle.close()


def _atomic_write(path: str, text: str) -> None:
    directory = os.path.dirname(path) or "."
    fd, tmp = tempfile.mkstemp(dir=directory, prefix=".orm-review-", suffix=".tmp")
    try:
        with os.fdopen(fd, "w", encoding="utf-8", errors="replace", newline="\n") as handle:
            handle.write(text)
        os.chmod(tmp, 0o666 & ~_umask())  # mkstemp makes 0600; a report is an ordinary file
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise


def _umask() -> int:
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


def _load_sidecar(path: str) -> dict[str, Any]:
    try:
        with open(path, encoding="utf-8") as handle:
            data = json.load(handle)
        if data.get("version") == SIDECAR_VERSION and isinstance(data.get("files"), dict):
            return data
    except (OSError, ValueError, AttributeError):
        pass
    return {"version": SIDECAR_VERSION, "paths": [], "files": {}}


def write_review(
    records: dict[str, dict[str, Any]],
    directory: str,
    date: str = "",
    paths: list[str] | None = None,
    html: bool = False,
    merge: bool = True,
    version: str = __version__,
) -> Written:
    """Merge ``records`` into the day's review in ``directory`` and (re)write it.

    Raises :class:`ReportError` with a one-line message when the directory
    cannot be written; nothing partial is left behind.
    """
    date = review_date(date)
    directory = directory or "."
    name = report_name(date)
    target = os.path.join(directory, name)
    stem = os.path.join(directory, "." + name[:-3])
    try:
        if not os.path.isdir(directory):
            os.makedirs(directory, exist_ok=True)
        with _locked(stem + ".lock"):
            sidecar = _load_sidecar(stem + ".json") if merge else {"version": SIDECAR_VERSION, "paths": [], "files": {}}
            files = sidecar["files"]
            files.update(records)
            # A file deleted since an earlier run of the day no longer belongs in the review.
            for path in [
                p for p in files if p not in records and not os.path.exists(p) and not os.path.exists(os.path.join(directory, p))
            ]:
                del files[path]
            all_paths = sorted(set(sidecar.get("paths", [])) | set(paths or ["."]))
            review = build_review(files, date, all_paths, version)
            _atomic_write(
                stem + ".json",
                json.dumps({"version": SIDECAR_VERSION, "paths": all_paths, "files": files}, sort_keys=True, indent=0),
            )
            _atomic_write(target, review.text)
            html_path = None
            if html:
                html_path = target[:-3] + ".html"
                _atomic_write(html_path, render_html(review.text, f"ORM Optimization Review {date}"))
    except OSError as exc:
        reason = exc.strerror or type(exc).__name__
        raise ReportError(f"orm-review: cannot write {target}: {reason}") from None
    except StructureError as exc:
        raise ReportError(f"orm-review: {exc}; {target} was not written, please report it") from None
    except Exception as exc:  # noqa: BLE001 - a bug in the report must not cost the user a traceback
        raise ReportError(
            f"orm-review: could not build the review ({type(exc).__name__}: {exc}); {target} was not written, please report it"
        ) from None
    return Written(target, html_path)
