"""Seeds derived from names, stable across processes and machines (unlike Python's hash)."""

from __future__ import annotations

import hashlib


def stable_seed(*parts) -> int:
    """A 64-bit seed that depends only on the given parts."""
    digest = hashlib.sha256("\x1f".join(map(str, parts)).encode()).digest()
    return int.from_bytes(digest[:8], "little")
