"""Alert rules over explicit timelines: pending, dedup, escalation, hysteresis, cooldown,
restart, manual resolve and predicted alerts."""

from __future__ import annotations

import hashlib
import threading
from datetime import UTC, datetime, timedelta

import pytest

from perfpilot.core.clock import ManualClock
from perfpilot.core.errors import ConflictError, NotFoundError
from perfpilot.core.settings import AlertLevels, AlertsConfig
from perfpilot.monitor.alerts import AlertEngine, alert_id, fingerprint, rule_for
from perfpilot.monitor.model import Alert, AlertKind, AlertStatus, Forecast, Severity

T0 = datetime(2024, 5, 6, 12, 0, tzinfo=UTC)
# cpu 80/90, for 60 s; hysteresis 5 points; cooldown 300 s.
CONFIG = AlertsConfig(
    cpu=AlertLevels(warning=80, critical=90, for_s=60),
    disk=AlertLevels(warning=85, critical=95, for_s=0),
    alert_cooldown_s=300,
    hysteresis_percent=5,
)


class MemoryAlertStore:
    """The AlertStore protocol over a dict; counts writes."""

    def __init__(self) -> None:
        self.alerts: dict[str, Alert] = {}
        self.saves = 0

    def save_alert(self, alert: Alert) -> None:
        self.alerts[alert.id] = alert
        self.saves += 1

    def get_alert(self, alert_id: str) -> Alert | None:
        return self.alerts.get(alert_id)

    def list_alerts(
        self,
        status: AlertStatus | None = None,
        severity: Severity | None = None,
        limit: int = 100,
    ) -> list[Alert]:
        selected = [
            a
            for a in self.alerts.values()
            if (status is None or a.status is status)
            and (severity is None or a.severity is severity)
        ]
        return sorted(selected, key=lambda a: a.started_at, reverse=True)[:limit]


class Timeline:
    """An engine driven by a manual clock: ``at(s, cpu=...)`` evaluates s seconds after T0."""

    def __init__(self, store: MemoryAlertStore | None = None, **engine_args: float) -> None:
        self.store = store or MemoryAlertStore()
        self.clock = ManualClock(T0)
        self.engine = AlertEngine(CONFIG, self.store, **engine_args)

    def at(self, seconds: float, **levels: float) -> list[Alert]:
        self.clock.advance(seconds - self.clock.monotonic())
        return self.engine.evaluate(levels, self.clock.now())

    def run(self, start: float, stop: float, step: float, value: float) -> list[Alert]:
        changed: list[Alert] = []
        second = start
        while second <= stop:
            changed += self.at(second, cpu=value)
            second += step
        return changed


def forecast(
    resource: str = "disk:/",
    minutes: float | None = 42.0,
    confidence: float = 0.97,
    model: str = "linear",
) -> Forecast:
    return Forecast(
        resource=resource,
        model=model,
        current=80.0,
        threshold=95.0,
        slope_per_hour=20.0,
        r2=confidence,
        confidence=confidence,
        minutes_to_threshold=minutes,
        points=120,
    )


class TestRules:
    def test_rule_per_resource_kind(self) -> None:
        assert rule_for(CONFIG, "cpu") is CONFIG.cpu
        assert rule_for(CONFIG, "memory") is CONFIG.memory
        assert rule_for(CONFIG, "swap") is CONFIG.swap
        assert rule_for(CONFIG, "disk:/") is CONFIG.disk
        assert rule_for(CONFIG, "disk:/var/lib/postgresql") is CONFIG.disk
        assert rule_for(CONFIG, "load1") is None

    def test_unwatched_series_never_alert(self) -> None:
        timeline = Timeline()
        assert timeline.at(0, load1=99.0) == []
        assert timeline.at(600, load1=99.0) == []

    def test_every_mount_has_its_own_alert(self) -> None:
        timeline = Timeline()
        changed = timeline.engine.evaluate({"disk:/": 90.0, "disk:/data": 97.0}, T0)
        assert {(a.resource, a.severity) for a in changed} == {
            ("disk:/", Severity.WARNING),
            ("disk:/data", Severity.CRITICAL),
        }
        assert len({a.fingerprint for a in changed}) == 2


