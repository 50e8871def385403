"""Stable action ids: the same change proposed twice gets the same id (plan, then apply)."""

from __future__ import annotations

import hashlib


def action_id(kind: str, executor: str, ref: str) -> str:
    return hashlib.sha256(f"{kind}|{executor}|{ref}".encode()).hexdigest()[:12]
