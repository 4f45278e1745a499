"""Remove personal data from free text before anything stores it, in one linear pass.

What is redacted (the replacement keeps enough to talk about it, never enough to use it); the
full reasoning, and what is deliberately kept, is in docs/redaction.md:

- payment cards: 13-19 digits starting 2-6, with any separators (spaces, non-breaking spaces,
  dots, dashes, line breaks) or glued to words, that pass the Luhn check
  -> ``[card ****1234]``;
- IBANs in any case, with spaces or dashes (``stdnum.iban``) -> ``[IBAN ****1234]``; Spanish
  domestic account numbers, 20 digits with check digits (``stdnum.es.ccc``)
  -> ``[bank account ****1234]``;
- card security codes next to "CVV"/"CVC"/"código de seguridad"/"security code", before or
  after the number -> ``[CVV]``;
- national IDs -> ``[national ID]``: Spanish DNI/NIE (dots and dashes allowed), US SSN, and
  after their keyword: DNI (Spain, Argentina, Peru) without the letter, Colombian cédula;
  with their check digits: Argentine CUIT/CUIL, Mexican CURP and RFC, Colombian NIT, Chilean
  RUT, Brazilian CPF; passports after a keyword -> ``[passport]``;
- phone numbers: with an international prefix (``+`` or ``00``), Spanish 9-digit numbers
  starting 6-9, and any 7-15 digits after a phone keyword -> ``[phone]``;
- e-mail addresses -> ``[email]``.

Check digits, keywords and shape keep everything else: order numbers ("VT-88123", "pedido
123456789"), tracking numbers, prices, dates, postcodes and a 16-digit number failing the Luhn
check are not touched.

Linear time: every regular expression has bounded repetitions and no ambiguous nesting, and
digits are handled by finding each maximal run of digit groups once and checking a bounded
window (at most 20 digits) at each group, so the work is proportional to the text's length.
"""

from __future__ import annotations

import re
from bisect import bisect_left
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from enum import Enum
from operator import mul

from stdnum import iban
from stdnum.ar import cuit
from stdnum.br import cpf
from stdnum.cl import rut
from stdnum.co import nit
from stdnum.es import ccc, dni, nie
from stdnum.mx import curp, rfc


# (str, Enum) rather than StrEnum: Rasa's Python 3.10 environment imports this module too
# (bot/redacting_channel.py redacts chat messages before Rasa stores them).
class Kind(str, Enum):  # noqa: UP042
    CARD = "card"
    CVV = "cvv"
    IBAN = "iban"
    BANK_ACCOUNT = "bank_account"
    NATIONAL_ID = "national_id"
    PASSPORT = "passport"
    PHONE = "phone"
    EMAIL = "email"

    def __str__(self) -> str:
        return self.value


#: Contact details: personal, and redacted, but a customer giving them is not a sensitive topic.
CONTACT = frozenset({Kind.PHONE, Kind.EMAIL})


@dataclass(frozen=True, slots=True)
class Finding:
    """``text[start:end]`` is personal data of this kind, to be replaced by ``label``."""

    kind: Kind
    start: int
    end: int
    label: str


NATIONAL_ID = "[national ID]"

# --- letters and digits: bounded patterns --------------------------------------------------

