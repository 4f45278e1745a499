"""The five-second summary an agent reads first, generated when the bot sends none."""

from __future__ import annotations

from handoff_service.schemas import HandoffIn

REASONS = {
    "en": {
        "customer_request": "customer asked for a person",
        "low_confidence": "bot was not confident",
        "negative_feedback": "answers did not help",
        "complaint": "complaint",
        "sensitive_data": "sensitive data",
    },
    "es": {
        "customer_request": "el cliente pidió una persona",
        "low_confidence": "el bot no estaba seguro",
        "negative_feedback": "las respuestas no ayudaron",
        "complaint": "queja",
        "sensitive_data": "datos sensibles",
    },
}
LABELS = {
    "en": {"intent": "Intent", "asked": "Customer", "kb": "KB shown", "not_helpful": "not helpful"},
    "es": {
        "intent": "Intención",
        "asked": "Cliente",
        "kb": "KB mostrada",
        "not_helpful": "no útil",
    },
}
MAX_QUOTE = 160


def _shorten(text: str, limit: int) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1].rstrip() + "…"


def customer_text(handoff: HandoffIn) -> str:
    """Everything the customer wrote, in order (what triage reads)."""
    return "\n".join(m.text for m in handoff.transcript if m.role == "customer")


def summarise(handoff: HandoffIn) -> str:
    """One line: why it was handed over, the top intent, the customer's first words, KB shown."""
    lang = handoff.language.value
    labels = LABELS[lang]
    parts = [f"[{REASONS[lang][handoff.reason.value]}]"]
    if handoff.intent_ranking:
        top = max(handoff.intent_ranking, key=lambda i: i.confidence)
        parts.append(f"{labels['intent']}: {top.name} ({top.confidence:.0%})")
    first = next(m.text for m in handoff.transcript if m.role == "customer")
    parts.append(f'{labels["asked"]}: "{_shorten(first, MAX_QUOTE)}"')
    if handoff.kb_articles:
        shown = ", ".join(
            a.article_id + (f" ({labels['not_helpful']})" if a.feedback == "not_helpful" else "")
            for a in handoff.kb_articles[:3]
        )
        parts.append(f"{labels['kb']}: {shown}")
    return _shorten(" · ".join(parts), 500)
