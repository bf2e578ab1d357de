"""Content digests for the caches, without loading OpenSSL.

Importing ``hashlib`` loads the OpenSSL library: 3.5 MB more resident memory
in every flake8 process, a quarter of the plugin's memory budget (see
docs/performance.md).  CPython always builds its own BLAKE2, which hashlib
falls back to as well; the caches only need a stable, collision-resistant
digest, so they use it directly.
"""

from __future__ import annotations

try:
    from _blake2 import blake2b as _blake2b
except ImportError:  # pragma: no cover - a Python without CPython's built-in module
    from hashlib import blake2b as _blake2b


def new_digest():
    """A hash object (``update()``, ``hexdigest()``) with a 128-bit digest."""
    return _blake2b(digest_size=16)


def digest_of(data: bytes) -> str:
    return _blake2b(data, digest_size=16).hexdigest()