_EMAIL = re.compile(r"(?<![\w.%+-])[\w.%+-]{1,64}@[^\W_][\w-]{0,62}(?:\.[^\W_][\w-]{0,62}){1,8}")
_IBAN = re.compile(
    r"(?<![A-Za-z0-9])[A-Za-z]{2}\d{2}(?:[ \-\u00a0\u202f\u2007]{0,3}[A-Za-z0-9]){10,30}"
)
_SPANISH_ID = re.compile(
    r"(?<![\w])(?:(?P<dni>\d{2}\.?\d{3}\.?\d{3})|(?P<nie>[XYZxyz][ \-]?\d{7}))"
    r"(?P<sep>[ \-]?)(?P<letter>[A-Za-z])(?!\w)"
)
_SSN = re.compile(r"(?<![\w-])\d{3}-\d{2}-\d{4}(?![\w-])")
_CURP = re.compile(r"(?<![\w])[A-Za-z]{4}\d{6}[HMXhmx][A-Za-z]{5}[A-Za-z0-9]\d(?!\w)")
_RFC = re.compile(r"(?<![\w&])[A-Za-z&Ññ]{3,4}\d{6}[A-Za-z0-9]{3}(?!\w)")
#: CUIT "20-12345678-6", NIT "890.903.938-8", RUT "12.345.678-5", CPF "111.444.777-35".
_FORMATTED_ID = re.compile(
    r"(?<![\w.-])(?:"
    r"(?P<cuit>\d{2}-\d{8}-\d)"
    r"|(?P<cpf>\d{3}\.\d{3}\.\d{3}-\d{2})"
    r"|(?P<nit>\d{3}\.\d{3}\.\d{3}-\d|\d{9}-\d)"
    r"|(?P<rut>\d{1,2}\.\d{3}\.\d{3}-[\dkK]|\d{7,8}-[\dkK])"
    r")(?![\w-])"
)

_FILLER = r"(?:[\s:=#-]{0,3}(?:n[º°o]\.?|num(?:ber|ero|\.)?|número|is|es|el|la|de|mi|my|the))"
_ID_KEYWORD = re.compile(
    r"(?i)(?<!\w)(?P<kw>d\.?n\.?i\.?|documento(?: (?:nacional )?de identidad)?|c[ée]dula"
    r"(?: de (?:identidad|ciudadan[ií]a))?|c\.?c\.?|cuit|cuil|cpf|rut|run|nif|id (?:number|card)"
    r"|(?P<passport>pasaporte|passport))"
    rf"(?:{_FILLER}){{0,4}}[\s:=#-]{{0,3}}"
    r"(?P<value>[XYZxyz]?-?\d(?:[.\-]?\d){4,11}(?![0-9])(?:-?[A-Za-z0-9](?![\w.]))?"
    r"|(?(passport)(?=[A-Za-z]{0,11}\d)[A-Za-z]{0,3}-?[A-Za-z0-9]{6,12}(?!\w)|(?!)))"
)
_CVV_WORD = r"(?:cvv2?|cvc2?|cvn|c[oó]digo (?:de seguridad|cvv|cvc)|security code)"
_CVV_AFTER = re.compile(
    rf"(?i)(?<!\w){_CVV_WORD}(?:[\s:=#-]{{0,3}}(?:is|es|de|la|el|tarjeta|card|my|mi|the|on|"
    r"back|atr[aá]s|reverso|number|n[uú]mero)){0,5}[\s:=#-]{0,3}(?P<code>\d{3,4})(?![\w.,]\d|\w)"
)
_CVV_BEFORE = re.compile(
    r"(?i)(?<![\w.,])(?P<code>\d{3,4})(?:\s{1,3}(?:es|is|son|=|el|la|the|my|mi)){0,3}"
    rf"\s{{1,3}}{_CVV_WORD}(?!\w)"
)

# --- digit runs -----------------------------------------------------------------------------

