"""Email composition: an alert's facts in, a multipart (plain text + HTML) email out.

What people read is written for them by the alert stage (:mod:`alerts.wording`,
:mod:`alerts.whats_new`): names as the article writes them, topic names, dates, one sentence on why.
The machine's side of an alert — rule explanations, scores, the linker's keys and reason, the
idempotency key — goes into ``X-Wirewatch-*`` headers only, never into the bodies.

Text from articles never reaches a header unsanitised: CR, LF and other control characters are
removed from anything that goes into a header, and the HTML part is rendered with escaping on.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from dataclasses import dataclass, field, fields
from datetime import UTC, datetime
from email.message import EmailMessage
from email.utils import format_datetime

from jinja2 import Environment, PackageLoader, StrictUndefined, select_autoescape
from wirewatch.alerts.dates import human_date
from wirewatch.alerts.outbox import QueuedAlert, alert_ref

from wirewatch.links import LinkSigner
from wirewatch.topic_names import topic_name

CONTROL = re.compile(r"[\x00-\x1f\x7f\u2028\u2029]+")
EXPRESSIONS = re.compile(r"\s*\[.*\]", re.DOTALL)  # the rule expressions inside an explanation
MAX_SUBJECT = 160
MAX_X_HEADER = 900


def header_safe(value: str, limit: int = MAX_SUBJECT) -> str:
    """One line of text fit for a mail header: control characters and line breaks become spaces."""
    clean = " ".join(CONTROL.sub(" ", value).split())
    return clean if len(clean) <= limit else clean[: limit - 1] + "…"


@dataclass(frozen=True)
class TopicLine:
    topic: str  # the id
    score: float
    explanation: str  # the classifier's, with its rule expressions: for X- headers and logs only
    words: list[str] = field(default_factory=list)  # the article's words that matched the topic's rules

    @property
    def name(self) -> str:
        return topic_name(self.topic)

    @property
    def machine(self) -> str:
        """Topic id, score and rule weights, without the expressions (for an X- header)."""
        return f"{self.topic}={self.score:.2f} ({EXPRESSIONS.sub('', self.explanation)})"


@dataclass(frozen=True)
class ReaderLinks:
    """Where a reader's answers go: "relevant", "not relevant", "unsubscribe" and, with the web app,
    the story's page. ``web`` says they are one-click links to the app (else ``mailto:`` links)."""

    relevant: str
    not_relevant: str
    unsubscribe: str
    story: str = ""
    web: bool = False


def reader_links(domain: str, ref: str, to: str = "", signer: LinkSigner | None = None) -> ReaderLinks:
    """The links an email offers its reader for an alert reference: signed, expiring links to the web
    app when ``[web]`` is set up (``signer``), ``mailto:`` links otherwise."""
    if signer is not None:
        url = signer.for_email(to, ref)
        return ReaderLinks(relevant=url["relevant"], not_relevant=url["not-relevant"],
                           unsubscribe=url["unsubscribe"], story=url["story"], web=True)
    return ReaderLinks(relevant=f"mailto:feedback@{domain}?subject=relevant%20{ref}",
                       not_relevant=f"mailto:feedback@{domain}?subject=not-relevant%20{ref}",
                       unsubscribe=f"mailto:unsubscribe@{domain}?subject=unsubscribe%20{ref}")


@dataclass(frozen=True)
class AlertFacts:
    alert_id: str
    kind: str  # "followup" or "topic"
    subscriber: str
    headline: str
    source: str
    published: str
    url: str
    snippet: str
    topics: list[TopicLine]
    fallback: str = ""
    story_name: str = ""
    relation: str = ""
    similarity: float = 0.0
    shared_terms: str = ""
    new_terms: str = ""
    new_sentences: list[str] = field(default_factory=list)
    reason: str = ""  # the linker's, for the X- headers; people read ``why``
    also_reported_by: str = ""
    why: str = ""  # one plain sentence on why the article was flagged
    article_id: str = ""
    watch_id: str = ""

    @property
    def topic_names(self) -> str:
        return ", ".join(t.name for t in self.topics) or "your topics"

    @property
    def published_on(self) -> str:
        return human_date(self.published)

    @property
    def machine_summary(self) -> str:
        """Topic scores and the link's similarity in one line (a digest's X-Wirewatch-Item header)."""
        parts = [t.machine for t in self.topics] + ([f"similarity={self.similarity:.2f}"] if self.relation else [])
        return "; ".join(parts)

    def machine_headers(self) -> list[tuple[str, str]]:
        """What the machine decided, for X-Wirewatch-* headers: never shown in the bodies."""
        out = [("X-Wirewatch-Key", self.alert_id), ("X-Wirewatch-Kind", self.kind)]
        if self.topics:
            out.append(("X-Wirewatch-Topics", "; ".join(t.machine for t in self.topics)))
        if self.kind == "followup":
            out.append(("X-Wirewatch-Relation", f"{self.relation} similarity={self.similarity:.2f} ({self.reason})"))
            out.append(("X-Wirewatch-Shared-Keys", self.shared_terms or "-"))
            out.append(("X-Wirewatch-New-Keys", self.new_terms or "-"))
        return [(name, header_safe(value, MAX_X_HEADER)) for name, value in out]

    @property
    def subject(self) -> str:
        if self.kind == "followup":
            return header_safe(f"[wirewatch] Follow-up — {self.story_name}: {self.headline}")
        return header_safe(f"[wirewatch] {self.topic_names}: {self.headline}")