class TestForDuration:
    def test_fires_only_after_level_held_for_s(self) -> None:
        timeline = Timeline()
        assert timeline.at(0, cpu=85.0) == []
        assert timeline.at(30, cpu=85.0) == []
        (alert,) = timeline.at(60, cpu=85.0)
        assert alert.severity is Severity.WARNING
        assert alert.status is AlertStatus.FIRING
        assert alert.kind is AlertKind.THRESHOLD
        assert alert.started_at == T0 + timedelta(seconds=60)
        assert alert.message == "cpu at 85.0% (warning >= 80%)"
        assert timeline.store.alerts == {alert.id: alert}

    def test_dropping_below_cancels_pending(self) -> None:
        timeline = Timeline()
        assert timeline.at(0, cpu=85.0) == []
        assert timeline.at(50, cpu=70.0) == []
        assert timeline.at(60, cpu=85.0) == []
        assert timeline.at(100, cpu=85.0) == []
        (alert,) = timeline.at(120, cpu=85.0)
        assert alert.started_at == T0 + timedelta(seconds=120)

    def test_straight_to_critical(self) -> None:
        timeline = Timeline()
        assert timeline.at(0, cpu=93.14) == []
        (alert,) = timeline.at(60, cpu=93.14)
        assert alert.severity is Severity.CRITICAL
        assert alert.threshold == 90
        assert alert.message == "cpu at 93.1% (critical >= 90%)"

    def test_value_oscillating_around_level_never_fires(self) -> None:
        timeline = Timeline()
        changed = [a for i in range(60) for a in timeline.at(i * 5, cpu=81.0 if i % 2 else 79.0)]
        assert changed == []

    def test_missing_series_breaks_continuity(self) -> None:
        timeline = Timeline()
        assert timeline.at(0, cpu=85.0) == []
        assert timeline.at(30, memory=50.0) == []
        assert timeline.at(60, cpu=85.0) == []
        assert len(timeline.at(120, cpu=85.0)) == 1


class TestDedup:
    def test_one_alert_while_firing_and_few_writes(self) -> None:
        timeline = Timeline()
        (alert,) = timeline.run(0, 60, 5, 85.0)
        assert timeline.run(65, 240, 5, 86.0) == []
        assert len(timeline.store.alerts) == 1
        (active,) = timeline.engine.active()
        assert active.id == alert.id
        assert active.last_seen_at == T0 + timedelta(seconds=240)
        assert active.value == 86.0
        # One write on firing, then at most one per minute over the following three minutes.
        assert timeline.store.saves == 4
        assert timeline.store.alerts[alert.id].last_seen_at == T0 + timedelta(seconds=240)


class TestSeverityChanges:
    def test_escalates_in_place_after_for_s(self) -> None:
        timeline = Timeline()
        (warning,) = timeline.run(0, 60, 5, 85.0)
        assert timeline.run(65, 120, 5, 92.0) == []
        (critical,) = timeline.at(125, cpu=92.0)
        assert critical.id == warning.id
        assert critical.severity is Severity.CRITICAL
        assert critical.threshold == 90
        assert critical.started_at == warning.started_at
        assert timeline.store.alerts[warning.id].severity is Severity.CRITICAL

    def test_de_escalates_only_below_critical_minus_hysteresis(self) -> None:
        timeline = Timeline()
        (critical,) = timeline.run(0, 60, 5, 95.0)
        assert critical.severity is Severity.CRITICAL
        assert timeline.run(65, 300, 5, 86.0) == []  # between 85 and 90: stays critical
        (warning,) = timeline.at(305, cpu=84.9)
        assert warning.id == critical.id
        assert warning.severity is Severity.WARNING
        assert warning.message == "cpu at 84.9% (warning >= 80%)"


