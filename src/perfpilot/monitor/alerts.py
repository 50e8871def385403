"""Threshold and predicted alerts: pending (`for`), dedup, escalation, hysteresis, cooldown.

State lives in memory and every change is written through the AlertStore, so a restart picks
up the firing alerts (:meth:`AlertEngine.restore`) instead of raising them again.
"""

from __future__ import annotations

import hashlib
import logging
import threading
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import datetime, timedelta

from perfpilot.core.errors import ConflictError, NotFoundError
from perfpilot.core.settings import AlertLevels, AlertsConfig
from perfpilot.monitor.model import Alert, AlertKind, AlertStatus, Forecast, Severity
from perfpilot.monitor.ports import AlertStore
from perfpilot.monitor.sample import CPU, DISK_PREFIX, MEMORY, SWAP

logger = logging.getLogger(__name__)

# Repeated evaluations of a firing alert refresh last_seen_at in memory on every sample, but
# write it at most this often: at a 5 s interval that is 12x fewer writes.
_PERSIST_EVERY = timedelta(minutes=1)
# Firing alerts reloaded at start-up; far more than a host has resources.
_RESTORE_LIMIT = 1000
_SEVERITY_ORDER = {Severity.CRITICAL: 0, Severity.WARNING: 1, Severity.INFO: 2}
_MODEL_NAMES = {"linear": "linear trend", "holt_winters": "Holt-Winters seasonal"}


def rule_for(config: AlertsConfig, resource: str) -> AlertLevels | None:
    """The levels that apply to a series name; None for series no rule watches."""
    if resource.startswith(DISK_PREFIX):
        return config.disk
    return {CPU: config.cpu, MEMORY: config.memory, SWAP: config.swap}.get(resource)


def fingerprint(kind: AlertKind, resource: str) -> str:
    """Stable identity of "this kind of alert on this resource" (16 hex chars)."""
    return hashlib.sha256(f"{kind.value}|{resource}".encode()).hexdigest()[:16]


def alert_id(fingerprint_: str, started_at: datetime) -> str:
    """Deterministic alert id, so the same occurrence keeps its id across restarts."""
    return hashlib.sha256(f"{fingerprint_}|{started_at.isoformat()}".encode()).hexdigest()[:16]


def threshold_message(resource: str, value: float, severity: Severity, level: float) -> str:
    """E.g. ``cpu at 93.1% (critical >= 90%)``."""
    return f"{resource} at {value:.1f}% ({severity.value} >= {level:g}%)"


def predicted_message(forecast: Forecast) -> str:
    """E.g. ``disk:/ predicted to reach 95.0% in 42 min (linear trend, R²=0.97)``."""
    minutes = forecast.minutes_to_threshold
    model = _MODEL_NAMES.get(forecast.model, forecast.model)
    if forecast.model == "linear" and forecast.r2 is not None:
        basis = f"{model}, R²={forecast.r2:.2f}"
    else:
        basis = f"{model}, confidence {forecast.confidence:.2f}"
    return (
        f"{forecast.resource} predicted to reach {forecast.threshold:.1f}% "
        f"in {minutes or 0.0:.0f} min ({basis})"
    )


@dataclass(slots=True)
class _Pending:
    """Since when a series has been continuously at or above each level."""

    warning_since: datetime | None = None
    critical_since: datetime | None = None

    def observe(self, value: float, rule: AlertLevels, now: datetime) -> None:
        self.warning_since = (self.warning_since or now) if value >= rule.warning else None
        self.critical_since = (self.critical_since or now) if value >= rule.critical else None

    def held(self, rule: AlertLevels, now: datetime) -> Severity | None:
        """The highest level held for at least ``for_s``, if any."""
        due = now - timedelta(seconds=rule.for_s)
        if self.critical_since is not None and self.critical_since <= due:
            return Severity.CRITICAL
        if self.warning_since is not None and self.warning_since <= due:
            return Severity.WARNING
        return None