@dataclass(frozen=True)
class DigestFacts:
    alert_id: str
    subscriber: str
    items: list[AlertFacts]
    subject: str


class Composer:
    def __init__(self, sender: str, links: LinkSigner | None = None) -> None:
        self.sender = sender
        self.links = links  # signed links to the web app; without: mailto: links
        self.env = Environment(loader=PackageLoader("wirewatch.alerts", "templates"), undefined=StrictUndefined,
                               autoescape=select_autoescape(enabled_extensions=("html.j2",), default=False),
                               keep_trailing_newline=True)

    def compose_digest(self, queued: list[QueuedAlert],
                       refresh: Callable[[AlertFacts], AlertFacts] | None = None) -> EmailMessage:
        """One email for several alerts: a storm of follow-ups on one story, or an hourly/daily digest.
        ``refresh`` brings each alert's facts up to date first (who else has reported it since)."""
        items = [facts_from_json(alert.facts_json) for alert in queued]
        items = [refresh(i) for i in items] if refresh is not None else items
        first = items[0]
        stories = sorted({i.story_name for i in items if i.story_name})
        about = stories[0] if len(stories) == 1 else f"{len(stories)} stories" if stories else "your topics"
        digest = DigestFacts(alert_id="|".join(sorted(a.idem_key for a in queued)), subscriber=first.subscriber,
                             items=items, subject=header_safe(f"[wirewatch] {len(items)} updates — {about}"))
        machine = [("X-Wirewatch-Item", header_safe(f"{alert_ref(i.alert_id)} {i.kind} {i.machine_summary}",
                                                    MAX_X_HEADER)) for i in items]
        return self._message(digest.subscriber, digest.subject, digest.alert_id, "digest", digest,
                             [alert_ref(a.idem_key) for a in queued], machine)

    def compose(self, facts: AlertFacts) -> EmailMessage:
        return self._message(facts.subscriber, facts.subject, facts.alert_id, "alert", facts,
                             [alert_ref(facts.alert_id)], facts.machine_headers())

    def _message(self, to: str, subject: str, alert_id: str, template: str, data: object,
                 refs: list[str], machine: list[tuple[str, str]]) -> EmailMessage:
        msg = EmailMessage()
        msg["From"] = self.sender
        msg["To"] = to
        msg["Subject"] = subject
        msg["Date"] = format_datetime(datetime.now(UTC))
        domain = self.sender.rsplit("@", 1)[-1].strip("> ") or "wirewatch.local"
        digest = alert_ref(alert_id)
        msg["Message-ID"] = f"<{digest}@{domain}>"  # the same alert always gets the same id: receivers can dedupe
        msg["X-Wirewatch-Alert"] = digest
        msg["X-Wirewatch-Refs"] = " ".join(refs)  # the alerts this email carries, one reference each
        for name, value in machine:
            msg[name] = value
        links = reader_links(domain, digest, to, self.links)
        msg["List-Unsubscribe"] = f"<{links.unsubscribe}>"
        if links.web:
            msg["List-Unsubscribe-Post"] = "List-Unsubscribe=One-Click"  # RFC 8058: the client POSTs the link
        msg.set_content(self.env.get_template(f"{template}.txt.j2").render(alert=data, ref=digest, links=links))
        msg.add_alternative(self.env.get_template(f"{template}.html.j2").render(alert=data, ref=digest, links=links),
                            subtype="html")
        return msg


def facts_from_json(text: str) -> AlertFacts:
    """An alert's facts as the outbox keeps them; fields an older version wrote and this one no longer
    has are ignored, so that an upgrade never strands the alerts already queued."""
    data = json.loads(text)
    known = {f.name for f in fields(AlertFacts)}
    line_fields = {f.name for f in fields(TopicLine)}
    data["topics"] = [TopicLine(**{k: v for k, v in t.items() if k in line_fields}) for t in data.get("topics", [])]
    return AlertFacts(**{k: v for k, v in data.items() if k in known})
