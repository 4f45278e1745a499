"""PII redaction, property-based (hypothesis): generated cards, IBANs, accounts and IDs written
with random separators inside random text never survive; order-number-like strings always do."""

from __future__ import annotations

import re

from hypothesis import assume, given, settings
from hypothesis import strategies as st
from stdnum import iban, luhn
from stdnum.es import ccc, dni, nie

from handoff_service.redaction import redact, redact_messages

WORDS = st.text(alphabet="abcdefghij ñáéABC,.¿?:()", max_size=40)
SEPARATORS = st.sampled_from(["", " ", "  ", "-", " - ", ".", "\u00a0", "\u202f", "\n", "\r\n"])
EXAMPLES = settings(max_examples=300, deadline=None)


def digits_of(text: str) -> str:
    return re.sub(r"\D", "", text)


@st.composite
def card_numbers(draw: st.DrawFn) -> str:
    length = draw(st.integers(min_value=13, max_value=19))
    body = draw(st.text(alphabet="0123456789", min_size=length - 2, max_size=length - 2))
    digits = draw(st.sampled_from("23456")) + body
    return digits + luhn.calc_check_digit(digits)


@st.composite
def grouped(draw: st.DrawFn, number: str, sizes: tuple[int, ...] = (4,)) -> str:
    """``number`` in groups of a drawn size, joined by one drawn separator."""
    size = draw(st.sampled_from(sizes))
    separator = draw(SEPARATORS)
    return separator.join(number[i : i + size] for i in range(0, len(number), size))


@st.composite
def spanish_accounts(draw: st.DrawFn) -> str:
    bank = draw(st.text(alphabet="0123456789", min_size=8, max_size=8))
    account = draw(st.text(alphabet="0123456789", min_size=10, max_size=10))
    assume(account != "0" * 10)
    number = f"{bank}00{account}"
    return bank + ccc.calc_check_digits(number) + account


@st.composite
def ibans(draw: st.DrawFn) -> str:
    country, bban = draw(
        st.sampled_from(
            [
                ("ES", draw(spanish_accounts())),
                ("DE", draw(st.text(alphabet="0123456789", min_size=18, max_size=18))),
                (
                    "NL",
                    draw(st.text(alphabet="ABCDEFGHIJ", min_size=4, max_size=4))
                    + draw(st.text(alphabet="0123456789", min_size=10, max_size=10)),
                ),
            ]
        )
    )
    number = country + iban.calc_check_digits(f"{country}00{bban}") + bban
    assert iban.is_valid(number)
    return number.lower() if draw(st.booleans()) else number


@st.composite
def spanish_ids(draw: st.DrawFn) -> str:
    if draw(st.booleans()):
        number = f"{draw(st.integers(min_value=0, max_value=99_999_999)):08d}"
        letter = dni.calc_check_digit(number)
        if draw(st.booleans()):
            number = f"{number[:2]}.{number[2:5]}.{number[5:]}"
    else:
        number = draw(st.sampled_from("XYZ")) + f"{draw(st.integers(0, 9_999_999)):07d}"
        letter = nie.calc_check_digit(number)
        if draw(st.booleans()):
            number = f"{number[0]}-{number[1:]}"
    return number + draw(st.sampled_from(["", "-"])) + letter


@EXAMPLES
@given(before=WORDS, after=WORDS, card=card_numbers(), data=st.data())
def test_no_card_survives(before: str, after: str, card: str, data: st.DataObject) -> None:
    written = data.draw(grouped(card, (4, 3, 5, 19)))
    glue = data.draw(st.sampled_from(["", " ", ":", "\n"]))
    result = redact(f"{before}{glue}{written} {after}")
    assert f"****{card[-4:]}" in result
    assert card not in digits_of(result)
    assert written not in result


@EXAMPLES
@given(card=card_numbers(), cut=st.integers(min_value=1, max_value=12), data=st.data())
def test_no_card_split_over_two_messages_survives(card: str, cut: int, data: st.DataObject) -> None:
    first, second = card[:cut], card[cut:]
    before = data.draw(WORDS)
    result = redact_messages([f"{before} {first}", f"{second}"])
    assert card not in digits_of("".join(result))
    assert all(f"[card ****{card[-4:]}]" in message for message in result)


@EXAMPLES
@given(before=WORDS, after=WORDS, number=ibans(), data=st.data())
def test_no_iban_survives(before: str, after: str, number: str, data: st.DataObject) -> None:
    written = data.draw(grouped(number, (4,)).filter(lambda w: "\n" not in w and "." not in w))
    result = redact(f"{before} {written} {after}")
    assert f"[IBAN ****{number[-4:].upper()}]" in result
    assert number[4:] not in re.sub(r"[\W_]", "", result)


@EXAMPLES
@given(before=WORDS, after=WORDS, account=spanish_accounts(), data=st.data())
def test_no_spanish_account_survives(
    before: str, after: str, account: str, data: st.DataObject
) -> None:
    written = data.draw(grouped(account, (4, 10, 20)))
    result = redact(f"{before} {written} {after}")
    assert account not in digits_of(result)


@EXAMPLES
@given(before=WORDS, after=WORDS, number=spanish_ids())
def test_no_dni_or_nie_survives(before: str, after: str, number: str) -> None:
    result = redact(f"{before} {number} {after}")
    assert "[national ID]" in result
    assert digits_of(number) not in digits_of(result)


ORDER_LIKE = st.one_of(
    st.from_regex(r"VT-\d{5,6}", fullmatch=True),
    st.from_regex(r"(pedido|order|ref) [1-5]\d{5,8}", fullmatch=True),
    st.from_regex(r"T-20\d\d-\d{6}", fullmatch=True),
    st.from_regex(r"[A-Z]{2}\d{9}[A-Z]{2}", fullmatch=True),  # postal tracking numbers
    st.from_regex(r"\d{1,4},\d\d ?(€|EUR)", fullmatch=True),  # prices
    st.from_regex(r"([0-2]\d|3[01])/(0\d|1[0-2])/20\d\d", fullmatch=True),  # dates
    st.from_regex(r"[0-5]\d{4}", fullmatch=True),  # postcodes
    st.from_regex(r"\d{1,3} (unidades|units|cajas)", fullmatch=True),
)


@EXAMPLES
@given(before=WORDS, after=WORDS, kept=ORDER_LIKE)
def test_order_numbers_and_other_digits_survive(before: str, after: str, kept: str) -> None:
    assert kept in redact(f"{before} {kept} {after}")


@EXAMPLES
@given(number=st.from_regex(r"[2-6][0-9]{15}", fullmatch=True), before=WORDS)
def test_sixteen_digits_failing_the_luhn_check_survive(number: str, before: str) -> None:
    assume(not luhn.is_valid(number))
    assert number in redact(f"{before} {number}")


@settings(max_examples=300, deadline=None)
@given(text=st.text(max_size=300))
def test_redaction_is_idempotent(text: str) -> None:
    once = redact(text)
    assert redact(once) == once


@settings(max_examples=300, deadline=None)
@given(text=st.text(alphabet=st.characters(blacklist_categories=["Nd"]), max_size=200))
def test_text_without_digits_or_at_signs_is_unchanged(text: str) -> None:
    assume("@" not in text)
    assert redact(text) == text


@settings(max_examples=100, deadline=None)
@given(texts=st.lists(st.text(alphabet=st.characters(blacklist_categories=["Nd"]), max_size=80)))
def test_messages_without_digits_or_at_signs_are_unchanged(texts: list[str]) -> None:
    assume(not any("@" in text for text in texts))
    assert redact_messages(texts) == texts
