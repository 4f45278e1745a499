"""the articles each conversation showed, with their latest feedback, and said_no_to_last

The reports read these instead of the events (the month's outcomes and articles at 100,000
conversations on PostgreSQL). Both are filled from the stored events here; from then on
handoff_service.events keeps them.

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-03 09:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import handoff_service.models

revision: str = "0008"
down_revision: str | None = "0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

#: Every (conversation, article shown) with the latest feedback on that article in that
#: conversation (the last by time, then by arrival), as handoff_service.events derives it.
BACKFILL_ARTICLES = """
INSERT INTO conversation_articles
    (conversation_id, article_id, sender, language, started_at, started_epoch, feedback)
SELECT s.conversation_id, shown.article_id, s.sender, s.language, s.started_at,
       s.started_epoch, latest.helpful
FROM (
    SELECT DISTINCT conversation_id, article_id FROM conversation_events
    WHERE kind = 'article_shown' AND article_id IS NOT NULL
) AS shown
JOIN conversation_summaries AS s ON s.conversation_id = shown.conversation_id
LEFT JOIN (
    SELECT conversation_id, article_id, helpful,
           row_number() OVER (
               PARTITION BY conversation_id, article_id ORDER BY occurred_at DESC, id DESC
           ) AS rank
    FROM conversation_events WHERE kind = 'feedback' AND article_id IS NOT NULL
) AS latest
    ON latest.conversation_id = shown.conversation_id
    AND latest.article_id = shown.article_id AND latest.rank = 1
"""
BACKFILL_NEXT = """
UPDATE conversation_articles SET next_epoch = (
    SELECT min(later.started_epoch) FROM conversation_articles AS later
    WHERE later.sender = conversation_articles.sender
      AND later.article_id = conversation_articles.article_id
      AND later.started_epoch > conversation_articles.started_epoch
)
"""
BACKFILL_SAID_NO = """
UPDATE conversation_summaries SET said_no_to_last = EXISTS (
    SELECT 1 FROM conversation_events AS e
    WHERE e.conversation_id = conversation_summaries.conversation_id
      AND e.kind = 'feedback' AND e.helpful = false
      AND e.article_id = conversation_summaries.last_shown_article
)
WHERE last_shown_article IS NOT NULL
"""


def upgrade() -> None:
    op.create_table(
        "conversation_articles",
        sa.Column("conversation_id", sa.String(length=128), nullable=False),
        sa.Column("article_id", sa.String(length=120), nullable=False),
        sa.Column("sender", sa.String(length=128), nullable=False),
        sa.Column("language", sa.String(length=8), nullable=False),
        sa.Column("started_at", handoff_service.models.UTCDateTime(timezone=True), nullable=False),
        sa.Column("started_epoch", sa.Float(), nullable=False),
        sa.Column("feedback", sa.Boolean(), nullable=True),
        sa.Column("next_epoch", sa.Float(), nullable=True),
        sa.PrimaryKeyConstraint("conversation_id", "article_id"),
    )
    op.create_index("ix_conversation_articles_started_at", "conversation_articles", ["started_at"])
    op.create_index(
        "ix_conversation_articles_return",
        "conversation_articles",
        ["sender", "article_id", "started_epoch"],
    )
    with op.batch_alter_table("conversation_summaries") as batch:
        batch.add_column(
            sa.Column("said_no_to_last", sa.Boolean(), nullable=False, server_default=sa.false())
        )
    op.execute(BACKFILL_ARTICLES)
    op.execute(BACKFILL_NEXT)
    op.execute(BACKFILL_SAID_NO)


def downgrade() -> None:
    with op.batch_alter_table("conversation_summaries") as batch:
        batch.drop_column("said_no_to_last")
    op.drop_index("ix_conversation_articles_return", table_name="conversation_articles")
    op.drop_index("ix_conversation_articles_started_at", table_name="conversation_articles")
    op.drop_table("conversation_articles")
