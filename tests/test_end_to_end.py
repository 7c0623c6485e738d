"""The whole pipeline on real parts: loopback feeds and pages, the bundled broker, aiosmtpd, SQLite.

The analyst watches the first seed (pasted as a text file). The feeds carry the four other seeds
rendered as pages (the same report retold: folded into the story, not mailed), the demo corpus's
follow-ups (Russia's denial, the postponement, the video call, the revival of the talks; each
mailed) and noise (Gaza talks in Doha, a Qatar gas deal, battlefield reports: never mailed). Every
email received must name the follow-up and the story it follows; a second run over the same state,
and a replay of every tagged message, must send nothing twice.
"""

import threading
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from wirewatch.app.pipeline import Pipeline
from wirewatch.config import Settings
from wirewatch.devtools.corpus import DemoCorpus
from wirewatch.devtools.render import Item, html_page, rss_feed
from wirewatch.devtools.site import LoopbackSite, Resource

pytestmark = pytest.mark.integration

STORY = "Doha talks on an energy-strike moratorium"
ANALYST = "analyst@example.org"


def seed_item(base: str, path: Path, n: int) -> Item:
    lines = [ln for ln in path.read_text(encoding="utf-8").splitlines() if ln.strip()]
    return Item(url=f"{base}/seeds/{n}.html", title=lines[0][:200], body=lines[1:] or lines,
                published=f"2024-08-17T1{n}:00:00Z", author="Staff", summary=lines[0][:300], site=f"Outlet {n}")


def corpus_item(base: str, art: dict) -> Item:  # type: ignore[type-arg]
    return Item(url=f"{base}/demo/{art['slug']}.html", title=art["title"], body=art["body"],
                published=art["published"], author=art["author"], summary=art["summary"], site="Demo Wire")


@pytest.fixture()
def site(shared: Path):  # type: ignore[no-untyped-def]
    corpus = DemoCorpus.load()
    picks = {"doha_followup", "gaza_doha", "qatar_gas", "battlefield"}
    with LoopbackSite() as site:
        seeds = sorted((shared / "seeds").glob("*.txt"))
        items = [seed_item(site.base, p, n) for n, p in enumerate(seeds) if n > 0]
        items += [corpus_item(site.base, a) for a in corpus.articles if a["kind"] in picks]
        for item in items:
            site.resources[item.url.removeprefix(site.base)] = Resource(html_page(item))
        site.resources["/wire.xml"] = Resource(rss_feed("Wire", site.base, items), "application/rss+xml")
        site.kinds = {it.title: a["kind"] for a in corpus.articles if a["kind"] in picks  # type: ignore[attr-defined]
                      for it in [corpus_item(site.base, a)]}
        site.seed0 = seeds[0]  # type: ignore[attr-defined]
        site.items = len(items)  # type: ignore[attr-defined]
        yield site


def settings_for(site, broker: str, smtp_port: int, tmp_path: Path, prefix: str) -> Settings:  # type: ignore[no-untyped-def]
    return Settings.model_validate({
        "data_dir": str(tmp_path / "data"),
        "http": {"allow_networks": ["127.0.0.0/8"]},
        "kafka": {"bootstrap_servers": broker, "topic_prefix": prefix},
        "smtp": {"host": "127.0.0.1", "port": smtp_port, "security": "none", "sender": "wirewatch <w@wire.test>"},
        "feeds": [{"url": site.url("/wire.xml")}],
        "watches": [{"id": "doha", "name": STORY, "seed_file": str(site.seed0),
                     "topics": ["ceasefire_talks", "energy_strikes"]}],
        "subscribers": [{"email": ANALYST, "watches": ["doha"]}],
    })


def run_once(settings: Settings, stages=("poll", "extract", "classify", "alert")) -> Pipeline:  # type: ignore[no-untyped-def]
    with Pipeline(settings) as pipeline:
        pipeline.run(stages, threading.Event(), poll_once=True, until_idle=True, timeout=240)
    return pipeline


