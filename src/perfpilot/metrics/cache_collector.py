"""Prometheus families of the Cache Optimizer, read at scrape time from its latest readings."""

from __future__ import annotations

from collections.abc import Iterator

from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from perfpilot.cache.keyname import display
from perfpilot.cache.optimizer import CacheOptimizer


class CacheCollector(Collector):
    """``cache_optimization_efficiency{namespace}``: the hit ratio (0-1) of each managed namespace
    over the last 5 minutes, from the client library's own counters, so the sweep's lookups are
    never in it. A namespace without reads in the window has no sample (absent, not 0)."""

    def __init__(self, optimizer: CacheOptimizer) -> None:
        self._optimizer = optimizer

    def collect(self) -> Iterator[Metric]:
        signal = self._optimizer.latest_signal
        efficiency = GaugeMetricFamily(
            "cache_optimization_efficiency",
            "Measured cache hit ratio (0-1) of a managed namespace over the last 5 minutes.",
            labels=["namespace"],
        )
        saved = GaugeMetricFamily(
            "perfpilot_cache_compression_saved_bytes",
            "Bytes compression saved on writes through the client library, last 5 minutes.",
            labels=["namespace"],
        )
        if signal is not None:
            for ns, counts in signal.namespaces.items():
                if not self._optimizer.scope.contains(ns):
                    continue
                if counts.hit_ratio is not None:
                    efficiency.add_metric([display(ns)], counts.hit_ratio)
                saved.add_metric([display(ns)], counts.bytes_saved)
        yield efficiency
        yield saved
        report = self._optimizer.latest_report
        if report is None:
            return
        memory = GaugeMetricFamily(
            "perfpilot_cache_namespace_memory_bytes",
            "MEMORY USAGE summed over a namespace's keys at the last sweep.",
            labels=["namespace"],
        )
        keys = GaugeMetricFamily(
            "perfpilot_cache_namespace_keys",
            "Keys in a namespace at the last sweep.",
            labels=["namespace"],
        )
        for n in report.namespaces:
            memory.add_metric([n.name], n.memory_bytes)
            keys.add_metric([n.name], n.keys)
        yield memory
        yield keys
