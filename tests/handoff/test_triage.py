"""Triage: request types from signals, ordered routing rules, the classifier and its report."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from pydantic import ValidationError

from handoff_service.settings import Settings
from handoff_service.triage.classifier import TriageClassifier, load_examples, write_evaluation
from handoff_service.triage.request_types import classify_request_type
from handoff_service.triage.rules import RoutingRules, TicketFacts
from handoff_service.vocabulary import (
    Category,
    Channel,
    HandoffReason,
    Language,
    Priority,
    RequestType,
)

DATA = Settings().triage_data_path


@pytest.mark.parametrize(
    ("text", "reason", "expected"),
    [
        (
            "Me han cobrado dos veces y exijo que me devuelvan el dinero",
            "customer_request",
            "reclamo",
        ),
        ("You charged me twice, I want my money back", "customer_request", "reclamo"),
        ("Quiero poner una QUEJA por la mala atención", "customer_request", "queja"),
        ("The agent was rude, this is unacceptable", "low_confidence", "queja"),
        ("Sugiero que añadáis pago con criptomonedas", "customer_request", "sugerencia"),
        (
            "¿Qué me recomiendas, el portátil de 14 o el de 16 pulgadas?",
            "low_confidence",
            "consulta",
        ),
        ("¿Cuánto tarda el envío a Canarias?", "low_confidence", "peticion"),
        ("Cambiad la dirección de mi pedido", "customer_request", "solicitud"),
        ("Cambiad la dirección de mi pedido", "complaint", "queja"),
    ],
)
def test_request_type_signals(text: str, reason: str, expected: str) -> None:
    assert classify_request_type(text, HandoffReason(reason)) is RequestType(expected)


def _facts(**overrides: object) -> TicketFacts:
    values: dict[str, object] = {
        "category": Category.SHIPPING,
        "request_type": RequestType.SOLICITUD,
        "priority": Priority.NORMAL,
        "language": Language.ES,
        "channel": Channel.WEB,
        "reason": HandoffReason.CUSTOMER_REQUEST,
        "text": "el paquete no llega",
        "customer": {"name": None, "email": "a@b.es", "phone": None, "order_number": None},
    }
    values.update(overrides)
    return TicketFacts(**values)  # type: ignore[arg-type]


RULES = RoutingRules.model_validate(
    {
        "rules": [
            {"name": "fraud", "when": {"keywords": ["fraude", "hacked"]}, "queue": "security"},
            {"name": "claims", "when": {"request_type": ["reclamo", "queja"]}, "queue": "claims"},
            {
                "name": "es-logistics-with-order",
                "when": {
                    "category": ["shipping"],
                    "language": ["es"],
                    "customer_has": ["order_number"],
                },
                "queue": "logistica",
            },
            {"name": "corporate", "when": {"email_domains": ["empresa.es"]}, "queue": "b2b"},
            {"name": "default", "queue": "general"},
        ]
    }
)


def test_first_matching_rule_wins() -> None:
    # matches both 'fraud' and 'claims': the earlier rule decides
    facts = _facts(text="Creo que es un FRAUDE", request_type=RequestType.RECLAMO)
    assert RULES.route(facts).name == "fraud"
    assert RULES.route(_facts(request_type=RequestType.QUEJA)).queue == "claims"


def test_rules_look_at_language_keywords_and_customer_fields() -> None:
    with_order = {"name": None, "email": "a@b.es", "phone": None, "order_number": "VT-1"}
    assert RULES.route(_facts(customer=with_order)).queue == "logistica"
    assert RULES.route(_facts(customer=with_order, language=Language.EN)).queue == "general"
    assert RULES.route(_facts(text="my account was hacked!")).queue == "security"
    assert RULES.route(_facts(text="hackedx")).queue == "general"  # whole words only
    corporate = {"name": None, "email": "it@Empresa.es", "phone": None, "order_number": None}
    assert RULES.route(_facts(customer=corporate)).queue == "b2b"
    assert RULES.route(_facts()).queue == "general"


def test_a_default_rule_is_required() -> None:
    with pytest.raises(ValidationError, match="default"):
        RoutingRules.model_validate(
            {"rules": [{"name": "a", "when": {"language": ["es"]}, "queue": "x"}]}
        )
    with pytest.raises(ValidationError):
        RoutingRules.model_validate(
            {"rules": [{"name": "a", "when": {"colour": ["red"]}, "queue": "x"}]}
        )


def test_shipped_rules_file_is_valid_and_routes_sensitive_data_privately() -> None:
    rules = RoutingRules.load(Settings().routing_rules_path)
    assert rules.rules[-1].when.is_empty()
    facts = _facts(reason=HandoffReason.SENSITIVE_DATA, category=Category.PAYMENTS)
    assert rules.route(facts).queue == "private-desk"


def test_dataset_is_bilingual_and_covers_every_category_and_priority() -> None:
    examples = load_examples(DATA)
    assert len(examples) >= 300
    assert {e.language for e in examples} == {"en", "es"}
    assert {e.category for e in examples} == {c.value for c in Category}
    assert {e.priority for e in examples} == {p.value for p in Priority}


def test_classifier_is_reproducible_and_cached(tmp_path: Path) -> None:
    model_path = tmp_path / "triage.joblib"
    first = TriageClassifier.load_or_train(DATA, model_path)
    assert model_path.exists()
    again = TriageClassifier.load_or_train(DATA, model_path)  # from the cache
    retrained = TriageClassifier.train(load_examples(DATA))
    for text in ("me han cobrado dos veces", "the battery is swollen", "quiero mis datos"):
        assert first.predict(text) == again.predict(text) == retrained.predict(text)
    prediction = first.predict("My card was charged twice for the same order")
    assert prediction.category is Category.PAYMENTS
    assert 0 < prediction.category_confidence <= 1


def test_evaluation_report_has_macro_f1_on_a_held_out_split(tmp_path: Path) -> None:
    out = tmp_path / "triage_eval.json"
    report = write_evaluation(DATA, out)
    assert json.loads(out.read_text()) == report
    for target in ("category", "priority"):
        assert report[target]["test"] > 0 and report[target]["train"] > report[target]["test"]
        assert 0 <= report[target]["macro_f1"] <= 1
    # quality floor for category: far above chance (1/12); see the report for the figures
    assert report["category"]["macro_f1"] >= 0.6
