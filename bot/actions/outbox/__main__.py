"""List the outbox's rows and put failed ones back in the queue.

Run from ``bot/`` with the action server's environment (it reads ``NIVEL0_OUTBOX_PATH``)::

    python -m actions.outbox list [--failed] [--kind handoff|unanswered]
    python -m actions.outbox retry ID
    python -m actions.outbox retry --all-failed
    python -m actions.outbox erase --email ADDRESS

``retry`` only makes a row due again: the worker of a running action server sends it on its
next pass (``NIVEL0_OUTBOX_POLL_SECONDS``). Retry after fixing the cause (the error is in the
listing and in the action server's log): a payload the service refuses is refused again.

``erase`` is the bot's part of a customer's erasure (the handoff service's ``privacy-erase``
covers tickets, trackers and unanswered questions): it deletes that customer's undelivered
handoffs and their conversations' unanswered questions from this host's outbox.
"""

from __future__ import annotations

import argparse
import datetime as dt
import sys

from actions.outbox.store import FAILED, KINDS, OutboxEntry, OutboxStore
from actions.settings import get_settings

ERROR_CHARS = 80


def _when(timestamp: float) -> str:
    return dt.datetime.fromtimestamp(timestamp, tz=dt.UTC).strftime("%Y-%m-%d %H:%M:%S")


def _line(entry: OutboxEntry) -> str:
    error = (entry.last_error or "").replace("\n", " ")
    if len(error) > ERROR_CHARS:
        error = error[: ERROR_CHARS - 1] + "…"
    cells = [
        str(entry.id),
        entry.kind,
        entry.state,
        str(entry.attempts),
        _when(entry.updated_at),
        entry.conversation_id,
        entry.number or "",
        error,
    ]
    return "\t".join(cells)


def cmd_list(store: OutboxStore, args: argparse.Namespace) -> int:
    entries = store.entries(args.kind, FAILED if args.failed else None)
    print("\t".join(["id", "kind", "state", "attempts", "updated (UTC)", "conversation",
                     "ticket", "last error"]))  # fmt: skip
    for entry in entries:
        print(_line(entry))
    print(f"{len(entries)} rows in {store.path}", file=sys.stderr)
    return 0


def cmd_retry(store: OutboxStore, args: argparse.Namespace) -> int:
    if args.all_failed:
        count = store.retry_failed()
        print(f"{count} failed rows queued again")
        return 0
    entry = store.get_by_id(args.id)
    if entry is None:
        print(f"no row {args.id} in {store.path}", file=sys.stderr)
        return 1
    if entry.state != FAILED:
        print(f"row {args.id} is {entry.state}, not failed: nothing to do", file=sys.stderr)
        return 1
    store.retry_failed(args.id)
    print(f"row {args.id} queued again")
    return 0


def cmd_erase(store: OutboxStore, args: argparse.Namespace) -> int:
    count = store.erase(args.email)
    print(f"{count} rows erased from {store.path}")
    return 0


def parser() -> argparse.ArgumentParser:
    main = argparse.ArgumentParser(
        prog="python -m actions.outbox", description=__doc__.split("\n")[0]
    )
    commands = main.add_subparsers(dest="command", required=True)
    listing = commands.add_parser("list", help="the rows, oldest first")
    listing.add_argument("--failed", action="store_true", help="only rows the service rejected")
    listing.add_argument("--kind", choices=KINDS, help="only rows of this kind")
    listing.set_defaults(run=cmd_list)
    retry = commands.add_parser("retry", help="queue failed rows again")
    which = retry.add_mutually_exclusive_group(required=True)
    which.add_argument("id", nargs="?", type=int, help="the row's id (see list)")
    which.add_argument("--all-failed", action="store_true", help="every failed row")
    retry.set_defaults(run=cmd_retry)
    erase = commands.add_parser("erase", help="delete a customer's undelivered rows")
    erase.add_argument("--email", required=True, help="the customer's e-mail address")
    erase.set_defaults(run=cmd_erase)
    return main


def main(argv: list[str] | None = None) -> int:
    args = parser().parse_args(argv)
    return args.run(OutboxStore(get_settings().outbox_path), args)


if __name__ == "__main__":
    sys.exit(main())
