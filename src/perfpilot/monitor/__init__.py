"""Resource Monitor: host sampling, 24 h history, rollups, alerts and forecasts."""
