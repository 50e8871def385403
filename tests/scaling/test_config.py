"""The [scaling] section: the shipped example, and bad values refused at load time by name."""

from __future__ import annotations

from pathlib import Path

import pytest

from perfpilot.core.errors import ConfigError
from perfpilot.core.scaling_config import Tier
from perfpilot.core.settings import load_settings, read_config_file

EXAMPLE = Path(__file__).resolve().parents[2] / "deploy" / "perfpilot.example.toml"


def test_example_ships_the_specifications_service() -> None:
    [service] = read_config_file(EXAMPLE).scaling.services
    assert service.name == "agente-api"
    assert service.tier is Tier.CRITICAL
    assert (service.min_instances, service.max_instances) == (2, 10)
    assert (service.target_cpu_percent, service.target_memory_percent) == (70, 80)
    assert (service.scale_up_cooldown, service.scale_down_cooldown) == (300, 600)
    assert service.backend.kind == "dry-run"


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ("min_instances = 5\nmax_instances = 2", "min_instances (5) > max_instances (2)"),
        ("target_cpu_percent = -10", "scaling.services.0.target_cpu_percent=-10"),
        (
            '[[scaling.services.rules]]\nname = "schedule:x"\nstart = "0 8 * * *"\n'
            'end = "0 9 * * *"\ntimezone = "Europe/Atlantis"\nmin_instances = 3',
            "unknown time zone 'Europe/Atlantis'",
        ),
        (
            '[[scaling.services.rules]]\nname = "schedule:x"\nstart = "0 0 30 2 *"\n'
            'end = "0 9 * * *"\nmin_instances = 3',
            "never fires",
        ),
        ('[scaling.services.backend]\nkind = "gunicorn"', "backend 'gunicorn' needs pidfile"),
    ],
)
def test_bad_values_name_the_field(tmp_path: Path, body: str, message: str) -> None:
    path = tmp_path / "perfpilot.toml"
    path.write_text(f'[[scaling.services]]\nname = "api"\n{body}\n')
    with pytest.raises(ConfigError, match=r"scaling\.services") as info:
        load_settings({"PERFORMANCE_CONFIG_FILE": str(path)})
    assert message in str(info.value)


def test_appmetrics_urls_from_the_environment() -> None:
    settings = load_settings(
        {
            "PERFORMANCE_API_METRICS_URL": "http://api:8000/metrics",
            "PERFORMANCE_PROMETHEUS_URL": "http://prometheus:9090",
        }
    )
    assert settings.api_metrics_url == "http://api:8000/metrics"
    assert settings.prometheus_url == "http://prometheus:9090"
    assert settings.file.appmetrics.duration_metric == "http_request_duration_seconds"
