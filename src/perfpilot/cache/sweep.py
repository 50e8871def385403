"""The server-side sweep: a paced SCAN reading each key's type, TTL, memory and access signal.

Never KEYS: SCAN walks the keyspace in steps of ``scan_count`` and the sweep stops at its key
count or time budget, returning the cursor to resume from. Each step's keys are read in one
round trip, by one Lua script per ``script_batch`` keys (atomic per batch, so a key cannot
expire between its fields) or, where scripting is unavailable, by one packed batch of plain
commands (``perfpilot.cache.packed``).

The sweep's TYPE, PTTL and OBJECT lookups count as keyspace hits (or misses) in INFO on Redis
7.0 and later; MEMORY USAGE does not. Each one is counted here from its reply so the reported
hit ratio can subtract them. TYPE, PTTL, MEMORY and OBJECT do not touch LRU/LFU; the element
count of a big key (LLEN, HLEN, ...) does, so it is read only for keys over ``big_key_bytes``.
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass

import redis.asyncio as aioredis
from redis.exceptions import ResponseError

from perfpilot.cache.packed import KeyCommand, exchange, pack, pack_for_keys

_COUNT_BY_TYPE = {
    "string": b"STRLEN",
    "list": b"LLEN",
    "hash": b"HLEN",
    "set": b"SCARD",
    "zset": b"ZCARD",
    "stream": b"XLEN",
}

# ARGV: 1 = "lfu" or "lru", 2 = MEMORY USAGE samples, 3 = big-key bytes. Five fields per key:
# type, pttl, memory bytes, freq or idle seconds, element count (-1 when not read).
_SCRIPT = """
local out = {}
local lfu = ARGV[1] == 'lfu'
local samples = ARGV[2]
local big = tonumber(ARGV[3])
local counts = {string='STRLEN', list='LLEN', hash='HLEN', set='SCARD', zset='ZCARD',
                stream='XLEN'}
