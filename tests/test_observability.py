"""Health, readiness and metrics over real HTTP; JSON log lines."""

import json
import logging

import httpx

from wirewatch.kafka import Progress
from wirewatch.observability import HealthServer, JsonLogFormatter


def test_health_readiness_and_metrics() -> None:
    progress = Progress()
    progress.add("consumed", "entries", 5)
    progress.add("produced", "articles", 4)
    progress.add("deadlettered", "extract", 1)
    alive = {"ok": True}
    server = HealthServer(0, progress, ready=lambda: alive["ok"], alert_counts=lambda: {"sent": 3, "pending": 1},
                          host="127.0.0.1").start()
    base = f"http://127.0.0.1:{server.port}"
    try:
        assert httpx.get(f"{base}/healthz").status_code == 200
        assert httpx.get(f"{base}/readyz").status_code == 200
        alive["ok"] = False
        assert httpx.get(f"{base}/readyz").status_code == 503
        metrics = httpx.get(f"{base}/metrics").text
        assert 'wirewatch_messages_consumed_total{topic="entries"} 5.0' in metrics
        assert 'wirewatch_deadlettered_total{stage="extract"} 1.0' in metrics
        assert 'wirewatch_alerts{status="pending"} 1.0' in metrics
        assert httpx.get(f"{base}/nope").status_code == 404
    finally:
        server.stop()


def test_json_log_lines_carry_the_stage() -> None:
    record = logging.LogRecord("process.extractor", logging.WARNING, __file__, 1, "extract %s: %s", ("a1", "404"),
                               None)
    record.threadName = "extract"
    line = json.loads(JsonLogFormatter().format(record))
    assert line["stage"] == "extract" and line["message"] == "extract a1: 404" and line["level"] == "WARNING"
