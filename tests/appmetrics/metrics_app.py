"""A FastAPI application with a prometheus_client latency histogram middleware: the load
target of the appmetrics tests, run by uvicorn in its own process."""

from __future__ import annotations

import asyncio
import time

from fastapi import FastAPI, Request, Response
from prometheus_client import CollectorRegistry, Counter, Histogram, generate_latest

# 2.5 ms buckets up to 150 ms: fine enough near the expected 60-70 ms p95.
BUCKETS = tuple(round(0.0025 * i, 4) for i in range(1, 61))


def build() -> FastAPI:
    registry = CollectorRegistry()
    duration = Histogram(
        "http_request_duration_seconds", "Latency", ["handler"], buckets=BUCKETS, registry=registry
    )
    requests = Counter(
        "http_requests", "Requests", ["handler", "method", "status"], registry=registry
    )
    app = FastAPI()

    @app.middleware("http")
    async def measure(request: Request, call_next):  # type: ignore[no-untyped-def]
        if request.url.path == "/metrics":
            return await call_next(request)
        start = time.perf_counter()
        response = await call_next(request)
        # Labelled by route template ("/work/{n}"), as instrumentation libraries do: one series
        # per path would make every scrape large enough to delay the requests it measures.
        route = request.scope.get("route")
        handler = getattr(route, "path", request.url.path)
        duration.labels(handler).observe(time.perf_counter() - start)
        requests.labels(handler, request.method, str(response.status_code)).inc()
        return response

    @app.get("/work/{n}")
    async def work(n: int) -> dict[str, int]:
        # A known spread: 10-70 ms, cycling through the request numbers.
        await asyncio.sleep(0.010 + 0.060 * ((n * 37) % 100) / 100)
        return {"n": n}

    @app.get("/fail")
    async def fail() -> Response:
        return Response(status_code=503)

    @app.get("/metrics")
    async def metrics() -> Response:
        return Response(generate_latest(registry), media_type="text/plain")

    return app


app = build()
