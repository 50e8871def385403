"""Big, hot and cold keys from a sweep and the client signal, each with its signal and confidence.

The client library's top-K is the precise hot-key signal: it counts real reads. On an LFU
server, OBJECT FREQ is a logarithmic counter that saturates at 255 and decays one step per
minute (``lfu-decay-time``), so it ranks coarsely; on an LRU server, OBJECT IDLETIME only says
how recently a key was touched, which is evidence of recency, not frequency.
See https://redis.io/docs/latest/develop/reference/eviction/.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from enum import StrEnum

from perfpilot.cache.client_signal import HotKeyCount
from perfpilot.cache.controlkeys import is_control_key
from perfpilot.cache.keyname import display
from perfpilot.cache.sweep import KeyReading

# OBJECT FREQ of a new key is 5 (LFU_INIT_VAL); only keys read since then rise above it.
LFU_INIT = 5


class Signal(StrEnum):
    CLIENT_TOPK = "client_topk"
    LFU_FREQ = "object_freq"
    LRU_IDLE = "object_idletime"


@dataclass(frozen=True, slots=True)
class RankedKey:
    """One key with the figure it was ranked by; ``confidence`` is 0-1 with its basis."""

    key: bytes
    name: str
    type: str
    memory_bytes: int | None
    elements: int | None
    pttl_ms: int | None
    score: float
    signal: Signal | None
    confidence: float
    basis: str


def big_keys(readings: Iterable[KeyReading], threshold: int, top: int = 20) -> list[RankedKey]:
    """The largest keys by MEMORY USAGE; every key over ``threshold`` comes first."""
    sized = [r for r in readings if r.memory_bytes is not None and not is_control_key(r.key)]
    sized.sort(key=lambda r: -(r.memory_bytes or 0))
    chosen = [r for r in sized if (r.memory_bytes or 0) >= threshold] or sized[:top]
    return [
        _ranked(r, float(r.memory_bytes or 0), None, 1.0, "MEMORY USAGE (sampled for containers)")
        for r in chosen[: max(top, len(chosen))]
    ]


def hot_keys(
    readings: Sequence[KeyReading], client_hot: Sequence[HotKeyCount], lfu: bool, top: int = 20
) -> list[RankedKey]:
    """Hot keys from the client top-K when there is one, else from OBJECT FREQ (LFU only)."""
    by_key = {r.key: r for r in readings}
    if client_hot:
        floor = client_hot[-1].count if len(client_hot) >= top else 0.0
        out = []
        for hk in client_hot[:top]:
            margin = (hk.count - floor) / hk.count if hk.count > 0 else 0.0
            reading = by_key.get(hk.key)
            out.append(
                _ranked(
                    reading or KeyReading(hk.key, "unknown", -2, None, None, None, None),
                    hk.count,
                    Signal.CLIENT_TOPK,
                    round(0.7 + 0.3 * margin, 3),
                    "decayed read count from the client library's sampled top-K",
                )
            )
        return out
    if not lfu:
        return []
    ranked = sorted(
        (r for r in readings if r.freq is not None and r.freq > LFU_INIT),
        key=lambda r: -(r.freq or 0),
    )
    return [
        _ranked(
            r,
            float(r.freq or 0),
            Signal.LFU_FREQ,
            0.5,
            "OBJECT FREQ: logarithmic, saturating counter; ties rank arbitrarily",
        )
        for r in ranked[:top]
    ]


def cold_keys(
    readings: Iterable[KeyReading], cold_idle_s: float, cold_freq: int, top: int = 20
) -> list[RankedKey]:
    """Keys not read for long (LRU) or whose LFU counter decayed to ``cold_freq``, largest first."""
    cold = []
    for r in readings:
        if is_control_key(r.key):
            continue
        if r.idle_s is not None and r.idle_s >= cold_idle_s:
            cold.append((r, float(r.idle_s), Signal.LRU_IDLE, 0.8, "idle time since last access"))
        elif r.freq is not None and r.freq <= cold_freq:
            cold.append((r, float(r.freq), Signal.LFU_FREQ, 0.6, "LFU counter decayed to floor"))
    cold.sort(key=lambda c: -(c[0].memory_bytes or 0))
    return [_ranked(*c) for c in cold[:top]]


def _ranked(
    r: KeyReading, score: float, signal: Signal | None, confidence: float, basis: str
) -> RankedKey:
    return RankedKey(
        key=r.key,
        name=display(r.key),
        type=r.type,
        memory_bytes=r.memory_bytes,
        elements=r.elements,
        pttl_ms=r.pttl_ms if r.pttl_ms != -2 else None,
        score=score,
        signal=signal,
        confidence=confidence,
        basis=basis,
    )
