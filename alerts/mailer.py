"""Mail delivery: the persisted outbox in the store, drained to SMTP or to ``.eml`` files.

In: pending rows of the ``alerts`` table. Out: sent email; each row marked sent only after the
server accepted it (or the file was written). A refused, timed-out or dropped SMTP connection
leaves the row pending for the next round, until ``max_attempts``; nothing is lost.
"""

from __future__ import annotations

import email
import email.policy
import hashlib
import logging
import smtplib
import ssl
from email.message import EmailMessage
from pathlib import Path
from typing import Protocol

from wirewatch.config import SmtpSettings
from wirewatch.storage import Store

log = logging.getLogger(__name__)


class Mailer(Protocol):
    def send(self, message: EmailMessage) -> None: ...


class OutboxMailer:
    """Writes each email as an ``.eml`` file (the embedded default, with no SMTP host)."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        folder.mkdir(parents=True, exist_ok=True)

    def send(self, message: EmailMessage) -> None:
        key = message.get("X-Wirewatch-Alert") or hashlib.sha256(message.as_bytes()).hexdigest()[:24]
        path = self.folder / f"{key}.eml"
        tmp = path.with_suffix(".tmp")
        tmp.write_bytes(message.as_bytes())
        tmp.replace(path)


class SmtpMailer:
    """Sends through an SMTP server: plain, STARTTLS or TLS, with login when a username is set."""

    def __init__(self, settings: SmtpSettings) -> None:
        self.settings = settings

    def send(self, message: EmailMessage) -> None:
        s = self.settings
        context = ssl.create_default_context()
        if s.security == "tls":
            client: smtplib.SMTP = smtplib.SMTP_SSL(s.host, s.port, timeout=s.timeout_seconds, context=context)
        else:
            client = smtplib.SMTP(s.host, s.port, timeout=s.timeout_seconds)
        with client:
            if s.security == "starttls":
                client.starttls(context=context)
            if s.username:
                client.login(s.username, s.password)
            client.send_message(message)


def make_mailer(settings: SmtpSettings, outbox: Path) -> Mailer:
    return SmtpMailer(settings) if settings.host else OutboxMailer(outbox)


def deliver_pending(store: Store, mailer: Mailer, max_attempts: int = 20) -> tuple[int, int]:
    """Send what the outbox holds; returns (sent, failed this round). Stops at the first server failure."""
    sent = failed = 0
    for alert in store.pending_alerts():
        message = email.message_from_string(alert.message, policy=email.policy.default)
        try:
            mailer.send(message)  # type: ignore[arg-type]
        except (smtplib.SMTPException, OSError) as exc:
            give_up = alert.attempts + 1 >= max_attempts or isinstance(exc, smtplib.SMTPRecipientsRefused)
            store.mark_failed(alert.idem_key, f"{type(exc).__name__}: {exc}", give_up)
            failed += 1
            log.warning("alert %s to %s not sent (attempt %d): %s", alert.idem_key, alert.subscriber,
                        alert.attempts + 1, exc)
            if not give_up:
                break  # the server is likely down: keep the rest for the next round, in order
            continue
        store.mark_sent(alert.idem_key)
        sent += 1
    return sent, failed
