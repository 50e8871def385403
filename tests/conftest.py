"""Session-wide test servers: a private PostgreSQL cluster and a private Redis.

Each server starts once per session, on a free port in its own temporary directory, and is
removed at the end. Tests get a fresh database (``pg_dsn``) or a flushed Redis (``redis_url``);
the system services on 5432 and 6379 are never touched. Missing binaries fail the run rather
than skip it: a suite that silently skips its database tests proves nothing.
"""

from __future__ import annotations

import os
import pwd
import shutil
import signal
import subprocess
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from functools import partial
from pathlib import Path

import psycopg
import pytest
import redis
from psycopg import sql
from tests.ports import free_port

INSTALL_HINT = "run `make test` or `scripts/install-system-deps` (as root) to install it"
READY_TIMEOUT_S = 30.0
START_ATTEMPTS = 3
SHM_MIN_FREE = 1 << 30
PG_USER = "postgres"
TEMPLATE_DB = "perfpilot_template"
REDIS_PIDFILE = "redis.pid"

# Runs beside the session: once pytest ($1) is gone without its teardown (killed by a timeout
# or SIGKILL), it runs the stop command and removes the server's directory ($2), so a killed
# run does not leave servers holding ports and RAM.
WATCHDOG = """
while kill -0 "$1" 2>/dev/null; do sleep 0.5; done
dir=$2
shift 2
"$@" >/dev/null 2>&1
rm -rf -- "$dir"
"""

# Fast and small: the cluster is thrown away, so durability settings are off.
PG_CONF = """
listen_addresses = '127.0.0.1'
unix_socket_directories = '{socket_dir}'
shared_preload_libraries = 'pg_stat_statements'
pg_stat_statements.track = all
fsync = off
synchronous_commit = off
full_page_writes = off
shared_buffers = 32MB
max_connections = 100
log_min_messages = warning
"""


@dataclass(frozen=True)
class PgServer:
    """A running private PostgreSQL cluster; superuser ``postgres`` with trust auth."""

    host: str
    port: int
    data_dir: Path
    user: str = PG_USER

    def dsn(self, dbname: str = "postgres") -> str:
        return f"postgresql://{self.user}@{self.host}:{self.port}/{dbname}"


@dataclass(frozen=True)
class RedisServer:
    """A running private redis-server without persistence."""

    host: str
    port: int
    dir: Path

    def url(self, db: int = 0) -> str:
        return f"redis://{self.host}:{self.port}/{db}"


# ---------------------------------------------------------------- helpers


def _scratch_dir(prefix: str) -> Path:
    """A private temporary directory, in RAM when /dev/shm has room.

    On a disk-backed /tmp, CREATE DATABASE takes ~200 ms even with fsync=off; on tmpfs ~10 ms,
    which is the difference that makes a fresh database per test affordable.
    """
    shm = Path("/dev/shm")
    if shm.is_dir() and os.access(shm, os.W_OK) and shutil.disk_usage(shm).free >= SHM_MIN_FREE:
        return Path(tempfile.mkdtemp(prefix=prefix, dir=shm))
    return Path(tempfile.mkdtemp(prefix=prefix))


def _watchdog(base: Path, stop: list[str]) -> subprocess.Popen[bytes]:
    """Start the WATCHDOG for ``base``; its own session keeps it alive when pytest is killed."""
    return subprocess.Popen(
        ["bash", "-c", WATCHDOG, "perfpilot-watchdog", str(os.getpid()), str(base), *stop],
        start_new_session=True,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )


def _dismiss(watchdog: subprocess.Popen[bytes]) -> None:
    """Stop a watchdog after a normal teardown (its group: bash and its sleep)."""
    if watchdog.poll() is None:
        os.killpg(watchdog.pid, signal.SIGTERM)
    watchdog.wait()


def _tail(path: Path, lines: int = 40) -> str:
    try:
        text = path.read_text(errors="replace")
    except FileNotFoundError:
        return f"(no log at {path})"
    return "\n".join(text.splitlines()[-lines:])


def _wait_until(ready: Callable[[], bool], alive: Callable[[], bool], what: str, log: Path) -> bool:
    """Poll ``ready``: True once it is, False if the server exited; fails on timeout."""
    deadline = time.monotonic() + READY_TIMEOUT_S
    while time.monotonic() < deadline:
        if ready():
            return True
        if not alive():
            return False
        time.sleep(0.02)
    pytest.fail(f"{what} not ready after {READY_TIMEOUT_S:.0f}s; log tail:\n{_tail(log)}")


