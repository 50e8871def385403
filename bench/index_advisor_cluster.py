"""A private, throw-away PostgreSQL cluster for bench/index_advisor.py.

Started like the test suite's (tests/conftest.py): newest Debian server binaries, a free port,
a data directory in RAM when /dev/shm has room, ``runuser -u postgres`` when run as root, and a
watchdog that stops the cluster and removes its directory if this process dies without its
cleanup. Durability is off: the data is generated and thrown away.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import socket
import subprocess
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

PG_USER = "postgres"
SHM_MIN_FREE = 8 << 30
SETTINGS = """
listen_addresses = '127.0.0.1'
unix_socket_directories = '{socket_dir}'
shared_preload_libraries = 'pg_stat_statements'
pg_stat_statements.track = top
fsync = off
synchronous_commit = off
full_page_writes = off
max_wal_size = '4GB'
shared_buffers = '{shared_buffers}'
work_mem = '16MB'
maintenance_work_mem = '256MB'
jit = off
log_min_messages = warning
"""
WATCHDOG = """
while kill -0 "$1" 2>/dev/null; do sleep 0.5; done
dir=$2
shift 2
"$@" >/dev/null 2>&1
rm -rf -- "$dir"
"""


@dataclass(frozen=True)
class Cluster:
    dsn: str
    label: str


def _bindir() -> Path:
    found = sorted(
        (p.parent for p in Path("/usr/lib/postgresql").glob("*/bin/initdb")),
        key=lambda p: int(p.parent.name) if p.parent.name.isdigit() else 0,
    )
    if found:
        return found[-1]
    initdb = shutil.which("initdb")
    if initdb is None:
        raise RuntimeError("PostgreSQL server binaries (initdb, pg_ctl) not found")
    return Path(initdb).parent


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
    return port


def _base_dir() -> Path:
    shm = Path("/dev/shm")
    if shm.is_dir() and os.access(shm, os.W_OK) and shutil.disk_usage(shm).free >= SHM_MIN_FREE:
        return Path(tempfile.mkdtemp(prefix="perfpilot-bench-", dir=shm))
    return Path(tempfile.mkdtemp(prefix="perfpilot-bench-"))


@contextlib.contextmanager
def private_cluster(large: bool) -> Iterator[Cluster]:
    """Start a cluster (shared_buffers 256MB when ``large``, else 32MB); stop it on exit."""
    bindir = _bindir()
    prefix = ["runuser", "-u", PG_USER, "--"] if os.geteuid() == 0 else []
    base = _base_dir()
    if prefix:
        shutil.chown(base, user=PG_USER)
    data, log = base / "data", base / "postgres.log"
    stop = [*prefix, str(bindir / "pg_ctl"), "stop", "-D", str(data), "-m", "fast", "-w"]
    watchdog = subprocess.Popen(
        ["bash", "-c", WATCHDOG, "perfpilot-bench-watchdog", str(os.getpid()), str(base), *stop],
        start_new_session=True,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        initdb = [*prefix, str(bindir / "initdb"), "-D", str(data), "-U", PG_USER, "-A", "trust"]
        subprocess.run([*initdb, "--no-sync", "-E", "UTF8"], check=True, capture_output=True)
        shared_buffers = "256MB" if large else "32MB"
        with (data / "postgresql.conf").open("a") as conf:
            conf.write(SETTINGS.format(socket_dir=base, shared_buffers=shared_buffers))
        port = _free_port()
        start = [*prefix, str(bindir / "pg_ctl"), "start", "-D", str(data), "-l", str(log)]
        subprocess.run([*start, "-w", "-o", f"-p {port}"], check=True, capture_output=True)
        try:
            label = (
                f"private cluster ({bindir.parent.name}), data in {base.parent}, "
                f"shared_buffers {shared_buffers}, fsync off, jit off"
            )
            yield Cluster(f"postgresql://{PG_USER}@127.0.0.1:{port}/postgres", label)
        finally:
            subprocess.run(stop, check=False, capture_output=True)
    finally:
        if watchdog.poll() is None:
            os.killpg(watchdog.pid, signal.SIGTERM)
        watchdog.wait()
        shutil.rmtree(base, ignore_errors=True)
