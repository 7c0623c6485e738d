"""Users of the web app: who may log in, with which role, and their password hashes (argon2id).

In: an email, a role and a password (``wirewatch users add``) or a login attempt. Out: rows of the
``users`` table, or :class:`UserError` saying what is wrong with the input. Passwords are hashed with
argon2id (argon2-cffi) and never stored or logged; one longer than :data:`MAX_PASSWORD` characters is
refused before hashing, so a 10,000-character password costs nothing but a clear message.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from email_validator import EmailNotValidError, validate_email
from sqlalchemy import Engine, delete, insert, select, update

from wirewatch.tables import users, web_sessions

ROLES = ("analyst", "editor", "admin")  # each may do what the ones before it may
MIN_PASSWORD = 10
MAX_PASSWORD = 256


class UserError(ValueError):
    """Input that cannot make or find a user; the message says what to change."""


@dataclass(frozen=True)
class User:
    email: str
    role: str

    def may(self, role: str) -> bool:
        """Whether this user has ``role`` or a higher one."""
        return ROLES.index(self.role) >= ROLES.index(role)


def check_password(password: str) -> None:
    if len(password) > MAX_PASSWORD:
        raise UserError(f"the password has {len(password):,} characters; at most {MAX_PASSWORD} are accepted")
    if len(password) < MIN_PASSWORD:
        raise UserError(f"the password needs at least {MIN_PASSWORD} characters")


def normal_email(email: str) -> str:
    try:
        return str(validate_email(email.strip(), check_deliverability=False).normalized).lower()
    except EmailNotValidError as exc:
        raise UserError(f"not an email address: {email[:80]!r} ({exc})") from None


class UserBook:
    """The ``users`` table."""

    def __init__(self, engine: Engine, hasher: PasswordHasher | None = None) -> None:
        self.engine = engine
        self.hasher = hasher or PasswordHasher()
        self._dummy = ""  # hashed on first need: unknown emails then take as long as known ones

    def add(self, email: str, role: str, password: str) -> bool:
        """Add a user, or change the role and password of an existing one; True when new."""
        if role not in ROLES:
            raise UserError(f"unknown role {role!r}; one of {', '.join(ROLES)}")
        check_password(password)
        email = normal_email(email)
        digest = self.hasher.hash(password)
        with self.engine.begin() as conn:
            done = conn.execute(update(users).where(users.c.email == email).values(role=role, password_hash=digest))
            if done.rowcount:
                conn.execute(delete(web_sessions).where(web_sessions.c.email == email))  # log out everywhere
                return False
            conn.execute(insert(users).values(email=email, role=role, password_hash=digest,
                                              created_at=datetime.now(UTC)))
        return True

    def remove(self, email: str) -> bool:
        email = email.strip().lower()
        with self.engine.begin() as conn:
            conn.execute(delete(web_sessions).where(web_sessions.c.email == email))
            return bool(conn.execute(delete(users).where(users.c.email == email)).rowcount)

    def list(self) -> list[dict[str, object]]:
        with self.engine.connect() as conn:
            return [dict(r) for r in conn.execute(select(users.c.email, users.c.role, users.c.created_at)
                                                  .order_by(users.c.email)).mappings()]

    def get(self, email: str) -> User | None:
        with self.engine.connect() as conn:
            row = conn.execute(select(users.c.email, users.c.role).where(users.c.email == email)).first()
        return User(row[0], row[1]) if row else None

    def authenticate(self, email: str, password: str) -> User | None:
        """The user whose password this is, or None (wrong email or password: the same answer)."""
        if len(password) > MAX_PASSWORD:
            raise UserError(f"the password has {len(password):,} characters; at most {MAX_PASSWORD} are accepted")
        email = email.strip().lower()
        with self.engine.connect() as conn:
            row = conn.execute(select(users).where(users.c.email == email)).mappings().first()
        if row is None and not self._dummy:
            self._dummy = self.hasher.hash("a password nobody has")
        try:
            self.hasher.verify(row["password_hash"] if row else self._dummy, password)
        except (VerificationError, InvalidHashError):
            return None
        return User(row["email"], row["role"]) if row else None