def _port_taken(log: Path) -> bool:
    """Whether the server failed because another process bound the port first."""
    return "Address already in use" in _tail(log)


def _run(cmd: list[str], what: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    result = subprocess.run(cmd, cwd=cwd, capture_output=True, text=True, check=False)
    if result.returncode != 0:
        pytest.fail(f"{what} failed ({result.returncode}): {' '.join(cmd)}\n{result.stderr}")
    return result


# ---------------------------------------------------------------- PostgreSQL


def _pg_bindir() -> Path:
    """Newest Debian server binaries, else initdb on PATH (other distributions)."""
    candidates = [
        path.parent
        for path in Path("/usr/lib/postgresql").glob("*/bin/initdb")
        if path.parent.parent.name.isdigit()
    ]
    if candidates:
        return max(candidates, key=lambda path: int(path.parent.name))
    initdb = shutil.which("initdb")
    if initdb is None:
        pytest.fail(f"PostgreSQL server binaries (initdb, pg_ctl) not found; {INSTALL_HINT}")
    return Path(initdb).parent


def _as_pg_owner() -> list[str]:
    """Command prefix that runs as ``postgres`` when we are root: initdb refuses root."""
    if os.geteuid() != 0:
        return []
    if shutil.which("runuser") is None:
        pytest.fail("running as root needs `runuser` (util-linux) to start PostgreSQL")
    try:
        pwd.getpwnam(PG_USER)
    except KeyError:
        pytest.fail(f"running as root needs a `{PG_USER}` system user; {INSTALL_HINT}")
    return ["runuser", "-u", PG_USER, "--"]


def _pg_ready(bindir: Path, port: int, cwd: Path) -> bool:
    cmd = [str(bindir / "pg_isready"), "-q", "-h", "127.0.0.1", "-p", str(port), "-U", PG_USER]
    return subprocess.run(cmd, cwd=cwd, check=False).returncode == 0


def _pg_alive(bindir: Path, data: Path, prefix: list[str], cwd: Path) -> bool:
    cmd = [*prefix, str(bindir / "pg_ctl"), "status", "-D", str(data)]
    return subprocess.run(cmd, cwd=cwd, capture_output=True, check=False).returncode == 0


def _start_postgres(bindir: Path, base: Path, prefix: list[str]) -> PgServer:
    data, log = base / "data", base / "postgres.log"
    _run(
        [
            *prefix,
            str(bindir / "initdb"),
            "-D",
            str(data),
            "-U",
            PG_USER,
            "-A",
            "trust",
            "-E",
            "UTF8",
            "--no-locale",
            "--no-sync",
        ],
        "initdb",
        cwd=base,
    )
    with (data / "postgresql.conf").open("a") as conf:
        conf.write(PG_CONF.format(socket_dir=base))
    for _ in range(START_ATTEMPTS):
        # The port is free when chosen but could be taken before postgres binds it: retry.
        port = free_port()
        start = [*prefix, str(bindir / "pg_ctl"), "start", "-D", str(data), "-l", str(log)]
        start += ["-w", "-t", str(int(READY_TIMEOUT_S)), "-o", f"-p {port}"]
        # pg_ctl -w already notices a postmaster that dies; pg_isready then confirms that
        # TCP connections on our port are accepted.
        started = subprocess.run(start, cwd=base, capture_output=True, check=False)
        if started.returncode == 0 and _wait_until(
            partial(_pg_ready, bindir, port, base),
            partial(_pg_alive, bindir, data, prefix, base),
            "PostgreSQL",
            log,
        ):
            return PgServer(host="127.0.0.1", port=port, data_dir=data)
        if not _port_taken(log):
            break
    pytest.fail(f"PostgreSQL did not start; log tail:\n{_tail(log)}")


@pytest.fixture(scope="session")
def pg_server() -> Iterator[PgServer]:
    """A private PostgreSQL cluster with pg_stat_statements preloaded, for the whole session."""
    bindir = _pg_bindir()
    prefix = _as_pg_owner()
    base = _scratch_dir("perfpilot-pg-")
    if prefix:
        shutil.chown(base, user=PG_USER, group=None)
    stop = [*prefix, str(bindir / "pg_ctl"), "stop", "-D", str(base / "data")]
    watchdog = _watchdog(base, [*stop, "-m", "immediate"])
    try:
        server = _start_postgres(bindir, base, prefix)
        try:
            yield server
        finally:
            subprocess.run([*stop, "-m", "fast", "-w"], cwd=base, capture_output=True, check=True)
    finally:
        _dismiss(watchdog)
        shutil.rmtree(base)


@pytest.fixture(scope="session")
def pg_template(pg_server: PgServer) -> str:
    """Name of a template database with pg_stat_statements and hypopg installed."""
    with psycopg.connect(pg_server.dsn(), autocommit=True) as admin:
        admin.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(TEMPLATE_DB)))
    with psycopg.connect(pg_server.dsn(TEMPLATE_DB), autocommit=True) as conn:
        conn.execute("CREATE EXTENSION pg_stat_statements")
        try:
            conn.execute("CREATE EXTENSION hypopg")
        except psycopg.errors.UndefinedFile as exc:
            pytest.fail(f"HypoPG is not installed for this PostgreSQL ({exc}); {INSTALL_HINT}")
    return TEMPLATE_DB


