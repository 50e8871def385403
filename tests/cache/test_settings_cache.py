"""PERFORMANCE_CACHE_MANAGED_PREFIXES is a comma-separated list, from a mapping or os.environ."""

from __future__ import annotations

import pytest

from perfpilot.core.settings import load_settings


def test_prefixes_from_the_process_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PERFORMANCE_CACHE_MANAGED_PREFIXES", "rates:, avail: ,")
    assert load_settings().cache_managed_prefixes == ("rates:", "avail:")


def test_no_prefixes_by_default() -> None:
    settings = load_settings({})
    assert settings.cache_managed_prefixes == ()
    assert settings.file.cache.ttl_min_s <= settings.file.cache.ttl_max_s
