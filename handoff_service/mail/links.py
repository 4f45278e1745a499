"""The customer's two ways back to a ticket, both carrying its access key: the private page's
URL and the Reply-To address of its e-mails (and reading the key back from such an address)."""

from __future__ import annotations

import re
from email.utils import parseaddr

from handoff_service.models import Ticket
from handoff_service.settings import Settings

#: tickets.new_access_key() makes 43 characters of the URL-safe base64 alphabet
ACCESS_KEY_PATTERN = r"[A-Za-z0-9_-]{43}"


def page_url(settings: Settings, ticket: Ticket) -> str:
    """The private ticket page: ``<public_url>/t/<key>``."""
    return f"{settings.public_url}/t/{ticket.access_key}"


def reply_address(settings: Settings, ticket: Ticket) -> str:
    """The Reply-To of the ticket's e-mails, e.g. ``reply+<key>@nivel0.localhost``."""
    return settings.mail_reply_to.format(key=ticket.access_key)


def key_from_address(settings: Settings, address: str) -> str | None:
    """The access key in a recipient address made by :func:`reply_address`, or None.

    Local parts are compared case-sensitively (the key is), domains case-insensitively."""
    _name, addr = parseaddr(address)
    local, _, domain = addr.rpartition("@")
    template_local, _, template_domain = settings.mail_reply_to.rpartition("@")
    if not local or domain.casefold() != template_domain.casefold():
        return None
    before, _, after = template_local.partition("{key}")
    match = re.fullmatch(re.escape(before) + f"({ACCESS_KEY_PATTERN})" + re.escape(after), local)
    return match.group(1) if match else None
