"""Auto Scaler: per-service rules, HPA-grade decisions, scheduled and predictive scaling."""
