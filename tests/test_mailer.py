"""The outbox against SMTP servers that misbehave: nothing is lost, nothing is sent twice."""

import smtplib
import socket
import threading
from datetime import UTC, datetime, timedelta
from email.message import EmailMessage
from pathlib import Path

import pytest
from wirewatch.alerts.alert_store import AlertStore
from wirewatch.alerts.mailer import SmtpMailer, deliver_pending, retry_delay

from wirewatch.config import SmtpSettings

pytestmark = pytest.mark.integration


def queue_one(store: AlertStore, key: str = "a@example.org|x1|topic") -> None:
    msg = EmailMessage()
    msg["From"], msg["To"], msg["Subject"] = "w@wire.test", "a@example.org", "hello"
    msg.set_content("body")
    store.queue_alert(key, "a@example.org", "x1", "topic", "hello", msg.as_string())


class RudeServer:
    """Accepts connections and then hangs up at once, or never says a word."""

    def __init__(self, silent: bool) -> None:
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(8)
        self.port = self.sock.getsockname()[1]
        self.silent = silent
        self.conns: list[socket.socket] = []
        threading.Thread(target=self._serve, daemon=True).start()

    def _serve(self) -> None:
        while True:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            if self.silent:
                self.conns.append(conn)
            else:
                conn.close()

    def close(self) -> None:
        self.sock.close()
        for c in self.conns:
            c.close()


@pytest.mark.parametrize("silent", [False, True], ids=["hangs-up", "times-out"])
def test_a_misbehaving_server_leaves_the_alert_in_the_outbox(tmp_path: Path, silent: bool, smtp) -> None:  # type: ignore[no-untyped-def]
    store = AlertStore.open(f"sqlite:///{tmp_path / 's.db'}")
    queue_one(store)
    rude = RudeServer(silent)
    try:
        settings = SmtpSettings(host="127.0.0.1", port=rude.port, security="none", timeout_seconds=1)
        assert deliver_pending(store, SmtpMailer(settings)) == (0, 1)
    finally:
        rude.close()
    [pending] = store.pending_alerts(now=datetime.now(UTC) + timedelta(hours=2))
    assert pending.attempts == 1
    assert store.pending_alerts() == []  # not before its backoff
    good = SmtpSettings(host="127.0.0.1", port=smtp.port, security="none")
    later = datetime.now(UTC) + timedelta(hours=2)
    assert deliver_pending(store, SmtpMailer(good), now=later) == (1, 0)
    assert deliver_pending(store, SmtpMailer(good), now=later) == (0, 0)
    assert [m["Subject"] for m in smtp.messages] == ["hello"]


def test_backoff_grows_and_is_capped() -> None:
    import random

    rng = random.Random(1)
    delays = [retry_delay(n, rng) for n in range(1, 12)]
    assert 24 <= delays[0] <= 36 and 48 <= delays[1] <= 72
    assert max(delays) <= 3600 * 1.2 and delays[-1] >= 3600 * 0.8


def test_an_alert_sent_while_the_database_is_down_is_recorded_when_it_is_back(tmp_path: Path, smtp) -> None:  # type: ignore[no-untyped-def]
    """The server took it, the database could not say so: it is marked sent on the next round, not sent again."""
    from sqlalchemy.exc import OperationalError

    class FlakyStore(AlertStore):
        down = True

        def mark_sent(self, *idem_keys: str) -> None:
            if self.down:
                raise OperationalError("UPDATE alerts", {}, Exception("server closed the connection"))
            super().mark_sent(*idem_keys)

    store = FlakyStore.open(f"sqlite:///{tmp_path / 's.db'}")
    queue_one(store)
    unrecorded: list = []  # type: ignore[type-arg]
    mailer = SmtpMailer(SmtpSettings(host="127.0.0.1", port=smtp.port, security="none"))
    with pytest.raises(OperationalError):
        deliver_pending(store, mailer, unrecorded=unrecorded, claim_timeout=0.0)
    assert len(smtp.messages) == 1 and [a.idem_key for a in unrecorded] == ["a@example.org|x1|topic"]
    store.down = False
    assert deliver_pending(store, mailer, unrecorded=unrecorded, claim_timeout=0.0) == (0, 0)
    assert unrecorded == [] and store.alert_counts() == {"sent": 1} and len(smtp.messages) == 1