#: A maximal run of digit groups joined by up to four separator characters.
_RUN = re.compile(r"[0-9]+(?:[\s.\-()]{1,4}[0-9]+)*")
_GROUP = re.compile(r"[0-9]+")
_INTERNATIONAL_PREFIX = re.compile(r"\+\s?\(?\s?$|\(\+\s?$|\+\(\s?$")
_PHONE_KEYWORD = re.compile(
    r"(?i)(?:tel[eé]fono|tel[fé]?\.?|m[oó]vil|celular|cel\.?|whats ?app|phone|mobile|cell"
    r"|ll[aá]m[ae]me(?: al)?|call me(?: on| at)?|contacto|fijo)\W{0,3}(?:es|is|al|:|el)?\W{0,3}$"
)
_ORDER_KEYWORD = re.compile(
    r"(?i)(?:pedido|order|ref|referencia|reference|tracking|seguimiento|env[ií]o|factura"
    r"|invoice|albar[aá]n|ticket|c[oó]digo|code|n[º°]|#)\W{0,3}(?:es|is|:|el)?\W{0,3}$"
)
#: Country calling codes accepted after "00" (after "+" any code is).
_CALLING_CODES = ("34", "52", "54", "55", "56", "57", "51", "53", "58", "591", "593", "595",
                  "598", "502", "503", "504", "505", "506", "507", "1", "33", "39", "44", "49",
                  "351")  # fmt: skip
_LOOKBACK = 40
#: ASCII digit -> its Luhn-doubled value, for ``bytes.translate``.
_LUHN_DOUBLED = bytes.maketrans(b"0123456789", bytes([0, 2, 4, 6, 8, 1, 3, 5, 7, 9]))
_CCC_WEIGHTS = (1, 2, 4, 8, 5, 10, 9, 7, 3, 6)
_ZERO = ord("0")


def _luhn_valid(digits: bytes) -> bool:
    """``stdnum.luhn.is_valid``, computed with C-level bytes operations: a text full of card
    numbers checks one window per digit group, and stdnum's per-digit Python loop made that
    half of the redaction time. (The tests generate card numbers with stdnum's check digit.)"""
    backwards = digits[::-1]
    plain, doubled = backwards[0::2], backwards[1::2].translate(_LUHN_DOUBLED)
    return (sum(plain) - _ZERO * len(plain) + sum(doubled)) % 10 == 0


def _ccc_digit(digits: bytes) -> int:
    value = 11 - (sum(map(mul, _CCC_WEIGHTS, digits)) - _ZERO * sum(_CCC_WEIGHTS)) % 11
    return {11: 0, 10: 1}.get(value, value)


def _ccc_possible(digits: bytes) -> bool:
    """Both Spanish account check digits, inline (``stdnum.es.ccc`` costs ~40 µs a call and
    confirms); an all-zero account is filler, not an account."""
    return (
        digits[10:] != b"0" * 10
        and _ccc_digit(b"00" + digits[:8]) == digits[8] - _ZERO
        and _ccc_digit(digits[10:]) == digits[9] - _ZERO
    )


@dataclass(slots=True)
class _Run:
    """One run of digit groups: ``starts``/``ends`` of each group in the text, its digits
    concatenated (ASCII bytes) and ``offsets[k]``, the number of digits before group ``k``
    (one more entry at the end: the total)."""

    starts: list[int]
    ends: list[int]
    digits: bytes
    offsets: list[int]

    @classmethod
    def of(cls, text: str, start: int, end: int) -> _Run:
        starts, ends, offsets = [], [], []
        count = 0
        for match in _GROUP.finditer(text, start, end):
            starts.append(match.start())
            ends.append(match.end())
            offsets.append(count)
            count += match.end() - match.start()
        offsets.append(count)
        digits = re.sub(r"[^0-9]", "", text[start:end]).encode("ascii")
        return cls(starts, ends, digits, offsets)

    def windows(self, first: int, shortest: int, longest: int) -> list[tuple[int, bytes]]:
        """``(last group, digits)`` of each window of whole groups from group ``first`` with
        ``shortest``..``longest`` digits (found by bisection: no scan of the run)."""
        base = self.offsets[first]
        found = []
        k = bisect_left(self.offsets, base + shortest, first + 1)
        while k < len(self.offsets) and self.offsets[k] <= base + longest:
            found.append((k - 1, self.digits[base : self.offsets[k]]))
            k += 1
        return found


