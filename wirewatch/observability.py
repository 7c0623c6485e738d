"""Observability: structured logs, health and readiness, Prometheus metrics.

In: the pipeline's :class:`~wirewatch.kafka.Progress` counters and its workers' liveness. Out: an HTTP
server (``[observability] port``) answering ``/healthz`` (the process runs), ``/readyz`` (every worker
thread of this process is alive) and ``/metrics`` (Prometheus text format: messages consumed and
produced per topic, dead letters and busy seconds per stage, alerts queued/sent/failed from the
store); and a JSON log formatter used whenever standard error is not a terminal.
"""

from __future__ import annotations

import json
import logging
import threading
from collections.abc import Callable
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily

from wirewatch.kafka import Progress


class JsonLogFormatter(logging.Formatter):
    """One JSON object per line: time, level, logger, thread (the stage), message, and any extras."""

    def format(self, record: logging.LogRecord) -> str:
        data = {"time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
                "level": record.levelname, "logger": record.name, "stage": record.threadName,
                "message": record.getMessage()}
        for key in ("article_id", "feed", "stage_name"):
            if hasattr(record, key):
                data[key] = getattr(record, key)
        if record.exc_info:
            data["error"] = self.formatException(record.exc_info)
        return json.dumps(data, ensure_ascii=False)


class PipelineCollector:
    """Prometheus metrics read from the live counters at scrape time."""

    def __init__(self, progress: Progress, alert_counts: Callable[[], dict[str, int]] | None = None) -> None:
        self.progress = progress
        self.alert_counts = alert_counts

    def collect(self):  # type: ignore[no-untyped-def]
        snap = self.progress.snapshot()
        consumed = CounterMetricFamily("wirewatch_messages_consumed", "Messages consumed", labels=["topic"])
        for topic, n in snap["consumed"].items():
            consumed.add_metric([topic], n)
        yield consumed
        produced = CounterMetricFamily("wirewatch_messages_produced", "Messages produced", labels=["topic"])
        for topic, n in snap["produced"].items():
            produced.add_metric([topic], n)
        yield produced
        dead = CounterMetricFamily("wirewatch_deadlettered", "Messages sent to deadletter", labels=["stage"])
        for stage, n in snap["deadlettered"].items():
            dead.add_metric([stage], n)
        yield dead
        busy = CounterMetricFamily("wirewatch_busy_seconds", "Seconds spent processing", labels=["stage"])
        for stage, n in snap["busy_seconds"].items():
            busy.add_metric([stage], n)
        yield busy
        if self.alert_counts is not None:
            alerts = GaugeMetricFamily("wirewatch_alerts", "Alerts in the outbox by status", labels=["status"])
            for status, n in self.alert_counts().items():
                alerts.add_metric([status], n)
            yield alerts


class HealthServer:
    """``/healthz``, ``/readyz`` and ``/metrics`` on a port of its own, served from a daemon thread."""

    def __init__(self, port: int, progress: Progress, ready: Callable[[], bool],
                 alert_counts: Callable[[], dict[str, int]] | None = None, host: str = "0.0.0.0") -> None:
        registry = CollectorRegistry()
        registry.register(PipelineCollector(progress, alert_counts))  # type: ignore[arg-type]

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                if self.path == "/healthz":
                    self._send(200, b"ok\n", "text/plain")
                elif self.path == "/readyz":
                    ok = ready()
                    self._send(200 if ok else 503, b"ready\n" if ok else b"not ready\n", "text/plain")
                elif self.path == "/metrics":
                    self._send(200, generate_latest(registry), "text/plain; version=0.0.4")
                else:
                    self._send(404, b"not found\n", "text/plain")

            def _send(self, status: int, body: bytes, ctype: str) -> None:
                self.send_response(status)
                self.send_header("Content-Type", ctype)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, format: str, *args: object) -> None:
                return

        self.server = ThreadingHTTPServer((host, port), Handler)
        self.server.daemon_threads = True
        self.thread = threading.Thread(target=self.server.serve_forever, name="health", daemon=True)

    @property
    def port(self) -> int:
        return int(self.server.server_address[1])

    def start(self) -> HealthServer:
        self.thread.start()
        return self

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()
