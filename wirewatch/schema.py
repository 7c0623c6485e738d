"""The message schema: one definition of every message that crosses a Kafka topic.

In: raw bytes from a topic. Out: validated, frozen message objects, and back to bytes.

Every message is a JSON object carrying ``schema`` (its kind) and ``v`` (its version). A reader
accepts unknown extra fields (a newer writer may add some) but rejects a missing or mistyped
required field, a wrong kind, or a version it does not know, with a :class:`BadMessage` that says
what was wrong. Topics: ``entries`` (:class:`Entry`), ``articles`` (:class:`Article`), ``tagged``
(:class:`TaggedArticle`) and ``deadletter`` (:class:`DeadLetter`).
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from typing import Any, ClassVar, Literal, TypeVar

from pydantic import BaseModel, ConfigDict, Field, ValidationError

SCHEMA_VERSION = 1
TextSource = Literal["page", "feed_summary"]  # where an article's text came from
Json = str | int | float | bool | None | Sequence["Json"] | Mapping[str, "Json"]  # what json.dumps writes


def utcnow() -> str:
    """The current time as an ISO 8601 string in UTC, as messages carry it."""
    return datetime.now(UTC).isoformat(timespec="seconds")


def parse_time(value: str | None) -> datetime | None:
    """An ISO 8601 time as messages carry it (``Z`` allowed; no zone means UTC), or None if unreadable."""
    if not value:
        return None
    try:
        when = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
    return when if when.tzinfo else when.replace(tzinfo=UTC)


class BadMessage(ValueError):
    """A message that cannot be read: no value (a tombstone), empty, too large, not JSON, wrong kind or
    version, or a field missing or mistyped. ``reason`` is the dead letter's short code."""

    def __init__(self, message: str, reason: str = "bad_schema") -> None:
        super().__init__(message)
        self.reason = reason


class Message(BaseModel):
    """Base of every message: frozen, versioned, tolerant of extra fields written by newer versions."""

    model_config = ConfigDict(frozen=True, extra="ignore")
    kind: ClassVar[str] = "message"
    v: int = SCHEMA_VERSION

    def to_bytes(self) -> bytes:
        body = self.model_dump(mode="json")
        return json.dumps({"schema": self.kind, **body}, ensure_ascii=False).encode("utf-8")


class Entry(Message):
    """A new feed entry, as the poller saw it (topic ``entries``)."""

    kind: ClassVar[str] = "entry"
    article_id: str = Field(description="stable id: a hash of the canonical URL (or of the GUID)")
    url: str
    canonical_url: str
    guid: str = ""
    feed_url: str
    feed_title: str = ""
    title: str = ""
    summary: str = ""
    author: str = ""
    published: str | None = None
    seen_at: str = Field(default_factory=utcnow)
    feed_warning: str = Field(default="", description="feedparser's bozo reason when the feed was ill-formed")
    content_hash: str = Field(default="", description="hash of the entry's folded title and summary")
    revision: int = Field(default=0, description="0 when first seen; n when its text changed for the n-th time")


class Article(Message):
    """An entry with its extracted article text (topic ``articles``).

    ``provenance`` says, per field, where the value came from: ``page`` (trafilatura on the fetched
    page), ``feed`` (the feed entry), ``detected`` (language identification) or ``none``; and
    ``text_cut_from``, when the text was longer than ``[extract] max_text_chars``, its length before the cut.
    """

    kind: ClassVar[str] = "article"
    entry: Entry
    title: str
    text: str
    author: str = ""
    published: str | None = None
    language: str = ""
    sitename: str = ""
    description: str = ""
    text_source: TextSource = "page"
    fetch_error: str = ""
    provenance: dict[str, str] = Field(default_factory=dict)
    extracted_at: str = Field(default_factory=utcnow)

    @property
    def article_id(self) -> str:
        return self.entry.article_id


class RuleHit(BaseModel):
    """One keyword pattern that fired, with the words it matched."""

    model_config = ConfigDict(frozen=True)
    pattern: str
    weight: float
    matched: list[str]
    line: int = 0


class TopicTag(BaseModel):
    """One topic's verdict on an article: score, whether it fired, and why."""

    model_config = ConfigDict(frozen=True)
    topic: str
    score: float
    fired: bool
    rule_weight: float = 0.0
    rule_threshold: float = 0.0
    rules: list[RuleHit] = Field(default_factory=list)
    model_probability: float | None = None
    explanation: str = ""


