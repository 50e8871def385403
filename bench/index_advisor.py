"""Index advisor: workload time without secondary indexes vs with the advisor's indexes.

    python bench/index_advisor.py [--quick] [--dsn postgresql://...] [--output docs/benchmarks.md]

A hotel database (bench/index_advisor_hotel.py: guests, rooms, reservations, availability,
messages; primary keys only) is created on a private PostgreSQL cluster started here (like the
test suite's), or on the server of ``--dsn``, which needs pg_stat_statements preloaded and
HypoPG installed; the benchmark database is dropped at the end either way.

1. load the data and ANALYZE; one observed pass of the workload fills pg_stat_statements;
2. a timed pass without secondary indexes: the baseline;
3. the advisor reads the workload from pg_stat_statements (grouped by pglast fingerprint) and
   advises; its runtime and what-if costings are recorded;
4. the recommended indexes are created with their own DDL, ANALYZE, one warm-up pass;
5. the same timed pass (same statements, same values) with those indexes.

Full mode writes its section of ``--output``; ``--quick`` runs the same steps on a small
database and only prints. A missed target is printed and written as MISS with its figure;
it never changes the exit code, which is non-zero only when the benchmark itself fails.
"""

from __future__ import annotations

import argparse
import contextlib
import platform
import sys
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import pglast
import psutil
import psycopg
from psycopg import sql

from index_advisor_cluster import private_cluster
from index_advisor_hotel import (
    FULL,
    QUICK,
    SCHEMA,
    TEMPLATES,
    Execution,
    Size,
    data_sql,
    executions,
)
from index_advisor_report import Figures, Targets, print_figures, section, write_section
from perfpilot.database.advisor import AdvisorReport, WorkloadQuery, advise
from perfpilot.database.connection import APPLICATION_NAME

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_OUTPUT = ROOT / "docs" / "benchmarks.md"
OBSERVED_SEED, TIMED_SEED = 1, 2
# Grouping the observed statements as the workload reader does; the marker leaves out
# perfpilot's (and this script's) own statements.
WORKLOAD_SQL = """/* perfpilot */
SELECT query, calls, total_exec_time, mean_exec_time
FROM pg_stat_statements
WHERE dbid = (SELECT oid FROM pg_database WHERE datname = current_database())
  AND query NOT LIKE '/* perfpilot */%'"""
RESET_SQL = """/* perfpilot */
SELECT pg_stat_statements_reset(0, (SELECT oid FROM pg_database
                                    WHERE datname = current_database()), 0)"""
INDEX_SIZE_SQL = "/* perfpilot */ SELECT pg_relation_size(%s::regclass)"


@dataclass(frozen=True)
class Pass:
    total_s: float
    by_template: dict[str, float]


def timed_pass(conn: psycopg.Connection[tuple[object, ...]], planned: list[Execution]) -> Pass:
    """Execute every statement, fetching its rows; wall time per template, client included."""
    by_template = {t.name: 0.0 for t in TEMPLATES}
    for execution in planned:
        started = time.perf_counter()
        cursor = conn.execute(execution.sql.encode(), execution.params)
        if cursor.description is not None:
            cursor.fetchall()
        by_template[execution.template] += time.perf_counter() - started
    return Pass(sum(by_template.values()), by_template)


def observed_workload(conn: psycopg.Connection[tuple[object, ...]]) -> list[WorkloadQuery]:
    """pg_stat_statements of this database, one entry per pglast fingerprint."""
    grouped: dict[str, WorkloadQuery] = {}
    for text, calls, total_ms, _mean in conn.execute(WORKLOAD_SQL):
        try:
            fingerprint = pglast.parser.fingerprint(str(text))
        except pglast.parser.ParseError:
            fingerprint = f"unparsable:{text}"
        seen = grouped.get(fingerprint)
        calls, total_ms = (
            int(calls) + (seen.calls if seen else 0),
            float(total_ms) + (seen.total_ms if seen else 0.0),
        )
        grouped[fingerprint] = WorkloadQuery(
            fingerprint, seen.text if seen else str(text), calls, total_ms, total_ms / calls
        )
    return list(grouped.values())


