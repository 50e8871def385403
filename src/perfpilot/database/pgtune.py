"""Configuration advice by PGTune's rules (https://pgtune.leopard.in.ua, le0pard/pgtune,
``src/features/configuration/configurationSlice.js``), for a Linux database host.

Memory values are kilobytes, as in PGTune and in pg_settings' ``kB`` unit. :func:`recommend` is
pure: the host's RAM and CPUs are inputs (see ``pgtune_host`` to detect them when local).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from enum import StrEnum

KB_PER_MB = 1024
KB_PER_GB = 1024 * 1024


class DbType(StrEnum):
    WEB = "web"
    OLTP = "oltp"
    DW = "dw"
    DESKTOP = "desktop"
    MIXED = "mixed"


class Storage(StrEnum):
    SSD = "ssd"
    HDD = "hdd"
    SAN = "san"
    NVME = "nvme"


@dataclass(frozen=True, slots=True)
class TuneInputs:
    """The database host and workload; ``max_connections`` None takes PGTune's default."""

    memory_bytes: int
    cpus: int | None = None
    db_type: DbType = DbType.WEB
    storage: Storage = Storage.SSD
    max_connections: int | None = None
    server_version_num: int = 150000


@dataclass(frozen=True, slots=True)
class SettingAdvice:
    """One recommended setting; ``value`` is in kB when ``unit`` is "kB"."""

    name: str
    value: int | float | str
    unit: str | None = None

    @property
    def display(self) -> str:
        """The value as postgresql.conf takes it: ``4GB``, ``20165kB``, ``1.1``, ``try``."""
        if self.unit == "kB" and isinstance(self.value, int):
            return format_kb(self.value)
        return str(self.value)

    @property
    def line(self) -> str:
        return f"{self.name} = {self.display}"


_DEFAULT_CONNECTIONS = {
    DbType.WEB: 200,
    DbType.OLTP: 300,
    DbType.DW: 40,
    DbType.DESKTOP: 20,
    DbType.MIXED: 100,
}
_WAL_SIZES_MB = {  # (min_wal_size, max_wal_size)
    DbType.WEB: (1024, 4096),
    DbType.OLTP: (2048, 8192),
    DbType.DW: (4096, 16384),
    DbType.DESKTOP: (100, 2048),
    DbType.MIXED: (1024, 4096),
}
_RANDOM_PAGE_COST = {Storage.HDD: 4.0, Storage.SSD: 1.1, Storage.SAN: 1.1, Storage.NVME: 1.1}
_IO_CONCURRENCY = {Storage.HDD: 2, Storage.SSD: 200, Storage.SAN: 300, Storage.NVME: 1000}
# PostgreSQL's default max_worker_processes, used by the work_mem formula below 4 CPUs.
_DEFAULT_WORKER_PROCESSES = 8