class TestHysteresis:
    def test_no_flap_around_warning_level(self) -> None:
        timeline = Timeline()
        (alert,) = timeline.run(0, 60, 5, 85.0)
        changed = [a for i in range(100) for a in timeline.at(65 + i * 5, cpu=(79.0, 81.0)[i % 2])]
        assert changed == []
        assert [a.id for a in timeline.engine.active()] == [alert.id]

    def test_resolves_below_warning_minus_hysteresis(self) -> None:
        timeline = Timeline()
        (alert,) = timeline.run(0, 60, 5, 85.0)
        assert timeline.at(65, cpu=75.0) == []  # exactly at 80 - 5: not below yet
        (resolved,) = timeline.at(70, cpu=74.9)
        assert resolved.id == alert.id
        assert resolved.status is AlertStatus.RESOLVED
        assert resolved.resolved_by == "auto"
        assert resolved.resolved_at == T0 + timedelta(seconds=70)
        assert timeline.engine.active() == []
        assert timeline.store.alerts[alert.id] == resolved

    def test_missing_series_neither_fires_nor_resolves(self) -> None:
        timeline = Timeline()
        (alert,) = timeline.engine.evaluate({"disk:/data": 90.0}, T0)
        assert timeline.engine.evaluate({"disk:/": 10.0}, T0 + timedelta(minutes=5)) == []
        assert [a.id for a in timeline.engine.active()] == [alert.id]


class TestCooldown:
    def test_no_refire_until_cooldown_passed(self) -> None:
        timeline = Timeline()
        timeline.run(0, 60, 5, 85.0)
        (resolved,) = timeline.at(100, cpu=50.0)
        # High again from 110 s: the for-duration is met at 170 s, the cooldown ends at 400 s.
        assert timeline.run(110, 395, 5, 85.0) == []
        (again,) = timeline.at(400, cpu=85.0)
        assert again.id != resolved.id
        assert again.started_at == T0 + timedelta(seconds=400)

    def test_cooldown_applies_after_manual_resolve(self) -> None:
        timeline = Timeline()
        (alert,) = timeline.run(0, 60, 5, 85.0)
        timeline.engine.resolve(alert.id, "known batch job", T0 + timedelta(seconds=61))
        assert timeline.run(65, 360, 5, 85.0) == []
        (again,) = timeline.at(365, cpu=85.0)
        assert again.id != alert.id


class TestStableIds:
    def test_id_is_derived_from_fingerprint_and_start(self) -> None:
        timeline = Timeline()
        (alert,) = timeline.run(0, 60, 5, 85.0)
        fp = hashlib.sha256(b"threshold|cpu").hexdigest()[:16]
        expected = hashlib.sha256(f"{fp}|{alert.started_at.isoformat()}".encode()).hexdigest()
        assert alert.fingerprint == fp == fingerprint(AlertKind.THRESHOLD, "cpu")
        assert alert.id == expected[:16] == alert_id(fp, alert.started_at)

    def test_same_history_gives_same_ids(self) -> None:
        first, second = Timeline(), Timeline()
        assert [a.id for a in first.run(0, 60, 5, 85.0)] == [a.id for a in second.run(0, 60, 5, 85)]

    def test_fingerprint_differs_by_kind_and_resource(self) -> None:
        prints = {
            fingerprint(AlertKind.THRESHOLD, "disk:/"),
            fingerprint(AlertKind.PREDICTED, "disk:/"),
            fingerprint(AlertKind.THRESHOLD, "disk:/data"),
        }
        assert len(prints) == 3


