"""The application's request rate, errors and latency percentiles, from its Prometheus metrics."""