def recommend(inputs: TuneInputs) -> list[SettingAdvice]:
    """PGTune's settings for ``inputs``, in PGTune's order."""
    if inputs.memory_bytes <= 0:
        raise ValueError(f"memory_bytes must be positive, got {inputs.memory_bytes}")
    t = inputs.db_type
    ram_kb = inputs.memory_bytes // 1024
    connections = inputs.max_connections or _DEFAULT_CONNECTIONS[t]
    shared = ram_kb // 16 if t is DbType.DESKTOP else ram_kb // 4
    cache = ram_kb // 4 if t is DbType.DESKTOP else ram_kb * 3 // 4
    # Capped at 8GB on Linux by current PGTune (older versions capped at 2GB).
    maintenance = min(ram_kb // 8 if t is DbType.DW else ram_kb // 16, 8 * KB_PER_GB)
    parallel = _parallel(inputs)
    min_wal, max_wal = _WAL_SIZES_MB[t]
    advice = [
        SettingAdvice("max_connections", connections),
        SettingAdvice("shared_buffers", shared, "kB"),
        SettingAdvice("effective_cache_size", cache, "kB"),
        SettingAdvice("maintenance_work_mem", maintenance, "kB"),
        SettingAdvice("checkpoint_completion_target", 0.9),
        SettingAdvice("wal_buffers", wal_buffers_kb(shared), "kB"),
        SettingAdvice("default_statistics_target", 500 if t is DbType.DW else 100),
        SettingAdvice("random_page_cost", _RANDOM_PAGE_COST[inputs.storage]),
        SettingAdvice("effective_io_concurrency", _IO_CONCURRENCY[inputs.storage]),
        SettingAdvice("work_mem", work_mem_kb(ram_kb, shared, connections, parallel, t), "kB"),
        SettingAdvice("huge_pages", "try" if shared >= 2 * KB_PER_GB else "off"),
        SettingAdvice("min_wal_size", min_wal * KB_PER_MB, "kB"),
        SettingAdvice("max_wal_size", max_wal * KB_PER_MB, "kB"),
        *parallel,
        *_extras(inputs, maintenance),
    ]
    return advice


def wal_buffers_kb(shared_kb: int) -> int:
    """3 % of shared_buffers, at most 16MB (rounded up to it from 14MB), at least 32kB."""
    value = min(3 * shared_kb // 100, 16 * KB_PER_MB)
    if 14 * KB_PER_MB < value < 16 * KB_PER_MB:
        value = 16 * KB_PER_MB
    return max(value, 32)


def work_mem_kb(
    ram_kb: int, shared_kb: int, connections: int, parallel: list[SettingAdvice], t: DbType
) -> int:
    """(RAM - shared_buffers) / ((max_connections + max_worker_processes) * 3), by type, >= 4MB.

    Each query may use work_mem several times (sorts, hashes), hence the factor 3; analytic
    types run fewer, bigger operations in parallel workers, hence the divisors.
    """
    workers = next(
        (int(a.value) for a in parallel if a.name == "max_worker_processes"),
        _DEFAULT_WORKER_PROCESSES,
    )
    base = (ram_kb - shared_kb) / ((connections + workers) * 3)
    divisor = {DbType.DW: 2, DbType.MIXED: 2, DbType.DESKTOP: 6}.get(t, 1)
    return max(math.floor(base / divisor), 4 * KB_PER_MB)


def _parallel(inputs: TuneInputs) -> list[SettingAdvice]:
    cpus = inputs.cpus
    if cpus is None or cpus < 4:
        return []
    # More than 4 workers per query shows no clear benefit outside data warehouses.
    per_gather = math.ceil(cpus / 2)
    if inputs.db_type is not DbType.DW:
        per_gather = min(per_gather, 4)
    return [
        SettingAdvice("max_worker_processes", cpus),
        SettingAdvice("max_parallel_workers_per_gather", per_gather),
        SettingAdvice("max_parallel_workers", cpus),
        SettingAdvice("max_parallel_maintenance_workers", min(math.ceil(cpus / 2), 4)),
    ]


def _extras(inputs: TuneInputs, maintenance_kb: int) -> list[SettingAdvice]:
    """PGTune's newer rules: JIT, WAL compression, autovacuum workers and memory, desktop WAL."""
    extras: list[SettingAdvice] = []
    if inputs.db_type in (DbType.WEB, DbType.OLTP, DbType.MIXED):
        # JIT compiles short OLTP queries for longer than they run.
        extras.append(SettingAdvice("jit", "off"))
    extras.append(
        SettingAdvice("wal_compression", "lz4" if inputs.server_version_num >= 150000 else "on")
    )
    if inputs.cpus is not None and inputs.cpus >= 16:
        extras.append(SettingAdvice("autovacuum_max_workers", 5 if inputs.cpus >= 32 else 4))
    if maintenance_kb >= 2 * KB_PER_GB:
        # Every autovacuum worker may take this much; 2GB each is enough and bounded.
        extras.append(SettingAdvice("autovacuum_work_mem", 2 * KB_PER_GB, "kB"))
    if inputs.db_type is DbType.DESKTOP:
        extras.append(SettingAdvice("wal_level", "minimal"))
        extras.append(SettingAdvice("max_wal_senders", 0))
    return extras


def format_kb(value_kb: int) -> str:
    """``4GB``, ``256MB`` or ``20165kB``: the largest unit that divides the value (as PGTune)."""
    if value_kb % KB_PER_GB == 0:
        return f"{value_kb // KB_PER_GB}GB"
    if value_kb % KB_PER_MB == 0:
        return f"{value_kb // KB_PER_MB}MB"
    return f"{value_kb}kB"
