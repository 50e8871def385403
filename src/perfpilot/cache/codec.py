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
    """When compression pays: values from ``min_bytes`` that shrink by at least ``min_saving``.

    Values up to ``small_value_bytes`` use zstd's fast strategy with a 4 KB hash table instead
    of the ``level`` preset (0 turns this off). The presets size their tables for throughput on
    large inputs; a SET of a few KB runs with cold caches after the previous round trip, and
    there clearing and probing a 128-256 KB table is what costs. On JSON documents of ~10 KB
    the small table compressed to the same size as level 3 in 30-60 % less time (measured
    interleaved with Redis round trips: ``bench/cache.py``), on plain text ~8 % larger.
    """

    min_bytes: int = 1024
    min_saving: float = 0.10
    level: int = 3
    small_value_bytes: int = 64 * 1024


def _small_value_params() -> zstandard.ZstdCompressionParameters:
    return zstandard.ZstdCompressionParameters(
        window_log=16,
        hash_log=10,
        chain_log=10,
        search_log=1,
        min_match=5,
        target_length=0,
        strategy=zstandard.STRATEGY_FAST,
    )


class Codec:
    """Encodes and decodes values; one instance per client (zstd contexts are reused)."""

    def __init__(self, policy: CompressionPolicy | None = None) -> None:
        self.policy = policy or CompressionPolicy()
        self._compressor = zstandard.ZstdCompressor(level=self.policy.level)
        self._small = zstandard.ZstdCompressor(compression_params=_small_value_params())
        self._decompressor = zstandard.ZstdDecompressor()

    def encode(self, value: bytes) -> bytes:
        """The value to store: compressed when it pays, else plain (framed only if ambiguous)."""
        size = len(value)
        if size >= self.policy.min_bytes:
            small = size <= self.policy.small_value_bytes
            packed = (self._small if small else self._compressor).compress(value)
            if len(packed) + HEADER_BYTES <= size * (1 - self.policy.min_saving):
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
        codec = stored[len(MAGIC)]
        if codec == RAW:
            return stored[HEADER_BYTES:]
        if codec == ZSTD:
            try:
                # A view, not a slice: the body is not copied just to be read once.
                return self._decompressor.decompress(memoryview(stored)[HEADER_BYTES:])
            except zstandard.ZstdError as exc:
                raise CodecError(f"zstd value cannot be decompressed: {exc}") from exc
        # A codec byte we do not know: not ours to decode, hand it back untouched.
        return stored


def is_compressed(stored: bytes) -> bool:
    """Whether a stored value is already zstd-framed by us."""
    return stored[:HEADER_BYTES] == _ZSTD_HEADER
