"""conversation events and their per-conversation summaries (support metrics)

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-02 16:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import handoff_service.models

revision: str = "0007"
down_revision: str | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "conversation_events",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("event_id", sa.String(length=32), nullable=False),
        sa.Column("conversation_id", sa.String(length=128), nullable=False),
        sa.Column("sender", sa.String(length=128), nullable=False),
        sa.Column("kind", sa.String(length=32), nullable=False),
        sa.Column("language", sa.String(length=8), nullable=False),
        sa.Column("occurred_at", handoff_service.models.UTCDateTime(timezone=True), nullable=False),
        sa.Column("article_id", sa.String(length=120), nullable=True),
        sa.Column("score", sa.Float(), nullable=True),
        sa.Column("helpful", sa.Boolean(), nullable=True),
        sa.Column("reason", sa.String(length=32), nullable=True),
        sa.Column("created_at", handoff_service.models.UTCDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("event_id"),
    )
    op.create_index("ix_conversation_events_occurred_at", "conversation_events", ["occurred_at"])
    op.create_index(
        "ix_conversation_events_conversation_id", "conversation_events", ["conversation_id"]
    )
    op.create_index(
        "ix_conversation_events_sender", "conversation_events", ["sender", "occurred_at"]
    )
    op.create_table(
        "conversation_summaries",
        sa.Column("conversation_id", sa.String(length=128), nullable=False),
        sa.Column("sender", sa.String(length=128), nullable=False),
        sa.Column("language", sa.String(length=8), nullable=False),
        sa.Column("started_at", handoff_service.models.UTCDateTime(timezone=True), nullable=False),
        sa.Column("started_epoch", sa.Float(), nullable=False),
        sa.Column("start_flagged", sa.Boolean(), nullable=False),
        sa.Column("handoff_at", handoff_service.models.UTCDateTime(timezone=True), nullable=True),
        sa.Column("handoff_reason", sa.String(length=32), nullable=True),
        sa.Column("helpful", sa.Boolean(), nullable=False),
        sa.Column("clarify_shown", sa.Boolean(), nullable=False),
        sa.Column("clarify_picked", sa.Boolean(), nullable=False),
        sa.Column(
            "last_shown_at", handoff_service.models.UTCDateTime(timezone=True), nullable=True
        ),
        sa.Column("last_shown_article", sa.String(length=120), nullable=True),
        sa.PrimaryKeyConstraint("conversation_id"),
    )
    op.create_index(
        "ix_conversation_summaries_started_at", "conversation_summaries", ["started_at"]
    )
    op.create_index(
        "ix_conversation_summaries_sender", "conversation_summaries", ["sender", "started_epoch"]
    )


def downgrade() -> None:
    op.drop_index("ix_conversation_summaries_sender", table_name="conversation_summaries")
    op.drop_index("ix_conversation_summaries_started_at", table_name="conversation_summaries")
    op.drop_table("conversation_summaries")
    op.drop_index("ix_conversation_events_sender", table_name="conversation_events")
    op.drop_index("ix_conversation_events_conversation_id", table_name="conversation_events")
    op.drop_index("ix_conversation_events_occurred_at", table_name="conversation_events")
    op.drop_table("conversation_events")
