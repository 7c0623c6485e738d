"""Email composition: an alert's facts in, a multipart (plain text + HTML) email out.

Text from articles never reaches a header unsanitised: CR, LF and other control characters are
removed from anything that goes into the subject, and the HTML part is rendered with escaping on.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email.message import EmailMessage
from email.utils import format_datetime

from jinja2 import Environment, PackageLoader, StrictUndefined, select_autoescape

from wirewatch.links import LinkSigner
from wirewatch.storage import QueuedAlert, alert_ref

CONTROL = re.compile(r"[\x00-\x1f\x7f\u2028\u2029]+")
MAX_SUBJECT = 160


def header_safe(value: str, limit: int = MAX_SUBJECT) -> str:
    """One line of text fit for a mail header: control characters and line breaks become spaces."""
    clean = " ".join(CONTROL.sub(" ", value).split())
    return clean if len(clean) <= limit else clean[: limit - 1] + "…"


@dataclass(frozen=True)
class TopicLine:
    topic: str
    score: float
    explanation: str


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
    reason: str = ""
    also_reported_by: str = ""

    @property
    def topic_names(self) -> str:
        return ", ".join(t.topic for t in self.topics) or "your topics"

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
        self.env = Environment(loader=PackageLoader("alerts", "templates"), undefined=StrictUndefined,
                               autoescape=select_autoescape(enabled_extensions=("html.j2",), default=False),
                               keep_trailing_newline=True)

    def compose_digest(self, queued: list[QueuedAlert]) -> EmailMessage:
        """One email for several alerts: a storm of follow-ups on one story, or an hourly/daily digest."""
        items = []
        for alert in queued:
            data = json.loads(alert.facts_json)
            data["topics"] = [TopicLine(**t) for t in data.get("topics", [])]
            items.append(AlertFacts(**data))
        first = items[0]
        stories = sorted({i.story_name for i in items if i.story_name})
        about = stories[0] if len(stories) == 1 else f"{len(stories)} stories" if stories else "your topics"
        digest = DigestFacts(alert_id="|".join(sorted(a.idem_key for a in queued)), subscriber=first.subscriber,
                             items=items, subject=header_safe(f"[wirewatch] {len(items)} updates — {about}"))
        return self._message(digest.subscriber, digest.subject, digest.alert_id, "digest", digest,
                             [alert_ref(a.idem_key) for a in queued])

    def compose(self, facts: AlertFacts) -> EmailMessage:
        return self._message(facts.subscriber, facts.subject, facts.alert_id, "alert", facts,
                             [alert_ref(facts.alert_id)])

    def _message(self, to: str, subject: str, alert_id: str, template: str, data: object,
                 refs: list[str]) -> EmailMessage:
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
        if self.links is not None:
            feedback = self.links.for_email(to, digest)
            msg["List-Unsubscribe"] = f"<{feedback['unsubscribe']}>"
            msg["List-Unsubscribe-Post"] = "List-Unsubscribe=One-Click"  # RFC 8058: the client POSTs the link
        else:
            msg["List-Unsubscribe"] = f"<mailto:unsubscribe@{domain}?subject=unsubscribe%20{digest}>"
            feedback = {verdict: f"mailto:feedback@{domain}?subject={verdict}%20{digest}"
                        for verdict in ("relevant", "not-relevant")}
        msg.set_content(self.env.get_template(f"{template}.txt.j2").render(alert=data, ref=digest, feedback=feedback))
        msg.add_alternative(self.env.get_template(f"{template}.html.j2").render(alert=data, ref=digest,
                                                                               feedback=feedback), subtype="html")
        return msg