class TestRestore:
    def test_restart_keeps_the_alert_without_duplicate(self) -> None:
        before = Timeline()
        (alert,) = before.run(0, 60, 5, 85.0)
        after = Timeline(store=before.store)
        assert after.engine.restore(T0 + timedelta(seconds=90)) == 1
        assert after.run(90, 300, 5, 86.0) == []
        assert [a.id for a in after.engine.active()] == [alert.id]
        assert len(after.store.alerts) == 1
        (resolved,) = after.at(305, cpu=50.0)
        assert resolved.id == alert.id
        assert resolved.status is AlertStatus.RESOLVED

    def test_restart_keeps_the_cooldown(self) -> None:
        before = Timeline()
        before.run(0, 60, 5, 85.0)
        before.at(100, cpu=50.0)
        after = Timeline(store=before.store)
        assert after.engine.restore(T0 + timedelta(seconds=110)) == 0
        assert after.run(110, 395, 5, 85.0) == []
        assert len(after.at(400, cpu=85.0)) == 1

    def test_restored_alert_escalates_in_place(self) -> None:
        before = Timeline()
        (alert,) = before.run(0, 60, 5, 85.0)
        after = Timeline(store=before.store)
        after.engine.restore(T0 + timedelta(seconds=90))
        (critical,) = after.run(90, 150, 5, 95.0)
        assert critical.id == alert.id
        assert critical.severity is Severity.CRITICAL


class TestManualResolve:
    def test_resolve_sets_who_and_why(self) -> None:
        timeline = Timeline()
        (alert,) = timeline.run(0, 60, 5, 85.0)
        resolved = timeline.engine.resolve(alert.id, "deploy finished", T0 + timedelta(minutes=2))
        assert resolved.id == alert.id
        assert resolved.status is AlertStatus.RESOLVED
        assert resolved.resolved_by == "api"
        assert resolved.comment == "deploy finished"
        assert resolved.resolved_at == T0 + timedelta(minutes=2)
        assert timeline.store.alerts[alert.id] == resolved
        assert timeline.engine.active() == []

    def test_unknown_id_is_not_found(self) -> None:
        timeline = Timeline()
        with pytest.raises(NotFoundError, match="alert 0123456789abcdef not found"):
            timeline.engine.resolve("0123456789abcdef", None, T0)

    def test_resolving_twice_conflicts(self) -> None:
        timeline = Timeline()
        (alert,) = timeline.run(0, 60, 5, 85.0)
        timeline.engine.resolve(alert.id, None, T0 + timedelta(minutes=2))
        with pytest.raises(ConflictError, match=f"alert {alert.id} was already resolved"):
            timeline.engine.resolve(alert.id, None, T0 + timedelta(minutes=3))

    def test_firing_alert_only_in_store_can_be_resolved(self) -> None:
        # E.g. an alert beyond what restore loaded: the store is the source of truth for ids.
        timeline = Timeline()
        (alert,) = timeline.run(0, 60, 5, 85.0)
        fresh = Timeline(store=timeline.store)
        resolved = fresh.engine.resolve(alert.id, None, T0 + timedelta(minutes=2))
        assert resolved.status is AlertStatus.RESOLVED
        assert timeline.store.alerts[alert.id].resolved_by == "api"


class TestReads:
    def test_active_and_counts(self) -> None:
        timeline = Timeline()
        timeline.engine.evaluate({"disk:/": 90.0, "disk:/data": 97.0, "disk:/tmp": 10.0}, T0)
        assert [a.resource for a in timeline.engine.active()] == ["disk:/data", "disk:/"]
        assert timeline.engine.counts_by_severity() == {
            Severity.CRITICAL: 1,
            Severity.WARNING: 1,
            Severity.INFO: 0,
        }