class TaggedArticle(Message):
    """An article with its topics (topic ``tagged``)."""

    kind: ClassVar[str] = "tagged"
    article: Article
    topics: list[TopicTag]
    model_version: str = ""
    rules_version: str = ""
    tagged_at: str = Field(default_factory=utcnow)

    @property
    def article_id(self) -> str:
        return self.article.entry.article_id

    def fired(self) -> list[TopicTag]:
        return [t for t in self.topics if t.fired]


class DeadLetter(Message):
    """A message a stage could not process (topic ``deadletter``), with the reason and the original bytes."""

    kind: ClassVar[str] = "deadletter"
    stage: str
    reason: str = Field(description="a short code: bad_json, bad_schema, processing_error, ...")
    error: str
    source_topic: str = ""
    partition: int = -1
    offset: int = -1
    payload: str = Field(description="the original message, decoded as UTF-8 with replacement (its beginning "
                         "only when it was larger than MAX_PAYLOAD_CHARS)")
    payload_bytes: int = Field(default=-1, description="the original message's size; -1: no value (a tombstone)")
    failed_at: str = Field(default_factory=utcnow)
    key: str | None = Field(default=None, description="the original record's key, which a replay sends again; "
                            "None when it had none, or in a dead letter written before keys were kept")

    @property
    def whole(self) -> bool:
        """Whether it keeps its whole original message (not a tombstone, nor a record too large kept in part)."""
        if self.payload_bytes < 0:
            return self.reason != "tombstone" and bool(self.payload)
        return self.payload_bytes == len(self.payload.encode("utf-8"))


MAX_PAYLOAD_CHARS = 20_000  # what a dead letter keeps of a record it could not read

M = TypeVar("M", bound=Message)


def payload_of(raw: bytes | str | None) -> tuple[str, int]:
    """A record's value as a dead letter keeps it: its (beginning, as text) and its size in bytes."""
    if raw is None:
        return "", -1
    data = raw.encode("utf-8", errors="replace") if isinstance(raw, str) else bytes(raw)
    return data[:MAX_PAYLOAD_CHARS * 4].decode("utf-8", errors="replace")[:MAX_PAYLOAD_CHARS], len(data)


def decode(raw: bytes | str | None, expected: type[M], max_bytes: int | None = None) -> M:
    """Read one message of the expected kind, or raise :class:`BadMessage` saying what is wrong.

    Any record value gives one or the other: none (a tombstone), empty, larger than ``max_bytes``,
    binary, not JSON, JSON of the wrong shape."""
    if raw is None:
        raise BadMessage("the record has no value (a tombstone)", "tombstone")
    if not isinstance(raw, bytes | bytearray | memoryview | str):
        raise BadMessage(f"the record's value is a {type(raw).__name__}, not bytes", "bad_json")
    if len(raw) == 0:
        raise BadMessage("the record's value is empty", "empty")
    if max_bytes is not None and len(raw) > max_bytes:
        raise BadMessage(f"the record is {len(raw)} bytes, over the {max_bytes} bytes a message may have "
                         "([kafka] max_message_bytes)", "too_large")
    try:
        data: Any = json.loads(bytes(raw) if isinstance(raw, memoryview | bytearray) else raw)
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise BadMessage(f"not valid JSON: {exc}", "bad_json") from None
    except RecursionError:  # nested deeper than any message of ours: hostile or broken
        raise BadMessage("not valid JSON: nested too deeply", "bad_json") from None
    except ValueError as exc:  # e.g. an integer of more digits than Python converts
        raise BadMessage(f"not valid JSON: {exc}", "bad_json") from None
    if not isinstance(data, dict):
        raise BadMessage(f"expected a JSON object, got {type(data).__name__}")
    kind = data.pop("schema", None)
    if kind != expected.kind:
        raise BadMessage(f"expected a message of kind {expected.kind!r}, got {kind!r}")
    version = data.get("v", SCHEMA_VERSION)
    if version != SCHEMA_VERSION:
        raise BadMessage(f"{kind} message version {version!r} is not supported (this reader knows {SCHEMA_VERSION})")
    try:
        return expected.model_validate(data)
    except RecursionError:
        raise BadMessage(f"invalid {kind} message: nested too deeply") from None
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in err['loc']) or '(message)'}: {err['msg']}" for err in exc.errors()[:5]
        )
        raise BadMessage(f"invalid {kind} message: {problems}") from None
