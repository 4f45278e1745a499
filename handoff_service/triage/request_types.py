"""Request type (PQR) from the customer's words and the handoff reason.

Ordered signals, first match wins: a claim (asks to review/undo a decision: refund, charge,
repair refused) beats a complaint (unhappy with how we acted), and so on; anything else is a
``solicitud``. Keywords are accent- and case-insensitive, Spanish and English.
"""

from __future__ import annotations

import re

from handoff_service.triage.text import fold
from handoff_service.vocabulary import HandoffReason, RequestType

_SIGNALS: list[tuple[RequestType, list[str]]] = [
    (
        RequestType.RECLAMO,
        [
            "reclamo",
            "reclamacion",
            "reclamar",
            "exijo",
            "devuelvan mi dinero",
            "devolucion del dinero",
            "cobro indebido",
            "me han cobrado dos veces",
            "cobrado dos veces",
            "revisen la decision",
            "rechazaron la garantia",
            "quiero que me reembolsen",
            "claim",
            "dispute",
            "charged twice",
            "double charged",
            "overcharged",
            "i demand",
            "reverse the decision",
            "refund my money",
            "want my money back",
            "review the decision",
        ],
    ),
    (
        RequestType.QUEJA,
        [
            "queja",
            "quejarme",
            "me quejo",
            "pesimo",
            "penoso",
            "vergonzoso",
            "inaceptable",
            "mal servicio",
            "mala atencion",
            "maleducado",
            "grosero",
            "complaint",
            "complain",
            "terrible service",
            "unacceptable",
            "rude",
            "disgusting",
            "worst service",
            "very disappointed",
            "appalling",
        ],
    ),
    (
        RequestType.SUGERENCIA,
        [
            "sugerencia",
            "sugiero",
            "propongo",
            "seria genial",
            "deberian anadir",
            "felicitar",
            "felicidades",
            "enhorabuena",
            "suggestion",
            "i suggest",
            "it would be nice",
            "you should add",
            "feature request",
            "congratulations",
            "well done",
            "compliment",
        ],
    ),
    (
        RequestType.CONSULTA,
        [
            "que me recomiendas",
            "que me recomienda",
            "me aconsejas",
            "cual es mejor",
            "que opinas",
            "recomendacion",
            "which one should",
            "what do you recommend",
            "do you recommend",
            "advice",
            "which is better",
            "should i buy",
        ],
    ),
    (
        RequestType.PETICION,
        [
            "informacion",
            "quisiera saber",
            "queria saber",
            "me podeis decir",
            "me puede decir",
            "cuanto tarda",
            "cuanto cuesta",
            "cuando llega",
            "donde esta",
            "information",
            "i would like to know",
            "can you tell me",
            "how long",
            "how much",
            "when will",
            "where is",
        ],
    ),
]

_PATTERNS = [
    (rtype, re.compile(r"\b(?:" + "|".join(re.escape(k) for k in keys) + r")\b"))
    for rtype, keys in _SIGNALS
]


def classify_request_type(text: str, reason: HandoffReason) -> RequestType:
    folded = fold(text)
    for rtype, pattern in _PATTERNS:
        if pattern.search(folded):
            return rtype
    if reason is HandoffReason.COMPLAINT:
        return RequestType.QUEJA
    return RequestType.SOLICITUD