@pytest.fixture
def pg_dsn(pg_server: PgServer, pg_template: str) -> Iterator[str]:
    """DSN of a fresh database (with pg_stat_statements and hypopg) that is dropped afterwards.

    pg_stat_statements is reset at the start; its view is cluster-wide, so filter on
    ``dbid = (SELECT oid FROM pg_database WHERE datname = current_database())``.
    """
    name = f"test_{uuid.uuid4().hex[:16]}"
    create = sql.SQL("CREATE DATABASE {} TEMPLATE {}").format(
        sql.Identifier(name), sql.Identifier(pg_template)
    )
    with psycopg.connect(pg_server.dsn(), autocommit=True) as admin:
        if admin.info.server_version >= 150000:
            # FILE_COPY skips WAL-logging every page of the template (PostgreSQL 15+).
            create += sql.SQL(" STRATEGY FILE_COPY")
        admin.execute(create)
    with psycopg.connect(pg_server.dsn(name), autocommit=True) as conn:
        conn.execute("SELECT pg_stat_statements_reset()")
    try:
        yield pg_server.dsn(name)
    finally:
        with psycopg.connect(pg_server.dsn(), autocommit=True) as admin:
            admin.execute(
                sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name))
            )


# ---------------------------------------------------------------- Redis


def _redis_ready(port: int) -> bool:
    client = redis.Redis(host="127.0.0.1", port=port, socket_connect_timeout=0.5)
    try:
        return bool(client.ping())
    except redis.ConnectionError:
        return False
    finally:
        client.close()


def _start_redis(binary: str, base: Path) -> tuple[RedisServer, subprocess.Popen[bytes]]:
    # No --logfile: redis logs to stdout, which goes to the log file together with the
    # config errors it prints to stderr before logging is set up.
    log = base / "redis.log"
    for _ in range(START_ATTEMPTS):
        port = free_port()
        cmd = [binary, "--port", str(port), "--bind", "127.0.0.1", "--save", ""]
        cmd += ["--appendonly", "no", "--dir", str(base), "--pidfile", str(base / REDIS_PIDFILE)]
        with log.open("ab") as out:
            proc = subprocess.Popen(cmd, cwd=base, stdout=out, stderr=subprocess.STDOUT)
        if _wait_until(partial(_redis_ready, port), partial(_running, proc), "redis", log):
            return RedisServer(host="127.0.0.1", port=port, dir=base), proc
        if not _port_taken(log):
            break
    pytest.fail(f"redis-server did not start; log tail:\n{_tail(log)}")


def _running(proc: subprocess.Popen[bytes]) -> bool:
    return proc.poll() is None


def _stop(proc: subprocess.Popen[bytes]) -> None:
    proc.terminate()
    try:
        proc.wait(timeout=10)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


@pytest.fixture(scope="session")
def redis_server() -> Iterator[RedisServer]:
    """A private redis-server (no RDB, no AOF) for the whole session."""
    binary = shutil.which("redis-server") or "/usr/bin/redis-server"
    if not Path(binary).exists():
        pytest.fail(f"redis-server not found; {INSTALL_HINT}")
    base = _scratch_dir("perfpilot-redis-")
    kill = ["sh", "-c", 'kill "$(cat "$0")"', str(base / REDIS_PIDFILE)]
    watchdog = _watchdog(base, kill)
    try:
        server, proc = _start_redis(binary, base)
        try:
            yield server
        finally:
            _stop(proc)
    finally:
        _dismiss(watchdog)
        shutil.rmtree(base)


@pytest.fixture
def redis_url(redis_server: RedisServer) -> str:
    """URL of logical DB 0 of the private Redis, emptied and with fresh stats and slowlog."""
    client = redis.Redis(host=redis_server.host, port=redis_server.port)
    try:
        client.flushall()
        client.slowlog_reset()
        client.config_resetstat()
    finally:
        client.close()
    return redis_server.url(0)
