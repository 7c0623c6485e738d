"""Observability: structured logs, health and readiness, Prometheus metrics.

In: the pipeline's :class:`~wirewatch.kafka.Progress` counters and its workers' liveness. Out: an HTTP
server (``[observability] port``) answering ``/healthz`` (the process runs), ``/readyz`` (every worker
thread of this process is alive) and ``/metrics`` (Prometheus text format: messages consumed and
produced per topic; dead letters and busy seconds per stage; feeds polled and failed; entries
published again; articles linked; alerts queued, sent and failed, and the outbox by status; consumer
lag in records and seconds per stage; a histogram of the time from an article's publication, and
from its first sighting, to its alert); and a JSON log formatter, used whenever standard error is
not a terminal, whose lines carry the stage (thread) and the article id being processed.
"""

from __future__ import annotations

import json
import logging
import threading
from collections.abc import Callable
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, HistogramMetricFamily

from wirewatch.database import UNAVAILABLE
from wirewatch.kafka import CURRENT_ARTICLE, LATENCY_BUCKETS, Progress


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


EVENT_METRICS = (
    ("wirewatch_feeds_polled", "Feeds polled", "feeds_polled"),
    ("wirewatch_feeds_failed", "Feed polls that failed", "feeds_failed"),
    ("wirewatch_feeds_not_modified", "Feed polls answered 304 Not Modified", "feeds_not_modified"),
    ("wirewatch_entries_redriven", "Accepted entries published again (not archived in time)", "entries_redriven"),
    ("wirewatch_entries_abandoned", "Accepted entries given up after every redrive", "entries_abandoned"),
    ("wirewatch_articles_linked", "Articles linked to a story", "articles_linked"),
    ("wirewatch_alerts_queued", "Alerts put in the outbox", "alerts_queued"),
    ("wirewatch_alerts_sent", "Alerts sent", "alerts_sent"),
    ("wirewatch_alerts_failed", "Alert sends that failed (retried unless refused for good)", "alerts_failed"),
)


class ArticleContext(logging.Filter):
    """Adds the article id being processed (see :data:`wirewatch.kafka.CURRENT_ARTICLE`) to every log record."""

    def filter(self, record: logging.LogRecord) -> bool:
        if not hasattr(record, "article_id"):
            article = CURRENT_ARTICLE.get()
            if article:
                record.article_id = article
        return True


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
        for name, help_text, key in EVENT_METRICS:
            yield CounterMetricFamily(name, help_text, value=snap["events"].get(key, 0))
        lag = GaugeMetricFamily("wirewatch_consumer_lag_records", "Records behind the partitions' high-water "
                                "mark, per stage (approximate on the bundled broker)", labels=["stage"])
        for stage, n in snap["lag_records"].items():
            lag.add_metric([stage], n)
        yield lag
        age = GaugeMetricFamily("wirewatch_consumer_lag_seconds", "Age of the newest record a stage took",
                                labels=["stage"])
        for stage, seconds in snap["lag_seconds"].items():
            age.add_metric([stage], seconds)
        yield age
        latency = HistogramMetricFamily("wirewatch_alert_latency_seconds", "Time from an article's publication, "
                                        "or from its first sighting by the poller, to its alert being sent",
                                        labels=["since"])
        for since, counts in snap["latency"].items():
            buckets = [(str(b) if b != float("inf") else "+Inf", counts[i]) for i, b in enumerate(LATENCY_BUCKETS)]
            latency.add_metric([since], buckets, counts[-1])
        yield latency
        if self.alert_counts is not None:
            try:
                counts = self.alert_counts()
            except UNAVAILABLE:  # the database is down: the scrape still answers
                counts = {}
            alerts = GaugeMetricFamily("wirewatch_alerts", "Alerts in the outbox by status", labels=["status"])
            for status, n in counts.items():
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