class TestPredicted:
    def test_fires_warning_with_message(self) -> None:
        engine = Timeline().engine
        (alert,) = engine.predicted([forecast(minutes=42.0)], T0)
        assert alert.kind is AlertKind.PREDICTED
        assert alert.severity is Severity.WARNING
        assert alert.threshold == 95.0
        assert alert.message == "disk:/ predicted to reach 95.0% in 42 min (linear trend, R²=0.97)"
        assert alert.fingerprint == fingerprint(AlertKind.PREDICTED, "disk:/")

    def test_critical_when_within_a_quarter_of_the_horizon(self) -> None:
        engine = Timeline().engine
        (alert,) = engine.predicted([forecast(minutes=14.0)], T0)
        assert alert.severity is Severity.CRITICAL

    def test_escalates_in_place_and_dedups(self) -> None:
        engine = Timeline().engine
        (warning,) = engine.predicted([forecast(minutes=42.0)], T0)
        assert engine.predicted([forecast(minutes=30.0)], T0 + timedelta(minutes=1)) == []
        (critical,) = engine.predicted([forecast(minutes=10.0)], T0 + timedelta(minutes=2))
        assert critical.id == warning.id
        assert critical.severity is Severity.CRITICAL
        assert "in 10 min" in critical.message

    @pytest.mark.parametrize(
        "later",
        [forecast(minutes=None), forecast(minutes=61.0)],
        ids=["no-crossing", "beyond-horizon"],
    )
    def test_resolves_when_crossing_leaves_horizon(self, later: Forecast) -> None:
        engine = Timeline().engine
        (alert,) = engine.predicted([forecast(minutes=42.0)], T0)
        (resolved,) = engine.predicted([later], T0 + timedelta(minutes=1))
        assert resolved.id == alert.id
        assert resolved.status is AlertStatus.RESOLVED
        assert resolved.resolved_by == "auto"

    def test_low_confidence_neither_fires_nor_clears(self) -> None:
        engine = Timeline().engine
        assert engine.predicted([forecast(minutes=20.0, confidence=0.5)], T0) == []
        (alert,) = engine.predicted([forecast(minutes=20.0)], T0 + timedelta(minutes=1))
        assert (
            engine.predicted([forecast(minutes=20.0, confidence=0.5)], T0 + timedelta(minutes=2))
            == []
        )
        assert [a.id for a in engine.active()] == [alert.id]

    def test_thresholds_are_constructor_parameters(self) -> None:
        engine = Timeline(min_confidence=0.4, horizon_min=600).engine
        (alert,) = engine.predicted([forecast(minutes=300.0, confidence=0.5)], T0)
        assert alert.severity is Severity.WARNING

    def test_seasonal_message_names_the_model(self) -> None:
        engine = Timeline().engine
        (alert,) = engine.predicted([forecast(model="holt_winters", confidence=0.91)], T0)
        assert alert.message.endswith("(Holt-Winters seasonal, confidence 0.91)")

    def test_missing_resource_keeps_alert(self) -> None:
        engine = Timeline().engine
        (alert,) = engine.predicted([forecast()], T0)
        assert engine.predicted([forecast(resource="memory", minutes=None)], T0) == []
        assert [a.id for a in engine.active()] == [alert.id]

    def test_cooldown_after_predicted_resolves(self) -> None:
        engine = Timeline().engine
        engine.predicted([forecast()], T0)
        engine.predicted([forecast(minutes=None)], T0 + timedelta(minutes=1))
        assert engine.predicted([forecast()], T0 + timedelta(minutes=5)) == []
        assert len(engine.predicted([forecast()], T0 + timedelta(minutes=6))) == 1


class TestThreads:
    def test_evaluate_and_resolve_from_two_threads(self) -> None:
        # The sampling thread keeps a disk high; the API thread resolves whatever fires.
        store = MemoryAlertStore()
        engine = AlertEngine(CONFIG.model_copy(update={"alert_cooldown_s": 0.0}), store)
        start = threading.Barrier(2)

        def sample() -> None:
            start.wait()
            for i in range(2000):
                engine.evaluate({"disk:/": 90.0}, T0 + timedelta(seconds=i))

        worker = threading.Thread(target=sample)
        worker.start()
        start.wait()
        resolved = 0
        while worker.is_alive():
            for alert in engine.active():
                engine.resolve(alert.id, None, T0)
                resolved += 1
        worker.join()
        firing = [a for a in store.alerts.values() if a.status is AlertStatus.FIRING]
        assert len(firing) <= 1
        assert [a.id for a in engine.active()] == [a.id for a in firing]
        assert len(store.alerts) - len(firing) == resolved
        assert resolved > 0