def _card_at(run: _Run, first: int) -> tuple[int, bytes] | None:
    """The longest Luhn-valid window of 13-19 digits starting 2-6 (the card networks)."""
    if run.digits[run.offsets[first]] not in b"23456":
        return None
    for last, digits in reversed(run.windows(first, 13, 19)):
        if _luhn_valid(digits):
            return last, digits
    return None


def _account_at(run: _Run, first: int) -> tuple[int, bytes] | None:
    for last, digits in run.windows(first, 20, 20):
        if _ccc_possible(digits) and ccc.is_valid(digits.decode()):
            return last, digits
    return None


def _spanish_phone_at(run: _Run, first: int) -> int | None:
    if run.digits[run.offsets[first]] not in b"6789":
        return None
    return next((last for last, _digits in run.windows(first, 9, 9)), None)


def _prefix_phone(text: str, run: _Run, start: int) -> Finding | None:
    """A number after "+" or "00" and a calling code: up to 15 digits, at least 8."""
    before = text[max(0, start - 4) : start]
    plus = _INTERNATIONAL_PREFIX.search(before)
    digits = run.digits
    if plus:
        begin, skip = start - (len(before) - plus.start()), 0
    elif digits.startswith(b"00") and digits[2:].decode().startswith(_CALLING_CODES):
        begin, skip = start, 2
    else:
        return None
    last = None
    for index in range(len(run.starts)):
        if run.offsets[index + 1] - skip > 15:
            break
        last = index
    if last is None or run.offsets[last + 1] - skip < 8:
        return None
    if text[begin] == "(" and ")" not in text[begin : run.ends[last]]:
        begin += 1
    return Finding(Kind.PHONE, begin, run.ends[last], "[phone]")


def _keyword_phone(text: str, run: _Run, start: int) -> Finding | None:
    """7-15 digits right after "teléfono", "móvil", "celular", "call me on", ..."""
    if not _PHONE_KEYWORD.search(text, max(0, start - _LOOKBACK), start):
        return None
    last = None
    for index in range(len(run.starts)):
        if run.offsets[index + 1] > 15:
            break
        last = index
    if last is None or run.offsets[last + 1] < 7:
        return None
    return Finding(Kind.PHONE, start, run.ends[last], "[phone]")


def _digit_runs(text: str) -> Iterator[Finding]:
    for match in _RUN.finditer(text):
        start, end = match.span()
        if end - start < 7:
            continue
        run = _Run.of(text, start, end)
        if len(run.digits) < 7:
            continue
        first = 0
        head = _prefix_phone(text, run, start) or _keyword_phone(text, run, start)
        if head is not None:
            yield head
            first = next(i for i, e in enumerate(run.ends) if e == head.end) + 1
        ordered = None
        while first < len(run.starts):
            account = _account_at(run, first)
            card = None if account else _card_at(run, first)
            if account or card:
                last, digits = account or card  # type: ignore[misc]
                kind, name = (Kind.BANK_ACCOUNT, "bank account") if account else (Kind.CARD, "card")
                yield Finding(
                    kind, run.starts[first], run.ends[last], f"[{name} ****{digits[-4:].decode()}]"
                )
                first = last + 1
                continue
            phone = _spanish_phone_at(run, first)
            if phone is not None:
                if ordered is None:
                    ordered = bool(_ORDER_KEYWORD.search(text, max(0, start - _LOOKBACK), start))
                if not (ordered and first == 0):
                    yield Finding(Kind.PHONE, run.starts[first], run.ends[phone], "[phone]")
                    first = phone + 1
                    continue
            first += 1


# --- patterns with letters ------------------------------------------------------------------


def _emails(text: str) -> Iterator[Finding]:
    for match in _EMAIL.finditer(text):
        yield Finding(Kind.EMAIL, *match.span(), "[email]")


