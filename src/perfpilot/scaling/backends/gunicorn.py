"""``gunicorn``: TTIN/TTOU to the master named by its pidfile; workers counted from the
process tree (https://docs.gunicorn.org/en/stable/signals.html#master-process).

Gunicorn adds one worker per SIGTTIN and retires the oldest per SIGTTOU. Signals are sent in
small batches and the tree is watched until the count is reached or ``timeout_s`` passes, so
a lost or coalesced signal shows up as an observed count short of the order, never as a
believed one.
"""

from __future__ import annotations

import logging
import os
import signal
import time
from collections.abc import Callable
from pathlib import Path

import psutil

from perfpilot.scaling.backends.base import BackendError, Observed

logger = logging.getLogger(__name__)

_BATCH = 2
_POLL_S = 0.05


def read_master(pidfile: Path) -> psutil.Process:
    """The live master process named by ``pidfile``; BackendError naming the problem."""
    try:
        text = pidfile.read_text(encoding="ascii").strip()
    except OSError as exc:
        raise BackendError(f"cannot read gunicorn pidfile {pidfile}: {exc.strerror}") from exc
    if not text.isdigit():
        raise BackendError(f"gunicorn pidfile {pidfile} does not hold a pid: {text[:40]!r}")
    try:
        master = psutil.Process(int(text))
        if master.status() == psutil.STATUS_ZOMBIE:
            raise BackendError(f"gunicorn pidfile {pidfile} points at pid {text}, a zombie")
    except psutil.NoSuchProcess as exc:
        raise BackendError(f"gunicorn pidfile {pidfile} points at dead process {text}") from exc
    return master


def workers(master: psutil.Process) -> list[psutil.Process]:
    """The master's live worker processes (its direct children)."""
    alive = []
    for child in master.children(recursive=False):
        try:
            if child.status() != psutil.STATUS_ZOMBIE:
                alive.append(child)
        except psutil.NoSuchProcess:
            continue
    return alive


class GunicornBackend:
    """Counts and changes the workers of one gunicorn master."""

    kind = "gunicorn"

    def __init__(
        self,
        pidfile: Path,
        timeout_s: float = 30.0,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self._pidfile = pidfile
        self._timeout_s = timeout_s
        self._monotonic = monotonic

    def master(self) -> psutil.Process:
        return read_master(self._pidfile)

    def observe(self) -> Observed:
        try:
            master = self.master()
            count = len(workers(master))
        except BackendError as exc:
            return Observed(None, reason=str(exc))
        except psutil.Error as exc:
            return Observed(None, reason=f"cannot read gunicorn process tree: {exc}")
        return Observed(count, detail=f"gunicorn master {master.pid}")

    def scale(self, desired: int) -> Observed:
        if desired < 1:
            raise BackendError(f"gunicorn needs at least one worker, asked for {desired}")
        master = self.master()
        deadline = self._monotonic() + self._timeout_s
        while True:
            count = len(workers(master))
            if count == desired:
                return Observed(count, detail=f"gunicorn master {master.pid}")
            if self._monotonic() >= deadline:
                reason = f"gunicorn has {count} workers after {self._timeout_s:g}s, not {desired}"
                return Observed(count, reason=reason, detail=f"gunicorn master {master.pid}")
            sig = signal.SIGTTIN if count < desired else signal.SIGTTOU
            for _ in range(min(_BATCH, abs(desired - count))):
                os.kill(master.pid, sig)
            self._await_change(master, count, deadline)

    def _await_change(self, master: psutil.Process, before: int, deadline: float) -> None:
        # Spawning (fork) and retiring (graceful exit) take a moment; the tree is the truth.
        while self._monotonic() < deadline:
            time.sleep(_POLL_S)
            if len(workers(master)) != before:
                return
