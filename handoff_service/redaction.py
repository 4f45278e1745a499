"""Remove payment-card numbers, bank accounts and national IDs from free text before storage.

What is redacted (the replacement keeps enough to talk about it, never enough to use it):

- payment cards: 13-19 digits, optionally grouped by spaces or dashes, that pass the Luhn
  check (every real card number does; ``stdnum.luhn``) -> ``[card ****1234]`` (last 4 digits
  kept);
- IBANs -> ``[IBAN ****1234]``;
- card security codes written next to "CVV"/"CVC"/"código de seguridad" -> ``[CVV]``;
- Spanish DNI/NIE (``12345678Z``, ``X1234567L``) -> ``[national ID]``;
- US social security numbers (``123-45-6789``) -> ``[national ID]``.

Cards need the check digit because a bare run of digits is often something else (an order
reference, a phone number). IBANs, DNIs and NIEs are redacted by their shape alone, whether or
not their check digits are right: nothing else in a support chat looks like them, and a number
with one digit mistyped is still, nearly, someone's account or ID.
"""

from __future__ import annotations

import re

from stdnum import luhn

_IBAN = re.compile(r"\b[A-Z]{2}\d{2}(?:[ ]?[A-Z0-9]{4}){2,7}(?:[ ]?[A-Z0-9]{1,4})?\b")
_CARD = re.compile(r"(?<![\w+])\d(?:[ -]?\d){12,}(?!\w)")
_CVV = re.compile(r"(?i)\b(cvv2?|cvc2?|cid|c[oó]digo de seguridad|security code)(\W{0,3})\d{3,4}\b")
_DNI = re.compile(r"(?i)\b\d{8}[ -]?[A-Z]\b")
_NIE = re.compile(r"(?i)\b[XYZ][ -]?\d{7}[ -]?[A-Z]\b")
_SSN = re.compile(r"\b\d{3}-\d{2}-\d{4}\b")


def _redact_cards(text: str) -> str:
    """Redact the longest run of digit groups that is a valid card number, then the rest.

    Trying sub-runs matters when a card number sits next to other digits (``"ref 12 4111 ..."``).
    """
    groups = [(m.start(), m.end()) for m in re.finditer(r"\d+", text)]
    best: tuple[int, int, str] | None = None
    for i in range(len(groups)):
        digits = ""
        for j in range(i, len(groups)):
            digits += text[groups[j][0] : groups[j][1]]
            if len(digits) > 19:
                break
            if (
                len(digits) >= 13
                and luhn.is_valid(digits)
                and (best is None or len(digits) > len(best[2]))
            ):
                best = (groups[i][0], groups[j][1], digits)
    if best is None:
        return text
    start, end, digits = best
    return f"{_redact_cards(text[:start])}[card ****{digits[-4:]}]{_redact_cards(text[end:])}"


def _card(match: re.Match[str]) -> str:
    return _redact_cards(match.group(0))


def _iban(match: re.Match[str]) -> str:
    compact = match.group(0).replace(" ", "")
    return f"[IBAN ****{compact[-4:]}]"


def redact(text: str) -> str:
    """Return ``text`` with sensitive identifiers replaced (idempotent)."""
    text = _IBAN.sub(_iban, text)
    text = _CVV.sub(lambda m: f"{m.group(1)}{m.group(2)}[CVV]", text)
    text = _CARD.sub(_card, text)
    text = _NIE.sub("[national ID]", text)
    text = _DNI.sub("[national ID]", text)
    text = _SSN.sub("[national ID]", text)
    return text
