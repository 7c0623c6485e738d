"""Running as a service: entries' way through the pipeline, alert claims and latency, worker heartbeats.

Revision ID: 0002
Revises: 0001

- ``entries.state`` / ``redrives`` / ``redrive_at``: an entry stays ``accepted`` until the alert stage
  archives it; one still accepted long after it was published is published again (a broker lost it).
- ``archive.linked``: the article's stories are linked and its alerts queued (a worker killed between
  archiving and linking leaves it false, and the redelivered message completes it).
- ``alerts.claimed_by`` / ``claimed_at`` / ``interrupted``: a worker claims an alert before sending it,
  so that two alert workers never send one alert twice; a claim left by a worker that died is
  released and counted in ``interrupted`` (the server may have taken that send).
- ``alerts.published_at`` / ``first_seen_at``: for the publication-to-alert latency.
- ``stories``: story ids handed out by the database, so that two alert workers never reuse one.
- ``workers``: heartbeats and counters of every running worker.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("entries") as batch:
        batch.add_column(sa.Column("state", sa.String(16), nullable=False, server_default="accepted"))
        batch.add_column(sa.Column("redrives", sa.Integer, nullable=False, server_default="0"))
        batch.add_column(sa.Column("redrive_at", sa.DateTime(timezone=True)))
    op.create_index("ix_entries_state_redrive_at", "entries", ["state", "redrive_at"])
    op.execute("UPDATE entries SET state = 'archived' WHERE article_id IN (SELECT article_id FROM archive)")
    # entries older than a day that never reached the archive were dead-lettered long ago: not news any more;
    # younger ones may still be on their way, and are published again in half an hour if they are not
    now = datetime.now(UTC)
    op.execute(sa.text("UPDATE entries SET state = 'abandoned' WHERE state = 'accepted' AND first_seen < :day")
               .bindparams(day=now - timedelta(days=1)))
    op.execute(sa.text("UPDATE entries SET redrive_at = :later WHERE state = 'accepted'")
               .bindparams(later=now + timedelta(minutes=30)))
    with op.batch_alter_table("archive") as batch:
        batch.add_column(sa.Column("linked", sa.Boolean, nullable=False, server_default=sa.true()))
    with op.batch_alter_table("alerts") as batch:
        batch.add_column(sa.Column("claimed_by", sa.String(200), nullable=False, server_default=""))
        batch.add_column(sa.Column("claimed_at", sa.DateTime(timezone=True)))
        batch.add_column(sa.Column("interrupted", sa.Integer, nullable=False, server_default="0"))
        batch.add_column(sa.Column("published_at", sa.DateTime(timezone=True)))
        batch.add_column(sa.Column("first_seen_at", sa.DateTime(timezone=True)))
    op.create_table(
        "stories",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("title", sa.Text, nullable=False, server_default=""),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    )
    # new story ids continue after those the alert workers counted out themselves before this revision
    top = op.get_bind().execute(sa.text("SELECT MAX(story_id) FROM archive")).scalar()
    if top:
        op.execute(sa.text("INSERT INTO stories (id, title, created_at) VALUES (:id, '(ids before 0002)', "
                           "CURRENT_TIMESTAMP)").bindparams(id=int(top)))
        if op.get_bind().dialect.name == "postgresql":
            op.execute(sa.text("SELECT setval(pg_get_serial_sequence('stories', 'id'), :id)").bindparams(id=int(top)))
    op.create_table(
        "workers",
        sa.Column("id", sa.String(200), primary_key=True),
        sa.Column("stage", sa.String(32), nullable=False),
        sa.Column("host", sa.String(128), nullable=False),
        sa.Column("pid", sa.Integer, nullable=False),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("heartbeat_at", sa.DateTime(timezone=True), nullable=False, index=True),
        sa.Column("state", sa.String(16), nullable=False),
        sa.Column("stats_json", sa.Text, nullable=False, server_default="{}"),
    )


def downgrade() -> None:
    op.drop_table("workers")
    op.drop_table("stories")
    with op.batch_alter_table("alerts") as batch:
        for name in ("first_seen_at", "published_at", "interrupted", "claimed_at", "claimed_by"):
            batch.drop_column(name)
    with op.batch_alter_table("archive") as batch:
        batch.drop_column("linked")
    op.drop_index("ix_entries_state_redrive_at", "entries")
    with op.batch_alter_table("entries") as batch:
        for name in ("redrive_at", "redrives", "state"):
            batch.drop_column(name)