def test_follow_ups_reach_the_analyst_once_and_noise_does_not(site, broker, smtp, tmp_path) -> None:  # type: ignore[no-untyped-def]
    settings = settings_for(site, broker, smtp.port, tmp_path, f"e2e{uuid.uuid4().hex[:6]}-")
    first = run_once(settings)
    snap = first.progress.snapshot()
    assert snap["produced"]["entries"] == snap["produced"]["articles"] == snap["produced"]["tagged"] == site.items
    # the first development goes out at once; the next ones on the same story wait out the storm window
    [first_mail] = smtp.messages
    assert first_mail["To"] == ANALYST
    assert first_mail["Subject"].startswith(f"[wirewatch] Follow-up — {STORY}: ")
    body = first_mail.get_body(("plain",)).get_content()
    assert STORY in body and "FOLLOW-UP" in body and "Why you got this" in body
    members = first.state.alerts.story_texts("doha")
    assert sum(m["relation"] == "same_report" for m in members) == 4, [(m["title"], m["relation"]) for m in members]
    assert sum(m["relation"] == "follow_up" for m in members) == 4
    assert first.state.alerts.alert_counts() == {"sent": 1, "pending": 3}
    # half an hour later, the held ones go out together, in one email naming the story
    from wirewatch.alerts.compose import Composer
    from wirewatch.alerts.mailer import SmtpMailer, deliver_pending

    later = datetime.now(UTC) + timedelta(minutes=31)
    assert deliver_pending(first.state.alerts, SmtpMailer(settings.smtp), now=later,
                           digest=Composer("w <w@wire.test>").compose_digest) == (3, 0)
    batch = smtp.messages[-1]
    assert batch["Subject"] == f"[wirewatch] 3 updates — {STORY}"
    text = first_mail.get_body(("plain",)).get_content() + batch.get_body(("plain",)).get_content()
    found = {title for title, kind in site.kinds.items() if title in text.replace("\r\n", "\n")}
    assert {site.kinds[t] for t in found} == {"doha_followup"} and len(found) == 4, found
    # the four retellings are of the seed the analyst pasted, published before any development: none is
    # named as another report of a follow-up (tests/test_email_wording.py shows one that is)
    assert "also reported by: outlet" not in text.lower()

    # a restart over the same state: nothing new is polled, nothing is sent again
    sent = len(smtp.messages)
    run_once(settings)
    assert len(smtp.messages) == sent
    # a redelivery of every tagged message (a fresh consumer group reads the topic again): no duplicates
    replay = settings.model_copy(update={"kafka": settings.kafka.model_copy(update={"client_id": "replay"})})
    with Pipeline(replay) as pipeline:
        runner = pipeline.runner("alert")
        stop = threading.Event()
        worker = threading.Thread(target=runner.run, args=(stop, f"replay-{uuid.uuid4().hex[:6]}"))
        worker.start()
        import time
        deadline = time.monotonic() + 60
        while pipeline.progress.snapshot()["consumed"].get("tagged", 0) < site.items and time.monotonic() < deadline:
            time.sleep(0.2)
        stop.set()
        worker.join(timeout=30)
        assert pipeline.progress.snapshot()["consumed"]["tagged"] == site.items
    assert len(smtp.messages) == sent


def test_alerts_wait_in_the_outbox_while_smtp_refuses(site, broker, smtp, tmp_path) -> None:  # type: ignore[no-untyped-def]
    settings = settings_for(site, broker, smtp.port, tmp_path, f"smtp{uuid.uuid4().hex[:6]}-")
    smtp.refuse = True
    pipeline = run_once(settings)
    assert smtp.messages == []
    pending = pipeline.state.alerts.alert_counts().get("pending", 0)
    assert pending == 4  # the four follow-ups, none given up
    assert pipeline.state.alerts.sent_alerts() == []
    smtp.refuse = False
    from wirewatch.alerts.compose import Composer
    from wirewatch.alerts.mailer import SmtpMailer, deliver_pending

    from wirewatch.app.state import AppState

    store = AppState.open(settings.database_url)
    later = datetime.now(UTC) + timedelta(hours=2)  # past every backoff
    sent, failed = deliver_pending(store.alerts, SmtpMailer(settings.smtp), now=later)
    assert (sent, failed) == (1, 0)  # without a digest composer, one at a time
    assert deliver_pending(store.alerts, SmtpMailer(settings.smtp), now=later,
                           digest=Composer("w <w@wire.test>").compose_digest) == (3, 0)
    assert len(smtp.messages) == 2
    assert deliver_pending(store.alerts, SmtpMailer(settings.smtp), now=later) == (0, 0)
    store.close()
