"""`/metrics`: Prometheus text, with request counts and latencies per route template."""

from __future__ import annotations

from litestar.plugins.prometheus import PrometheusConfig, PrometheusController

METRICS_PATH = "/metrics"

prometheus = PrometheusConfig(
    app_name="gemini_clone",
    prefix="gemini_clone",
    group_path=True,
    exclude=[METRICS_PATH, "/healthz", "/readyz", "/schema"],
)


class MetricsController(PrometheusController):
    path = METRICS_PATH
    tags = ["health"]