def test_a_burst_of_emails_shares_one_connection_and_a_closed_one_is_replaced(tmp_path: Path, smtp) -> None:  # type: ignore[no-untyped-def]
    store = AlertStore.open(f"sqlite:///{tmp_path / 's.db'}")
    mailer = SmtpMailer(SmtpSettings(host="127.0.0.1", port=smtp.port, security="none"))
    for i in range(3):
        queue_one(store, f"a@example.org|x{i}|topic")
        assert deliver_pending(store, mailer) == (1, 0)
    assert mailer.connections == 1 and len(smtp.received()) == 3
    port = smtp.port
    smtp.stop()  # the server goes away with the kept connection, and comes back
    smtp.start()
    assert smtp.port == port
    queue_one(store, "a@example.org|x9|topic")
    assert deliver_pending(store, mailer) == (1, 0)  # the dead connection was noticed before the email went
    assert mailer.connections == 2 and len(smtp.received()) == 4
    assert store.alert_counts() == {"sent": 4}
    mailer.close()


def test_a_connection_idle_too_long_is_closed_not_reused(tmp_path: Path, smtp) -> None:  # type: ignore[no-untyped-def]
    store = AlertStore.open(f"sqlite:///{tmp_path / 's.db'}")
    import time

    mailer = SmtpMailer(SmtpSettings(host="127.0.0.1", port=smtp.port, security="none"), keep_seconds=0.05)
    for i in range(2):
        queue_one(store, f"a@example.org|y{i}|topic")
        assert deliver_pending(store, mailer) == (1, 0)
        time.sleep(0.1)
    assert mailer.connections == 2 and len(smtp.received()) == 2
    mailer.close()


def test_claims_and_sends_of_a_group_take_one_statement_each(tmp_path: Path) -> None:
    from wirewatch.heartbeats import WorkerId

    store = AlertStore.open(f"sqlite:///{tmp_path / 's.db'}")
    for i in range(4):
        queue_one(store, f"a@example.org|z{i}|topic")
    keys = [f"a@example.org|z{i}|topic" for i in range(4)]
    assert store.claim_alerts(keys[:3], WorkerId("h", 1, "alert")) == keys[:3]
    assert store.claim_alerts(keys, WorkerId("h", 2, "alert")) == keys[3:]  # the rest only: taken once
    assert store.claim_alerts([], WorkerId("h", 2, "alert")) == []
    store.mark_sent(*keys)
    assert store.alert_counts() == {"sent": 4}


def test_a_round_records_each_send_with_the_next_claim_and_a_crash_leaves_one_email_in_doubt(  # type: ignore[no-untyped-def]
        tmp_path: Path, smtp) -> None:
    """One commit per email (the record of a send shares the next claim's transaction) plus one at the end; a
    worker that dies sending the third email leaves the first two recorded and the third alone in doubt."""
    from sqlalchemy import event
    from wirewatch.alerts.mailer import release_claims

    from wirewatch.heartbeats import WorkerId

    store = AlertStore.open(f"sqlite:///{tmp_path / 's.db'}")
    for i in range(4):
        queue_one(store, f"a@example.org|r{i}|topic")
    commits = [0]
    event.listen(store.engine, "commit", lambda _conn: commits.__setitem__(0, commits[0] + 1))
    mailer = SmtpMailer(SmtpSettings(host="127.0.0.1", port=smtp.port, security="none"))
    recorded: list[str] = []
    assert deliver_pending(store, mailer, on_sent=lambda a: recorded.append(a.idem_key)) == (4, 0)
    assert commits[0] == 5 and store.alert_counts() == {"sent": 4}  # 4 claims (3 with a record), 1 last record
    assert sorted(recorded) == [f"a@example.org|r{i}|topic" for i in range(4)] and len(smtp.messages) == 4

    class Dies(SmtpMailer):
        sent = 0

        def send_stored(self, text: str) -> None:
            if self.sent == 2:
                raise KeyboardInterrupt  # the process is killed in the third SMTP conversation
            super().send_stored(text)
            self.sent += 1

    for i in range(3):
        queue_one(store, f"a@example.org|d{i}|topic")
    dead = WorkerId("h", 1, "alert")
    with pytest.raises(KeyboardInterrupt):
        deliver_pending(store, Dies(SmtpSettings(host="127.0.0.1", port=smtp.port, security="none")), worker=dead)
    assert store.alert_counts() == {"sent": 6, "sending": 1}
    assert release_claims(store, 0.0, datetime.now(UTC) + timedelta(seconds=1)) == ["a@example.org|d2|topic"]
    assert deliver_pending(store, mailer) == (1, 0) and store.alert_counts() == {"sent": 7}
    assert len(smtp.messages) == 7  # each email once: none of the recorded ones went again


