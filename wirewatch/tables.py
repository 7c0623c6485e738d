"""The tables of wirewatch's durable state (SQLAlchemy Core), in SQLite or PostgreSQL.

In: nothing. Out: :data:`metadata` and its tables, the schema that the migrations in
``wirewatch/migrations`` build, step by step, on an existing database:

- ``feeds``: each feed, its HTTP validators, schedule and health;
- ``seen_keys``: canonical-URL and GUID keys of accepted entries;
- ``entries``: each accepted entry's latest version and content hash, and its way through the
  pipeline (``accepted`` until the alert stage archives it), so that an entry the broker lost is
  published again;
- ``archive``: every tagged article, once, with its story and whether its alerts are queued;
  ``stories``: the story ids handed out; ``article_keys``: each archived article's story and name keys;
- ``story_members``: articles linked to a watched story; ``watches``, ``subscribers``,
  ``subscriptions``: who follows what; ``feedback``: analysts' verdicts on alerts;
- ``alerts``: the email outbox, one row per idempotency key;
- ``workers``: each running worker's heartbeat, lag and counters (:mod:`wirewatch.heartbeats`); an
  alert's ``claimed_by`` is the id of the worker sending it.
"""

from __future__ import annotations

from sqlalchemy import Boolean, Column, DateTime, Float, Index, Integer, LargeBinary, MetaData, String, Table, Text

metadata = MetaData()

feeds = Table(
    "feeds", metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("url", String(2048), nullable=False, unique=True),
    Column("name", String(512), nullable=False, default=""),
    Column("origin", String(16), nullable=False, default="cli"),
    Column("enabled", Boolean, nullable=False, default=True),
    Column("added_at", DateTime(timezone=True), nullable=False),
    Column("etag", String(512), nullable=False, default=""),
    Column("last_modified", String(128), nullable=False, default=""),
    Column("last_polled", DateTime(timezone=True)),
    Column("last_status", Integer),
    Column("last_error", Text, nullable=False, default=""),
    Column("last_warning", Text, nullable=False, default=""),
    Column("failures", Integer, nullable=False, default=0),
    Column("entries_total", Integer, nullable=False, default=0),
    Column("last_new", Integer, nullable=False, default=0),
    Column("interval_seconds", Float, nullable=False, default=900.0),
    Column("next_poll", DateTime(timezone=True), index=True),
    Column("health", String(16), nullable=False, default="new"),
)

seen_keys = Table(
    "seen_keys", metadata,
    Column("dedup_key", String(2100), primary_key=True),
    Column("article_id", String(64), nullable=False),
)

entries = Table(
    "entries", metadata,
    Column("article_id", String(64), primary_key=True),
    Column("content_hash", String(64), nullable=False, default="", index=True),
    Column("revision", Integer, nullable=False, default=0),
    Column("first_seen", DateTime(timezone=True), nullable=False),
    Column("entry_json", Text, nullable=False),
    # accepted -> archived (the alert stage has it), or abandoned after max redrives
    Column("state", String(16), nullable=False, default="accepted"),
    Column("redrives", Integer, nullable=False, default=0),
    Column("redrive_at", DateTime(timezone=True)),
    Index("ix_entries_state_redrive_at", "state", "redrive_at"),
)

archive = Table(
    "archive", metadata,
    Column("article_id", String(64), primary_key=True),
    Column("url", String(2048), nullable=False),
    Column("title", Text, nullable=False),
    Column("source", String(512), nullable=False, default=""),
    Column("published", String(64)),
    Column("text", Text, nullable=False),
    Column("tagged_json", Text, nullable=False),
    Column("archived_at", DateTime(timezone=True), nullable=False),
    Column("story_id", Integer, index=True),
    Column("linked", Boolean, nullable=False, default=False),  # stories linked and alerts queued
)

article_keys = Table(  # each archived article's keys, so that a starting alert worker need not analyse the texts
    "article_keys", metadata,  # again to restore its story window (revision 0005; alerts/key_store.py)
    Column("article_id", String(64), primary_key=True),
    Column("analyser", String(16), nullable=False),  # which key functions wrote it: other rows are recomputed
    Column("packed", LargeBinary, nullable=False),  # the story keys and name keys, zlib-packed (~0.6 KB)
)

stories = Table(  # hands out story ids, so that two alert workers never give one id to two stories
    "stories", metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("title", Text, nullable=False, default=""),
    Column("created_at", DateTime(timezone=True), nullable=False),
)

feedback = Table(
    "feedback", metadata,
    Column("ref", String(32), primary_key=True),
    Column("verdict", String(16), nullable=False),  # "relevant" or "not_relevant"
    Column("recorded_at", DateTime(timezone=True), nullable=False),
)

