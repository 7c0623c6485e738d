"""SMTP over TLS against a real aiosmtpd server with a certificate of a test CA (trustme).

STARTTLS on the submission port and TLS from the first byte, both with login; the server's
certificate is checked: a server whose certificate the configured CA did not sign is refused, and
the alert stays in the outbox for the next try.
"""

from __future__ import annotations

import socket
import ssl
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from email import message_from_bytes, policy
from email.message import EmailMessage
from pathlib import Path

import pytest
import trustme
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword
from sqlalchemy import select
from wirewatch.alerts.alert_store import AlertStore
from wirewatch.alerts.mailer import SmtpMailer, deliver_pending

from wirewatch.config import SmtpSettings
from wirewatch.tables import alerts

pytestmark = [pytest.mark.integration,  # implicit TLS: aiosmtpd cannot see that the socket is already encrypted
              pytest.mark.filterwarnings("ignore:Requiring AUTH while not requiring TLS:UserWarning")]

USER, PASSWORD = "wirewatch", "s3cret-for-tests"


@dataclass
class TlsSink:
    port: int
    messages: list[EmailMessage] = field(default_factory=list)
    logins: list[str] = field(default_factory=list)
    tls_seen: list[bool] = field(default_factory=list)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _server(cert: trustme.LeafCert, implicit: bool) -> Iterator[TlsSink]:
    sink = TlsSink(_free_port())
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    cert.configure_cert(context)

    class Handler:
        async def handle_DATA(self, server, session, envelope):  # type: ignore[no-untyped-def]
            sink.tls_seen.append(server.transport.get_extra_info("ssl_object") is not None)
            sink.messages.append(message_from_bytes(envelope.content, policy=policy.default))
            return "250 OK"

    def authenticate(server, session, envelope, mechanism, auth_data):  # type: ignore[no-untyped-def]
        ok = isinstance(auth_data, LoginPassword) and auth_data.login.decode() == USER \
            and auth_data.password.decode() == PASSWORD
        if ok:
            sink.logins.append(auth_data.login.decode())
        return AuthResult(success=ok, handled=False)  # not handled: aiosmtpd answers 535 itself

    # PLAIN only: a refused login is answered at once (535), not after a LOGIN exchange times out
    options = {"authenticator": authenticate, "auth_required": True, "auth_exclude_mechanism": ["LOGIN"]}
    if implicit:
        # TLS from the first byte: aiosmtpd cannot tell, so it is told that login needs no STARTTLS
        controller = Controller(Handler(), hostname="127.0.0.1", port=sink.port, ssl_context=context,
                                server_hostname="localhost", auth_require_tls=False, **options)
    else:
        controller = Controller(Handler(), hostname="127.0.0.1", port=sink.port, tls_context=context,
                                require_starttls=True, **options)
    controller.start()
    try:
        yield sink
    finally:
        controller.stop()


@pytest.fixture(scope="module")
def ca() -> trustme.CA:
    return trustme.CA()


@pytest.fixture(scope="module")
def ca_file(ca: trustme.CA, tmp_path_factory: pytest.TempPathFactory) -> str:
    path = tmp_path_factory.mktemp("ca") / "ca.pem"
    ca.cert_pem.write_to_path(str(path))
    return str(path)


@pytest.fixture(params=["starttls", "tls"])
def tls_server(request: pytest.FixtureRequest, ca: trustme.CA) -> Iterator[tuple[str, TlsSink]]:
    cert = ca.issue_cert("127.0.0.1", "localhost")
    yield from ((request.param, s) for s in _server(cert, implicit=request.param == "tls"))


def _queue(store: AlertStore) -> None:
    msg = EmailMessage()
    msg["From"], msg["To"], msg["Subject"] = "w@wire.test", "a@example.org", "over TLS"
    msg.set_content("body")
    store.queue_alert("a@example.org|x1|topic", "a@example.org", "x1", "topic", "over TLS", msg.as_string())


def test_sends_over_tls_with_login(tls_server: tuple[str, TlsSink], ca_file: str, tmp_path: Path) -> None:
    security, sink = tls_server
    store = AlertStore.open(f"sqlite:///{tmp_path / 's.db'}")
    _queue(store)
    settings = SmtpSettings(host="127.0.0.1", port=sink.port, security=security, username=USER,
                            password=PASSWORD, ca_file=ca_file, timeout_seconds=5)
    assert deliver_pending(store, SmtpMailer(settings)) == (1, 0)
    assert [m["Subject"] for m in sink.messages] == ["over TLS"]
    assert sink.logins == [USER] and sink.tls_seen == [True]
    assert store.alert_counts() == {"sent": 1}


def test_a_certificate_of_another_ca_is_refused_and_the_alert_waits(tls_server: tuple[str, TlsSink],
                                                                     tmp_path: Path) -> None:
    security, sink = tls_server
    other = tmp_path / "other-ca.pem"
    trustme.CA().cert_pem.write_to_path(str(other))
    store = AlertStore.open(f"sqlite:///{tmp_path / 's.db'}")
    _queue(store)
    settings = SmtpSettings(host="127.0.0.1", port=sink.port, security=security, username=USER,
                            password=PASSWORD, ca_file=str(other), timeout_seconds=5)
    assert deliver_pending(store, SmtpMailer(settings)) == (0, 1)
    assert sink.messages == [] and sink.logins == []
    [waiting] = store.pending_alerts(now=datetime.now(UTC) + timedelta(hours=2))
    assert waiting.attempts == 1
    with store.engine.connect() as conn:
        assert "CERTIFICATE_VERIFY_FAILED" in conn.execute(select(alerts.c.last_error)).scalar_one()


def test_a_wrong_password_keeps_the_alert_pending(tls_server: tuple[str, TlsSink], ca_file: str,
                                                  tmp_path: Path) -> None:
    security, sink = tls_server
    store = AlertStore.open(f"sqlite:///{tmp_path / 's.db'}")
    _queue(store)
    settings = SmtpSettings(host="127.0.0.1", port=sink.port, security=security, username=USER,
                            password="wrong", ca_file=ca_file, timeout_seconds=5)
    assert deliver_pending(store, SmtpMailer(settings)) == (0, 1)
    assert sink.messages == []
    assert store.alert_counts() == {"pending": 1}  # a wrong password is the operator's to fix: nothing is dropped
    with store.engine.connect() as conn:
        assert "535" in conn.execute(select(alerts.c.last_error)).scalar_one()
