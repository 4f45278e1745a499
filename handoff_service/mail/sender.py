"""Delivering the e-mail outbox over SMTP, with retries.

One pass (:func:`send_due`) takes the pending rows whose ``next_attempt_at`` has come and, for
each of them, in three short steps that never hold a database transaction open during SMTP I/O:

1. *claim*: move ``next_attempt_at`` a lease ahead (``UPDATE .. WHERE next_attempt_at <= now``,
   and on PostgreSQL ``FOR UPDATE SKIP LOCKED`` on the select) and, at the first attempt, render
   and store subject and bodies; commit. Another process (or this one's next pass) no longer
   sees the row as due, so two senders never send one row at the same time.
2. *send* it with smtplib, with the row's fixed Message-ID.
3. *record* the outcome: sent; or, on a temporary failure (connection refused, timeout, 4xx,
   disconnect), another attempt after an exponential backoff (30 s doubling, at most 15 min)
   until ``email_give_up_hours`` after the row was written, then failed; on a permanent
   refusal of the message or its recipient (5xx), failed at once with the server's reason.

A crash between the server accepting a message and step 3 leaves the row pending: it is sent
again when its lease runs out, with the same Message-ID (at-least-once delivery; receivers and
threads see one message id).

The background worker (:func:`running_worker`, or ``cli send-email`` in the foreground) runs a
list of periodic jobs (:data:`JOBS`) every ``email_poll_seconds``.
"""

from __future__ import annotations

import datetime as dt
import logging
import smtplib
import ssl
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from email.message import EmailMessage as MimeMessage
from email.utils import format_datetime, parseaddr

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from handoff_service.context import AppContext
from handoff_service.mail.links import reply_address
from handoff_service.mail.render import CUSTOMER_KINDS, render
from handoff_service.models import EmailMessage, utcnow
from handoff_service.privacy import purge_due
from handoff_service.settings import Settings
from handoff_service.sla import announce_due
from handoff_service.vocabulary import EmailKind, EmailStatus

logger = logging.getLogger(__name__)

#: A periodic job of the worker: does its work as of ``now``, returns how many things it did.
Job = Callable[[AppContext, dt.datetime], int]
#: A job that works in a session its caller commits (e.g. ``sla.announce_due``).
SessionJob = Callable[[AppContext, Session, dt.datetime], int]

FIRST_RETRY = dt.timedelta(seconds=30)
MAX_RETRY = dt.timedelta(minutes=15)
BATCH = 50  # rows claimed per pass; the next pass takes the rest


def backoff(attempts: int) -> dt.timedelta:
    """Wait before the next attempt after ``attempts`` failed ones: 30 s, 60 s, 120 s ...
    capped at 15 min."""
    return min(FIRST_RETRY * 2 ** max(attempts - 1, 0), MAX_RETRY)


def lease(settings: Settings) -> dt.timedelta:
    """How long a claimed row stays invisible to other senders: longer than one send can take
    (connect, greeting, TLS, login, MAIL, RCPT, DATA each bounded by the timeout)."""
    return dt.timedelta(seconds=max(60.0, 8 * settings.smtp_timeout_seconds))


@dataclass(frozen=True)
class Outcome:
    """How one attempt ended: ``error`` None means sent; ``permanent``: do not retry."""

    error: str | None = None
    permanent: bool = False


def _first_message_id(session: Session, row: EmailMessage) -> str | None:
    """The Message-ID of the ticket's first customer e-mail, which later ones reply to."""
    first = session.scalars(
        select(EmailMessage.message_id)
        .where(
            EmailMessage.ticket_id == row.ticket_id,
            EmailMessage.kind.in_([k.value for k in CUSTOMER_KINDS]),
        )
        .order_by(EmailMessage.id)
        .limit(1)
    ).first()
    return first if first and first != row.message_id else None