story_members = Table(
    "story_members", metadata,
    Column("watch_id", String(128), primary_key=True),
    Column("article_id", String(64), primary_key=True),
    Column("relation", String(32), nullable=False),
    Column("similarity", Float, nullable=False),
    Column("linked_at", DateTime(timezone=True), nullable=False),
)

subscribers = Table(
    "subscribers", metadata,
    Column("email", String(320), primary_key=True),
    Column("name", String(256), nullable=False, default=""),
    Column("mode", String(16), nullable=False, default="immediate"),
    Column("origin", String(16), nullable=False, default="cli"),
)

subscriptions = Table(
    "subscriptions", metadata,
    Column("email", String(320), primary_key=True),
    Column("kind", String(8), primary_key=True),  # "topic" or "watch"
    Column("target", String(128), primary_key=True),
    Column("min_score", Float, nullable=False, default=0.0),
)

watches = Table(
    "watches", metadata,
    Column("id", String(128), primary_key=True),
    Column("name", Text, nullable=False),
    Column("seed_url", String(2048), nullable=False, default=""),
    Column("seed_text", Text, nullable=False, default=""),
    Column("topics", Text, nullable=False, default=""),  # comma-separated
    Column("origin", String(16), nullable=False, default="cli"),
    Column("created_at", DateTime(timezone=True), nullable=False),
)

alerts = Table(
    "alerts", metadata,
    Column("idem_key", String(512), primary_key=True),
    Column("subscriber", String(320), nullable=False, index=True),
    Column("article_id", String(64), nullable=False),
    Column("kind", String(32), nullable=False),
    Column("subject", Text, nullable=False),
    Column("message", Text, nullable=False),
    Column("status", String(16), nullable=False, index=True),
    Column("story", String(128), nullable=False, default=""),
    Column("ref", String(32), nullable=False, default="", index=True),
    Column("facts_json", Text, nullable=False, default="{}"),
    Column("attempts", Integer, nullable=False, default=0),
    Column("last_error", Text, nullable=False, default=""),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("next_attempt", DateTime(timezone=True)),
    Column("sent_at", DateTime(timezone=True)),
    Column("claimed_by", String(200), nullable=False, default=""),  # the id (workers.id) of the worker sending it
    Column("claimed_at", DateTime(timezone=True)),
    Column("interrupted", Integer, nullable=False, default=0),  # sends cut short by a worker's death
    Column("published_at", DateTime(timezone=True)),  # the article's publication, for latency
    Column("first_seen_at", DateTime(timezone=True)),  # when the poller first saw the article
)

workers = Table(
    "workers", metadata,
    Column("id", String(200), primary_key=True),  # host:pid:stage
    Column("stage", String(32), nullable=False),
    Column("host", String(128), nullable=False),
    Column("pid", Integer, nullable=False),
    Column("started_at", DateTime(timezone=True), nullable=False),
    Column("heartbeat_at", DateTime(timezone=True), nullable=False, index=True),
    Column("state", String(16), nullable=False),  # running, stopping, stopped
    Column("stats_json", Text, nullable=False, default="{}"),  # counters, for ``wirewatch status``
    Column("lag_records", Integer),  # records waiting in the stage's input topic (revision 0004)
    Column("lag_seconds", Float),  # how old the oldest of them is
)

# -- the web app's own state (revision 0003) ------------------------------------------------------

# the stories page groups the archive by story and orders by the latest publication: from this index alone
Index("ix_archive_story_published", archive.c.story_id, archive.c.published)
Index("ix_archive_archived_at", archive.c.archived_at)  # the rule preview reads the newest 10,000

users = Table(  # people who log in to the web app; an analyst's email is also their subscriber address
    "users", metadata,
    Column("email", String(320), primary_key=True),
    Column("role", String(16), nullable=False),  # analyst, editor or admin
    Column("password_hash", String(256), nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False),
)

web_sessions = Table(  # server-side sessions: the cookie carries a random token, the row its hash
    "web_sessions", metadata,
    Column("token_hash", String(64), primary_key=True),
    Column("email", String(320), nullable=False, index=True),
    Column("csrf", String(64), nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("expires_at", DateTime(timezone=True), nullable=False),
)

rule_versions = Table(  # every rule file saved from the web app, for its history and revert
    "rule_versions", metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("topic", String(128), nullable=False, index=True),
    Column("text", Text, nullable=False),
    Column("saved_by", String(320), nullable=False),
    Column("saved_at", DateTime(timezone=True), nullable=False),
    Column("note", Text, nullable=False, default=""),
)
