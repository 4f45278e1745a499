"""Command line: ``python -m handoff_service.cli <command>`` (see --help).

migrate                         apply the Alembic migrations (DATABASE_URL)
create-admin NAME               create an admin account and print its token
create-token NAME [--role R]    print a new token for NAME (creating the account if needed);
  [--email E] [--queue Q ...]   also set where its due notices go (as set-agent);
  [--expires-days N]            the token stops working after N days (default: never)
list-tokens                     every token: id, account, prefix, created, expires, state
                                (never the token or its hash)
revoke-token ID                 revoke one token by its id (the account's others keep working)
set-agent NAME [--email E] [--queue Q ...]
                                set an agent's e-mail and queues for "due soon" / "overdue"
                                notices (--queue repeated; --no-email stops the notices)
train-triage [--report PATH]    retrain the triage classifier, write the held-out evaluation
serve                           run the service with uvicorn (HANDOFF_HOST, HANDOFF_PORT)
send-email [--once]             send the e-mail outbox in the foreground until Ctrl-C (for
                                HANDOFF_EMAIL_WORKER=false); --once: one pass, then exit
receive-email [RECIPIENT ...]   record one e-mail (RFC 5322, on stdin) replying to a ticket,
                                for an MTA's pipe transport; recipients default to the
                                Delivered-To / X-Original-To / To / Cc headers. Exit codes
                                (sysexits): 0 recorded, 65 unreadable or too big,
                                67 no such recipient, 75 database unavailable (retry later)
purge                           delete what is past its retention period (HANDOFF_RETENTION_*)
                                now; prints the counts (the worker does it hourly)
privacy-export --email E        everything stored about the customer with e-mail E, as JSON
privacy-erase --email E         delete all of it; prints the counts (both are logged, the
                                e-mail only as a keyed hash)
"""

from __future__ import annotations

import argparse
import datetime as dt
import getpass
import json
import signal
import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from pydantic import ValidationError
from sqlalchemy import select
from sqlalchemy.orm import Session

from handoff_service import auth, privacy, sla
from handoff_service.context import AppContext
from handoff_service.db import make_engine, make_session_factory
from handoff_service.logs import configure_logging
from handoff_service.mail.sender import run_jobs, run_loop
from handoff_service.migrate import upgrade
from handoff_service.models import Account, ApiToken, utcnow
from handoff_service.schemas import MAX_TOKEN_DAYS, AccountContactIn
from handoff_service.settings import Settings
from handoff_service.triage.classifier import TriageClassifier, write_evaluation
from handoff_service.triage.rules import RoutingRules
from handoff_service.vocabulary import Role
from knowledge.settings import project_path

DEFAULT_REPORT = project_path("var/reports/triage_eval.json")


def _contact(args: argparse.Namespace) -> dict[str, object]:
    """The --email / --no-email / --queue options given, validated like the admin API's."""
    given: dict[str, object] = {}
    if args.no_email:
        given["email"] = None
    elif args.email is not None:
        given["email"] = args.email
    if args.queue:
        given["queues"] = args.queue
    if not given:
        return {}
    try:
        return AccountContactIn.model_validate(given).model_dump(exclude_unset=True)
    except ValidationError as exc:
        raise SystemExit(f"error: {exc.errors()[0]['loc'][0]}: {exc.errors()[0]['msg']}") from None


def _set_contact(settings: Settings, account: Account, changes: dict[str, object]) -> None:
    if not changes:
        return
    queues = RoutingRules.load(settings.routing_rules_path).queues
    try:
        sla.set_notice_contact(account, changes, queues)
    except ValueError as exc:
        raise SystemExit(f"error: {exc}") from None


def _set_agent(settings: Settings, name: str, changes: dict[str, object]) -> str:
    if not changes:
        raise SystemExit("error: give --email, --no-email and/or --queue")
    upgrade(settings.sqlalchemy_url)
    engine = make_engine(settings.sqlalchemy_url)
    try:
        with make_session_factory(engine)() as session:
            account = session.scalars(select(Account).where(Account.name == name)).first()
            if account is None:
                raise SystemExit(f"error: no account {name!r}")
            _set_contact(settings, account, changes)
            session.commit()
            queues = ", ".join(account.queues) or "none"
            return f"{name}: e-mail {account.email or 'none'}, queues {queues}"
    finally:
        engine.dispose()


