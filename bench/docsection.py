"""Each benchmark owns one marked section of docs/benchmarks.md and replaces only that."""

from __future__ import annotations

from pathlib import Path


def write_section(path: Path, text: str, start: str, end: str) -> None:
    """Replace the section between ``start`` and ``end`` (both inside ``text``) in ``path``,
    or append it; the file is read right before writing, since other benchmarks share it."""
    current = path.read_text(encoding="utf-8") if path.exists() else "# Benchmarks\n\n"
    body = text.rstrip("\n")
    if start in current and end in current:
        head, _, rest = current.partition(start)
        _, _, tail = rest.partition(end)
        updated = head + body + tail
    else:
        updated = current.rstrip("\n") + "\n\n" + body + "\n"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(updated, encoding="utf-8")
