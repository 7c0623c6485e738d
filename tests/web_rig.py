"""A web app rig for the tests: a data folder filled by the real alert stage from the demo corpus.

In: a temporary folder. Out: :class:`Rig` — settings (data folder, an editable copy of the bundled
rules), the store, a real :class:`~alerts.alerter.Alerter` writing ``.eml`` files with signed links,
and users of each role. ``feed(kinds)`` runs more of the corpus through the alerter, as a worker would.
"""

from __future__ import annotations

import atexit
import re
import shutil
import tempfile
from dataclasses import dataclass
from email import message_from_bytes, policy
from email.message import EmailMessage
from pathlib import Path

from argon2 import PasswordHasher
from wirewatch.alerts.alerter import Alerter
from wirewatch.alerts.compose import Composer
from wirewatch.alerts.mailer import OutboxMailer
from wirewatch.process.rules import bundled_rules_dir

from wirewatch.app.state import AppState
from wirewatch.app.web.users import UserBook
from wirewatch.config import Settings, load_settings
from wirewatch.devtools.corpus import DemoCorpus
from wirewatch.links import LinkSigner
from wirewatch.schema import Article, Entry, TaggedArticle, TopicTag

CORPUS = DemoCorpus.load()
PASSWORD = "a long enough password"
ANALYST, OTHER, EDITOR, ADMIN = "ana@example.org", "bob@example.org", "ed@example.org", "root@example.org"
FIRST_ROUND = ("doha_report", "doha_rewrite", "energy_strike", "gaza_doha", "unrelated")


def tagged(art: dict, title: str | None = None, text: str | None = None) -> TaggedArticle:  # type: ignore[type-arg]
    entry = Entry(article_id=art["id"], url=f"https://news.test/{art['slug']}", canonical_url="", feed_url="f",
                  feed_title=art["feed"], title=title or art["title"], published=art["published"])
    article = Article(entry=entry, title=title or art["title"], text=text or "\n".join(art["body"]),
                      published=art["published"], sitename=art["feed"], language="en")
    tags = [TopicTag(topic=t, score=0.9 if v else 0.1, fired=v, explanation="test")
            for t, v in art["labels"].items() if t != "doha_story"]
    return TaggedArticle(article=article, topics=tags)


@dataclass
class Rig:
    settings: Settings
    store: AppState
    _alerter: Alerter | None = None

    @property
    def alerter(self) -> Alerter:
        """The alert stage on this rig's data, as a worker restarted on it would be."""
        if self._alerter is None:
            composer = Composer("wirewatch <w@wire.test>", LinkSigner.from_settings(self.settings))
            self._alerter = Alerter(self.settings.alert, self.store.alerts, composer,
                                    OutboxMailer(self.settings.outbox_path))
        return self._alerter

    @property
    def outbox(self) -> Path:
        return self.settings.outbox_path

    def feed(self, kinds: tuple[str, ...]) -> None:
        self.alerter.request_refresh()
        for art in CORPUS.articles:
            if art["kind"] in kinds:
                self.alerter.handle(tagged(art))
        self.alerter.flush()

    def mails(self) -> list[EmailMessage]:
        return [message_from_bytes(p.read_bytes(), policy=policy.default)  # type: ignore[misc]
                for p in sorted(self.outbox.glob("*.eml"), key=lambda p: p.stat().st_mtime_ns)]

    def links(self, mail: EmailMessage) -> dict[str, str]:
        """The signed links of an email's HTML part, by what they do (read back from their tokens)."""
        html = mail.get_body(("html",)).get_content()  # type: ignore[union-attr]
        base = re.escape(self.settings.web.base_url)
        signer = LinkSigner(self.settings.web.base_url, "test secret", 36500)  # reads old links too
        urls = re.findall(rf'href="({base}/l/[^"]+)"', html) + re.findall(r"<([^>]+)>", mail["List-Unsubscribe"])
        return {signer.read(url.rsplit("/", 1)[1]).action: url for url in urls}


_TEMPLATE: list[Path] = []  # the first round, run once per test session and copied for each test


def _settings(root: Path, base_url: str, web: dict[str, object]) -> Settings:
    return load_settings(None, env={}, overrides={"data_dir": str(root / "data"),
                                                  "classify.rules_dir": str(root / "rules"),
                                                  "web.base_url": base_url, "web.secret": "test secret",
                                                  **{f"web.{k}": v for k, v in web.items()}})


def _template(base_url: str) -> Path:
    if not _TEMPLATE:
        root = Path(tempfile.mkdtemp(prefix="wirewatch-web-rig-"))
        atexit.register(shutil.rmtree, root, True)
        shutil.copytree(bundled_rules_dir(), root / "rules")
        settings = _settings(root, base_url, {})
        settings.data_path.mkdir(parents=True)
        store = AppState.open(settings.database_url)
        book = UserBook(store.engine, PasswordHasher(time_cost=1, memory_cost=8192, parallelism=1))  # fast to check
        for email, role in ((ANALYST, "analyst"), (OTHER, "analyst"), (EDITOR, "editor"), (ADMIN, "admin")):
            book.add(email, role, PASSWORD)
        for email in (ANALYST, OTHER):
            store.alerts.add_subscriber(email, mode="immediate")
            store.alerts.subscribe(email, "topic", "energy_strikes", 0.5)
        Rig(settings, store).feed(FIRST_ROUND)
        store.close()
        _TEMPLATE.append(root)
    return _TEMPLATE[0]


def make_rig(tmp_path: Path, base_url: str = "http://127.0.0.1:8080", **web: object) -> Rig:
    """A copy of the first round (the seed report, its retellings and the noise, alerted to two analysts)."""
    template = _template("http://127.0.0.1:8080")
    for part in ("rules", "data"):
        shutil.copytree(template / part, tmp_path / part)
    settings = _settings(tmp_path, base_url, web)
    return Rig(settings, AppState.open(settings.database_url))
