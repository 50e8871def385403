"""Figures of bench/index_advisor.py: printed as ``key = value`` lines, written as Markdown."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Protocol

import docsection
from index_advisor_hotel import TEMPLATES, Size
from perfpilot.database.advisor import AdvisorReport, WorkloadQuery

SECTION_START = "<!-- bench/index_advisor.py: start -->"
SECTION_END = "<!-- bench/index_advisor.py: end -->"
REPRODUCE = ".venv/bin/python bench/index_advisor.py"
MB = 1024 * 1024
# Verdicts of statements that are not SELECT/DML on a table: they are outside the costed share.
NOT_TABLE_DML = ("utility statement", "reads no table", "catalog-only")


class Pass(Protocol):
    total_s: float
    by_template: dict[str, float]


@dataclass(frozen=True)
class Targets:
    speedup: float = 5.0
    advisor_s_per_100: float = 2.0
    costed_percent: float = 95.0


@dataclass(frozen=True)
class Figures:
    started: datetime
    size: Size
    machine: dict[str, str]
    server: str
    load_s: float
    window_s: float
    workload: list[WorkloadQuery]
    report: AdvisorReport
    advisor_s: float
    built: list[tuple[str, int, float]]  # DDL, size in bytes, build seconds
    baseline: Pass
    indexed: Pass

    @property
    def table_dml(self) -> int:
        return sum(1 for v in self.report.verdicts if not v.reason.startswith(NOT_TABLE_DML))

    @property
    def costed_percent(self) -> float:
        return 100.0 * self.report.fingerprints_costed / max(self.table_dml, 1)

    @property
    def speedup(self) -> float:
        return self.baseline.total_s / self.indexed.total_s if self.indexed.total_s else 0.0

    @property
    def advisor_s_per_100(self) -> float:
        return self.advisor_s / max(self.report.fingerprints, 1) * 100

    @property
    def index_bytes(self) -> int:
        return sum(size for _, size, _ in self.built)

    @property
    def executions(self) -> int:
        return len(TEMPLATES) * self.size.variants * self.size.executions


def verdicts(figures: Figures, targets: Targets) -> dict[str, bool]:
    return {
        "speedup": figures.speedup >= targets.speedup,
        "advisor_runtime": figures.advisor_s_per_100 <= targets.advisor_s_per_100,
        "costed": figures.costed_percent >= targets.costed_percent,
    }


def print_figures(figures: Figures, targets: Targets) -> None:
    report = figures.report
    lines = {
        "rows": figures.size.rows,
        "load_s": f"{figures.load_s:.1f}",
        "fingerprints": report.fingerprints,
        "fingerprints.select_dml": figures.table_dml,
        "fingerprints.costed": report.fingerprints_costed,
        "fingerprints.costed_percent": f"{figures.costed_percent:.1f}",
        "advisor.verified": report.verified,
        "advisor.runtime_s": f"{figures.advisor_s:.3f}",
        "advisor.runtime_s_per_100_fingerprints": f"{figures.advisor_s_per_100:.3f}",
        "advisor.whatif_costings": report.whatif_costings,
        "advisor.candidates": report.candidates,
        "indexes.count": len(figures.built),
        "indexes.size_mb": f"{figures.index_bytes / MB:.1f}",
        "workload.executions": figures.executions,
        "workload.baseline_s": f"{figures.baseline.total_s:.3f}",
        "workload.indexed_s": f"{figures.indexed.total_s:.3f}",
        "workload.speedup": f"{figures.speedup:.1f}",
    }
    for key, value in lines.items():
        print(f"{key} = {value}")
    for key, passed in verdicts(figures, targets).items():
        print(f"target.{key} = {'PASS' if passed else 'MISS'}")
    for ddl, size, _ in figures.built:
        print(f"index: {ddl} ({size / MB:.1f} MB)")
    for verdict in report.verdicts:
        if not verdict.costed:
            print(f"not costed: {verdict.text[:80]!r}: {verdict.reason}")


def section(figures: Figures, targets: Targets) -> str:
    lines = [
        SECTION_START,
        "## Index advisor",
        "",
        f"Measured {figures.started:%Y-%m-%d %H:%M} UTC. Reproduce: `{REPRODUCE}`",
        "",
        *(f"- {key}: {value}" for key, value in figures.machine.items()),
        f"- server: {figures.server}",
        "",
        *_method(figures),
        *_headline(figures, targets),
        *_indexes(figures),
        *_templates(figures),
        *_not_costed(figures),
        SECTION_END,
    ]
    return "\n".join(lines) + "\n"


def _method(figures: Figures) -> list[str]:
    size = figures.size
    return [
        f"A hotel database of {size.rows:,} rows (guests {size.guests:,}, rooms {size.rooms:,}, "
        f"reservations {size.reservations:,}, availability {size.rooms * size.days:,}, "
        f"messages {size.messages:,}; primary keys only), loaded in {figures.load_s:.0f} s. "
        f"The workload is {len(TEMPLATES)} statement shapes of a hotel API (lookups, joins, a "
        f"CTE, a view, ORDER BY ... LIMIT, aggregates over a window, UPDATE, DELETE, INSERT), "
        f"each in {size.variants} select-list variants: {figures.report.fingerprints} "
        "fingerprints. One observed pass fills pg_stat_statements (the advisor's input); the "
        f"timed passes run every fingerprint {size.executions} times with the same values "
        "before and after the recommended indexes are built (with their own DDL, then ANALYZE "
        "and one warm-up pass). Workload time is the client-side wall time of every statement, "
        "rows fetched. Date windows in the workload are random pairs of days (a third of the "
        "range on average), far wider than the 0.5 % a generic plan assumes for a two-sided "
        "range. Other engineers' test runs share this host, so absolute times are noisy; "
        "the ratio is the figure.",
        "",
    ]


def _headline(figures: Figures, targets: Targets) -> list[str]:
    passed = verdicts(figures, targets)

    def result(key: str) -> str:
        return "PASS" if passed[key] else "MISS"

    report = figures.report
    return [
        "| Figure | Measured | Target | Result |",
        "| --- | ---: | --- | --- |",
        f"| workload time, no secondary indexes (baseline) | {figures.baseline.total_s:.2f} s "
        "| — | baseline |",
        f"| workload time, advisor's indexes | {figures.indexed.total_s:.2f} s | — | — |",
        f"| speedup | {figures.speedup:.1f}x | >= {targets.speedup:.0f}x | {result('speedup')} |",
        f"| advisor runtime | {figures.advisor_s:.2f} s for {report.fingerprints} fingerprints "
        f"({figures.advisor_s_per_100:.2f} s per 100) | < {targets.advisor_s_per_100:.0f} s per "
        f"100 | {result('advisor_runtime')} |",
        f"| what-if costings | {report.whatif_costings} ({report.candidates} candidates) | — | — |",
        f"| SELECT/DML fingerprints costed | {report.fingerprints_costed} of {figures.table_dml} "
        f"({figures.costed_percent:.1f} %) | >= {targets.costed_percent:.0f} % | "
        f"{result('costed')} |",
        f"| indexes created | {len(figures.built)}, {figures.index_bytes / MB:.1f} MB | — | — |",
        "",
    ]


def _indexes(figures: Figures) -> list[str]:
    helped = {r.ddl: len(r.queries) for r in figures.report.recommendations}
    rows = [
        f"| `{ddl}` | {size / MB:.1f} | {seconds:.1f} | {helped.get(ddl, 0)} |"
        for ddl, size, seconds in figures.built
    ]
    return [
        "| Recommended index | Size MB | Build s | Fingerprints helped |",
        "| --- | ---: | ---: | ---: |",
        *rows,
        "",
    ]


def _templates(figures: Figures) -> list[str]:
    rows = []
    for template in TEMPLATES:
        before = figures.baseline.by_template[template.name] * 1000
        after = figures.indexed.by_template[template.name] * 1000
        ratio = f"{before / after:.1f}x" if after else "—"
        rows.append(f"| {template.name} | {before:.1f} | {after:.1f} | {ratio} |")
    slower = [
        f"{t.name} ({figures.baseline.by_template[t.name] / after:.2f}x)"
        for t in TEMPLATES
        if (after := figures.indexed.by_template[t.name]) > figures.baseline.by_template[t.name]
    ]
    note = (
        [f"Slower with the indexes: {', '.join(slower)}.", ""]
        if slower
        else ["No statement shape was slower with the indexes.", ""]
    )
    return [
        "| Statement shape | Baseline ms | With indexes ms | Ratio |",
        "| --- | ---: | ---: | ---: |",
        *rows,
        "",
        *note,
    ]


def _not_costed(figures: Figures) -> list[str]:
    missing = [v for v in figures.report.verdicts if not v.costed]
    if not missing:
        return ["Every fingerprint was costed.", ""]
    return [
        "Fingerprints not costed:",
        "",
        *(f"- `{v.text[:100]}`: {v.reason}" for v in missing),
        "",
    ]


def write_section(path: Path, text: str) -> None:
    """Replace this benchmark's section of ``path``, keeping everything else."""
    docsection.write_section(path, text, SECTION_START, SECTION_END)
