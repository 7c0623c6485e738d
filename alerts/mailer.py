"""Mail delivery: the persisted outbox in the store, drained to SMTP or to ``.eml`` files.

In: pending rows of the ``alerts`` table. Out: sent email; each row marked sent only after the
server accepted it (or the file was written). A refused, timed-out or dropped SMTP connection
leaves the row pending, retried with exponential backoff (30 s doubling, at most an hour, with
jitter) for as long as it takes, and so does a refused login (the password is ops' to fix); only a
recipient or message the server refuses for good (5xx) is given up.
"""

from __future__ import annotations

import email
import email.policy
import hashlib
import logging
import os
import random
import smtplib
import socket
import ssl
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from email.message import EmailMessage
from pathlib import Path
from typing import Protocol

from wirewatch.alerts.outbox import Outbox, QueuedAlert
from wirewatch.alerts.smtp_envelope import stored_envelope
from wirewatch.alerts.stage import NAME as STAGE_NAME

from wirewatch.config import SmtpSettings
from wirewatch.heartbeats import WorkerId

log = logging.getLogger(__name__)

FIRST_RETRY_SECONDS = 30.0
MAX_RETRY_SECONDS = 3600.0
KEEP_SECONDS = 30.0  # an SMTP connection unused this long is closed, not reused


class Mailer(Protocol):
    def send(self, message: EmailMessage) -> None: ...

    def send_stored(self, text: str) -> None:
        """An email as the outbox keeps it (the text of :meth:`EmailMessage.as_string`)."""

    def close(self) -> None: ...


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

    def send_stored(self, text: str) -> None:
        self.send(parsed(text))

    def close(self) -> None:
        """Nothing is kept open between emails."""


class SmtpMailer:
    """Sends through an SMTP server: plain, STARTTLS or TLS, with login when a username is set.

    The connection (with its TLS session and login) is kept for the next email while it is used at
    least every :data:`KEEP_SECONDS`: a burst of alerts pays the connection, handshake and login once,
    not per email. A kept connection is checked with a NOOP before it carries an email; one the server
    closed meanwhile is replaced at once, before anything of the email was sent, so a failure of the
    send itself means what it meant on a new connection (see :func:`in_doubt`) and the connection is
    dropped.
    """

    def __init__(self, settings: SmtpSettings, keep_seconds: float | None = None) -> None:
        self.settings = settings
        self.keep_seconds = KEEP_SECONDS if keep_seconds is None else keep_seconds
        self._client: smtplib.SMTP | None = None
        self._used = 0.0
        self.connections = 0  # opened so far (for tests and benchmarks)

    def _connect(self) -> smtplib.SMTP:
        s = self.settings
        context = ssl.create_default_context(cafile=s.ca_file or None)  # the certificate and host name are checked
        if s.security == "tls":
            client: smtplib.SMTP = smtplib.SMTP_SSL(s.host, s.port, timeout=s.timeout_seconds, context=context)
        else:
            client = smtplib.SMTP(s.host, s.port, timeout=s.timeout_seconds)
        try:
            if s.security == "starttls":
                client.starttls(context=context)
            if s.username:
                client.login(s.username, s.password)
        except BaseException:
            _drop(client)
            raise
        self.connections += 1
        return client

    def _kept(self) -> smtplib.SMTP | None:
        """The kept connection if it is fresh enough and the server still answers on it."""
        client, self._client = self._client, None
        if client is None:
            return None
        if time.monotonic() - self._used > self.keep_seconds:
            self._quit(client)
            return None
        try:
            alive = client.noop()[0] == 250
        except (smtplib.SMTPException, OSError):
            alive = False  # the server closed it while it waited: a new one is opened
        if not alive:
            _drop(client)
        return client if alive else None

    def send(self, message: EmailMessage) -> None:
        self._transmit(lambda client: client.send_message(message))

    def send_stored(self, text: str) -> None:
        """The stored text as it is, when that is what ``send`` would transmit of it parsed (see
        :mod:`alerts.smtp_envelope`): the parse and the writing out again are saved; else parsed and sent."""
        envelope = stored_envelope(text)
        if envelope is None:
            self.send(parsed(text))
        else:
            self._transmit(lambda client: client.sendmail(*envelope))

    def _transmit(self, conversation: Callable[[smtplib.SMTP], object]) -> None:
        client = self._kept() or self._connect()
        try:
            conversation(client)
        except BaseException:
            _drop(client)
            raise
        self._used = time.monotonic()
        if self.keep_seconds > 0:
            self._client = client
        else:
            self._quit(client)

    def close(self) -> None:
        """Say goodbye on the kept connection, if any."""
        client, self._client = self._client, None
        if client is not None:
            self._quit(client)

    @staticmethod
    def _quit(client: smtplib.SMTP) -> None:
        try:
            client.quit()
        except (smtplib.SMTPException, OSError):
            _drop(client)


