"""Settings: env names from the specification, the TOML file, and errors that name the value."""

from __future__ import annotations

from pathlib import Path

import pytest

from perfpilot.core.errors import ConfigError
from perfpilot.core.settings import RiskLevel, load_settings


def test_defaults_match_the_specification() -> None:
    settings = load_settings({})
    assert settings.monitoring_enabled is True
    assert settings.auto_optimize is False
    assert settings.auto_optimize_max_risk is RiskLevel.LOW
    assert settings.scheduler_enabled is True
    assert settings.auto_scaling_enabled is False
    assert (settings.cpu_threshold, settings.memory_threshold, settings.disk_threshold) == (
        75.0,
        80.0,
        85.0,
    )
    alerts = settings.file.alerts
    assert (alerts.cpu.warning, alerts.cpu.critical) == (80, 90)
    assert (alerts.memory.warning, alerts.memory.critical) == (85, 95)
    assert (alerts.disk.warning, alerts.disk.critical) == (85, 95)
    assert alerts.alert_cooldown_s == 300
    assert settings.file.monitor.interval_s == 5


def test_environment_names_are_read() -> None:
    settings = load_settings(
        {
            "PERFORMANCE_MONITORING_ENABLED": "false",
            "PERFORMANCE_AUTO_OPTIMIZE": "true",
            "AUTO_SCALING_ENABLED": "1",
            "PERFORMANCE_CPU_THRESHOLD": "60",
            "DATABASE_URL": "postgresql://app@db:5432/hotel",
            "PERFORMANCE_API_TOKEN": "s3cret",
            "UNRELATED": "ignored",
        }
    )
    assert settings.monitoring_enabled is False
    assert settings.auto_optimize is True
    assert settings.auto_scaling_enabled is True
    assert settings.cpu_threshold == 60
    assert settings.database_dsn == "postgresql://app@db:5432/hotel"
    assert settings.api_token is not None
    assert settings.api_token.get_secret_value() == "s3cret"


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("PERFORMANCE_CPU_THRESHOLD", "abc"),
        ("PERFORMANCE_CPU_THRESHOLD", "150"),
        ("PERFORMANCE_MONITORING_ENABLED", "maybe"),
        ("PERFORMANCE_AUTO_OPTIMIZE_MAX_RISK", "extreme"),
        ("PERFORMANCE_PORT", "70000"),
    ],
)
def test_bad_value_names_variable_and_value(name: str, value: str) -> None:
    with pytest.raises(ConfigError) as info:
        load_settings({name: value})
    assert name in str(info.value)
    assert repr(value) in str(info.value)


def test_config_file_sets_structured_parts(tmp_path: Path) -> None:
    path = tmp_path / "perfpilot.toml"
    path.write_text(
        """
[monitor]
interval_s = 1
[alerts]
alert_cooldown_s = 600
cpu = { warning = 70, critical = 85, for_s = 10 }
[thresholds]
db_connections = 50
""",
        encoding="utf-8",
    )
    settings = load_settings({"PERFORMANCE_CONFIG_FILE": str(path)})
    assert settings.file.monitor.interval_s == 1
    assert settings.file.alerts.alert_cooldown_s == 600
    assert settings.file.alerts.cpu.critical == 85
    assert settings.file.alerts.memory.critical == 95  # untouched sections keep defaults
    assert settings.file.thresholds.db_connections == 50


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("[alerts]\ncpu = { warning = 95, critical = 90 }\n", "warning (95.0) must be below"),
        ("[monitor]\ninterval_s = 'fast'\n", "monitor.interval_s='fast'"),
        ("[monitor]\nintervall_s = 5\n", "monitor.intervall_s"),
        (
            "[scheduler]\nlease_check_interval_s = 0\n",
            "lease_check_interval_s=0: Input should be greater than 0",
        ),
        ("[alerts\n", "invalid TOML"),
    ],
)
def test_bad_config_file_is_named(tmp_path: Path, text: str, expected: str) -> None:
    path = tmp_path / "bad.toml"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(ConfigError) as info:
        load_settings({"PERFORMANCE_CONFIG_FILE": str(path)})
    assert expected in str(info.value)


def test_missing_config_file_is_an_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="cannot read"):
        load_settings({"PERFORMANCE_CONFIG_FILE": str(tmp_path / "absent.toml")})
