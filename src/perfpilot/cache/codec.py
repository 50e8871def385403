"""Value framing for the client library: zstd when it pays, plain values stay readable.

A framed value starts with ``MAGIC`` (``0xFF 'P' 'P'``) and one codec byte. ``0xFF`` never starts
UTF-8 text (JSON), pickle (``0x80``) or a bare zstd frame (``0x28``), so legacy plain values and
values other codecs wrote are returned unchanged; a plain value that happens to start with
``MAGIC`` is written with the ``RAW`` codec so it reads back exactly. Client-safe.
"""

from __future__ import annotations

from dataclasses import dataclass

import zstandard

MAGIC = b"\xffPP"
RAW = 0x00
ZSTD = 0x01
HEADER_BYTES = len(MAGIC) + 1
_ZSTD_HEADER = MAGIC + bytes([ZSTD])
_RAW_HEADER = MAGIC + bytes([RAW])


class CodecError(ValueError):
    """A value carries our header but its body cannot be decoded (truncated or corrupt)."""


@dataclass(frozen=True, slots=True)
class CompressionPolicy:
    """When compression pays: values from ``min_bytes`` that shrink by at least ``min_saving``."""

    min_bytes: int = 1024
    min_saving: float = 0.10
    level: int = 3


class Codec:
    """Encodes and decodes values; one instance per client (zstd contexts are reused)."""

    def __init__(self, policy: CompressionPolicy | None = None) -> None:
        self.policy = policy or CompressionPolicy()
        self._compressor = zstandard.ZstdCompressor(level=self.policy.level)
        self._decompressor = zstandard.ZstdDecompressor()

    def encode(self, value: bytes) -> bytes:
        """The value to store: compressed when it pays, else plain (framed only if ambiguous)."""
        if len(value) >= self.policy.min_bytes:
            packed = self._compressor.compress(value)
            if len(packed) + HEADER_BYTES <= len(value) * (1 - self.policy.min_saving):
                return _ZSTD_HEADER + packed
        return self.plain(value)

    def plain(self, value: bytes) -> bytes:
        """The value stored uncompressed (framed only if it could be mistaken for a frame)."""
        if value.startswith(MAGIC):
            return _RAW_HEADER + value
        return value

    def decode(self, stored: bytes) -> bytes:
        """The application's value; unframed data is returned as is."""
        if not stored.startswith(MAGIC) or len(stored) < HEADER_BYTES:
            return stored
        codec, body = stored[len(MAGIC)], stored[HEADER_BYTES:]
        if codec == RAW:
            return body
        if codec == ZSTD:
            try:
                return self._decompressor.decompress(body)
            except zstandard.ZstdError as exc:
                raise CodecError(f"zstd value cannot be decompressed: {exc}") from exc
        # A codec byte we do not know: not ours to decode, hand it back untouched.
        return stored


def is_compressed(stored: bytes) -> bool:
    """Whether a stored value is already zstd-framed by us."""
    return stored[:HEADER_BYTES] == _ZSTD_HEADER