def _drop(client: smtplib.SMTP) -> None:
    client.close()  # the socket only: no reply is awaited


def parsed(text: str) -> EmailMessage:
    """A stored email as a message."""
    return email.message_from_string(text, _class=EmailMessage, policy=email.policy.default)


def make_mailer(settings: SmtpSettings, outbox: Path) -> Mailer:
    return SmtpMailer(settings) if settings.host else OutboxMailer(outbox)


@dataclass(frozen=True)
class RetryPolicy:
    """Backoff of a failed send: ``first`` seconds, doubling per attempt, at most ``longest``, ±20 % jitter."""

    first: float = FIRST_RETRY_SECONDS
    longest: float = MAX_RETRY_SECONDS

    def delay(self, attempt: int, rng: random.Random) -> float:
        return min(self.longest, self.first * 2.0 ** (attempt - 1)) * rng.uniform(0.8, 1.2)


def retry_delay(attempt: int, rng: random.Random) -> float:
    """Seconds before the next try with the default policy: 30 s doubling, at most an hour, with jitter."""
    return RetryPolicy().delay(attempt, rng)


def is_final_refusal(exc: Exception) -> bool:
    """A refusal that no retry can cure: the recipient (or this message) refused with a 5xx.

    A refused login or sender is the operator's configuration to fix, and a 4xx, a timeout or a
    dropped connection is the server's to recover from: the alert waits in the outbox for both.
    """
    if isinstance(exc, smtplib.SMTPRecipientsRefused):
        return True
    if isinstance(exc, smtplib.SMTPAuthenticationError | smtplib.SMTPSenderRefused | smtplib.SMTPNotSupportedError):
        return False
    return isinstance(exc, smtplib.SMTPResponseException) and exc.smtp_code >= 500


def dead_on_this_host(claimants: list[WorkerId], host: str | None = None) -> list[WorkerId]:
    """The claimants that ran on this host in a process that no longer exists: a worker killed while
    sending. Their claims need not wait for the claim timeout."""
    host = host or socket.gethostname()
    dead = []
    for claimant in claimants:
        if claimant.host != host or claimant.pid == os.getpid():
            continue
        try:
            os.kill(claimant.pid, 0)
        except ProcessLookupError:
            dead.append(claimant)
        except PermissionError:  # a process of another user has that id now: not ours, alive
            continue
    return dead


def release_claims(store: Outbox, claim_timeout: float | None, now: datetime) -> list[str]:
    """Release the claims of workers that died while sending: at once for those known to be dead (a
    process gone on this host), after ``claim_timeout`` for those not heard from."""
    released = store.release_claims_of(dead_on_this_host(store.claimants()))
    if claim_timeout is not None:
        released += store.release_stale_claims(now - timedelta(seconds=claim_timeout))
    if released:
        log.warning("%d alert(s) were being sent by a worker that stopped; sending them again (same "
                    "Message-ID, so a copy the server already took can be recognised)", len(released))
    return released


def _groups(due: list[QueuedAlert]) -> list[list[QueuedAlert]]:
    """Alerts that go out in one email: the same subscriber and group (a story in a storm window, or a
    digest period); an alert with no group goes alone. Alerts of a send in doubt (the connection
    dropped, or the worker died, after the server may have taken the email) are sent again together,
    as that same email with its Message-ID, and never merged with alerts that came since."""
    groups: dict[tuple[str, str, str], list[QueuedAlert]] = {}
    for alert in due:
        doubt = f"in doubt since {alert.next_attempt}" if alert.interrupted else ""
        groups.setdefault((alert.subscriber, alert.story or alert.idem_key, doubt), []).append(alert)
    return list(groups.values())


