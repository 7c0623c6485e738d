"""What an analyst reads, on real emails: the demo corpus, really classified, through the alert stage,
sent to aiosmtpd. No stem, rule expression, score, ISO timestamp or internal key in the text or HTML
bodies — those are in the X-Wirewatch-* headers — and the digest stays small."""

import re
from datetime import UTC, datetime, timedelta
from email.message import EmailMessage
from pathlib import Path

import pytest
from wirewatch.alerts.alert_store import AlertStore
from wirewatch.alerts.alerter import Alerter
from wirewatch.alerts.compose import Composer
from wirewatch.alerts.mailer import SmtpMailer, deliver_pending
from wirewatch.alerts.stories import names
from wirewatch.process.classifier import RuleSource, TopicClassifier
from wirewatch.process.model import bundled_training_file, read_examples, train
from wirewatch.process.rules import bundled_rules_dir

from wirewatch.config import AlertSettings, SmtpSettings
from wirewatch.devtools.corpus import DemoCorpus
from wirewatch.schema import Article, Entry, TaggedArticle

pytestmark = pytest.mark.integration

CORPUS = DemoCorpus.load()
NOW, HOURLY = "now@example.org", "hourly@example.org"
URL = re.compile(r"https?://\S+|mailto:\S+")
EXPRESSION = re.compile(r"\bOR\b|\bNEAR/|\w\*|\brules \d|\bp=\d|\bscore\b|\bsimilarity\b|_talks\b|_strikes\b")
ISO = re.compile(r"\d{4}-\d{2}-\d{2}")
RETOLD = "a10"  # the denial, retold the same afternoon by another outlet


def article(art: dict, **kw: str) -> Article:  # type: ignore[type-arg]
    art = art | kw
    entry = Entry(article_id=art["id"], url=f"https://news.test/{art['slug']}", canonical_url="", feed_url="f",
                  feed_title=art["feed"], title=art["title"], published=art["published"])
    return Article(entry=entry, title=art["title"], text="\n".join(art["body"]), published=art["published"],
                   sitename=art["feed"])


@pytest.fixture(scope="module")
def tagged() -> list[TaggedArticle]:
    denial = next(a for a in CORPUS.articles if a["id"] == RETOLD)
    articles = [article(a) for a in CORPUS.articles]
    articles.append(article(denial, id="retold", slug="retold", feed="harbour-wire", published="2024-08-18T16:00:00Z"))
    articles.sort(key=lambda a: a.published or "")
    classifier = TopicClassifier(RuleSource(bundled_rules_dir()), train(read_examples(bundled_training_file())))
    return classifier.tag_batch(articles)


def part(msg: EmailMessage, kind: str = "plain") -> str:
    return msg.get_body((kind,)).get_content().replace("\r\n", "\n")  # type: ignore[union-attr]


def bodies(msg: EmailMessage) -> list[str]:
    return [URL.sub(" ", part(msg, kind)) for kind in ("plain", "html")]


def test_emails_read_as_news(tmp_path: Path, smtp, tagged: list[TaggedArticle]) -> None:  # type: ignore[no-untyped-def]
    store = AlertStore.open(f"sqlite:///{tmp_path / 's.db'}")
    seed = next(a for a in CORPUS.articles if a["kind"] == "doha_report")
    store.add_watch("doha", "Doha energy talks", seed_url=f"https://news.test/{seed['slug']}")
    for email, mode in ((NOW, "immediate"), (HOURLY, "hourly")):
        store.add_subscriber(email, mode=mode)
        store.subscribe(email, "watch", "doha")
        for topic in ("energy_strikes", "ceasefire_talks"):
            store.subscribe(email, "topic", topic, 0.5)
    mailer = SmtpMailer(SmtpSettings(host="127.0.0.1", port=smtp.port, security="none"))
    alerter = Alerter(AlertSettings(), store, Composer("wirewatch <alerts@wire.test>"), mailer)
    for t in tagged:
        alerter.handle(t)
    sent, failed = deliver_pending(store, mailer, now=datetime.now(UTC) + timedelta(days=1),
                                   digest=alerter.compose_digest)  # the held and the hourly, as they go out
    assert failed == 0 and sent > 0
    messages = smtp.messages
    texts = {t.article_id: f"{t.article.title}\n{t.article.text}" for t in tagged}
    everything = "\n".join(texts.values())
    keys = {k for text in texts.values() for k in names(text)}
    assert any(m["X-Wirewatch-Shared-Keys"] for m in messages)

    for msg in messages:
        for body in bodies(msg):
            # a linker key may appear only where an article writes that very word (Doha, not doha or katar)
            stems = [k for k in keys if re.search(rf"(?<!\w){k}(?!\w)", body) and
                     not re.search(rf"(?<!\w){k}(?!\w)", everything)]
            assert stems == [], (msg["Subject"], stems)
            assert not EXPRESSION.search(body), (msg["Subject"], EXPRESSION.search(body))
            assert not ISO.search(body), (msg["Subject"], ISO.search(body))
            assert "|followup" not in body and "|topic" not in body and "@example.org|" not in body
        # the internals are in the headers
        if msg["X-Wirewatch-Key"]:
            assert msg["X-Wirewatch-Key"].startswith(msg["To"] + "|")
            assert "rules" in msg["X-Wirewatch-Topics"] and "[" not in msg["X-Wirewatch-Topics"]
        else:
            assert msg["X-Wirewatch-Item"]

    singles = [m for m in messages if m["X-Wirewatch-Kind"] == "followup"]
    assert singles, [m["Subject"] for m in messages]
    for msg in singles:
        plain = part(msg)
        assert re.search(r"Published: \d{1,2} [A-Z][a-z]+ 2024", plain)
        why = plain.split("Why you got this\n", 1)[1].split("\n", 1)[0]
        assert why.startswith("Linked to “Doha energy talks” because it names ")
        named = re.split(r", | and ", re.split(r" and gives the date|, as the story does", why)[0]
                         .removeprefix("Linked to “Doha energy talks” because it names "))
        article_id = msg["X-Wirewatch-Key"].split("|")[1]
        assert named and all(n in texts[article_id] for n in named), (named, article_id)

    [digest] = [m for m in messages if m["To"] == HOURLY]
    plain = part(digest)
    items = re.split(r"\n(?=\d+\. )", plain.split("\n", 1)[1])
    items = [i for i in items if re.match(r"\d+\. ", i)]
    assert len(items) == len(digest.get_all("X-Wirewatch-Item")) >= 8  # one header per item
    assert "On: Strikes on energy infrastructure" in plain and "Follow-up to: Doha energy talks" in plain
    by_headline = {}
    for item in items:
        source = item.split("\n")[2].strip().split(" · ")[0]
        also = re.search(r"Also reported by: (.+)", item)
        assert also is None or source not in also.group(1), item  # never the item's own outlet
        by_headline[item.split("\n")[0].split(". ", 1)[1]] = also.group(1) if also else ""
    denial = next(a for a in CORPUS.articles if a["id"] == RETOLD)
    assert "harbour-wire" in by_headline[denial["title"]]  # the outlet that retold this item, on this item
    assert [h for h, also in by_headline.items() if "harbour-wire" in also] == [denial["title"]]
    # small: a digest item is its headline, outlet, date, link, what is new and one sentence on why
    size = len(digest.as_bytes())
    assert size <= 2000 * len(items), (size, len(items))
