"""PII redaction: property-based (hypothesis) and examples."""

from __future__ import annotations

import re

from hypothesis import given, settings
from hypothesis import strategies as st
from stdnum import iban, luhn
from stdnum.es import dni, nie

from handoff_service.redaction import redact

WORDS = st.text(alphabet="abcdefghij ñáé,.¿?", max_size=40)


@st.composite
def card_numbers(draw: st.DrawFn) -> str:
    length = draw(st.integers(min_value=13, max_value=19))
    body = draw(st.text(alphabet="0123456789", min_size=length - 1, max_size=length - 1))
    digits = draw(st.sampled_from("3456")) + body[1:]
    return digits + luhn.calc_check_digit(digits)


@st.composite
def formatted(draw: st.DrawFn, digits: str) -> str:
    separator = draw(st.sampled_from(["", " ", "-"]))
    return separator.join(digits[i : i + 4] for i in range(0, len(digits), 4))


@settings(max_examples=300, deadline=None)
@given(before=WORDS, after=WORDS, card=card_numbers(), data=st.data())
def test_card_numbers_are_masked_keeping_the_last_four(before, after, card, data) -> None:
    written = data.draw(formatted(card))
    result = redact(f"{before} {written} {after}")
    assert f"[card ****{card[-4:]}]" in result
    assert card not in re.sub(r"\D", "", result.replace(f"****{card[-4:]}", ""))
    assert written not in result


@settings(max_examples=200, deadline=None)
@given(card=card_numbers(), prefix=st.integers(min_value=1, max_value=999))
def test_a_card_next_to_other_digits_is_still_masked(card: str, prefix: int) -> None:
    result = redact(f"ref {prefix} {card}")
    assert card not in result and f"****{card[-4:]}" in result


@settings(max_examples=200, deadline=None)
@given(text=st.text(max_size=200))
def test_redaction_is_idempotent(text: str) -> None:
    once = redact(text)
    assert redact(once) == once


@settings(max_examples=200, deadline=None)
@given(text=st.text(alphabet=st.characters(blacklist_categories=["Nd"]), max_size=200))
def test_text_without_digits_is_unchanged(text: str) -> None:
    assert redact(text) == text


@settings(max_examples=200, deadline=None)
@given(
    number=st.integers(min_value=0, max_value=99_999_999),
    letter=st.sampled_from("TRWAGMYFPDXBNJZSQVHLCKE"),
)
def test_spanish_dni_is_removed(number: int, letter: str) -> None:
    dni = f"{number:08d}{letter}"
    assert dni not in redact(f"mi DNI es {dni}, gracias")
    assert "[national ID]" in redact(f"mi DNI es {dni}, gracias")


def test_examples() -> None:
    assert redact("NIE X1234567L") == "NIE [national ID]"
    assert redact("SSN 123-45-6789") == "SSN [national ID]"
    assert redact("IBAN ES91 2100 0418 4502 0005 1332.") == "IBAN [IBAN ****1332]."
    assert redact("cvv: 123") == "cvv: [CVV]"
    assert redact("código de seguridad 9876") == "código de seguridad [CVV]"
    # numbers that cannot be cards are kept: order numbers, phones, dates
    kept = "Pedido VT-88123, tel +34 600 123 456, el 12/11/2026, ref 1234567890123"
    assert redact(kept) == kept


def test_iban_and_ids_are_redacted_even_with_wrong_check_digits() -> None:
    """Shape, not checksum, decides for IBAN/DNI/NIE: a mistyped number is still personal."""
    bad_iban = "ES00 2100 0418 4502 0005 1332"
    assert not iban.is_valid(bad_iban)
    assert redact(f"IBAN {bad_iban}") == "IBAN [IBAN ****1332]"
    assert not dni.is_valid("12345678A") and not nie.is_valid("X1234567A")
    assert redact("DNI 12345678A, NIE X1234567A") == "DNI [national ID], NIE [national ID]"


def test_digits_that_fail_the_card_check_are_kept() -> None:
    assert not luhn.is_valid("4111111111111112")
    assert redact("ref 4111 1111 1111 1112") == "ref 4111 1111 1111 1112"
