"""Sensitive topics a person must handle (billing disputes, account security, fraud).

A question matching :data:`SENSITIVE` is not answered from the knowledge base: the bot hands
over with the reason ``sensitive_data`` (the handoff service routes those to its security or
private desk queues). The patterns are deliberately narrow - "I forgot my password" is a KB
question, "my account was hacked" is not.
"""

from __future__ import annotations

import re

SENSITIVE = re.compile(
    r"\b("
    r"hack(ed|eado|eada|earon)|fraud[a-z]*|fraude|phishing|estafa(do|da)?|"
    r"suplantaci[oó]n|identity theft|stolen (account|card)|"
    r"(me han|han) robado (la|mi) (cuenta|tarjeta)|"
    r"unauthori[sz]ed (charge|payment|transaction|access)|"
    r"charge(d)? (that )?i didn'?t make|(charge|payment) i don'?t recogni[sz]e|"
    r"don'?t recogni[sz]e (a|the|this) (charge|payment)|"
    r"no reconozco (el|un|este|ese) (cargo|pago)|cargo que no he (hecho|realizado)|"
    r"dispute (a|the|this) (charge|payment|bill|invoice)|chargeback|contracargo|"
    r"disputa|charged twice|cobrado dos veces|doble cargo|double charge(d)?|"
    r"someone (used|is using|logged into) my (card|account)|"
    r"alguien (ha usado|usa|ha entrado en) mi (tarjeta|cuenta)"
    r")\b",
    re.IGNORECASE,
)


def is_sensitive(text: str | None) -> bool:
    return bool(text) and SENSITIVE.search(text or "") is not None
