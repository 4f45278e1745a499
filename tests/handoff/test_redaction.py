"""PII redaction: what customers really type is caught, everything else is kept, in linear time.

The generated variants (hypothesis) are in test_redaction_properties.py.
"""

from __future__ import annotations

import re
import time

import pytest
from fastapi.testclient import TestClient
from stdnum import luhn

from handoff_service.redaction import Kind, find, redact, redact_messages
from tests.handoff.conftest import handoff_payload

CARD = "4111111111111111"


def digits(text: str) -> str:
    return re.sub(r"\D", "", text)


@pytest.mark.parametrize(
    "written",
    [
        "4111 1111 1111 1111",
        "4111  1111  1111  1111",
        "4111.1111.1111.1111",
        "4111-1111-1111-1111",
        "4111 - 1111 - 1111 - 1111",
        "4111\u00a01111\u00a01111\u00a01111",
        "4111\u202f1111\u202f1111\u202f1111",
        "4111\n1111\n1111\n1111",
        "4111 1111\r\n1111 1111",
        "4111111111111111",
    ],
)
def test_card_numbers_with_any_separator(written: str) -> None:
    result = redact(f"mi tarjeta es {written} gracias")
    assert result == "mi tarjeta es [card ****1111] gracias"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("VISA4111111111111111", "VISA[card ****1111]"),
        ("nº4111 1111 1111 1111", "nº[card ****1111]"),
        ("tarjeta:4111-1111-1111-1111", "tarjeta:[card ****1111]"),
        ("(4111 1111 1111 1111)", "([card ****1111])"),
        ("amex 3782 822463 10005.", "amex [card ****0005]."),
    ],
)
def test_card_numbers_glued_to_words(text: str, expected: str) -> None:
    assert redact(text) == expected


def test_a_card_split_over_two_messages_is_caught_in_the_transcript() -> None:
    messages = ["mi tarjeta es la 4111 1111", "1111 1111", "y caduca en 12/27"]
    assert [redact(m) for m in messages] == messages  # each half alone is not a card
    result = redact_messages(messages)
    assert CARD not in digits("".join(result))
    assert "1111 1111" not in " ".join(result)
    assert result[0].startswith("mi tarjeta es la [card ****1111]")
    assert result[2] == "y caduca en 12/27"


def test_messages_are_redacted_one_by_one_too() -> None:
    assert redact_messages(["hola", "mi DNI es 12345678Z", ""]) == [
        "hola",
        "mi DNI es [national ID]",
        "",
    ]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("the CVV is 123", "the CVV is [CVV]"),
        ("cvv: 123", "cvv: [CVV]"),
        ("CVV2 123", "CVV2 [CVV]"),
        ("cvc 123", "cvc [CVV]"),
        ("security code 4567", "security code [CVV]"),
        ("the security code on the back is 987", "the security code on the back is [CVV]"),
        ("el código de seguridad es 847", "el código de seguridad es [CVV]"),
        ("codigo de seguridad: 847", "codigo de seguridad: [CVV]"),
        ("847 es el cvv", "[CVV] es el cvv"),
        ("123 is the CVV", "[CVV] is the CVV"),
        ("y el cvv 321", "y el cvv [CVV]"),
    ],
)
def test_security_codes_in_both_languages(text: str, expected: str) -> None:
    assert redact(text) == expected


@pytest.mark.parametrize(
    "written",
    [
        "ES91 2100 0418 4502 0005 1332",
        "es91 2100 0418 4502 0005 1332",
        "ES91-2100-0418-4502-0005-1332",
        "es9121000418450200051332",
        "ES91\u00a02100\u00a00418\u00a04502\u00a00005\u00a01332",
    ],
)
def test_ibans_in_any_case_with_spaces_or_dashes(written: str) -> None:
    assert redact(f"mi IBAN {written}, gracias") == "mi IBAN [IBAN ****1332], gracias"


def test_foreign_ibans() -> None:
    assert redact("DE89 3704 0044 0532 0130 00") == "[IBAN ****3000]"
    assert redact("nl91abna0417164300") == "[IBAN ****4300]"


def test_iban_shaped_upper_case_with_a_mistyped_check_digit_is_still_redacted() -> None:
    """A mistyped number is still, nearly, someone's account; upper-case shape decides."""
    assert redact("IBAN ES00 2100 0418 4502 0005 1332") == "IBAN [IBAN ****1332]"


