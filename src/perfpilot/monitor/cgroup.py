"""cgroup v2 limits and usage of the cgroup perfpilot runs in, read from plain files.

Reference: https://docs.kernel.org/admin-guide/cgroup-v2.html (cpu.max, cpu.stat,
memory.max, memory.current). The root and the /proc file are parameters so tests pass real
files written to a temporary directory.
"""

from __future__ import annotations

import logging
from pathlib import Path

from perfpilot.monitor.sample import CgroupLimits

logger = logging.getLogger(__name__)

DEFAULT_ROOT = Path("/sys/fs/cgroup")
PROC_SELF_CGROUP = Path("/proc/self/cgroup")


class CgroupReader:
    """Reads the effective limits and usage of this process's cgroup under ``root``.

    The own cgroup is the ``0::<path>`` line of /proc/self/cgroup resolved under ``root``;
    inside a container with its own cgroup namespace that path is ``/``, i.e. ``root`` itself.
    When the path does not exist under ``root`` the root is used.
    """

    def __init__(
        self, root: Path | str = DEFAULT_ROOT, proc_self_cgroup: Path | str = PROC_SELF_CGROUP
    ) -> None:
        self._root = Path(root)
        self._proc_self_cgroup = Path(proc_self_cgroup)

    def available(self) -> bool:
        """True when a cgroup v2 hierarchy is mounted at the root."""
        return (self._root / "cgroup.controllers").is_file()

    def own_dir(self) -> Path:
        """Directory of this process's cgroup, or the root when it cannot be resolved."""
        try:
            lines = self._proc_self_cgroup.read_text(encoding="ascii").splitlines()
        except OSError as exc:
            logger.debug("cannot read %s: %s", self._proc_self_cgroup, exc)
            return self._root
        for line in lines:
            if line.startswith("0::"):
                candidate = self._root / line[3:].strip().lstrip("/")
                if candidate.is_dir() and candidate.resolve().is_relative_to(self._root.resolve()):
                    return candidate
        return self._root

    def limits(self) -> CgroupLimits | None:
        """Effective limits (the tightest of the own cgroup and its ancestors); None without v2."""
        if not self.available():
            return None
        own = self.own_dir()
        chain = [own, *(p for p in own.parents if p.is_relative_to(self._root))]
        quotas = [q for d in chain if (q := _read_cpu_quota_cores(d / "cpu.max")) is not None]
        memory_limits = [m for d in chain if (m := _read_memory_max(d / "memory.max")) is not None]
        return CgroupLimits(
            cpu_quota_cores=min(quotas, default=None),
            memory_limit_bytes=min(memory_limits, default=None),
            memory_used_bytes=_read_int(own / "memory.current"),
        )

    def cpu_usage_usec(self) -> int | None:
        """Total CPU time used by the own cgroup in microseconds (cpu.stat ``usage_usec``)."""
        if not self.available():
            return None
        path = self.own_dir() / "cpu.stat"
        text = _read_text(path)
        if text is None:
            return None
        for line in text.splitlines():
            key, _, value = line.partition(" ")
            if key == "usage_usec":
                return _parse_int(path, value)
        logger.debug("no usage_usec in %s", path)
        return None


def read_cgroup_limits(
    root: Path | str = DEFAULT_ROOT, proc_self_cgroup: Path | str = PROC_SELF_CGROUP
) -> CgroupLimits | None:
    """Limits of this process's cgroup under ``root``; None when there is no cgroup v2 there."""
    return CgroupReader(root, proc_self_cgroup).limits()


def _read_cpu_quota_cores(path: Path) -> float | None:
    # cpu.max is "$MAX $PERIOD" in microseconds; "max" means no quota.
    text = _read_text(path)
    if text is None:
        return None
    parts = text.split()
    if not parts or parts[0] == "max":
        return None
    quota = _parse_int(path, parts[0])
    period = _parse_int(path, parts[1]) if len(parts) > 1 else None
    if quota is None or not period:
        return None
    return quota / period


def _read_memory_max(path: Path) -> int | None:
    text = _read_text(path)
    if text is None or text.strip() == "max":
        return None
    return _parse_int(path, text)


def _read_int(path: Path) -> int | None:
    text = _read_text(path)
    return None if text is None else _parse_int(path, text)


def _read_text(path: Path) -> str | None:
    try:
        return path.read_text(encoding="ascii")
    except FileNotFoundError:
        return None
    except (OSError, UnicodeDecodeError) as exc:
        logger.debug("cannot read %s: %s", path, exc)
        return None


def _parse_int(path: Path, text: str) -> int | None:
    try:
        return int(text.strip())
    except ValueError:
        logger.debug("unexpected content in %s: %r", path, text[:40])
        return None
