"""The REST API under /api/v1/performance, plus /healthz, /readyz and /metrics."""
