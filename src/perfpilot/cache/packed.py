"""Commands packed by us, sent in one write on a pooled connection, replies read raw under one
deadline. Client-safe: only redis-py.

redis-py's generic command path is written for every command and option: each command goes
through the argument encoder and packer, each reply arms its own timeout timer and runs a
response callback. That costs about 60 us of Python per command in a ``Pipeline`` of the
sweep's batches (four commands per key, a thousand keys a step), and about 25 us on a single
GET or SET, more than zstd takes for a 10 KB value. The sweep packs its commands from
templates packed once (about 6x the keys per second on the same server); the cache client
sends its GETs and SETs the same way.

Error replies come back in their place as ``ResponseError`` values, like
``Pipeline.execute(raise_on_error=False)``. Any other failure (deadline, dropped connection,
cancellation) disconnects the connection before it goes back to the pool, so no half-read
reply is ever left for its next user.
"""

from __future__ import annotations

import asyncio
import math
from collections.abc import Awaitable, Callable, Sequence

import redis.asyncio as aioredis
from redis.asyncio.connection import AbstractConnection
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import ResponseError
from redis.exceptions import TimeoutError as RedisTimeoutError

# An argument longer than this is sent as its own chunk instead of being copied into the
# command's bytes (a 1 MB value would otherwise be copied once more just to be framed).
_COPY_LIMIT = 16 * 1024


def bulk(arg: bytes) -> bytes:
    """One RESP bulk string."""
    return b"$%d\r\n%s\r\n" % (len(arg), arg)


def pack(*args: bytes) -> list[bytes]:
    """One command as chunks to write in order; large arguments are not copied."""
    chunks: list[bytes] = []
    parts = [b"*%d\r\n" % len(args)]
    for arg in args:
        if len(arg) > _COPY_LIMIT:
            parts.append(b"$%d\r\n" % len(arg))
            chunks += (b"".join(parts), arg)
            parts = [b"\r\n"]
        else:
            parts.append(b"$%d\r\n%s\r\n" % (len(arg), arg))
    chunks.append(b"".join(parts))
    return chunks


class KeyCommand:
    """A command whose arguments are ``head``, one key, then ``tail``, packed once."""

    __slots__ = ("_prefix", "_suffix")

    def __init__(self, head: Sequence[bytes], tail: Sequence[bytes] = ()) -> None:
        if not head:
            raise ValueError("a command needs a name")
        count = len(head) + 1 + len(tail)
        self._prefix = b"*%d\r\n" % count + b"".join(bulk(a) for a in head)
        self._suffix = b"".join(bulk(a) for a in tail)

    def with_key(self, packed_key: bytes) -> bytes:
        """The command's RESP bytes for a key already packed with ``bulk``."""
        return self._prefix + packed_key + self._suffix


def pack_for_keys(commands: Sequence[KeyCommand], keys: Sequence[bytes]) -> bytes:
    """Every command for the first key, then every command for the next, as one payload."""
    parts: list[bytes] = []
    for key in keys:
        packed_key = bulk(key)
        parts.extend(command.with_key(packed_key) for command in commands)
    return b"".join(parts)


async def exchange(
    client: aioredis.Redis,
    payload: bytes | Sequence[bytes],
    replies: int,
    timeout_s: float | None = None,
) -> list[object]:
    """Send ``payload`` and read its ``replies`` raw (bytes, ints, None or ResponseError), on
    the connection the client's own commands would use: its single connection (where
    per-connection state such as CLIENT NO-TOUCH lives) under the client's lock, else one from
    the pool. ``timeout_s`` bounds the whole exchange; None takes the connection's
    ``socket_timeout`` (no deadline when that is None too, as in redis-py)."""
    # Plain branches, not an async context manager: this runs on every cache GET and SET, and
    # a generator-based context manager costs several microseconds a call there.
    if client.single_connection_client:
        await client.initialize()
        # redis-py serializes its single connection with this lock; holding it keeps a
        # concurrent command on the same client from interleaving with the exchange.
        async with client._single_conn_lock:
            if client.connection is None:
                raise RuntimeError("redis-py's initialize() left no single connection")
            return await _exchange_on(client.connection, payload, replies, timeout_s)
    pool = client.connection_pool
    conn = await pool.get_connection()  # type: ignore[no-untyped-call]
    try:
        return await _exchange_on(conn, payload, replies, timeout_s)
    finally:
        await pool.release(conn)


async def _exchange_on(
    conn: AbstractConnection,
    payload: bytes | Sequence[bytes],
    replies: int,
    timeout_s: float | None,
) -> list[object]:
    deadline = conn.socket_timeout if timeout_s is None else timeout_s
    try:
        await conn.send_packed_command(payload)
        out: list[object] = []
        # One deadline for the whole exchange instead of a timer per reply; math.inf tells
        # redis-py not to arm the connection's socket_timeout on every read.
        async with asyncio.timeout(deadline):
            for _ in range(replies):
                try:
                    reply = await conn.read_response(disable_decoding=True, timeout=math.inf)
                except ResponseError as exc:
                    reply = exc
                out.append(reply)
        return out
    except TimeoutError as exc:
        await conn.disconnect(nowait=True)
        raise RedisTimeoutError(f"{replies} replies not read within {deadline} s") from exc
    except BaseException:
        # Replies may be left unread: the connection must not be used again as it is.
        await conn.disconnect(nowait=True)
        raise


Fallback = Callable[[], Awaitable[Sequence[object]]]


async def call(
    client: aioredis.Redis, payload: bytes | Sequence[bytes], replies: int, fallback: Fallback
) -> list[object]:
    """``exchange`` with error replies raised. A dropped or timed-out connection is tried once
    more through ``fallback`` (redis-py's own command path), so the application's retry policy
    and reconnection still apply; only idempotent commands (GET, PTTL, SET) come this way."""
    try:
        out = await exchange(client, payload, replies)
    except (RedisConnectionError, RedisTimeoutError):
        out = list(await fallback())
    for reply in out:
        if isinstance(reply, ResponseError):
            raise reply
    return out
