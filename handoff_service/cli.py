"""Command line: ``python -m handoff_service.cli <command>`` (see --help).

migrate                         apply the Alembic migrations (DATABASE_URL)
create-admin NAME               create an admin account and print its token
create-token NAME [--role R]    print a new token for NAME (creating the account if needed)
train-triage [--report PATH]    retrain the triage classifier, write the held-out evaluation
serve                           run the service with uvicorn (HANDOFF_HOST, HANDOFF_PORT)
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from sqlalchemy import select

from handoff_service import auth
from handoff_service.db import make_engine, make_session_factory
from handoff_service.migrate import upgrade
from handoff_service.models import Account
from handoff_service.settings import Settings
from handoff_service.triage.classifier import TriageClassifier, write_evaluation
from handoff_service.vocabulary import Role
from knowledge.settings import project_path

DEFAULT_REPORT = project_path("var/reports/triage_eval.json")


def _issue(settings: Settings, name: str, role: Role, must_be_new: bool) -> str:
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
            _row, token = auth.issue_token(session, account)
            session.commit()
            return token
    finally:
        engine.dispose()


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
    train = commands.add_parser("train-triage", help="retrain and evaluate the triage classifier")
    train.add_argument("--report", type=Path, default=DEFAULT_REPORT)
    commands.add_parser("serve", help="run the HTTP service")
    args = parser.parse_args(argv)
    settings = Settings()

    if args.command == "migrate":
        upgrade(settings.sqlalchemy_url)
        print(f"database at head: {settings.sqlalchemy_url.split('@')[-1]}")
    elif args.command == "create-admin":
        print(_issue(settings, args.name, Role.ADMIN, must_be_new=True))
    elif args.command == "create-token":
        print(_issue(settings, args.name, Role(args.role), must_be_new=False))
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
    return 0


if __name__ == "__main__":
    sys.exit(main())