class AlertEngine:
    """Evaluates levels and forecasts into alerts; one open alert per fingerprint.

    Thread-safe: the sampling thread evaluates while the API thread resolves and reads.
    Store errors propagate to the caller; the in-memory state already holds the change.
    """

    def __init__(
        self,
        config: AlertsConfig,
        store: AlertStore,
        *,
        min_confidence: float = 0.8,
        horizon_min: float = 60.0,
    ) -> None:
        self._config = config
        self._store = store
        self._min_confidence = min_confidence
        self._horizon_min = horizon_min
        self._lock = threading.Lock()
        self._open: dict[str, Alert] = {}
        self._pending: dict[str, _Pending] = {}
        self._resolved_at: dict[str, datetime] = {}
        self._persisted_at: dict[str, datetime] = {}

    def evaluate(self, levels: Mapping[str, float], now: datetime) -> list[Alert]:
        """Apply the rules to one reading; returns (and stores) alerts that fired, changed
        severity or resolved. Series absent from ``levels`` neither fire nor resolve."""
        with self._lock:
            watched = [
                (r, v, rule) for r, v in levels.items() if (rule := self._rule(r)) is not None
            ]
            self._forget_pending({resource for resource, _, _ in watched})
            changed: list[Alert] = []
            for resource, value, rule in watched:
                alert = self._evaluate_one(resource, value, rule, now)
                if alert is not None:
                    changed.append(alert)
            return changed

    def predicted(self, forecasts: Sequence[Forecast], now: datetime) -> list[Alert]:
        """Fire, update or resolve PREDICTED alerts from the latest forecasts; returns changes."""
        with self._lock:
            changed: list[Alert] = []
            for forecast in forecasts:
                alert = self._predict_one(forecast, now)
                if alert is not None:
                    changed.append(alert)
            return changed

    def resolve(self, alert_id: str, comment: str | None, now: datetime) -> Alert:
        """Resolve an alert by hand; NotFoundError if unknown, ConflictError if not firing."""
        with self._lock:
            alert = next((a for a in self._open.values() if a.id == alert_id), None)
            if alert is None:
                alert = self._store.get_alert(alert_id)
            if alert is None:
                raise NotFoundError(f"alert {alert_id} not found")
            if alert.status is AlertStatus.RESOLVED:
                raise ConflictError(f"alert {alert_id} was already resolved at {alert.resolved_at}")
            return self._close(alert, now, "api", comment)

    def raise_event(
        self, kind: AlertKind, resource: str, severity: Severity, message: str, now: datetime
    ) -> Alert | None:
        """Fire an event alert (no value or threshold), or refresh the open one of the same
        kind and resource; returns it when it fired or changed severity."""
        with self._lock:
            fp = fingerprint(kind, resource)
            alert = self._open.get(fp)
            if alert is None:
                if self._cooling(fp, now):
                    return None
                return self._fire(fp, kind, resource, severity, None, None, message, now)
            return self._update(alert, severity, None, None, message, now)

    def clear_event(self, kind: AlertKind, resource: str, now: datetime) -> Alert | None:
        """Resolve the open event alert of this kind and resource; None when there is none."""
        with self._lock:
            alert = self._open.get(fingerprint(kind, resource))
            return None if alert is None else self._close(alert, now, "auto", None)

    def active(self) -> list[Alert]:
        """Firing alerts, critical first, then oldest first."""
        with self._lock:
            alerts = list(self._open.values())
        return sorted(alerts, key=lambda a: (_SEVERITY_ORDER[a.severity], a.started_at))

    def counts_by_severity(self) -> dict[Severity, int]:
        """Number of firing alerts per severity, 0 included."""
        counts = dict.fromkeys(Severity, 0)
        with self._lock:
            for alert in self._open.values():
                counts[alert.severity] += 1
        return counts

    def restore(self, now: datetime) -> int:
        """Reload firing alerts and running cooldowns from the store; returns alerts restored."""
        firing = self._store.list_alerts(status=AlertStatus.FIRING, limit=_RESTORE_LIMIT)
        resolved = self._store.list_alerts(status=AlertStatus.RESOLVED, limit=_RESTORE_LIMIT)
        with self._lock:
            # Newest first: the first alert seen per fingerprint is the one that stays open.
            for alert in firing:
                if alert.fingerprint in self._open:
                    logger.warning("alert %s duplicates an open alert; left as is", alert.id)
                    continue
                self._open[alert.fingerprint] = alert
                self._persisted_at[alert.fingerprint] = alert.last_seen_at
            cooldown = timedelta(seconds=self._config.alert_cooldown_s)
            for alert in resolved:
                if alert.resolved_at is not None and alert.resolved_at + cooldown > now:
                    self._mark_resolved(alert.fingerprint, alert.resolved_at)
            logger.info("restored %d firing alerts", len(self._open))
            return len(self._open)

    def _evaluate_one(
        self, resource: str, value: float, rule: AlertLevels, now: datetime
    ) -> Alert | None:
        fp = fingerprint(AlertKind.THRESHOLD, resource)
        pending = self._pending.setdefault(fp, _Pending())
        pending.observe(value, rule, now)
        alert = self._open.get(fp)
        if alert is None:
            severity = pending.held(rule, now)
            if severity is None or self._cooling(fp, now):
                return None
            level = _level(rule, severity)
            message = threshold_message(resource, value, severity, level)
            return self._fire(
                fp, AlertKind.THRESHOLD, resource, severity, value, level, message, now
            )
        hysteresis = self._config.hysteresis_percent
        if value < rule.warning - hysteresis:
            return self._close(alert, now, "auto", None)
        severity = self._held_severity(alert.severity, value, rule, pending, now)
        level = _level(rule, severity)
        message = threshold_message(resource, value, severity, level)
        return self._update(alert, severity, value, level, message, now)

    def _held_severity(
        self, current: Severity, value: float, rule: AlertLevels, pending: _Pending, now: datetime
    ) -> Severity:
        """Severity of a firing alert: escalate once critical held for ``for_s``, de-escalate
        only below critical minus the hysteresis."""
        if current is Severity.CRITICAL:
            if value < rule.critical - self._config.hysteresis_percent:
                return Severity.WARNING
            return current
        if pending.held(rule, now) is Severity.CRITICAL:
            return Severity.CRITICAL
        return current

    def _predict_one(self, forecast: Forecast, now: datetime) -> Alert | None:
        fp = fingerprint(AlertKind.PREDICTED, forecast.resource)
        alert = self._open.get(fp)
        minutes = forecast.minutes_to_threshold
        if minutes is None or minutes > self._horizon_min:
            return None if alert is None else self._close(alert, now, "auto", None)
        if forecast.confidence < self._min_confidence:
            # An unsure forecast that still sees a crossing neither raises nor clears an alert.
            return None
        urgent = minutes < self._horizon_min / 4
        severity = Severity.CRITICAL if urgent else Severity.WARNING
        message = predicted_message(forecast)
        if alert is None:
            if self._cooling(fp, now):
                return None
            return self._fire(
                fp,
                AlertKind.PREDICTED,
                forecast.resource,
                severity,
                forecast.current,
                forecast.threshold,
                message,
                now,
            )
        return self._update(alert, severity, forecast.current, forecast.threshold, message, now)

    def _fire(
        self,
        fp: str,
        kind: AlertKind,
        resource: str,
        severity: Severity,
        value: float | None,
        threshold: float | None,
        message: str,
        now: datetime,
    ) -> Alert:
        alert = Alert(
            id=alert_id(fp, now),
            fingerprint=fp,
            kind=kind,
            resource=resource,
            severity=severity,
            status=AlertStatus.FIRING,
            message=message,
            value=value,
            threshold=threshold,
            started_at=now,
            last_seen_at=now,
        )
        self._open[fp] = alert
        self._save(alert, now)
        logger.info("alert fired: %s", message)
        return alert

    def _update(
        self,
        alert: Alert,
        severity: Severity,
        value: float | None,
        threshold: float | None,
        message: str,
        now: datetime,
    ) -> Alert | None:
        """Refresh a firing alert; returns it only when its severity changed."""
        updated = replace(
            alert,
            severity=severity,
            value=value,
            threshold=threshold,
            message=message,
            last_seen_at=now,
        )
        self._open[alert.fingerprint] = updated
        if severity is not alert.severity:
            self._save(updated, now)
            logger.info("alert %s now %s: %s", alert.id, severity.value, message)
            return updated
        if now - self._persisted_at.get(alert.fingerprint, alert.started_at) >= _PERSIST_EVERY:
            self._save(updated, now)
        return None

    def _close(self, alert: Alert, now: datetime, by: str, comment: str | None) -> Alert:
        closed = replace(
            alert,
            status=AlertStatus.RESOLVED,
            resolved_at=now,
            resolved_by=by,
            comment=comment,
        )
        if alert.fingerprint in self._open and self._open[alert.fingerprint].id == alert.id:
            del self._open[alert.fingerprint]
        self._mark_resolved(alert.fingerprint, now)
        self._save(closed, now)
        logger.info("alert %s resolved (%s): %s", alert.id, by, alert.message)
        return closed

    def _save(self, alert: Alert, now: datetime) -> None:
        self._store.save_alert(alert)
        self._persisted_at[alert.fingerprint] = now

    def _mark_resolved(self, fp: str, at: datetime) -> None:
        previous = self._resolved_at.get(fp)
        if previous is None or at > previous:
            self._resolved_at[fp] = at

    def _cooling(self, fp: str, now: datetime) -> bool:
        """Whether the fingerprint resolved less than ``alert_cooldown_s`` ago."""
        resolved_at = self._resolved_at.get(fp)
        cooldown = timedelta(seconds=self._config.alert_cooldown_s)
        return resolved_at is not None and now - resolved_at < cooldown

    def _rule(self, resource: str) -> AlertLevels | None:
        return rule_for(self._config, resource)

    def _forget_pending(self, watched: set[str]) -> None:
        """A series missing from a reading breaks its continuity: its pending state restarts."""
        present = {fingerprint(AlertKind.THRESHOLD, resource) for resource in watched}
        for fp in list(self._pending):
            if fp not in present:
                del self._pending[fp]


def _level(rule: AlertLevels, severity: Severity) -> float:
    return rule.critical if severity is Severity.CRITICAL else rule.warning