def in_doubt(exc: Exception) -> bool:
    """A failure after which the server may have taken the email: no SMTP reply came (a dropped
    connection, a timeout). A reply (4xx, 5xx) or a refused connection means it was not taken."""
    return not isinstance(exc, smtplib.SMTPResponseException | ConnectionRefusedError)


def _record_sent(store: Outbox, unrecorded: list[QueuedAlert], on_sent: Callable[[QueuedAlert], None] | None) -> None:
    """Mark sent, in one transaction, the alerts the server took; they leave ``unrecorded`` once recorded."""
    if not unrecorded:
        return
    store.mark_sent(*(a.idem_key for a in unrecorded))
    _recorded(unrecorded, on_sent)


def _recorded(unrecorded: list[QueuedAlert], on_sent: Callable[[QueuedAlert], None] | None) -> None:
    """The alerts of ``unrecorded`` are marked sent now: they leave it."""
    done = unrecorded[:]
    unrecorded.clear()
    if on_sent is not None:
        for alert in done:
            on_sent(alert)


def deliver_pending(store: Outbox, mailer: Mailer, now: datetime | None = None, rng: random.Random | None = None,
                    digest: Callable[[list[QueuedAlert]], EmailMessage] | None = None, worker: WorkerId | None = None,
                    retry: RetryPolicy | None = None, claim_timeout: float | None = None,
                    on_sent: Callable[[QueuedAlert], None] | None = None,
                    unrecorded: list[QueuedAlert] | None = None) -> tuple[int, int]:
    """Send what the outbox holds and is due; returns (alerts sent, alerts failed this round).

    Alerts due together for one subscriber and one group go out as one email (``digest``). Each is
    claimed first, so that two alert workers never send the same alert; when ``claim_timeout`` is
    given, the claims of workers known to be dead (their process is gone from this host) and claims
    older than ``claim_timeout`` seconds (a worker not heard from) are released to be sent
    again (with the same Message-ID: the server may have taken it before the crash). A refusal of
    the recipient (5xx) is final; any other failure (server down, 4xx, timeout, dropped connection,
    refused login) keeps the alerts pending and schedules their next try with backoff. The round
    stops at the first server failure, so the rest wait, in order, for the server to come back.

    ``unrecorded`` (kept by the caller across calls) holds alerts the server took while the database
    could not record it: they are marked sent first, before anything else is claimed or released.
    """
    rng = rng or random.Random()
    retry = retry or RetryPolicy()
    now = now or datetime.now(UTC)
    worker = worker or WorkerId.here(STAGE_NAME)
    unrecorded = unrecorded if unrecorded is not None else []
    _record_sent(store, unrecorded, on_sent)  # the database was down when these went out; it raises if it still is
    if claim_timeout is not None:
        release_claims(store, claim_timeout, now)
    sent = failed = 0
    for group in _groups(store.pending_alerts(now=now)):
        if digest is None:  # without a digest composer, one alert per email: the rest wait for the next round
            group = group[:1]
        # the last email's send is recorded with this claim, in one transaction (see alerts.outbox)
        claimed = set(store.claim_alerts([a.idem_key for a in group], worker, [a.idem_key for a in unrecorded]))
        _recorded(unrecorded, on_sent)
        group = [a for a in group if a.idem_key in claimed]
        if not group:
            continue
        message = digest(group) if len(group) > 1 and digest is not None else None
        try:
            if message is None:
                mailer.send_stored(group[0].message)  # as the outbox keeps it
            else:
                mailer.send(message)
        except (smtplib.SMTPException, OSError) as exc:
            permanent = is_final_refusal(exc)
            attempt = max(a.attempts for a in group) + 1
            retry_at = None if permanent else now + timedelta(seconds=retry.delay(attempt, rng))
            doubt = in_doubt(exc)
            for alert in group:
                store.mark_failed(alert.idem_key, f"{type(exc).__name__}: {exc}", permanent, retry_at, doubt)
            failed += len(group)
            if permanent:
                log.error("alert to %s refused for good: %s", group[0].subscriber, exc)
                continue
            log.warning("%d alert(s) to %s not sent (attempt %d), next try at %s: %s", len(group),
                        group[0].subscriber, attempt, retry_at.isoformat(timespec="seconds") if retry_at else "-", exc)
            break
        unrecorded.extend(group)  # recorded with the next claim, or below
        sent += len(group)
    _record_sent(store, unrecorded, on_sent)
    return sent, failed
