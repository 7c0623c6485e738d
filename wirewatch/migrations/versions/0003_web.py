"""The web app: users, server-side sessions and the history of rule files saved in the browser.

Revision ID: 0003
Revises: 0002

- ``users``: who may log in, with a role (analyst, editor, admin) and an argon2 password hash;
- ``web_sessions``: one row per logged-in browser (the hash of the cookie's token, its CSRF token and expiry);
- ``rule_versions``: each rule file an editor saved, so that a version can be looked at and restored;
- indexes of the archive by story and publication (the list of stories) and by archiving time (the
  rule preview's recent articles).
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index("ix_archive_story_published", "archive", ["story_id", "published"])
    op.create_index("ix_archive_archived_at", "archive", ["archived_at"])
    op.create_table(
        "users",
        sa.Column("email", sa.String(320), primary_key=True),
        sa.Column("role", sa.String(16), nullable=False),
        sa.Column("password_hash", sa.String(256), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_table(
        "web_sessions",
        sa.Column("token_hash", sa.String(64), primary_key=True),
        sa.Column("email", sa.String(320), nullable=False, index=True),
        sa.Column("csrf", sa.String(64), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_table(
        "rule_versions",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("topic", sa.String(128), nullable=False, index=True),
        sa.Column("text", sa.Text, nullable=False),
        sa.Column("saved_by", sa.String(320), nullable=False),
        sa.Column("saved_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("note", sa.Text, nullable=False, server_default=""),
    )


def downgrade() -> None:
    op.drop_table("rule_versions")
    op.drop_table("web_sessions")
    op.drop_table("users")
    op.drop_index("ix_archive_story_published", "archive")
    op.drop_index("ix_archive_archived_at", "archive")
