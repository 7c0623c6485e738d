"""How big an analyst's digest is: real articles, really classified, through the alert stage.

In: ../shared/data/news-dev.jsonl (real news excerpts, oldest first) with the Doha seed
../shared/seeds/0*.txt, or — where ../shared is missing — the bundled demo corpus (written for
wirewatch) seeded by its report; the bundled rules and a model trained on the bundled bootstrap
examples. An hourly subscriber watches the story and both topics at 0.5, so there are follow-ups
and topic alerts. Out, printed: how many alerts were queued, and the size in bytes of one digest
of the first ``--items`` of them — the whole message, its plain-text part and its HTML part.
``--eml FILE...`` measures emails already written instead (the ``.eml`` files ``wirewatch demo``
leaves in ``wirewatch-demo/outbox/``). Run:

    .venv/bin/python benchmarks/email_size.py [--items 20] [--shared ../shared] [--show]
    .venv/bin/python benchmarks/email_size.py --eml wirewatch-demo/outbox/*.eml
"""

from __future__ import annotations

import argparse
import tempfile
from datetime import UTC, datetime
from pathlib import Path
from urllib.parse import urlsplit

from wirewatch.alerts.alert_store import AlertStore
from wirewatch.alerts.alerter import Alerter
from wirewatch.alerts.compose import Composer
from wirewatch.alerts.mailer import OutboxMailer
from wirewatch.process.backtest import as_article, read_articles
from wirewatch.process.classifier import RuleSource, TopicClassifier
from wirewatch.process.model import bundled_training_file, read_examples, train
from wirewatch.process.rules import bundled_rules_dir

from wirewatch.config import AlertSettings
from wirewatch.devtools.corpus import DemoCorpus
from wirewatch.schema import Article, Entry


def article(art: dict) -> Article:  # type: ignore[type-arg]
    entry = Entry(article_id=art["id"], url=f"https://news.test/{art['slug']}", canonical_url="", feed_url="f",
                  feed_title=art["feed"], title=art["title"], published=art["published"])
    return Article(entry=entry, title=art["title"], text="\n".join(art["body"]), published=art["published"],
                   sitename=art["feed"])


def news_dev(shared: Path) -> tuple[list[Article], str]:
    """Real excerpts, oldest first, each under the name of its site; and the seed's text."""
    rows = sorted(read_articles(shared / "data" / "news-dev.jsonl"), key=lambda r: r.published or "")
    out = []
    for row in rows:
        art = as_article(row)
        out.append(art.model_copy(update={"sitename": urlsplit(row.url).hostname or ""}))
    seed = sorted((shared / "seeds").glob("*.txt"))[0].read_text(encoding="utf-8")
    return out, seed


def demo() -> tuple[list[Article], str]:
    corpus = DemoCorpus.load()
    seed = next(a for a in corpus.articles if a["kind"] == "doha_report")
    return [article(a) for a in corpus.articles], "\n".join([seed["title"], *seed["body"]])


def measure(articles: list[Article], seed_text: str, items: int) -> dict[str, object]:
    classifier = TopicClassifier(RuleSource(bundled_rules_dir()), train(read_examples(bundled_training_file())))
    with tempfile.TemporaryDirectory() as tmp:
        store = AlertStore.open(f"sqlite:///{Path(tmp) / 's.db'}")
        store.add_watch("doha", "Doha talks", seed_text=seed_text, topics=["ceasefire_talks", "energy_strikes"])
        store.add_subscriber("a@example.org", mode="hourly")
        store.subscribe("a@example.org", "watch", "doha")
        for topic in ("energy_strikes", "ceasefire_talks"):
            store.subscribe("a@example.org", "topic", topic, 0.5)
        composer = Composer("wirewatch <alerts@wire.test>")
        alerter = Alerter(AlertSettings(), store, composer, OutboxMailer(Path(tmp) / "outbox"))
        for tagged in classifier.tag_batch(articles):
            alerter.handle(tagged)
        queued = store.pending_alerts(limit=10_000, now=datetime.max.replace(tzinfo=UTC))
        # as the stage sends it (versions before issue 10 had the composer's alone, for a "before" figure)
        digest = getattr(alerter, "compose_digest", composer.compose_digest)(queued[:items])
        return {"queued": len(queued), "items": min(items, len(queued)), "bytes": len(digest.as_bytes()),
                "text": len(digest.get_body(("plain",)).get_content().encode()),  # type: ignore[union-attr]
                "html": len(digest.get_body(("html",)).get_content().encode()),  # type: ignore[union-attr]
                "plain": digest.get_body(("plain",)).get_content()}  # type: ignore[union-attr]


def measure_files(paths: list[Path]) -> None:
    from email import message_from_bytes, policy

    for path in paths:
        raw = path.read_bytes()
        msg = message_from_bytes(raw, policy=policy.default)
        parts = {kind: len(msg.get_body((kind,)).get_content().encode())  # type: ignore[union-attr]
                 for kind in ("plain", "html") if msg.get_body((kind,)) is not None}
        print(f"{path.name}: {len(raw)} bytes (text part {parts.get('plain', 0)}, HTML part {parts.get('html', 0)})"
              f" — {msg['Subject']}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--items", type=int, default=20)
    parser.add_argument("--show", action="store_true", help="print the digest's plain-text part")
    parser.add_argument("--shared", type=Path, default=Path(__file__).resolve().parents[1].parent / "shared")
    parser.add_argument("--eml", type=Path, nargs="+", help="measure these .eml files instead")
    args = parser.parse_args()
    if args.eml:
        measure_files(args.eml)
        return
    found = (args.shared / "data" / "news-dev.jsonl").exists()
    articles, seed = news_dev(args.shared) if found else demo()
    print("articles:", f"{args.shared}/data/news-dev.jsonl" if found else "the demo corpus (no ../shared)")
    m = measure(articles, seed, args.items)
    print(f"alerts queued: {m['queued']}; digest of {m['items']}: {m['bytes']} bytes "
          f"(text part {m['text']}, HTML part {m['html']})")
    if args.show:
        print(m["plain"])


if __name__ == "__main__":
    main()