def _issue(
    settings: Settings,
    name: str,
    role: Role,
    must_be_new: bool,
    contact: dict[str, object] | None = None,
    expires_days: int | None = None,
) -> str:
    upgrade(settings.sqlalchemy_url)
    engine = make_engine(settings.sqlalchemy_url)
    try:
        with make_session_factory(engine)() as session:
            account = session.scalars(select(Account).where(Account.name == name)).first()
            if account is not None and must_be_new:
                raise SystemExit(f"error: account {name!r} already exists")
            if account is not None and account.role != role.value:
                raise SystemExit(
                    f"error: account {name!r} has role {account.role!r}, not {role.value!r}"
                )
            account = account or auth.create_account(session, name, role)
            _set_contact(settings, account, contact or {})
            lifetime = dt.timedelta(days=expires_days) if expires_days is not None else None
            _row, token = auth.issue_token(session, account, lifetime)
            session.commit()
            return token
    finally:
        engine.dispose()


def _token_line(row: ApiToken, now: dt.datetime) -> str:
    """One token for ``list-tokens``: its prefix, never the token or its hash."""
    if row.revoked_at is not None:
        state = f"revoked {row.revoked_at:%Y-%m-%d %H:%M}"
    elif not auth.usable(row, now):
        state = "expired"
    else:
        state = "active"
    expires = f"{row.expires_at:%Y-%m-%d %H:%M}" if row.expires_at else "never"
    return (
        f"{row.id}\t{row.account.name}\t{row.prefix}…\tcreated {row.created_at:%Y-%m-%d %H:%M}"
        f"\texpires {expires}\t{state}"
    )


@contextmanager
def _database(settings: Settings) -> Iterator[Session]:
    """A session on the migrated database, its engine disposed afterwards."""
    upgrade(settings.sqlalchemy_url)
    engine = make_engine(settings.sqlalchemy_url)
    try:
        with make_session_factory(engine)() as session:
            yield session
    finally:
        engine.dispose()


def _list_tokens(settings: Settings) -> str:
    """Every token, one line each (UTC times)."""
    with _database(settings) as session:
        now = utcnow()
        return "\n".join(_token_line(row, now) for row in auth.list_tokens(session))


def _revoke_token(settings: Settings, token_id: int) -> str:
    with _database(settings) as session:
        row = session.get(ApiToken, token_id)
        if row is None:
            raise SystemExit(f"error: no token {token_id}")
        auth.revoke(session, row)
        session.commit()
        return f"token {row.id} ({row.prefix}… of {row.account.name}) revoked"


def _days(value: str) -> int:
    days = int(value)
    if not 1 <= days <= MAX_TOKEN_DAYS:
        raise argparse.ArgumentTypeError(f"between 1 and {MAX_TOKEN_DAYS} days")
    return days


#: sysexits.h codes an MTA understands: 65/67 bounce the message, 75 makes the MTA retry.
EX_OK, EX_DATAERR, EX_NOUSER, EX_TEMPFAIL = 0, 65, 67, 75


def _receive_email(settings: Settings, recipients: list[str]) -> int:
    """Record the message on stdin; the exit code tells the MTA what became of it."""
    from handoff_service.mail import inbound
    from handoff_service.main import build_context

    raw = sys.stdin.buffer.read()
    # the service migrates the database, not a mail delivery (nor does this connect yet)
    ctx = build_context(settings.model_copy(update={"auto_migrate": False}))
    try:
        recipients = recipients or inbound.header_recipients(inbound.parse(raw))
        outcome = inbound.receive(ctx, raw, recipients)
    finally:
        ctx.engine.dispose()
    code = {
        inbound.Result.NO_TICKET: EX_NOUSER,
        inbound.Result.UNREADABLE: EX_DATAERR,
        inbound.Result.TOO_BIG: EX_DATAERR,
        inbound.Result.TEMPORARY: EX_TEMPFAIL,
    }.get(outcome.result, EX_OK)
    print(outcome.smtp_reply.split(" ", 2)[-1], file=sys.stdout if code == EX_OK else sys.stderr)
    return code


def _send_email(settings: Settings, once: bool) -> None:
    """The background worker's loop in the foreground (SIGINT/SIGTERM stop it after the
    current pass)."""
    from handoff_service.main import build_context

    configure_logging(settings.log_level)
    ctx = build_context(settings)
    try:
        if once:
            run_jobs(ctx, utcnow())
            return
        stop = threading.Event()
        for signum in (signal.SIGINT, signal.SIGTERM):
            signal.signal(signum, lambda *_: stop.set())
        run_loop(ctx, stop)
    finally:
        ctx.engine.dispose()


def _cli_actor() -> str:
    """Who ran a privacy command, for the request log."""
    return f"cli:{getpass.getuser()}"[:100]


