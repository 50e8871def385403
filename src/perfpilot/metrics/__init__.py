"""Prometheus exposition: the specification's metric names plus one family per component."""