class Transcript(smtplib.SMTP):
    """An SMTP client that connects nowhere and keeps what it would transmit."""

    def __init__(self) -> None:
        super().__init__()
        self.sent: list[tuple[str, list[str], bytes]] = []

    def ehlo_or_helo_if_needed(self) -> None:
        """No server to greet."""

    def sendmail(self, from_addr, to_addrs, msg, mail_options=(), rcpt_options=()):  # type: ignore[no-untyped-def]
        self.sent.append((from_addr, list(to_addrs), msg))
        return {}


def composed_alerts() -> list[str]:
    """Alerts as the alert stage stores them: the real composer over articles in several scripts, long titles."""
    from wirewatch.alerts.alert_facts import alert_facts
    from wirewatch.alerts.compose import Composer

    from wirewatch.schema import Article, Entry, TaggedArticle, TopicTag

    titles = ["Ceasefire talks resume in Doha", "Переговоры о перемирии возобновились в Дохе",
              "استئناف محادثات وقف إطلاق النار في الدوحة", "การเจรจาหยุดยิงกลับมาอีกครั้ง",
              "A very long headline " * 8 + "that the subject header has to fold over several lines",
              "Zürich — «quotes», naïve café: 50 % of 1,200 €", "x" * 120]
    out = []
    for n, title in enumerate(titles):
        entry = Entry(article_id=f"a{n}", url=f"https://wire.test/{'deep/' * 20}{n}?q=" + "y" * 90,
                      canonical_url="", feed_url="https://wire.test/feed.xml", feed_title="Wire Désk",
                      title=title, published="2026-12-01T10:00:00+00:00", seen_at="2026-12-01T10:00:05+00:00")
        article = Article(entry=entry, title=title, text=f"{title}.\n" + "Délégations et négociateurs. " * 30,
                          published=entry.published, sitename="Wire Désk")
        tagged = TaggedArticle(article=article, topics=[TopicTag(topic="ceasefire_talks", score=0.9, fired=True,
                                                                 explanation="talks, ceasefire")])
        for sender in ("w <w@wire.test>", "Wirewatch Désk <alerts@wire.test>"):
            facts = alert_facts(f"a@example.org|a{n}|topic", "topic", "Ana Lyst <a@example.org>", tagged, None,
                                None, None)
            out.append(Composer(sender).compose(facts).as_string())
    return out


def test_a_stored_alert_is_sent_as_the_bytes_the_full_parse_would_send() -> None:
    """The stored text, sent as it is, is byte for byte what send_message transmits of it parsed back."""
    from wirewatch.alerts.mailer import parsed
    from wirewatch.alerts.smtp_envelope import stored_envelope

    texts = composed_alerts()
    texts.append(texts[0].replace("Subject: ", "Subject:", 1))  # written back as "Subject: ", as the generator does
    fast = 0
    for text in texts:
        slow = Transcript()
        slow.send_message(parsed(text))
        envelope = stored_envelope(text)
        if envelope is not None:
            fast += 1
            assert envelope == slow.sent[0], text[:300]
    assert fast >= len(texts) - 2  # the composer's alerts take the short way (a header too long may not)
    with_bcc = texts[0].replace("\nTo: ", "\nBcc: b@example.org\nTo: ", 1)
    assert stored_envelope(with_bcc) is None and stored_envelope(texts[0].replace("\n", "\r\n")) is None
    part = texts[0].index("Content-Transfer-Encoding:", texts[0].index("\n\n"))  # a part's header, not verbatim
    assert stored_envelope(texts[0][:part] + texts[0][part:].replace(": ", ":", 1)) is None


def test_a_stored_alert_reaches_the_server_as_composed(tmp_path: Path, smtp) -> None:  # type: ignore[no-untyped-def]
    store = AlertStore.open(f"sqlite:///{tmp_path / 's.db'}")
    texts = composed_alerts()[:4]
    for n, text in enumerate(texts):
        store.queue_alert(f"a@example.org|c{n}|topic", "a@example.org", f"c{n}", "topic", "s", text)
    mailer = SmtpMailer(SmtpSettings(host="127.0.0.1", port=smtp.port, security="none"))
    assert deliver_pending(store, mailer) == (4, 0)
    from wirewatch.alerts.mailer import parsed

    got = {m["X-Wirewatch-Alert"]: m for m in smtp.messages}
    for text in texts:
        want = parsed(text)
        assert got[want["X-Wirewatch-Alert"]]["Subject"] == want["Subject"]
        assert got[want["X-Wirewatch-Alert"]].get_body(("plain",)).get_content().replace("\r\n", "\n") == \
            want.get_body(("plain",)).get_content()