@pytest.mark.parametrize(
    "written", ["2100 0418 45 0200051332", "21000418450200051332", "2100-0418-45-0200051332"]
)
def test_spanish_domestic_account_numbers(written: str) -> None:
    assert redact(f"cuenta {written}") == "cuenta [bank account ****1332]"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("DNI 12345678Z", "DNI [national ID]"),
        ("12.345.678-Z", "[national ID]"),
        ("12345678-Z", "[national ID]"),
        ("12345678z", "[national ID]"),
        ("NIE X1234567L", "NIE [national ID]"),
        ("X-1234567-L", "[national ID]"),
        ("x1234567l", "[national ID]"),
        ("mi DNI es 12345678", "mi DNI es [national ID]"),
        ("mi dni: 12.345.678", "mi dni: [national ID]"),
        ("SSN 123-45-6789", "SSN [national ID]"),
    ],
)
def test_spanish_dni_and_nie(text: str, expected: str) -> None:
    assert redact(text) == expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        # Argentina: DNI after its keyword, CUIT/CUIL with its check digit
        ("mi DNI es 30.123.456", "mi DNI es [national ID]"),
        ("CUIT 20-12345678-6", "CUIT [national ID]"),
        ("cuil: 20123456786", "cuil: [national ID]"),
        ("20-12345678-6", "[national ID]"),
        # Mexico
        ("mi CURP es BOXW310820HNERXN09", "mi CURP es [national ID]"),
        ("curp boxw310820hnerxn09", "curp [national ID]"),
        ("RFC GODE561231GR8", "RFC [national ID]"),
        ("rfc ABC680524P76", "rfc [national ID]"),
        # Colombia
        ("mi cédula es 1.020.304.050", "mi cédula es [national ID]"),
        ("CC 1020304050", "CC [national ID]"),
        ("cedula de ciudadania 79.456.123", "cedula de ciudadania [national ID]"),
        ("NIT 890.903.938-8", "NIT [national ID]"),
        ("890903938-8", "[national ID]"),
        # Chile
        ("RUT 12.345.678-5", "RUT [national ID]"),
        ("12.345.678-5", "[national ID]"),
        ("rut 7.654.321-k", "rut [national ID]"),
        # Peru
        ("DNI: 45678912", "DNI: [national ID]"),
        # Brazil
        ("CPF 111.444.777-35", "CPF [national ID]"),
        ("111.444.777-35", "[national ID]"),
        ("meu cpf 11144477735", "meu cpf [national ID]"),
    ],
)
def test_latin_american_national_ids(text: str, expected: str) -> None:
    assert redact(text) == expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("pasaporte PAA123456", "pasaporte [passport]"),
        ("mi pasaporte es el XDA123456", "mi pasaporte es el [passport]"),
        ("nº de pasaporte: 123456789", "nº de pasaporte: [passport]"),
        ("passport number is 533401372", "passport number is [passport]"),
        ("my passport: C01X00T47", "my passport: [passport]"),
    ],
)
def test_passports_after_a_keyword(text: str, expected: str) -> None:
    assert redact(text) == expected


@pytest.mark.parametrize(
    "phone",
    [
        "+34 612 345 678",
        "+34612345678",
        "0034 612 345 678",
        "(+34) 612-34-56-78",
        "612 345 678",
        "612345678",
        "91 123 45 67",
        "+52 55 1234 5678",
        "+54 9 11 1234-5678",
        "+57 300 123 4567",
        "+56 9 1234 5678",
        "+51 987 654 321",
        "+44 20 7946 0958",
    ],
)
def test_phone_numbers(phone: str) -> None:
    assert redact(f"llámame al {phone}, gracias") == "llámame al [phone], gracias"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("mi celular es 300 123 4567", "mi celular es [phone]"),
        ("whatsapp: 55 1234 5678", "whatsapp: [phone]"),
        ("call me on 0207 946 0958", "call me on [phone]"),
    ],
)
def test_domestic_phone_numbers_after_a_keyword(text: str, expected: str) -> None:
    assert redact(text) == expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("escríbeme a juan.perez+tienda@gmail.com, gracias", "escríbeme a [email], gracias"),
        ("mail:ana_2@correo.example.es.", "mail:[email]."),
        ("Correo MARIA@EMPRESA.COM.MX", "Correo [email]"),
    ],
)
def test_email_addresses_inside_free_text(text: str, expected: str) -> None:
    assert redact(text) == expected


@pytest.mark.parametrize(
    "kept",
    [
        "Pedido VT-88123 sin llegar",
        "pedido 123456789",
        "order 612345678 has not arrived",
        "pedido nº 2026-000123",
        "mi número de pedido es 1000234",
        "ref 1234567890123",
        "tracking 1Z999AA10123456784",
        "seguimiento 9400 1111 2022 2333 4444 55",
        "número de seguimiento LX123456789ES",
        "el precio fue 1.299,99 € y luego 49.90 EUR",
        "lo pagué el 12/11/2026 a las 10:30, o sea el 2026-11-12",
        "código postal 28013, 3 unidades de 250 g",
        "4111 1111 1111 1112",
        "1234 5678 9012 3456",
        "factura F-2026-004512",
        "versión 3.6.21",
        "entre las 9 y las 14 h",
        "ticket T-2026-000123",
        "cuesta 12 euros, cvv no lo tengo",
    ],
)
def test_order_numbers_and_other_digits_are_kept(kept: str) -> None:
    assert redact(kept) == kept


