"""The small project both cache test modules lint: ORM103 in ``shop/views.py`` needs
``shop/models.py`` through the index, so a broken or stale cache shows as a changed finding."""

import os
import textwrap
from pathlib import Path

MODELS = textwrap.dedent(
    '''
    from django.db import models


    class Order(models.Model):
        """An order."""

        status = models.CharField(max_length=20)

        def __str__(self):
            return self.status
    '''
).lstrip()
INDEXED_MODELS = MODELS.replace("max_length=20)", "max_length=20, db_index=True)")
VIEWS = textwrap.dedent(
    '''
    from shop.models import Order


    def open_orders():
        return list(Order.objects.filter(status="open"))
    '''
).lstrip()


def write(root: Path, relative: str, text: str) -> Path:
    target = root / relative
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text(text, encoding="utf-8")
    return target


def touch_later(path: Path, seconds: int = 10) -> None:
    """Move the mtime forward: an edit within the same clock tick must still count."""
    stat = path.stat()
    os.utime(path, ns=(stat.st_atime_ns, stat.st_mtime_ns + seconds * 1_000_000_000))


def make_project(root: Path) -> Path:
    """``shop/models.py`` and ``shop/views.py`` (one ORM103 that needs the models) under ``root``."""
    write(root, "shop/__init__.py", "")
    write(root, "shop/models.py", MODELS)
    write(root, "shop/views.py", VIEWS)
    return root
