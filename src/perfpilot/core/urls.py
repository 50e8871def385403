"""Connection URLs shown to people: in logs, /readyz, errors and `config check`."""

from __future__ import annotations

import re

_PASSWORD = re.compile(r"(://[^:/@]*):[^@/]*@")


def redact_url(url: str) -> str:
    """The URL with any password replaced by ``***`` (``postgresql://app:***@db/hotel``)."""
    return _PASSWORD.sub(r"\1:***@", url)
