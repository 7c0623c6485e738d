"""Signed, expiring links in emails: one click from an alert to the web app.

In: the ``[web]`` settings (base URL, secret, lifetime), an action, the alert's reference and the
subscriber. Out: a URL like ``https://host/l/TOKEN`` (:meth:`LinkSigner.url`) and, for the app, the
action the token stands for (:meth:`LinkSigner.read`), or :class:`LinkError` saying why not (forged,
expired, malformed). The token is signed with HMAC-SHA256 (itsdangerous) and carries its own time.

The secret is ``[web] secret`` (or ``WIREWATCH_WEB_SECRET``); without one, a random secret is made
once and kept in ``DATA_DIR/web.secret``, so that the alert workers and the app on one data folder
agree. Workers on other machines need the same secret in their configuration.
"""

from __future__ import annotations

import os
import secrets
from dataclasses import dataclass

from itsdangerous import BadSignature, SignatureExpired, URLSafeTimedSerializer

from wirewatch.config import Settings

ACTIONS = ("relevant", "not-relevant", "unsubscribe", "story")
SALT = "wirewatch-email-link"


class LinkError(ValueError):
    """A link that cannot be used; the message says why, in words for the person who clicked it."""


@dataclass(frozen=True)
class Link:
    action: str
    ref: str
    email: str


def link_secret(settings: Settings) -> str:
    """The configured secret, or the one kept in the data folder (made on first use)."""
    if settings.web.secret:
        return settings.web.secret
    path = settings.data_path / "web.secret"
    try:
        return path.read_text(encoding="ascii").strip()
    except FileNotFoundError:
        pass
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".web.secret.{os.getpid()}.{secrets.token_hex(4)}")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w", encoding="ascii") as out:
        out.write(secrets.token_urlsafe(32) + "\n")
    try:
        os.link(tmp, path)  # whole or not at all: a worker starting at the same time reads a complete secret
    except FileExistsError:
        pass  # another process made it first: theirs is used
    finally:
        tmp.unlink()
    return path.read_text(encoding="ascii").strip()


class LinkSigner:
    """Makes and reads the signed links of emails."""

    def __init__(self, base_url: str, secret: str, max_age_days: float = 30.0) -> None:
        if not secret:
            raise ValueError("a link signer needs a secret")
        self.base_url = base_url.rstrip("/")
        self.max_age = int(max_age_days * 86400)
        self._serializer = URLSafeTimedSerializer(secret, salt=SALT)

    @classmethod
    def from_settings(cls, settings: Settings) -> LinkSigner:
        return cls(settings.web.base_url, link_secret(settings), settings.web.link_days)

    def token(self, action: str, ref: str, email: str) -> str:
        if action not in ACTIONS:
            raise ValueError(f"unknown link action {action!r}; one of {', '.join(ACTIONS)}")
        return str(self._serializer.dumps([action, ref, email]))

    def url(self, action: str, ref: str, email: str) -> str:
        return f"{self.base_url}/l/{self.token(action, ref, email)}"

    def for_email(self, email: str, ref: str) -> dict[str, str]:
        """Every link an email carries, by action."""
        return {action: self.url(action, ref, email) for action in ACTIONS}

    def read(self, token: str) -> Link:
        try:
            data = self._serializer.loads(token, max_age=self.max_age)
        except SignatureExpired:
            raise LinkError("this link has expired; open wirewatch and find the alert under 'My alerts'") from None
        except BadSignature:
            raise LinkError("this link is not one wirewatch made (it may have been cut or changed)") from None
        if not (isinstance(data, list) and len(data) == 3 and all(isinstance(x, str) for x in data)
                and data[0] in ACTIONS):
            raise LinkError("this link is not one wirewatch made (it may have been cut or changed)")
        return Link(*data)