def build_message(settings: Settings, row: EmailMessage, thread_id: str | None) -> MimeMessage:
    """The MIME message of a rendered row (multipart/alternative: text, then HTML)."""
    assert row.subject is not None and row.text_body is not None and row.html_body is not None
    message = MimeMessage()
    message["From"] = settings.mail_from
    message["To"] = row.to_address
    if EmailKind(row.kind) in CUSTOMER_KINDS:
        message["Reply-To"] = reply_address(settings, row.ticket)
        if thread_id:
            message["In-Reply-To"] = thread_id
            message["References"] = thread_id
    message["Subject"] = row.subject
    message["Message-ID"] = row.message_id
    message["Date"] = format_datetime(row.created_at)
    message["Auto-Submitted"] = "auto-generated"
    message.set_content(row.text_body)
    message.add_alternative(row.html_body, subtype="html")
    # after the parts: making the message multipart moves Content-* headers into its first part
    message["Content-Language"] = row.language if EmailKind(row.kind) in CUSTOMER_KINDS else "en"
    return message


def _connect(settings: Settings) -> smtplib.SMTP:
    timeout = settings.smtp_timeout_seconds
    if settings.smtp_security == "tls":
        smtp: smtplib.SMTP = smtplib.SMTP_SSL(
            settings.smtp_host,
            settings.smtp_port,
            timeout=timeout,
            context=ssl.create_default_context(),
        )
    else:
        smtp = smtplib.SMTP(settings.smtp_host, settings.smtp_port, timeout=timeout)
        if settings.smtp_security == "starttls":
            smtp.starttls(context=ssl.create_default_context())
    if settings.smtp_user:
        password = settings.smtp_password.get_secret_value() if settings.smtp_password else ""
        smtp.login(settings.smtp_user, password)
    return smtp


def _reply(code: int, text: bytes | str) -> str:
    said = text.decode(errors="replace") if isinstance(text, bytes) else text
    return f"{code} {said}".strip()


def deliver(settings: Settings, message: MimeMessage, to_address: str) -> Outcome:
    """Send one message; classify a failure as temporary or permanent.

    5xx refusals of the recipient or the message are permanent. Refusals that are the service's
    own configuration (login, sender address, STARTTLS) and every 4xx, timeout or connection
    problem are temporary: fixing the configuration or the server delivers what waited."""
    envelope_from = parseaddr(settings.mail_from)[1]
    try:
        smtp = _connect(settings)
        try:
            smtp.send_message(message, from_addr=envelope_from, to_addrs=[to_address])
        finally:
            try:
                smtp.quit()
            except (smtplib.SMTPException, OSError):
                smtp.close()
    except smtplib.SMTPRecipientsRefused as exc:
        code, text = next(iter(exc.recipients.values()))
        return Outcome(f"recipient refused: {_reply(code, text)}", permanent=code >= 500)
    except (smtplib.SMTPAuthenticationError, smtplib.SMTPSenderRefused) as exc:
        return Outcome(f"{type(exc).__name__}: {_reply(exc.smtp_code, exc.smtp_error)}")
    except smtplib.SMTPResponseException as exc:
        return Outcome(
            f"{type(exc).__name__}: {_reply(exc.smtp_code, exc.smtp_error)}",
            permanent=exc.smtp_code >= 500,
        )
    except (smtplib.SMTPException, OSError) as exc:
        return Outcome(f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__)
    return Outcome()


def _claim(ctx: AppContext, now: dt.datetime) -> list[int]:
    """Step 1: lease the due rows (rendering those never attempted); commit; their ids."""
    claimed = []
    with ctx.sessions() as session:
        rows = session.scalars(
            select(EmailMessage)
            .where(
                EmailMessage.status == EmailStatus.PENDING.value,
                EmailMessage.next_attempt_at <= now,
            )
            .order_by(EmailMessage.next_attempt_at, EmailMessage.id)
            .limit(BATCH)
            .with_for_update(skip_locked=True)
        ).all()
        for row in rows:
            values: dict[str, object] = {"next_attempt_at": now + lease(ctx.settings)}
            if row.subject is None:
                try:
                    subject, text, html = render(ctx.settings, ctx.timezone, row)
                except Exception as exc:  # a bad row must not hold up the others
                    logger.exception("e-mail could not be rendered", extra={"email_id": row.id})
                    row.status = EmailStatus.FAILED.value
                    row.last_error = f"could not be rendered: {type(exc).__name__}: {exc}"[:2000]
                    continue
                values.update(subject=subject, text_body=text, html_body=html)
            result = session.execute(
                update(EmailMessage)
                .where(
                    EmailMessage.id == row.id,
                    EmailMessage.status == EmailStatus.PENDING.value,
                    EmailMessage.next_attempt_at <= now,
                )
                .values(**values)
                .execution_options(synchronize_session=False)
            )
            if result.rowcount == 1:  # type: ignore[attr-defined]
                claimed.append(row.id)
        session.commit()
    return claimed


