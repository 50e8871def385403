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
from dataclasses import dataclass, replace

import redis.asyncio as aioredis
from redis.exceptions import ResponseError

from perfpilot.cache.packed import KeyCommand, bulk, exchange, pack, pack_for_keys

_COUNT_BY_TYPE = {
    "string": KeyCommand([b"STRLEN"]),
    "list": KeyCommand([b"LLEN"]),
    "hash": KeyCommand([b"HLEN"]),
    "set": KeyCommand([b"SCARD"]),
    "zset": KeyCommand([b"ZCARD"]),
    "stream": KeyCommand([b"XLEN"]),
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


@dataclass(frozen=True, slots=True)
class _Batch:
    """One SCAN step's raw replies, read by ``mode``."""

    keys: list[bytes]
    mode: str
    replies: list[object]


@dataclass(frozen=True, slots=True)
class _Parsed:
    readings: list[KeyReading]
    hits: int
    misses: int
    big: list[tuple[int, str]]  # (index in readings, type) of keys whose elements to count


async def sweep(
    client: aioredis.Redis,
    budget: SweepBudget,
    lfu: bool,
    cursor: int = 0,
    use_script: bool = True,
) -> SweepResult:
    """Read keys from ``cursor`` until the pass completes or a budget is spent.

    Step N's replies are parsed (in a worker thread) while Redis works on step N+1's batch:
    read one after the other, Redis would idle while Python parses and the other way round.
    """
    started = time.monotonic()
    cpu_start = cpu_mark = await _server_cpu(client)
    mark = started
    readings: list[KeyReading] = []
    reader = _Reader(client, budget, lfu, "script" if use_script else "pipeline")
    pending: _Batch | None = None
    paused = 0.0
    stopped_by = "complete"
    while True:
        cursor, found = await client.scan(cursor, count=budget.scan_count)
        keys = [k if isinstance(k, bytes) else k.encode() for k in found]
        fetched, parsed = await reader.overlap(keys, pending)
        if parsed is not None:
            readings.extend(await reader.settle(parsed))
        pending = fetched
        in_hand = len(readings) + (len(pending.keys) if pending else 0)
        if cursor == 0:
            break
        if in_hand >= budget.max_keys:
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
    if pending is not None:
        readings.extend(await reader.settle(await reader.parse(pending)))
    cpu_end = await _server_cpu(client)
    return SweepResult(
        readings=tuple(readings),
        cursor=cursor,
        complete=cursor == 0,
        stopped_by=stopped_by,
        duration_s=time.monotonic() - started,
        paused_s=paused,
        server_cpu_s=cpu_end - cpu_start,
        own_hits=reader.tally.hits,
        own_misses=reader.tally.misses,
        mode=reader.mode,
    )


async def _server_cpu(client: aioredis.Redis) -> float:
    info = await client.info("cpu")
    return float(info.get("used_cpu_sys", 0.0)) + float(info.get("used_cpu_user", 0.0))


class _Reader:
    """Fetches and parses the sweep's batches, falling back from the script to plain commands
    when scripting is refused (disabled, ACL, or MEMORY/OBJECT not allowed in scripts)."""

    def __init__(self, client: aioredis.Redis, budget: SweepBudget, lfu: bool, mode: str) -> None:
        self.client, self.budget, self.lfu, self.mode = client, budget, lfu, mode
        self.tally = _Tally()

    async def fetch(self, keys: list[bytes]) -> _Batch:
        mode = self.mode
        if mode == "script":
            try:
                return _Batch(
                    keys, mode, await _fetch_script(self.client, keys, self.budget, self.lfu)
                )
            except ResponseError:
                self.mode = mode = "pipeline"
        return _Batch(keys, mode, await _fetch_pipeline(self.client, keys, self.budget, self.lfu))

    async def parse(self, batch: _Batch) -> _Parsed:
        """The batch parsed; a refused script batch is read again with plain commands."""
        try:
            return _parse(batch, self.budget, self.lfu)
        except ResponseError as exc:
            return await self._recover(batch, exc)

    async def _recover(self, batch: _Batch, refused: ResponseError) -> _Parsed:
        if batch.mode != "script":
            raise refused
        self.mode = "pipeline"
        return _parse(await self.fetch(batch.keys), self.budget, self.lfu)

    async def overlap(
        self, keys: list[bytes], pending: _Batch | None
    ) -> tuple[_Batch | None, _Parsed | None]:
        """Fetch ``keys`` while ``pending`` is parsed in a worker thread."""
        if pending is None:
            return (await self.fetch(keys) if keys else None), None
        if not keys:
            return None, await self.parse(pending)
        # Both always run to the end (return_exceptions), so a failing parse never leaves a
        # fetch running on the connection behind the caller's back.
        fetched, parsed = await asyncio.gather(
            self.fetch(keys), asyncio.to_thread(_parse, pending, self.budget, self.lfu),
            return_exceptions=True,
        )  # fmt: skip
        if isinstance(fetched, BaseException):
            raise fetched
        if isinstance(parsed, ResponseError):
            return fetched, await self._recover(pending, parsed)
        if isinstance(parsed, BaseException):
            raise parsed
        return fetched, parsed

    async def settle(self, parsed: _Parsed) -> list[KeyReading]:
        """Count the parsed batch's own lookups and read its big keys' element counts."""
        self.tally.hits += parsed.hits
        self.tally.misses += parsed.misses
        if parsed.big:
            await _count_elements(
                self.client, parsed.readings, parsed.big, self.tally, self.budget.batch_timeout_s
            )
        return parsed.readings


def _parse(batch: _Batch, budget: SweepBudget, lfu: bool) -> _Parsed:
    if batch.mode == "script":
        return _parse_script(batch, budget, lfu)
    return _parse_pipeline(batch, budget, lfu)


# Type names as Redis sends them, decoded once instead of once per key.
_TYPES = {t.encode(): t for t in ("none", "string", "list", "hash", "set", "zset", "stream")}


def _chunks(keys: list[bytes], size: int) -> list[list[bytes]]:
    return [keys[i : i + size] for i in range(0, len(keys), size)]


async def _fetch_script(
    client: aioredis.Redis, keys: list[bytes], budget: SweepBudget, lfu: bool
) -> list[object]:
    """One EVALSHA per ``script_batch`` keys, on the client's own connection. SCRIPT LOAD is
    idempotent and cheap; a script flushed between the two (NOSCRIPT) is loaded once more."""
    chunks = _chunks(keys, budget.script_batch)
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


def _parse_script(batch: _Batch, budget: SweepBudget, lfu: bool) -> _Parsed:
    readings: list[KeyReading] = []
    hits = misses = 0
    for chunk, reply in zip(_chunks(batch.keys, budget.script_batch), batch.replies, strict=True):
        if not isinstance(reply, list) or len(reply) != 5 * len(chunk):
            raise _refused(reply, "EVALSHA")
        fields = iter(reply)
        for key, t, pttl, mem, signal, n in zip(chunk, *[fields] * 5, strict=True):
            kind = _type_name(t)
            if kind == "none":
                misses += 1
            else:
                # TYPE, OBJECT and PTTL hit; the element count is one more lookup.
                hits += 4 if n >= 0 else 3
            readings.append(_reading(key, kind, pttl, mem, signal, n, lfu))
    return _Parsed(readings, hits, misses, [])


def _type_name(reply: object) -> str:
    if isinstance(reply, bytes):
        return _TYPES.get(reply) or reply.decode()
    return str(reply)


_TYPE = KeyCommand([b"TYPE"])
_PTTL = KeyCommand([b"PTTL"])
_FREQ = KeyCommand([b"OBJECT", b"FREQ"])
_IDLETIME = KeyCommand([b"OBJECT", b"IDLETIME"])


async def _fetch_pipeline(
    client: aioredis.Redis, keys: list[bytes], budget: SweepBudget, lfu: bool
) -> list[object]:
    memory = KeyCommand([b"MEMORY", b"USAGE"], [b"SAMPLES", str(budget.memory_samples).encode()])
    commands = (_TYPE, _PTTL, memory, _FREQ if lfu else _IDLETIME)
    return await exchange(
        client, pack_for_keys(commands, keys), len(commands) * len(keys), budget.batch_timeout_s
    )


def _parse_pipeline(batch: _Batch, budget: SweepBudget, lfu: bool) -> _Parsed:
    readings = []
    big: list[tuple[int, str]] = []
    hits = misses = 0
    replies = batch.replies
    for i, key in enumerate(batch.keys):
        t, pttl, mem, signal = replies[4 * i : 4 * i + 4]
        if isinstance(t, ResponseError) or not isinstance(pttl, int):
            # TYPE and PTTL answer for any key; an error here is a refusal (ACL), not data.
            raise t if isinstance(t, ResponseError) else _refused(pttl, "PTTL")
        kind = _type_name(t)
        for exists in (kind != "none", pttl != -2, isinstance(signal, int)):
            hits += exists
            misses += not exists
        mem_i = mem if isinstance(mem, int) else -1
        signal_i = signal if isinstance(signal, int) else -1
        readings.append(_reading(key, kind, pttl, mem_i, signal_i, -1, lfu))
        if mem_i >= budget.big_key_bytes and kind in _COUNT_BY_TYPE:
            big.append((len(readings) - 1, kind))
    return _Parsed(readings, hits, misses, big)


def _refused(reply: object, command: str) -> ResponseError:
    if isinstance(reply, ResponseError):
        return reply
    return ResponseError(f"unexpected {command} reply {reply!r}")


async def _count_elements(
    client: aioredis.Redis,
    readings: list[KeyReading],
    big: list[tuple[int, str]],
    tally: _Tally,
    timeout_s: float,
) -> None:
    payload = [_COUNT_BY_TYPE[kind].with_key(bulk(readings[index].key)) for index, kind in big]
    counts = await exchange(client, payload, len(big), timeout_s)
    for (index, _), count in zip(big, counts, strict=True):
        if isinstance(count, int):
            tally.hits += 1
            readings[index] = replace(readings[index], elements=count)


def _reading(
    key: bytes, kind: str, pttl: int, mem: int, signal: int, n: int, lfu: bool
) -> KeyReading:
    """A reading from the replies' sentinels: a negative value means not known."""
    known = signal if signal >= 0 else None
    return KeyReading(
        key,
        kind,
        pttl,
        mem if mem >= 0 else None,
        known if lfu else None,
        None if lfu else known,
        n if n >= 0 else None,
    )