for _, k in ipairs(KEYS) do
  local t = redis.call('TYPE', k)['ok']
  if t == 'none' then
    out[#out+1] = t; out[#out+1] = -2; out[#out+1] = -1; out[#out+1] = -1; out[#out+1] = -1
  else
    local mem = redis.call('MEMORY', 'USAGE', k, 'SAMPLES', samples) or -1
    local signal
    if lfu then signal = redis.call('OBJECT', 'FREQ', k) else
      signal = redis.call('OBJECT', 'IDLETIME', k) end
    local n = -1
    if mem >= big and counts[t] then n = redis.call(counts[t], k) end
    out[#out+1] = t; out[#out+1] = redis.call('PTTL', k); out[#out+1] = mem
    out[#out+1] = signal or -1; out[#out+1] = n
  end
end
return out
"""


@dataclass(frozen=True, slots=True)
class KeyReading:
    """One key. ``pttl_ms`` is -1 without a TTL; ``freq`` (LFU) or ``idle_s`` (LRU) is set;
    ``elements`` only for keys over the big-key size."""

    key: bytes
    type: str
    pttl_ms: int
    memory_bytes: int | None
    freq: int | None
    idle_s: int | None
    elements: int | None


@dataclass(frozen=True, slots=True)
class SweepBudget:
    max_keys: int = 200_000
    time_s: float = 10.0
    # Share of one core the Redis server may spend while the sweep runs (it includes other
    # clients, so the sweep backs off further when the server is busy anyway).
    cpu_share: float = 0.5
    scan_count: int = 1000
    memory_samples: int = 5
    big_key_bytes: int = 1 << 20
    script_batch: int = 200
    # Deadline for one step's replies on the pipeline path (a thousand keys take ~20 ms).
    batch_timeout_s: float = 10.0


@dataclass(frozen=True, slots=True)
class SweepResult:
    readings: tuple[KeyReading, ...]
    cursor: int
    complete: bool
    stopped_by: str
    duration_s: float
    paused_s: float
    server_cpu_s: float
    own_hits: int
    own_misses: int
    mode: str

    @property
    def keys_per_s(self) -> float | None:
        return len(self.readings) / self.duration_s if self.duration_s > 0 else None


@dataclass
class _Tally:
    hits: int = 0
    misses: int = 0


async def sweep(
    client: aioredis.Redis,
    budget: SweepBudget,
    lfu: bool,
    cursor: int = 0,
    use_script: bool = True,
) -> SweepResult:
    """Read keys from ``cursor`` until the pass completes or a budget is spent."""
    started = time.monotonic()
    cpu_start = cpu_mark = await _server_cpu(client)
    mark = started
    readings: list[KeyReading] = []
    tally = _Tally()
    paused = 0.0
    stopped_by = "complete"
    mode = "script" if use_script else "pipeline"
    while True:
        cursor, found = await client.scan(cursor, count=budget.scan_count)
        keys = [k if isinstance(k, bytes) else k.encode() for k in found]
        if keys:
            try:
                batch = await _read(client, keys, budget, lfu, tally, mode)
            except aioredis.ResponseError:
                if mode != "script":
                    raise
                # Scripting disabled or MEMORY/OBJECT refused inside scripts: use a pipeline.
                mode = "pipeline"
                batch = await _read(client, keys, budget, lfu, tally, mode)
            readings.extend(batch)
        if cursor == 0:
            break
        if len(readings) >= budget.max_keys:
            stopped_by = "max_keys"
            break
        if time.monotonic() - started >= budget.time_s:
            stopped_by = "time_budget"
            break
        now, cpu = time.monotonic(), await _server_cpu(client)
        pause = (cpu - cpu_mark) / budget.cpu_share - (now - mark)
        if pause > 0:
            await asyncio.sleep(min(pause, 1.0))
            paused += min(pause, 1.0)
        mark, cpu_mark = time.monotonic(), cpu
    cpu_end = await _server_cpu(client)
    return SweepResult(
        readings=tuple(readings),
        cursor=cursor,
        complete=cursor == 0,
        stopped_by=stopped_by,
        duration_s=time.monotonic() - started,
        paused_s=paused,
        server_cpu_s=cpu_end - cpu_start,
        own_hits=tally.hits,
        own_misses=tally.misses,
        mode=mode,
    )


async def _server_cpu(client: aioredis.Redis) -> float:
    info = await client.info("cpu")
    return float(info.get("used_cpu_sys", 0.0)) + float(info.get("used_cpu_user", 0.0))


async def _read(
    client: aioredis.Redis,
    keys: list[bytes],
    budget: SweepBudget,
    lfu: bool,
    tally: _Tally,
    mode: str,
) -> list[KeyReading]:
    if mode == "script":
        return await _read_script(client, keys, budget, lfu, tally)
    return await _read_pipeline(client, keys, budget, lfu, tally)


async def _read_script(
    client: aioredis.Redis, keys: list[bytes], budget: SweepBudget, lfu: bool, tally: _Tally
) -> list[KeyReading]:
    chunks = [keys[i : i + budget.script_batch] for i in range(0, len(keys), budget.script_batch)]
    replies = await _run_script(client, chunks, budget, lfu)
    readings = []
    for chunk, reply in zip(chunks, replies, strict=True):
        if not isinstance(reply, list):
            raise _refused(reply, "EVALSHA")
        for i, key in enumerate(chunk):
            t, pttl, mem, signal, n = reply[5 * i : 5 * i + 5]
            kind = t.decode() if isinstance(t, bytes) else str(t)
            _count_script(kind, int(n), tally)
            readings.append(_reading(key, kind, int(pttl), int(mem), int(signal), int(n), lfu))
    return readings


async def _run_script(
    client: aioredis.Redis, chunks: list[list[bytes]], budget: SweepBudget, lfu: bool
) -> list[object]:
    """One EVALSHA per chunk, on the client's own connection (``packed.exchange``). SCRIPT LOAD
    is idempotent and cheap; a script flushed between the two (NOSCRIPT) is loaded once more."""
    args = (b"lfu" if lfu else b"lru", b"%d" % budget.memory_samples, b"%d" % budget.big_key_bytes)

    async def evalsha() -> list[object]:
        sha = await client.script_load(_SCRIPT)
        sha_b = sha if isinstance(sha, bytes) else str(sha).encode()
        payload = [
            piece
            for chunk in chunks
            for piece in pack(b"EVALSHA", sha_b, b"%d" % len(chunk), *chunk, *args)
        ]
        return await exchange(client, payload, len(chunks), budget.batch_timeout_s)

    replies = await evalsha()
    if any(isinstance(r, ResponseError) and "NOSCRIPT" in str(r) for r in replies):
        replies = await evalsha()
    return replies


def _count_script(kind: str, elements: int, tally: _Tally) -> None:
    if kind == "none":
        tally.misses += 1
        return
    # TYPE, OBJECT and PTTL hit; the element count is one more lookup.
    tally.hits += 3 + (1 if elements >= 0 else 0)


_TYPE = KeyCommand([b"TYPE"])
_PTTL = KeyCommand([b"PTTL"])
_FREQ = KeyCommand([b"OBJECT", b"FREQ"])
_IDLETIME = KeyCommand([b"OBJECT", b"IDLETIME"])


async def _read_pipeline(
    client: aioredis.Redis, keys: list[bytes], budget: SweepBudget, lfu: bool, tally: _Tally
) -> list[KeyReading]:
    memory = KeyCommand([b"MEMORY", b"USAGE"], [b"SAMPLES", str(budget.memory_samples).encode()])
    commands = (_TYPE, _PTTL, memory, _FREQ if lfu else _IDLETIME)
    replies = await exchange(
        client, pack_for_keys(commands, keys), len(commands) * len(keys), budget.batch_timeout_s
    )
    readings = []
    big: list[tuple[int, str]] = []
    for i, key in enumerate(keys):
        t, pttl, mem, signal = replies[4 * i : 4 * i + 4]
        if isinstance(t, ResponseError) or not isinstance(pttl, int):
            # TYPE and PTTL answer for any key; an error here is a refusal (ACL), not data.
            raise t if isinstance(t, ResponseError) else _refused(pttl, "PTTL")
        kind = t.decode() if isinstance(t, bytes) else str(t)
        for exists in (kind != "none", pttl != -2, isinstance(signal, int)):
            tally.hits += exists
            tally.misses += not exists
        mem_i = mem if isinstance(mem, int) else -1
        signal_i = signal if isinstance(signal, int) else -1
        readings.append(_reading(key, kind, pttl, mem_i, signal_i, -1, lfu))
        if mem_i >= budget.big_key_bytes and kind in _COUNT_BY_TYPE:
            big.append((len(readings) - 1, kind))
    if big:
        await _count_elements(client, readings, big, tally)
    return readings


def _refused(reply: object, command: str) -> ResponseError:
    if isinstance(reply, ResponseError):
        return reply
    return ResponseError(f"unexpected {command} reply {reply!r}")


async def _count_elements(
    client: aioredis.Redis, readings: list[KeyReading], big: list[tuple[int, str]], tally: _Tally
) -> None:
    payload = [
        piece for index, kind in big for piece in pack(_COUNT_BY_TYPE[kind], readings[index].key)
    ]
    counts = await exchange(client, payload, len(big), 10.0)
    for (index, _), count in zip(big, counts, strict=True):
        if isinstance(count, int):
            tally.hits += 1
            old = readings[index]
            readings[index] = KeyReading(
                old.key, old.type, old.pttl_ms, old.memory_bytes, old.freq, old.idle_s, count
            )


def _reading(
    key: bytes, kind: str, pttl: int, mem: int, signal: int, n: int, lfu: bool
) -> KeyReading:
    return KeyReading(
        key=key,
        type=kind,
        pttl_ms=pttl,
        memory_bytes=mem if mem >= 0 else None,
        freq=signal if lfu and signal >= 0 else None,
        idle_s=signal if not lfu and signal >= 0 else None,
        elements=n if n >= 0 else None,
    )