def _privacy(settings: Settings, command: str, email: str) -> str:
    """``purge`` / ``privacy-export`` / ``privacy-erase``: the JSON they print. In the
    service's context: the export shows each ticket's due state (sla.bind)."""
    from handoff_service.main import build_context

    ctx = build_context(settings)
    try:
        result = _privacy_request(ctx, command, email)
    finally:
        ctx.engine.dispose()
    return json.dumps(result, ensure_ascii=False, indent=2 if command == "privacy-export" else None)


def _privacy_request(ctx: AppContext, command: str, email: str) -> object:
    settings = ctx.settings
    with ctx.sessions() as session:
        if command == "purge":
            result: object = privacy.purge(settings, session, utcnow())
        elif command == "privacy-export":
            result = privacy.export(settings, session, email, _cli_actor()).model_dump(mode="json")
        else:
            result = privacy.erase(settings, session, email, _cli_actor())
        session.commit()
    return result


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m handoff_service.cli",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    commands = parser.add_subparsers(dest="command", required=True)
    commands.add_parser("migrate", help="apply database migrations")
    admin = commands.add_parser("create-admin", help="create an admin and print its token")
    admin.add_argument("name")
    token = commands.add_parser("create-token", help="print a new token for an account")
    token.add_argument("name")
    token.add_argument("--role", choices=[r.value for r in Role], default=Role.AGENT.value)
    token.add_argument(
        "--expires-days", type=_days, default=None, help="days until it expires (default: never)"
    )
    commands.add_parser("list-tokens", help="list the tokens (prefixes only)")
    revoke = commands.add_parser("revoke-token", help="revoke one token by id")
    revoke.add_argument("id", type=int)
    agent = commands.add_parser("set-agent", help="set an agent's e-mail and queues (notices)")
    agent.add_argument("name")
    for command in (token, agent):
        email = command.add_mutually_exclusive_group()
        email.add_argument("--email", help="where due-soon / overdue notices go")
        email.add_argument("--no-email", action="store_true", help="send no notices")
        command.add_argument(
            "--queue", action="append", default=[], help="a queue whose notices it gets (repeat)"
        )
    train = commands.add_parser("train-triage", help="retrain and evaluate the triage classifier")
    train.add_argument("--report", type=Path, default=DEFAULT_REPORT)
    commands.add_parser("serve", help="run the HTTP service")
    send_email = commands.add_parser(
        "send-email", help="send the e-mail outbox (and run the other periodic jobs)"
    )
    send_email.add_argument("--once", action="store_true", help="one pass, then exit")
    receive = commands.add_parser("receive-email", help="record one reply e-mail from stdin")
    receive.add_argument("recipients", nargs="*", help="envelope recipients (e.g. ${recipient})")
    commands.add_parser("purge", help="delete what is past its retention period")
    for name, what in (("privacy-export", "print"), ("privacy-erase", "delete")):
        request = commands.add_parser(name, help=f"{what} everything about one customer")
        request.add_argument("--email", required=True, help="the customer's e-mail address")
    args = parser.parse_args(argv)
    settings = Settings()

    if args.command == "migrate":
        upgrade(settings.sqlalchemy_url)
        print(f"database at head: {settings.sqlalchemy_url.split('@')[-1]}")
    elif args.command == "create-admin":
        print(_issue(settings, args.name, Role.ADMIN, must_be_new=True))
    elif args.command == "create-token":
        contact = _contact(args)
        print(
            _issue(
                settings,
                args.name,
                Role(args.role),
                must_be_new=False,
                contact=contact,
                expires_days=args.expires_days,
            )
        )
    elif args.command == "list-tokens":
        print(_list_tokens(settings))
    elif args.command == "revoke-token":
        print(_revoke_token(settings, args.id))
    elif args.command == "set-agent":
        print(_set_agent(settings, args.name, _contact(args)))
    elif args.command == "train-triage":
        settings.triage_model_path.unlink(missing_ok=True)
        TriageClassifier.load_or_train(settings.triage_data_path, settings.triage_model_path)
        report = write_evaluation(settings.triage_data_path, args.report)
        summary = {k: report[k]["macro_f1"] for k in ("category", "priority")}  # type: ignore[index]
        print(json.dumps({"macro_f1": summary, "report": str(args.report)}))
    elif args.command == "serve":
        import uvicorn

        from handoff_service.main import create_app

        uvicorn.run(create_app(settings), host=settings.host, port=settings.port, log_config=None)
    elif args.command == "send-email":
        _send_email(settings, once=args.once)
    elif args.command == "receive-email":
        return _receive_email(settings, args.recipients)
    elif args.command in ("purge", "privacy-export", "privacy-erase"):
        print(_privacy(settings, args.command, getattr(args, "email", "")))
    return 0


if __name__ == "__main__":
    sys.exit(main())
