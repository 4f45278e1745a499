"""Customer language (``es`` / ``en``) for the ``language`` slot.

Order of precedence, applied every user turn by ``action_detect_language``:
1. ``metadata.language`` sent by the website (``{"language": "es"}``, ``"es-ES"`` also works);
2. detection from the text: count Spanish and English marker words (frequent function words
   and support vocabulary; words common to both, like "me" or "no", are left out);
   Spanish-only characters (ñ, accents, ¿, ¡) count as Spanish;
3. when the text is ambiguous ("ok", "no", "asdf", a button payload) the language stays what
   it was (sticky), or the configured default (``NIVEL0_DEFAULT_LANGUAGE``, default ``en``;
   see :mod:`actions.settings`) at the start.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from actions.settings import get_settings
from knowledge.settings import LANGUAGES

SUPPORTED = LANGUAGES

_SPANISH_CHARS = re.compile(r"[ñáéíóúü¿¡]")
_WORD = re.compile(r"[a-zñáéíóúü]+")


def _words(text: str) -> frozenset[str]:
    return frozenset(text.split())


_SPANISH_WORDS = _words(
    """
    el la los las lo le les un una unos unas de del al que qué y o en con por para sin sobre
    mi mis tu te su sus se es son está esta estoy están fue ha he han hay hace era
    yo tú usted nosotros vosotros pero porque cuando cuándo donde dónde como cómo cuanto cuánto
    cuánta cual cuál quien quién muy más ya también todavía aún nada nadie algo alguien
    hola buenas buenos días tardes noches adiós adios gracias favor sí vale claro
    quiero puedo tengo necesito llega llegado recibido funciona sirve pedido pedidos envío
    envio devolver devolución devolucion reembolso factura contraseña contrasena correo
    cuenta tarjeta pago garantía garantia móvil movil portátil portatil auriculares tele
    hablar persona humano agente ayuda cambiar cancelar dinero datos paquete dirección
    tarda tardan cuesta aceptan aceptáis envían envian enviáis prende enciende carga llegó llego
    pagar comprar compré compre pedí pedi hacer hice puede pueden tiene tienen nuevo nueva otro
    otra este ese eso esto bien mal bueno
    """
)

_ENGLISH_WORDS = _words(
    """
    the an is are was were be been am i you your my we our it its this that these those
    to of and or in on at for with without from by about how what where when why which who
    do does did can could would should will have has had not
    hi hello hey thanks thank yes yeah yep please bye goodbye
    want need get got still arrived received working work order orders shipping delivery
    return refund invoice password account card payment warranty phone
    headphones tv talk speak human person agent help change cancel money data package address
    tell give show know make take like just there here if so up out all any some something
    one more other go see find use try isn don doesn didn won haven hasn wasn aren after
    into good morning stop send sending screen
    """
)


def default_language() -> str:
    return get_settings().default_language


def language_from_metadata(metadata: Mapping[str, Any] | None) -> str | None:
    """The language the website declared for this message, if it is one we support."""
    if not isinstance(metadata, Mapping):
        return None
    value = metadata.get("language")
    if not isinstance(value, str):
        return None
    code = value.strip().lower()[:2]
    return code if code in SUPPORTED else None


def detect_language(text: str | None) -> str | None:
    """``"es"``, ``"en"`` or ``None`` when the text gives no clear evidence."""
    if not text or text.lstrip().startswith("/"):  # empty, or a button payload like /affirm
        return None
    lowered = text.lower()
    words = _WORD.findall(lowered)
    spanish = sum(word in _SPANISH_WORDS for word in words)
    english = sum(word in _ENGLISH_WORDS for word in words)
    if _SPANISH_CHARS.search(lowered):
        spanish += 2
    if spanish > english:
        return "es"
    if english > spanish:
        return "en"
    return None


def resolve_language(
    text: str | None, metadata: Mapping[str, Any] | None, current: str | None
) -> str:
    """The language for this turn: metadata, else detection, else the current one (sticky)."""
    return (
        language_from_metadata(metadata)
        or detect_language(text)
        or (current if current in SUPPORTED else None)
        or default_language()
    )