def _ibans(text: str) -> Iterator[Finding]:
    """The longest prefix of the candidate that is a valid IBAN; an upper-case candidate of
    the country's length is redacted even with wrong check digits (a mistyped IBAN is still
    nearly someone's account), a lower-case one only when valid (it could be words)."""
    for match in _IBAN.finditer(text):
        candidate = match.group()
        # positions in ``candidate`` after each alphanumeric character, compacted
        ends = [i + 1 for i, char in enumerate(candidate) if char.isalnum()]
        compact = "".join(char for char in candidate if char.isalnum()).upper()
        country = compact[:2]
        expected = _IBAN_LENGTHS.get(country)
        if expected is None or len(compact) < expected:
            continue
        number = compact[:expected]
        shaped = candidate[:2].isupper() and re.fullmatch(r"[A-Z]{2}\d{2}[A-Z0-9]+", number)
        if not (iban.is_valid(number) or shaped):
            continue
        stop = match.start() + ends[expected - 1]
        if expected < len(ends) and text[stop : stop + 1].isalnum():
            continue  # glued to more letters or digits: part of something longer
        yield Finding(Kind.IBAN, match.start(), stop, f"[IBAN ****{number[-4:]}]")


def _iban_lengths() -> dict[str, int]:
    """Country code -> IBAN length, from python-stdnum's IBAN registry."""
    lengths = {}
    for _length, country, _high, properties, _children in iban._ibandb.prefixes:
        bban = properties.get("bban", "")
        lengths[country] = 4 + sum(int(n) for n in re.findall(r"(\d+)!?[nac]", bban))
    return lengths


def _spanish_ids(text: str) -> Iterator[Finding]:
    """DNI/NIE by shape; when the letter is lower case or apart, only with a right letter."""
    for match in _SPANISH_ID.finditer(text):
        number = re.sub(r"[.\- ]", "", match.group()).upper()
        loose = match["sep"] == " " or match["letter"].islower()
        if loose and not (dni.is_valid(number) or nie.is_valid(number)):
            continue
        yield Finding(Kind.NATIONAL_ID, *match.span(), NATIONAL_ID)


def _checked_ids(text: str) -> Iterator[Finding]:
    for match in _SSN.finditer(text):
        yield Finding(Kind.NATIONAL_ID, *match.span(), NATIONAL_ID)
    for pattern, module in ((_CURP, curp), (_RFC, rfc)):
        for match in pattern.finditer(text):
            if module.is_valid(match.group().upper()):
                yield Finding(Kind.NATIONAL_ID, *match.span(), NATIONAL_ID)
    modules = {"cuit": cuit, "cpf": cpf, "nit": nit, "rut": rut}
    for match in _FORMATTED_ID.finditer(text):
        name = match.lastgroup
        if name and modules[name].is_valid(match.group()):
            yield Finding(Kind.NATIONAL_ID, *match.span(), NATIONAL_ID)


def _keyword_ids(text: str) -> Iterator[Finding]:
    for match in _ID_KEYWORD.finditer(text):
        passport = match["passport"] is not None
        value = match.span("value")
        if not passport and sum(c.isdigit() for c in match["value"]) < 6:
            continue
        kind, label = (Kind.PASSPORT, "[passport]") if passport else (Kind.NATIONAL_ID, NATIONAL_ID)
        yield Finding(kind, *value, label)


def _cvvs(text: str) -> Iterator[Finding]:
    for pattern in (_CVV_AFTER, _CVV_BEFORE):
        for match in pattern.finditer(text):
            yield Finding(Kind.CVV, *match.span("code"), "[CVV]")


#: In priority order: when two findings start at the same place, the longer wins, then the
#: earlier detector here.
_DETECTORS: tuple[Callable[[str], Iterator[Finding]], ...] = (
    _emails,
    _ibans,
    _cvvs,
    _keyword_ids,
    _spanish_ids,
    _checked_ids,
    _digit_runs,
)
_IBAN_LENGTHS = _iban_lengths()


