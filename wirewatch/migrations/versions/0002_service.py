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
- ``workers``: heartbeats and counters of every running worker.
"""

from __future__ import annotations

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
    with op.batch_alter_table("archive") as batch:
        batch.add_column(sa.Column("linked", sa.Boolean, nullable=False, server_default=sa.true()))
    with op.batch_alter_table("alerts") as batch:
        batch.add_column(sa.Column("claimed_by", sa.String(200), nullable=False, server_default=""))
        batch.add_column(sa.Column("claimed_at", sa.DateTime(timezone=True)))
        batch.add_column(sa.Column("interrupted", sa.Integer, nullable=False, server_default="0"))
        batch.add_column(sa.Column("published_at", sa.DateTime(timezone=True)))
        batch.add_column(sa.Column("first_seen_at", sa.DateTime(timezone=True)))
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
    with op.batch_alter_table("alerts") as batch:
        for name in ("first_seen_at", "published_at", "interrupted", "claimed_at", "claimed_by"):
            batch.drop_column(name)
    with op.batch_alter_table("archive") as batch:
        batch.drop_column("linked")
    op.drop_index("ix_entries_state_redrive_at", "entries")
    with op.batch_alter_table("entries") as batch:
        for name in ("redrive_at", "redrives", "state"):
            batch.drop_column(name)
