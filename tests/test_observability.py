"""Health, readiness and metrics over real HTTP; JSON log lines."""

import json
import logging

import httpx

from wirewatch.app.observability import HealthServer, JsonLogFormatter
from wirewatch.progress import Progress


def test_health_readiness_and_metrics() -> None:
    progress = Progress()
    progress.add("consumed", "entries", 5)
    progress.add("produced", "articles", 4)
    progress.add("deadlettered", "extract", 1)
    progress.event("feeds_polled", 7)
    progress.event("alerts_sent", 2)
    progress.set_lag("extract", {0: 3, 1: 4}, 12.5)
    progress.observe_latency("publication", 40.0)
    progress.observe_latency("publication", 4000.0)
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
        assert "wirewatch_feeds_polled_total 7.0" in metrics and "wirewatch_alerts_sent_total 2.0" in metrics
        assert 'wirewatch_consumer_lag_records{stage="extract"} 7.0' in metrics
        assert 'wirewatch_consumer_lag_seconds{stage="extract"} 12.5' in metrics
        assert 'wirewatch_alert_latency_seconds_bucket{le="60.0",since="publication"} 1.0' in metrics
        assert 'wirewatch_alert_latency_seconds_bucket{le="+Inf",since="publication"} 2.0' in metrics
        assert 'wirewatch_alert_latency_seconds_sum{since="publication"} 4040.0' in metrics
        assert httpx.get(f"{base}/nope").status_code == 404
    finally:
        server.stop()


def test_json_log_lines_carry_the_stage() -> None:
    record = logging.LogRecord("wirewatch.process.extractor", logging.WARNING, __file__, 1, "extract %s: %s",
                               ("a1", "404"), None)
    record.threadName = "extract"
    line = json.loads(JsonLogFormatter().format(record))
    assert line["stage"] == "extract" and line["message"] == "extract a1: 404" and line["level"] == "WARNING"


def test_log_lines_carry_the_article_being_processed() -> None:
    from wirewatch.app.observability import ArticleContext
    from wirewatch.progress import CURRENT_ARTICLE

    record = logging.LogRecord("wirewatch.alerts.alerter", logging.INFO, __file__, 1, "linked", (), None)
    token = CURRENT_ARTICLE.set("a1b2c3")
    try:
        ArticleContext().filter(record)
    finally:
        CURRENT_ARTICLE.reset(token)
    assert json.loads(JsonLogFormatter().format(record))["article_id"] == "a1b2c3"
