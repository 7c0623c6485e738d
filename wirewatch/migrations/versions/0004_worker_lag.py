"""Typed state between stages: a worker's lag in columns, an alert's claim naming the worker's row.

Revision ID: 0004
Revises: 0003

- ``workers.lag_records`` / ``lag_seconds``: the records waiting in a stage's input topic, which the
  poller reads to hold back copies of late entries (they were a key of ``stats_json`` before);
- ``alerts.claimed_by`` holds the claiming worker's id (``host:pid:alert``, the key of ``workers``)
  instead of ``host:pid``: the claims in flight are renamed so.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("workers") as batch:
        batch.add_column(sa.Column("lag_records", sa.Integer))
        batch.add_column(sa.Column("lag_seconds", sa.Float))
    op.execute(sa.text("UPDATE alerts SET claimed_by = claimed_by || :stage WHERE claimed_by <> ''")
               .bindparams(stage=":alert"))


def downgrade() -> None:
    op.execute(sa.text("UPDATE alerts SET claimed_by = substr(claimed_by, 1, length(claimed_by) - 6) "
                       "WHERE claimed_by LIKE :stage").bindparams(stage="%:alert"))
    with op.batch_alter_table("workers") as batch:
        batch.drop_column("lag_seconds")
        batch.drop_column("lag_records")
