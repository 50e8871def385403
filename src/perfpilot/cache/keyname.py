"""Key names as Redis stores them (bytes): namespaces, managed prefixes and safe display.

Client-safe: imports nothing beyond the standard library, so ``perfpilot.cache.client`` can use it.
"""

from __future__ import annotations

from collections.abc import Iterable


def display(key: bytes) -> str:
    """The key as text: UTF-8 when it decodes, otherwise with ``\\xNN`` escapes (never raises)."""
    return key.decode("utf-8", errors="backslashreplace")


def namespace_of(key: bytes, delimiter: bytes = b":", depth: int = 1) -> bytes:
    """The first ``depth`` parts of ``key`` split on ``delimiter``, with the trailing delimiter.

    ``b"rates:2026:room-12"`` with depth 1 is ``b"rates:"``. A key without the delimiter is its
    own namespace-less group, returned as ``b""``.
    """
    if depth == 1:
        # The common case, on every client GET and SET: one find, no list of parts.
        end = key.find(delimiter)
        return b"" if end < 0 else key[: end + len(delimiter)]
    parts = key.split(delimiter, depth)
    if len(parts) <= depth:
        return b""
    return delimiter.join(parts[:depth]) + delimiter


def under_prefixes(key: bytes, prefixes: Iterable[bytes]) -> bool:
    """Whether ``key`` starts with one of ``prefixes`` (an empty list matches nothing)."""
    return any(prefix and key.startswith(prefix) for prefix in prefixes)
