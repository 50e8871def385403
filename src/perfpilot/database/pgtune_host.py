"""RAM and CPUs of the database host when PostgreSQL runs beside perfpilot, cgroup-aware.

A container sees the machine's RAM and CPUs in psutil but may be limited by its cgroup
(v2 ``memory.max`` and ``cpu.max``, https://docs.kernel.org/admin-guide/cgroup-v2.html); the
smaller figure is what PostgreSQL can use. For a remote database, pass the figures instead.
"""

from __future__ import annotations

import logging
import math
import os
from dataclasses import dataclass
from pathlib import Path

import psutil

logger = logging.getLogger(__name__)

DEFAULT_CGROUP_ROOT = Path("/sys/fs/cgroup")


@dataclass(frozen=True, slots=True)
class HostResources:
    memory_bytes: int
    cpus: int


def detect_host(cgroup_root: Path = DEFAULT_CGROUP_ROOT) -> HostResources:
    """This host's RAM and CPUs, lowered to the cgroup limits found under ``cgroup_root``."""
    memory = int(psutil.virtual_memory().total)
    cpus = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    cpus = cpus or 1
    memory_limit = _memory_max(cgroup_root / "memory.max")
    cpu_limit = _cpu_max(cgroup_root / "cpu.max")
    if memory_limit is not None:
        memory = min(memory, memory_limit)
    if cpu_limit is not None:
        cpus = min(cpus, max(1, math.ceil(cpu_limit)))
    return HostResources(memory_bytes=memory, cpus=cpus)


def _memory_max(path: Path) -> int | None:
    text = _read(path)
    return None if text is None or text == "max" else int(text)


def _cpu_max(path: Path) -> float | None:
    # "<quota> <period>" in microseconds, or "max <period>" when unlimited.
    text = _read(path)
    if text is None:
        return None
    quota, _, period = text.partition(" ")
    if quota == "max" or not period:
        return None
    return int(quota) / int(period)


def _read(path: Path) -> str | None:
    try:
        return path.read_text(encoding="ascii").strip()
    except FileNotFoundError:
        return None
    except OSError as exc:
        logger.debug("cannot read %s: %s", path, exc)
        return None
