"""Prometheus families read from the Resource Monitor's latest sample at scrape time."""

from __future__ import annotations

from collections.abc import Iterator

from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from perfpilot.monitor.alerts import AlertEngine
from perfpilot.monitor.model import Severity
from perfpilot.monitor.sample import HostSample
from perfpilot.monitor.service import ResourceMonitor


class MonitorCollector(Collector):
    """Host gauges. A scrape before the first sample yields no host families at all: Prometheus
    then shows the series as absent instead of a made-up zero."""

    def __init__(self, monitor: ResourceMonitor, alerts: AlertEngine) -> None:
        self._monitor = monitor
        self._alerts = alerts

    def collect(self) -> Iterator[Metric]:
        yield from self._alert_families()
        yield from self._monitor_families()
        sample = self._monitor.latest
        if sample is not None:
            yield from _usage(sample)
            yield from _memory_and_disk(sample)
            yield from _rates(sample)
            yield from _process(sample)

    def _alert_families(self) -> Iterator[Metric]:
        firing = GaugeMetricFamily(
            "perfpilot_alerts_firing", "Alerts currently firing, by severity.", labels=["severity"]
        )
        counts = self._alerts.counts_by_severity()
        for severity in Severity:
            firing.add_metric([severity.value], counts.get(severity, 0))
        yield firing

    def _monitor_families(self) -> Iterator[Metric]:
        yield CounterMetricFamily(
            "perfpilot_monitor_samples", "Host samples taken.", value=self._monitor.samples_taken
        )
        yield CounterMetricFamily(
            "perfpilot_monitor_errors", "Monitor cycle errors.", value=self._monitor.errors
        )


def _usage(sample: HostSample) -> Iterator[Metric]:
    # The specification's family; percent 0-100 because its dashboards and alert levels
    # (CPU > 80 %, memory > 85 %) read it that way. Disk is the fullest watched mount.
    usage = GaugeMetricFamily(
        "system_resource_usage",
        "Resource usage in percent (0-100); disk is the fullest watched mount.",
        labels=["resource_type"],
    )
    if sample.cpu_percent is not None:
        usage.add_metric(["cpu"], sample.cpu_percent)
    usage.add_metric(["memory"], sample.memory_percent)
    if sample.swap_total_bytes > 0:
        usage.add_metric(["swap"], sample.swap_percent)
    if sample.disks:
        usage.add_metric(["disk"], max(d.percent for d in sample.disks))
    yield usage
    cores = GaugeMetricFamily(
        "perfpilot_host_cpu_core_usage_percent", "CPU usage per core (0-100).", labels=["core"]
    )
    for index, value in enumerate(sample.cpu_per_core_percent):
        cores.add_metric([str(index)], value)
    yield cores
    if sample.load_avg is not None:
        load = GaugeMetricFamily("perfpilot_host_load_average", "Load average.", labels=["period"])
        for period, value in zip(("1m", "5m", "15m"), sample.load_avg, strict=True):
            load.add_metric([period], value)
        yield load


def _memory_and_disk(sample: HostSample) -> Iterator[Metric]:
    memory = GaugeMetricFamily(
        "perfpilot_host_memory_bytes", "Host memory by state.", labels=["state"], unit="bytes"
    )
    memory.add_metric(["total"], sample.memory_total_bytes)
    memory.add_metric(["used"], sample.memory_used_bytes)
    memory.add_metric(["available"], sample.memory_available_bytes)
    yield memory
    swap = GaugeMetricFamily(
        "perfpilot_host_swap_bytes", "Host swap by state.", labels=["state"], unit="bytes"
    )
    swap.add_metric(["total"], sample.swap_total_bytes)
    swap.add_metric(["used"], sample.swap_used_bytes)
    yield swap
    disk_pct = GaugeMetricFamily(
        "perfpilot_host_disk_usage_percent", "Used space per mount (0-100).", labels=["mount"]
    )
    disk_bytes = GaugeMetricFamily(
        "perfpilot_host_disk_bytes", "Space per mount.", labels=["mount", "state"], unit="bytes"
    )
    for disk in sample.disks:
        disk_pct.add_metric([disk.mount], disk.percent)
        disk_bytes.add_metric([disk.mount, "total"], disk.total_bytes)
        disk_bytes.add_metric([disk.mount, "used"], disk.used_bytes)
    yield disk_pct
    yield disk_bytes
    if sample.cgroup is not None:
        if sample.cgroup.cpu_quota_cores is not None:
            yield GaugeMetricFamily(
                "perfpilot_cgroup_cpu_quota_cores",
                "cgroup v2 CPU quota in cores.",
                value=sample.cgroup.cpu_quota_cores,
            )
        if sample.cgroup.memory_limit_bytes is not None:
            yield GaugeMetricFamily(
                "perfpilot_cgroup_memory_limit_bytes",
                "cgroup v2 memory limit.",
                value=sample.cgroup.memory_limit_bytes,
            )


def _rates(sample: HostSample) -> Iterator[Metric]:
    # Rates are measured over the sampling interval; absent on the first sample.
    families = (
        (
            "perfpilot_host_disk_io_bytes_per_second",
            "Disk throughput.",
            "direction",
            {"read": sample.disk_read_bytes_per_s, "write": sample.disk_write_bytes_per_s},
        ),
        (
            "perfpilot_host_disk_io_operations_per_second",
            "Disk operations.",
            "direction",
            {"read": sample.disk_read_ops_per_s, "write": sample.disk_write_ops_per_s},
        ),
        (
            "perfpilot_host_network_bytes_per_second",
            "Network throughput.",
            "direction",
            {"receive": sample.net_recv_bytes_per_s, "transmit": sample.net_sent_bytes_per_s},
        ),
        (
            "perfpilot_host_network_faults_per_second",
            "Network errors and drops.",
            "kind",
            {"error": sample.net_errors_per_s, "drop": sample.net_drops_per_s},
        ),
    )
    for name, help_text, label, values in families:
        family = GaugeMetricFamily(name, help_text, labels=[label])
        for key, value in values.items():
            if value is not None:
                family.add_metric([key], value)
        yield family


def _process(sample: HostSample) -> Iterator[Metric]:
    yield GaugeMetricFamily(
        "perfpilot_host_processes", "Processes on the host.", value=sample.process_count
    )
    yield GaugeMetricFamily(
        "perfpilot_self_resident_memory_bytes",
        "perfpilot's own resident memory.",
        value=sample.self_rss_bytes,
    )
    if sample.event_loop_lag_s is not None:
        yield GaugeMetricFamily(
            "perfpilot_event_loop_lag_seconds",
            "Worst event-loop timer lag over the last sampling interval.",
            value=sample.event_loop_lag_s,
        )
