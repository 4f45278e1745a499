"""customer e-mail: outbox, inbound replies, private ticket page, ratings, service levels

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-02 06:00:00
"""

import secrets
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import handoff_service.models

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

UTC = handoff_service.models.UTCDateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "email_outbox",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("ticket_id", sa.Integer(), nullable=False),
        sa.Column("event_id", sa.Integer(), nullable=True),
        sa.Column("kind", sa.String(length=32), nullable=False),
        sa.Column("to_address", sa.String(length=254), nullable=False),
        sa.Column("language", sa.String(length=8), nullable=False),
        sa.Column("message_id", sa.String(length=255), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("next_attempt_at", UTC, nullable=False),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.Column("subject", sa.String(length=300), nullable=True),
        sa.Column("text_body", sa.Text(), nullable=True),
        sa.Column("html_body", sa.Text(), nullable=True),
        sa.Column("created_at", UTC, nullable=False),
        sa.Column("sent_at", UTC, nullable=True),
        sa.ForeignKeyConstraint(["event_id"], ["ticket_events.id"], ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["ticket_id"], ["tickets.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("event_id", "kind", "to_address"),
        sa.UniqueConstraint("message_id"),
    )
    op.create_index(
        "ix_email_outbox_status_next_attempt", "email_outbox", ["status", "next_attempt_at"]
    )
    op.create_index("ix_email_outbox_ticket_id", "email_outbox", ["ticket_id"])

    op.create_table(
        "inbound_emails",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("ticket_id", sa.Integer(), nullable=False),
        sa.Column("message_id", sa.String(length=255), nullable=False),
        sa.Column("from_address", sa.String(length=254), nullable=False),
        sa.Column("subject", sa.String(length=300), nullable=False),
        sa.Column("body", sa.Text(), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("note", sa.Text(), nullable=True),
        sa.Column("received_at", UTC, nullable=False),
        sa.Column("decided_by", sa.String(length=100), nullable=True),
        sa.ForeignKeyConstraint(["ticket_id"], ["tickets.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("message_id"),
    )
    op.create_index("ix_inbound_emails_ticket_id", "inbound_emails", ["ticket_id"])

    op.create_table(
        "satisfaction_ratings",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("ticket_id", sa.Integer(), nullable=False),
        sa.Column("rating", sa.Integer(), nullable=False),
        sa.Column("comment", sa.Text(), nullable=True),
        sa.Column("created_at", UTC, nullable=False),
        sa.ForeignKeyConstraint(["ticket_id"], ["tickets.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_satisfaction_ratings_ticket_id", "satisfaction_ratings", ["ticket_id"])

    with op.batch_alter_table("accounts") as batch:
        batch.add_column(sa.Column("email", sa.String(length=254), nullable=True))
        batch.add_column(sa.Column("queues", sa.JSON(), nullable=False, server_default="[]"))
    with op.batch_alter_table("accounts") as batch:
        batch.alter_column("queues", server_default=None)

    # Existing tickets get their access key here (nullable first, filled, then NOT NULL).
    with op.batch_alter_table("tickets") as batch:
        batch.add_column(sa.Column("access_key", sa.String(length=64), nullable=True))
        batch.add_column(sa.Column("customer_seen_at", UTC, nullable=True))
        batch.add_column(sa.Column("sla_paused_at", UTC, nullable=True))
        batch.add_column(sa.Column("due_soon_notified_at", UTC, nullable=True))
        batch.add_column(sa.Column("overdue_notified_at", UTC, nullable=True))
    connection = op.get_bind()
    tickets = sa.table("tickets", sa.column("id", sa.Integer), sa.column("access_key", sa.String))
    for (ticket_id,) in connection.execute(sa.select(tickets.c.id)).all():
        connection.execute(
            tickets.update()
            .where(tickets.c.id == ticket_id)
            .values(access_key=secrets.token_urlsafe(32))
        )
    with op.batch_alter_table("tickets") as batch:
        batch.alter_column("access_key", existing_type=sa.String(length=64), nullable=False)
        batch.create_unique_constraint("uq_tickets_access_key", ["access_key"])


def downgrade() -> None:
    with op.batch_alter_table("tickets") as batch:
        batch.drop_constraint("uq_tickets_access_key", type_="unique")
        for column in (
            "overdue_notified_at",
            "due_soon_notified_at",
            "sla_paused_at",
            "customer_seen_at",
            "access_key",
        ):
            batch.drop_column(column)
    with op.batch_alter_table("accounts") as batch:
        batch.drop_column("queues")
        batch.drop_column("email")
    op.drop_index("ix_satisfaction_ratings_ticket_id", table_name="satisfaction_ratings")
    op.drop_table("satisfaction_ratings")
    op.drop_index("ix_inbound_emails_ticket_id", table_name="inbound_emails")
    op.drop_table("inbound_emails")
    op.drop_index("ix_email_outbox_ticket_id", table_name="email_outbox")
    op.drop_index("ix_email_outbox_status_next_attempt", table_name="email_outbox")
    op.drop_table("email_outbox")
