"""``wirewatch demo``: serve the demo corpus on loopback, run the whole pipeline until idle, report.

In: the bundled corpus and the embedded defaults (bundled broker, SQLite, ``.eml`` outbox) under a
data directory of its own (``./wirewatch-demo`` unless one is given), marked as the demo's: it is
reset at each run; a folder holding anything else (a real ``wirewatch-data``, say) is refused with
a message, never deleted. Out: a printed summary — feeds polled, articles extracted, tagged, linked to
the watched story, alerts sent — and the emails left in the outbox.
"""

from __future__ import annotations

import email
import email.policy
import shutil
import threading
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TextIO

from wirewatch.app import registry
from wirewatch.app.pipeline import Pipeline, PipelineError
from wirewatch.config import Settings
from wirewatch.devtools.corpus import ANALYST, DESK, WATCH_ID, DemoCorpus
from wirewatch.devtools.site import LoopbackSite
from wirewatch.kafka import ARTICLES, ENTRIES, TAGGED

DEMO_DIR = "./wirewatch-demo"  # the demo's folder when no data directory is given
MARKER = ".wirewatch-demo"  # in a folder the demo made: it may reset it


def prepare_folder(data_dir: Path, keep_data: bool = False) -> None:
    """Make ``data_dir`` the demo's, fresh; refuse (PipelineError) a folder that holds other data."""
    if data_dir.exists() and any(data_dir.iterdir()) and not (data_dir / MARKER).exists():
        raise PipelineError(f"demo: {data_dir} holds data that is not the demo's (it would lose its feeds, "
                            "subscribers and outbox), so it was left as it is; run the demo with another "
                            "--data-dir, or remove that folder yourself")
    if not keep_data:
        shutil.rmtree(data_dir / "outbox", ignore_errors=True)
        (data_dir / "wirewatch.db").unlink(missing_ok=True)
    data_dir.mkdir(parents=True, exist_ok=True)
    (data_dir / MARKER).write_text("made by `wirewatch demo`, which resets this folder at each run\n")


def run_demo(base_settings: Settings, out: TextIO, keep_data: bool = False) -> dict[str, int]:
    corpus = DemoCorpus.load()
    prepare_folder(Path(base_settings.data_dir), keep_data)
    with LoopbackSite() as site:
        site.resources.update(corpus.resources(site.base))
        overrides = corpus.settings_overrides(site.base)
        base = base_settings.model_dump()
        # the demo site is on loopback, which wirewatch refuses to fetch unless allowed
        base["http"]["allow_networks"] = [*base["http"]["allow_networks"], "127.0.0.0/8"]
        settings = Settings.model_validate({**base, **overrides})
        print(f"demo site on {site.base}: {len(corpus.feeds)} feeds, {len(corpus.articles)} articles", file=out)
        with Pipeline(settings) as pipeline:
            broker = pipeline.embedded.bootstrap if pipeline.embedded else settings.kafka.bootstrap_servers
            print(f"broker: {broker}; database: {settings.database_url}", file=out)
            pipeline.run(registry.NAMES, threading.Event(), poll_once=True,
                         until_idle=True, timeout=300)
            snap = pipeline.progress.snapshot()
            store = pipeline.state.alerts
            members = store.story_texts(WATCH_ID)
            first_round = {a["idem_key"] for a in store.sent_alerts()}
            # what the storm window and the hourly digest hold goes out as it would an hour later

            # composed as the alert stage composes them: each follow-up names who retold it meanwhile
            registry.alerts.deliver_pending(store, registry.alerts.make_mailer(settings.smtp, settings.outbox_path),
                            now=datetime.now(UTC) + timedelta(hours=1, minutes=1),
                            digest=registry.alerts.build_alerter(settings, store).compose_digest)
            sent = store.sent_alerts()
            pending = store.pending_alerts(limit=10_000, now=datetime.max.replace(tzinfo=UTC))  # none left
            emails = sorted(settings.outbox_path.glob("*.eml"), key=lambda p: p.stat().st_mtime_ns) \
                if not settings.smtp.host else []
    summary = {
        "feeds_polled": snap["consumed"].get("feeds", 0),
        "entries": snap["produced"].get(ENTRIES, 0),
        "articles_extracted": snap["produced"].get(ARTICLES, 0),
        "tagged": snap["produced"].get(TAGGED, 0),
        "deadlettered": sum(snap["deadlettered"].values()),
        "story_members": len(members),
        "alerts_sent": len(sent),
        "alerts_held": len(pending),
        "emails": len(emails),
    }
    print("", file=out)
    print(f"feeds polled:        {summary['feeds_polled']}", file=out)
    print(f"new entries:         {summary['entries']} (deduplicated across feeds)", file=out)
    print(f"articles extracted:  {summary['articles_extracted']}", file=out)
    print(f"articles tagged:     {summary['tagged']}", file=out)
    print(f"dead letters:        {summary['deadlettered']}", file=out)
    print(f"watched story '{WATCH_ID}': {len(members)} articles", file=out)
    labels = {"seed": "the report", "same_report": "same report, folded in", "follow_up": "FOLLOW-UP"}
    for m in members:
        print(f"  - [{labels.get(m['relation'], m['relation'])}] {m['title']} ({m['source']})", file=out)
    mails = [email.message_from_bytes(p.read_bytes(), policy=email.policy.default) for p in emails]
    for who in (ANALYST, DESK):
        alerts_now = sum(1 for a in sent if a["subscriber"] == who and a["idem_key"] in first_round)
        alerts_later = sum(1 for a in sent if a["subscriber"] == who and a["idem_key"] not in first_round)
        mine = [m for m in mails if m["To"] == who]
        print(f"{who}: {len(mine)} emails for {alerts_now + alerts_later} alerts ({alerts_now} at once; "
              f"{alerts_later} held by the storm window or for the hourly digest, sent an hour later)", file=out)
        for m in mine:
            print(f"  - {m['Subject']}", file=out)
    outbox = settings.outbox_path if not settings.smtp.host else None
    if outbox:
        print(f"{len(emails)} emails are in {outbox.resolve()}", file=out)
    return summary
