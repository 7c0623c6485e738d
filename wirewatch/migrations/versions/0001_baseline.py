"""Baseline: the schema as it stood before migrations (tables made by ``create_all``).

Revision ID: 0001
Revises: -
"""

from __future__ import annotations

from alembic import op
from sqlalchemy import Boolean, Column, DateTime, Float, Integer, String, Text

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None

TABLES = ("feeds", "seen_keys", "entries", "archive", "feedback", "story_members", "subscribers", "subscriptions",
          "watches", "alerts")


def upgrade() -> None:
    op.create_table(
        "feeds",
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
    op.create_table(
        "seen_keys",
        Column("dedup_key", String(2100), primary_key=True),
        Column("article_id", String(64), nullable=False),
    )
    op.create_table(
        "entries",
        Column("article_id", String(64), primary_key=True),
        Column("content_hash", String(64), nullable=False, default="", index=True),
        Column("revision", Integer, nullable=False, default=0),
        Column("first_seen", DateTime(timezone=True), nullable=False),
        Column("entry_json", Text, nullable=False),
    )
    op.create_table(
        "archive",
        Column("article_id", String(64), primary_key=True),
        Column("url", String(2048), nullable=False),
        Column("title", Text, nullable=False),
        Column("source", String(512), nullable=False, default=""),
        Column("published", String(64)),
        Column("text", Text, nullable=False),
        Column("tagged_json", Text, nullable=False),
        Column("archived_at", DateTime(timezone=True), nullable=False),
        Column("story_id", Integer, index=True),
    )
    op.create_table(
        "feedback",
        Column("ref", String(32), primary_key=True),
        Column("verdict", String(16), nullable=False),  # "relevant" or "not_relevant"
        Column("recorded_at", DateTime(timezone=True), nullable=False),
    )
    op.create_table(
        "story_members",
        Column("watch_id", String(128), primary_key=True),
        Column("article_id", String(64), primary_key=True),
        Column("relation", String(32), nullable=False),
        Column("similarity", Float, nullable=False),
        Column("linked_at", DateTime(timezone=True), nullable=False),
    )
    op.create_table(
        "subscribers",
        Column("email", String(320), primary_key=True),
        Column("name", String(256), nullable=False, default=""),
        Column("mode", String(16), nullable=False, default="immediate"),
        Column("origin", String(16), nullable=False, default="cli"),
    )
    op.create_table(
        "subscriptions",
        Column("email", String(320), primary_key=True),
        Column("kind", String(8), primary_key=True),  # "topic" or "watch"
        Column("target", String(128), primary_key=True),
        Column("min_score", Float, nullable=False, default=0.0),
    )
    op.create_table(
        "watches",
        Column("id", String(128), primary_key=True),
        Column("name", Text, nullable=False),
        Column("seed_url", String(2048), nullable=False, default=""),
        Column("seed_text", Text, nullable=False, default=""),
        Column("topics", Text, nullable=False, default=""),  # comma-separated
        Column("origin", String(16), nullable=False, default="cli"),
        Column("created_at", DateTime(timezone=True), nullable=False),
    )
    op.create_table(
        "alerts",
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
    )


def downgrade() -> None:
    for name in reversed(TABLES):
        op.drop_table(name)
