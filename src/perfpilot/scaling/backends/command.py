"""``command``: a user-given command with the desired count, e.g. ``docker compose up -d
--scale api={count} --no-recreate``; an optional observe command prints the current count.

Commands run without a shell (arguments split with shlex), with a timeout.
"""

from __future__ import annotations

import shlex
import subprocess

from perfpilot.scaling.backends.base import BackendError, Observed


class CommandBackend:
    """Runs ``command`` to scale and ``observe_command`` to count."""

    kind = "command"

    def __init__(
        self, service: str, command: str, observe_command: str | None, timeout_s: float
    ) -> None:
        self._service = service
        self._command = command
        self._observe = observe_command
        self._timeout_s = timeout_s

    def observe(self) -> Observed:
        if self._observe is None:
            return Observed(None, reason="no observe_command configured: count unknown")
        try:
            out = self._run(self._observe.format(service=self._service))
        except BackendError as exc:
            return Observed(None, reason=str(exc))
        text = out.strip().splitlines()[-1].strip() if out.strip() else ""
        if not text.isdigit():
            return Observed(None, reason=f"observe_command printed {text[:40]!r}, not a count")
        return Observed(int(text), detail="observe_command")

    def scale(self, desired: int) -> Observed:
        self._run(self._command.format(count=desired, service=self._service))
        return self.observe()

    def _run(self, line: str) -> str:
        argv = shlex.split(line)
        try:
            done = subprocess.run(
                argv, capture_output=True, text=True, timeout=self._timeout_s, check=False
            )
        except (OSError, subprocess.TimeoutExpired) as exc:
            raise BackendError(f"command {argv[0]!r} failed: {exc}") from exc
        if done.returncode != 0:
            tail = done.stderr.strip()[-300:]
            raise BackendError(f"command {argv[0]!r} exited {done.returncode}: {tail}")
        return done.stdout