def _send_one(ctx: AppContext, row_id: int, now: dt.datetime) -> bool:
    """Steps 2 and 3 for one claimed row; True if it was sent."""
    settings = ctx.settings
    with ctx.sessions() as session:
        row = session.get(EmailMessage, row_id)
        assert row is not None
        message = build_message(settings, row, _first_message_id(session, row))
        to_address, kind = row.to_address, row.kind
        session.rollback()  # no transaction open while talking to the SMTP server

    outcome = deliver(settings, message, to_address)

    with ctx.sessions() as session:
        row = session.get(EmailMessage, row_id)
        assert row is not None
        row.attempts += 1
        log = {
            "email_id": row.id,
            "kind": kind,
            "ticket": row.ticket.number,
            "attempt": row.attempts,
        }
        if outcome.error is None:
            row.status = EmailStatus.SENT.value
            row.sent_at = now
            ctx.metrics.emails_sent.labels(kind=kind).inc()
            logger.info("e-mail sent", extra=log)
        else:
            row.last_error = outcome.error[:2000]
            give_up = row.created_at + dt.timedelta(hours=settings.email_give_up_hours)
            if outcome.permanent or now >= give_up:
                row.status = EmailStatus.FAILED.value
                ctx.metrics.email_failures.labels(kind=kind, outcome="failed").inc()
                logger.error("e-mail failed", extra={**log, "error": outcome.error})
            else:
                row.next_attempt_at = now + backoff(row.attempts)
                ctx.metrics.email_failures.labels(kind=kind, outcome="retry").inc()
                logger.warning(
                    "e-mail not sent, will retry",
                    extra={**log, "error": outcome.error, "retry_at": row.next_attempt_at},
                )
        session.commit()
    return outcome.error is None


def send_due(ctx: AppContext, now: dt.datetime | None = None) -> int:
    """Send the outbox rows due at ``now``; the number sent."""
    now = now or utcnow()
    return sum(_send_one(ctx, row_id, now) for row_id in _claim(ctx, now))


def in_session(job: SessionJob) -> Job:
    """``job`` as a worker job: in its own session, committed if it returns, rolled back if it
    raises."""

    def run(ctx: AppContext, now: dt.datetime) -> int:
        with ctx.sessions() as session:
            done = job(ctx, session, now)
            session.commit()
            return done

    run.__name__ = job.__name__
    return run


#: The worker's periodic jobs, run in order at every tick: the "due soon" / "overdue" notices
#: to the queues' agents (sla.announce_due), then every e-mail that is due, those just queued
#: included, then the retention purge (privacy.purge_due; it does its work once an hour).
JOBS: list[Job] = [in_session(announce_due), send_due, purge_due]


def run_jobs(ctx: AppContext, now: dt.datetime) -> None:
    """One tick: every job; an exception is logged and the others still run."""
    for job in JOBS:
        try:
            job(ctx, now)
        except Exception:
            logger.exception("periodic job failed", extra={"job": job.__name__})


def run_loop(ctx: AppContext, stop: threading.Event) -> None:
    """Run the jobs every ``email_poll_seconds`` until ``stop`` is set."""
    logger.info(
        "e-mail worker started",
        extra={"smtp": f"{ctx.settings.smtp_host}:{ctx.settings.smtp_port}"},
    )
    while not stop.is_set():
        run_jobs(ctx, utcnow())
        stop.wait(ctx.settings.email_poll_seconds)
    logger.info("e-mail worker stopped")


@contextmanager
def running_worker(ctx: AppContext) -> Iterator[threading.Thread]:
    """The worker in a background thread while the block runs; stopped and joined on exit
    (a send in progress finishes first: every SMTP step is bounded by the timeout)."""
    stop = threading.Event()
    thread = threading.Thread(target=run_loop, args=(ctx, stop), name="email-worker", daemon=True)
    thread.start()
    try:
        yield thread
    finally:
        stop.set()
        thread.join()