def create_indexes(
    conn: psycopg.Connection[tuple[object, ...]], report: AdvisorReport
) -> list[tuple[str, int, float]]:
    """Build each recommendation with its own DDL; (DDL, size in bytes, build seconds)."""
    built = []
    for found in report.recommendations:
        started = time.perf_counter()
        conn.execute(found.ddl.encode())
        elapsed = time.perf_counter() - started
        row = conn.execute(INDEX_SIZE_SQL, (f"{found.schema}.{found.name}",)).fetchone()
        built.append((found.ddl, int(row[0]) if row else 0, elapsed))
    conn.execute("/* perfpilot */ ANALYZE")
    return built


@contextlib.contextmanager
def bench_database(server_dsn: str) -> Iterator[str]:
    """A new database on the server of ``server_dsn``, dropped on exit."""
    name = f"perfpilot_bench_{uuid.uuid4().hex[:10]}"
    with psycopg.connect(server_dsn, autocommit=True) as admin:
        admin.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    dsn = psycopg.conninfo.make_conninfo(server_dsn, dbname=name)
    try:
        yield dsn
    finally:
        with psycopg.connect(server_dsn, autocommit=True) as admin:
            admin.execute(
                sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name))
            )


def run(size: Size, server_dsn: str, server_label: str) -> Figures:
    started_at = datetime.now(UTC)
    with bench_database(server_dsn) as dsn, psycopg.connect(dsn, autocommit=True) as conn:
        conn.execute("CREATE EXTENSION IF NOT EXISTS pg_stat_statements")
        conn.execute("CREATE EXTENSION IF NOT EXISTS hypopg")
        load_started = time.perf_counter()
        conn.execute(SCHEMA.encode())
        conn.execute(data_sql(size).encode())
        load_s = time.perf_counter() - load_started
        conn.execute(RESET_SQL)
        observed_started = time.perf_counter()
        timed_pass(conn, executions(size, OBSERVED_SEED))
        window_s = time.perf_counter() - observed_started
        workload = observed_workload(conn)
        planned = executions(size, TIMED_SEED)
        baseline = timed_pass(conn, planned)
        with psycopg.connect(dsn, autocommit=True, application_name=APPLICATION_NAME) as own:
            advise_started = time.perf_counter()
            report = advise(own, workload, window_s=window_s)
            advisor_s = time.perf_counter() - advise_started
        built = create_indexes(conn, report)
        timed_pass(conn, planned)
        indexed = timed_pass(conn, planned)
        version = str(conn.execute("SHOW server_version").fetchone()[0])  # type: ignore[index]
    return Figures(
        started=started_at,
        size=size,
        machine=machine(),
        server=f"PostgreSQL {version}, {server_label}",
        load_s=load_s,
        window_s=window_s,
        workload=workload,
        report=report,
        advisor_s=advisor_s,
        built=built,
        baseline=baseline,
        indexed=indexed,
    )


def machine() -> dict[str, str]:
    """CPU model, cores, memory, OS and Python of this host."""
    model = platform.processor() or "unknown"
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    load = ", ".join(f"{x:.2f}" for x in psutil.getloadavg())
    return {
        "CPU": model,
        "cores": f"{psutil.cpu_count(logical=True)} logical",
        "memory": f"{psutil.virtual_memory().total / 2**30:.1f} GiB",
        "OS": platform.platform(),
        "Python": platform.python_version(),
        "load average at start (1, 5, 15 min)": load,
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="small database, print only")
    parser.add_argument("--dsn", help="a server to use instead of a private cluster")
    parser.add_argument("--output", type=Path, default=DEFAULT_OUTPUT)
    args = parser.parse_args(argv)
    size = QUICK if args.quick else FULL
    with contextlib.ExitStack() as stack:
        if args.dsn:
            server_dsn, label = args.dsn, "server given by --dsn"
        else:
            cluster = stack.enter_context(private_cluster(large=not args.quick))
            server_dsn, label = cluster.dsn, cluster.label
        figures = run(size, server_dsn, label)
    print_figures(figures, Targets())
    if not args.quick:
        write_section(args.output, section(figures, Targets()))
        print(f"wrote {args.output}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
