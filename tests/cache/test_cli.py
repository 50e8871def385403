"""`perfpilot cache report|optimize` as a user runs them: a real process on the real Redis."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
import redis
from tests.ports import free_port
from tests.test_cli import run_cli

DOC = json.dumps([{"room": i, "rate": 99.5, "board": "BB"} for i in range(300)]).encode()


@pytest.fixture
def env(tmp_path: Path, redis_url: str) -> dict[str, str]:
    config = tmp_path / "perfpilot.toml"
    config.write_text('[cache]\ncompress_namespaces = ["rates:"]\ncompress_min_bytes = 1024\n')
    return {
        "PERFORMANCE_STORE_URL": f"sqlite:///{tmp_path / 'store.db'}",
        "PERFORMANCE_CONFIG_FILE": str(config),
        "PERFORMANCE_CACHE_MANAGED_PREFIXES": "rates:",
        "REDIS_URL": redis_url,
        "COLUMNS": "200",
    }


@pytest.fixture
def seeded(redis_url: str) -> Iterator[redis.Redis]:
    r = redis.Redis.from_url(redis_url)
    r.rpush(b"queue:jobs", *[b"x" * 100] * 20_000)  # ~2 MB: a big key, outside the prefixes
    r.set(b"s\xffession:1", b"token")  # binary name, no TTL, not managed
    for i in range(20):
        r.set(f"rates:{i}".encode(), DOC)  # managed, no TTL, compressible
    yield r
    r.close()


def test_report_json_names_namespaces_big_keys_and_the_plan(
    env: dict[str, str], seeded: redis.Redis
) -> None:
    done = run_cli(["cache", "report", "--json"], env)
    assert done.returncode == 1, done.stderr  # findings and a plan: exit 1
    report = json.loads(done.stdout)
    names = {n["name"]: n for n in report["namespaces"]}
    assert names["rates:"]["keys"] == 20
    assert names["rates:"]["without_ttl"] == 20
    assert report["big_keys"][0]["name"] == "queue:jobs"
    assert report["big_keys"][0]["elements"] == 20_000
    assert "s\\xffession:" in names  # a non-UTF-8 name, escaped, not dropped
    assert {a["kind"] for a in report["actions"]} >= {"expire_keys", "compress_values"}
    # A report writes nothing.
    assert seeded.get(b"rates:0") == DOC
    assert seeded.pttl(b"rates:0") == -1


def test_optimize_plans_then_applies_only_under_the_managed_prefix(
    env: dict[str, str], seeded: redis.Redis
) -> None:
    planned = run_cli(["cache", "optimize", "--json"], env)
    assert planned.returncode == 0, planned.stderr
    assert {row["outcome"] for row in json.loads(planned.stdout)} == {"planned"}
    assert seeded.pttl(b"rates:0") == -1

    applied = run_cli(["cache", "optimize", "--force", "--json"], env)
    assert applied.returncode == 0, applied.stderr
    rows = json.loads(applied.stdout)
    assert {r["kind"] for r in rows if r["outcome"] == "applied"} >= {
        "expire_keys",
        "compress_values",
    }
    assert seeded.pttl(b"rates:0") > 0
    stored = seeded.get(b"rates:0")
    assert stored is not None
    assert len(stored) * 4 < len(DOC)
    assert seeded.llen(b"queue:jobs") == 20_000
    assert seeded.pttl(b"queue:jobs") == -1
    assert seeded.get(b"s\xffession:1") == b"token"
    assert seeded.pttl(b"s\xffession:1") == -1


def test_an_unknown_action_id_exits_2_naming_it(env: dict[str, str], seeded: redis.Redis) -> None:
    done = run_cli(["cache", "optimize", "--action", "no-such-action"], env)
    assert done.returncode == 2
    assert "no-such-action" in done.stdout + done.stderr
    assert seeded.pttl(b"rates:0") == -1


def test_an_unreachable_redis_exits_2_with_the_reason(env: dict[str, str]) -> None:
    dead = f"redis://127.0.0.1:{free_port()}/0"
    done = run_cli(["cache", "report", "--url", dead], env)
    assert done.returncode == 2
    assert "127.0.0.1" in done.stdout + done.stderr