def find(text: str) -> list[Finding]:
    """The personal data in ``text``, in order and without overlaps."""
    candidates = [
        (finding.start, -(finding.end - finding.start), rank, finding)
        for rank, detector in enumerate(_DETECTORS)
        for finding in detector(text)
    ]
    candidates.sort(key=lambda item: item[:3])
    kept: list[Finding] = []
    reached = 0
    for *_order, finding in candidates:
        if finding.start >= reached:
            kept.append(finding)
            reached = finding.end
    return kept


def _apply(text: str, findings: Sequence[Finding]) -> str:
    parts, position = [], 0
    for finding in findings:
        parts += [text[position : finding.start], finding.label]
        position = finding.end
    parts.append(text[position:])
    return "".join(parts)


def redact(text: str, keep: frozenset[Kind] = frozenset()) -> str:
    """Return ``text`` with personal data replaced by labels (idempotent); the kinds in ``keep``
    are left as they are."""
    return _apply(text, [f for f in find(text) if f.kind not in keep])


#: A label :func:`redact` wrote, e.g. ``[card ****1111]``: group 1 names the kind.
_LABEL = re.compile(
    r"\[(card|IBAN|bank account|CVV|national ID|passport|phone|email)(?: \*{4}[0-9A-Za-z]{4})?\]"
)
_LABEL_KINDS = {
    "card": Kind.CARD,
    "IBAN": Kind.IBAN,
    "bank account": Kind.BANK_ACCOUNT,
    "CVV": Kind.CVV,
    "national ID": Kind.NATIONAL_ID,
    "passport": Kind.PASSPORT,
    "phone": Kind.PHONE,
    "email": Kind.EMAIL,
}


def labelled(text: str) -> set[Kind]:
    """The kinds of personal data that were already replaced by labels in ``text`` (a message
    redacted before it reached the bot's actions)."""
    return {_LABEL_KINDS[match[1]] for match in _LABEL.finditer(text)}


#: What may stand between a number's digits at the end of one message and the next.
_EDGE = " \t\r\n.-()\u00a0\u202f\u2007"


def _continues(previous: str, following: str) -> bool:
    """Whether a run of digits may go on from ``previous`` into ``following``."""
    last, first = previous.rstrip(_EDGE)[-1:], following.lstrip(_EDGE)[:1]
    return last.isascii() and last.isdigit() and first.isascii() and first.isdigit()


def _redact_joined(texts: Sequence[str], keep: frozenset[Kind]) -> list[str]:
    """Redact ``texts`` as one text joined by line breaks, then cut it back into messages."""
    findings = [f for f in find("\n".join(texts)) if f.kind not in keep]
    result, offset, index = [], 0, 0
    for text in texts:
        end = offset + len(text)
        while index < len(findings) and findings[index].end <= offset:
            index += 1
        local = []
        for finding in findings[index:]:
            if finding.start >= end:
                break
            start, stop = max(finding.start, offset) - offset, min(finding.end, end) - offset
            local.append(Finding(finding.kind, start, stop, finding.label))
        result.append(_apply(text, local))
        offset = end + 1
    return result


def redact_messages(texts: Sequence[str], keep: frozenset[Kind] = frozenset()) -> list[str]:
    """Redact consecutive messages of one person together, so that a number split over two
    messages ("4111 1111" then "1111 1111") is caught; each message keeps its own text, with
    the label in every message the number touched.

    Pass one person's messages in order (a customer's, without the bot's replies between
    them). Only messages that a run of digits may cross into (one ends with a digit, the next
    starts with one) are joined; the others are redacted alone. ``keep`` as in :func:`redact`.
    """
    result: list[str] = []
    chunk: list[str] = []
    for text in texts:
        if chunk and not _continues(chunk[-1], text):
            result += _redact_joined(chunk, keep)
            chunk = []
        chunk.append(text)
    if chunk:
        result += _redact_joined(chunk, keep)
    return result