def test_a_sixteen_digit_number_failing_the_luhn_check_is_kept() -> None:
    assert not luhn.is_valid("4111111111111112")
    assert redact("ref 4111111111111112") == "ref 4111111111111112"


def test_a_card_next_to_other_digits() -> None:
    assert redact("ref 12 4111 1111 1111 1111") in (
        "ref 12 [card ****1111]",
        "ref [card ****1111]",
    )


def test_find_reports_the_kinds() -> None:
    kinds = [f.kind for f in find("tarjeta 4111 1111 1111 1111, tel 612 345 678, a@b.es")]
    assert kinds == [Kind.CARD, Kind.PHONE, Kind.EMAIL]


def test_redaction_is_idempotent_on_its_own_labels() -> None:
    text = (
        "4111 1111 1111 1111 ES91 2100 0418 4502 0005 1332 cvv 123 12345678Z "
        "+34 612 345 678 a@b.es pasaporte PAA123456 2100 0418 45 0200051332"
    )
    once = redact(text)
    assert redact(once) == once
    assert not re.search(r"\d{5}", once)


def _best_of(runs: int, text: str) -> float:
    best = float("inf")
    for _ in range(runs):
        start = time.perf_counter()
        redact(text)
        best = min(best, time.perf_counter() - start)
    return best


@pytest.mark.parametrize(
    "unit",
    [
        "4111 1111 1111 1111 ",  # valid cards, one long run of digit groups
        "4111 1111 1111 1112 ",  # card-like, failing the check
        "4111111111111111",  # glued digits, no separator at all
        "a" * 19 + " ",  # letters: the e-mail and keyword patterns must not backtrack
    ],
)
def test_redaction_time_grows_linearly_with_the_text(unit: str) -> None:
    """The time for 16x the text is well under 16^2 = 256x (quadratic, today's code) and near
    16x (linear). A ratio against a baseline measured in the same run, not an absolute time."""
    small = unit * (20_000 // len(unit))
    large = unit * (320_000 // len(unit))
    baseline = _best_of(3, small)
    assert _best_of(2, large) < 64 * max(baseline, 1e-4)


# --- in the service: what a handoff stores --------------------------------------------------


def test_the_customer_name_and_order_number_fields_are_redacted(
    client: TestClient, tokens: dict[str, dict[str, str]]
) -> None:
    body = handoff_payload(
        customer={
            "name": "Lucía 12345678Z",
            "email": "lucia@example.com",
            "order_number": "4111 1111 1111 1111",
        }
    )
    response = client.post("/v1/handoffs", json=body, headers=tokens["bot"])
    assert response.status_code == 201, response.text
    number = response.json()["number"]
    ticket = client.get(f"/v1/tickets/{number}", headers=tokens["agent"]).json()
    assert ticket["customer_name"] == "Lucía [national ID]"
    assert ticket["order_number"] == "[card ****1111]"


def test_a_card_split_over_two_customer_messages_is_not_stored(
    client: TestClient, tokens: dict[str, dict[str, str]]
) -> None:
    body = handoff_payload(
        transcript=[
            {"role": "customer", "text": "mi tarjeta es la 4111 1111"},
            {"role": "bot", "text": "No compartas datos de tu tarjeta aquí."},
            {"role": "customer", "text": "1111 1111"},
        ]
    )
    response = client.post("/v1/handoffs", json=body, headers=tokens["bot"])
    assert response.status_code == 201, response.text
    number = response.json()["number"]
    ticket = client.get(f"/v1/tickets/{number}", headers=tokens["agent"]).json()
    texts = [m["text"] for m in ticket["transcript"]]
    assert texts[1] == "No compartas datos de tu tarjeta aquí."
    assert CARD not in digits(texts[0] + texts[2])
    assert "1111 1111" not in texts[0] + texts[2]


def test_a_replay_is_answered_from_the_conversation_id_before_the_transcript_is_validated(
    client: TestClient, tokens: dict[str, dict[str, str]]
) -> None:
    """A retrying bot resends the whole transcript; the ticket is found by its conversation
    id before anything is validated (and so redacted) again."""
    first = client.post(
        "/v1/handoffs", json=handoff_payload("conv-replayed"), headers=tokens["bot"]
    )
    assert first.status_code == 201
    # a body that would need validating (and fails it): the replay is answered first
    replay = handoff_payload("conv-replayed", transcript=[{"role": "customer", "text": ""}])
    again = client.post("/v1/handoffs", json=replay, headers=tokens["bot"])
    assert again.status_code == 200, again.text
    assert again.json()["number"] == first.json()["number"]
    # a new conversation with that body is validated as before
    fresh = client.post(
        "/v1/handoffs", json={**replay, "conversation_id": "c2"}, headers=tokens["bot"]
    )
    assert fresh.status_code == 422
    assert fresh.json()["detail"][0]["loc"][:2] == ["body", "transcript"]
    broken = client.post(
        "/v1/handoffs",
        content=b"{not json",
        headers={**tokens["bot"], "content-type": "application/json"},
    )
    assert broken.status_code == 422
