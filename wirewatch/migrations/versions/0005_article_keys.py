"""Each archived article's story keys and name keys, kept beside the archive.

Revision ID: 0005
Revises: 0004

- ``article_keys``: one row per archived article that an alert worker linked to a story: the keys of
  :func:`alerts.story_index.story_keys` and the name keys of :func:`alerts.stories.names`, zlib-packed,
  with the fingerprint of the key functions that wrote them (:mod:`alerts.key_store`). A starting alert
  worker restores its story window from them instead of analysing every text again. Articles archived
  before this revision have no row: the worker computes theirs once, at its first start, and writes them.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "article_keys",
        sa.Column("article_id", sa.String(64), primary_key=True),
        sa.Column("analyser", sa.String(16), nullable=False),
        sa.Column("packed", sa.LargeBinary, nullable=False),
    )


def downgrade() -> None:
    op.drop_table("article_keys")
