"""Ticket facts in the customer's words, in ``en`` and ``es``: one home for the texts that the
service's pages and e-mails and the bot's answers share (the bot imports them from here).

The due date is the end of a day in the organisation's time zone (``NIVEL0_TIMEZONE``), said as
a weekday and a date plus how far away it is in calendar days: "no later than Friday 28
November (in 3 days)". Weekday and month names come from Babel's locale data.
"""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

from babel.dates import format_date, format_datetime

from handoff_service.vocabulary import Status

# Customer language -> (Babel locale, date pattern): the names are Babel's, the order ours.
DATE_FORMATS = {
    "en": ("en_GB", "EEEE d MMMM"),  # Friday 28 November
    "es": ("es_ES", "EEEE d 'de' MMMM"),  # viernes 28 de noviembre
}

STATUS_TEXT: dict[str, dict[Status, str]] = {
    "en": {
        Status.NEW: "Received: an agent will pick it up soon.",
        Status.ASSIGNED: "An agent has taken your request.",
        Status.IN_PROGRESS: "We are working on your request.",
        Status.WAITING_ON_CUSTOMER: "We are waiting for information from you.",
        Status.RESOLVED: "Resolved.",
        Status.CLOSED: "Closed.",
    },
    "es": {
        Status.NEW: "Recibida: un agente la atenderá pronto.",
        Status.ASSIGNED: "Un agente se ha hecho cargo de tu solicitud.",
        Status.IN_PROGRESS: "Estamos trabajando en tu solicitud.",
        Status.WAITING_ON_CUSTOMER: "Estamos esperando información tuya.",
        Status.RESOLVED: "Resuelta.",
        Status.CLOSED: "Cerrada.",
    },
}


def _language(language: str) -> str:
    return language if language in DATE_FORMATS else "en"


def due_text(
    due_at: dt.datetime, language: str, timezone: ZoneInfo, now: dt.datetime | None = None
) -> str:
    """ "no later than Friday 28 November (in 3 days)" / "como tarde el viernes 28 de
    noviembre (dentro de 3 días)"; "today" and "tomorrow" are said as such. ``timezone``: the
    organisation's, in which the due date is a calendar day."""
    if due_at.tzinfo is None:
        due_at = due_at.replace(tzinfo=dt.UTC)
    due = due_at.astimezone(timezone).date()
    today = (now or dt.datetime.now(dt.UTC)).astimezone(timezone).date()
    days = (due - today).days
    lang = _language(language)
    locale, pattern = DATE_FORMATS[lang]
    date = format_date(due, pattern, locale=locale)
    if lang == "es":
        relative = {0: "hoy", 1: "mañana"}.get(days, f"dentro de {days} días")
        when = f"como tarde el {date}"
    else:
        relative = {0: "today", 1: "tomorrow"}.get(days, f"in {days} days")
        when = f"no later than {date}"
    return when if days < 0 else f"{when} ({relative})"


def when_text(moment: dt.datetime, language: str, timezone: ZoneInfo) -> str:
    """A moment in words and local time: "Friday 28 November, 14:05" / "viernes 28 de
    noviembre, 14:05" (message times on the private page and in e-mails)."""
    locale, pattern = DATE_FORMATS[_language(language)]
    return format_datetime(moment.astimezone(timezone), f"{pattern}, HH:mm", locale=locale)


#: A status lookup refused by a rate limit (HTTP 429); the API says both, the language unknown.
RATE_LIMITED: dict[str, str] = {
    "en": "Too many status lookups in a short time; please try again in a few minutes.",
    "es": "Demasiadas consultas de estado en poco tiempo; vuelve a intentarlo en unos minutos.",
}

#: The private ticket page (``/t/<key>``, handoff_service.portal): ``PORTAL[language][key]``.
#: ``{placeholders}`` are filled with str.format. Its 404 page shows both languages.
PORTAL: dict[str, dict[str, str]] = {
    "en": {
        "language_name": "English",
        "skip_to_content": "Skip to content",
        "nav_label": "Main",
        "nav_help": "Help centre",
        "switch_language": "Language",
        "title": "Your request {number}",
        "intro": "This is your request's private page. Here you can follow it and write to us.",
        "status": "Status",
        "due": "Expected answer",
        "conversation": "Conversation",
        "from_customer": "You",
        "from_bot": "Assistant",
        "from_agent": "Voltia support",
        "in_chat": "in the chat",
        "via_page": "on this page",
        "via_email": "by e-mail",
        "new_message": "New",
        "reply_heading": "Write to us",
        "reply_label": "Your message",
        "reply_hint": "Up to {max} characters. Card numbers and ID numbers are removed before we "
        "store your message.",
        "reply_button": "Send message",
        "reply_done": "Thank you: we have received your message and will answer here and by "
        "e-mail.",
        "reply_reopen_first": "This request is resolved. To write to us again, reopen it first.",
        "error_required": "Write your message before sending it.",
        "error_too_long": "Your message is too long: write at most {max} characters.",
        "error_invalid": "Your message contains characters we cannot store; please remove them.",
        "error_changed": "This request has changed in the meantime; please check it and try again.",
        "error_form": "The form could not be read. Please send it again from this page.",
        "error_rate_limited": "You have sent too many forms from this page in a short time. "
        "Please wait a few minutes and send it again.",
        "resolution": "How we solved it",
        "rating_heading": "How did we do?",
        "rating_legend": "Your rating",
        "rating_1": "1 — Very bad",
        "rating_2": "2 — Bad",
        "rating_3": "3 — Fair",
        "rating_4": "4 — Good",
        "rating_5": "5 — Very good",
        "rating_comment": "Comment (optional)",
        "rating_button": "Send rating",
        "rating_thanks": "Thank you for your rating.",
        "rating_yours": "You gave us {rating} out of 5.",
        "rating_change": "Change your rating",
        "rating_done": "Thank you: your rating has been saved.",
        "error_rating": "Choose a rating from 1 to 5.",
        "error_rating_comment": "Your comment is too long or contains characters we cannot "
        "store: write at most {max} characters.",
        "reopen_heading": "Not solved?",
        "reopen_text": "You can reopen this request until {date}.",
        "reopen_label": "What is still wrong?",
        "reopen_button": "Reopen the request",
        "reopen_done": "Your request is open again: an agent will look at it.",
        "error_reason": "Tell us what is still wrong (at most {max} characters).",
        "reopen_expired": "This request can no longer be reopened. If you still need help, ask "
        "our assistant in the chat of the help centre: it will pass you to a person if needed.",
        "new_chat": "Go to the help centre",
        "footer": "This page is private: anyone with its link can read it, so do not share it.",
    },
    "es": {
        "language_name": "Español",
        "skip_to_content": "Saltar al contenido",
        "nav_label": "Principal",
        "nav_help": "Centro de ayuda",
        "switch_language": "Idioma",
        "title": "Tu solicitud {number}",
        "intro": "Esta es la página privada de tu solicitud. Aquí puedes seguirla y escribirnos.",
        "status": "Estado",
        "due": "Respuesta prevista",
        "conversation": "Conversación",
        "from_customer": "Tú",
        "from_bot": "Asistente",
        "from_agent": "Soporte de Voltia",
        "in_chat": "en el chat",
        "via_page": "en esta página",
        "via_email": "por correo electrónico",
        "new_message": "Nuevo",
        "reply_heading": "Escríbenos",
        "reply_label": "Tu mensaje",
        "reply_hint": "Hasta {max} caracteres. Los números de tarjeta y de documentos de "
        "identidad se eliminan antes de guardar tu mensaje.",
        "reply_button": "Enviar mensaje",
        "reply_done": "Gracias: hemos recibido tu mensaje y te responderemos aquí y por correo "
        "electrónico.",
        "reply_reopen_first": "Esta solicitud está resuelta. Para volver a escribirnos, "
        "reábrela primero.",
        "error_required": "Escribe tu mensaje antes de enviarlo.",
        "error_too_long": "Tu mensaje es demasiado largo: escribe como máximo {max} caracteres.",
        "error_invalid": "Tu mensaje contiene caracteres que no podemos guardar; elimínalos, "
        "por favor.",
        "error_changed": "Esta solicitud ha cambiado mientras tanto; revísala y vuelve a "
        "intentarlo.",
        "error_form": "No hemos podido leer el formulario. Envíalo de nuevo desde esta página.",
        "error_rate_limited": "Has enviado demasiados formularios desde esta página en poco "
        "tiempo. Espera unos minutos y vuelve a enviarlo.",
        "resolution": "Cómo lo hemos resuelto",
        "rating_heading": "¿Qué tal lo hemos hecho?",
        "rating_legend": "Tu valoración",
        "rating_1": "1 — Muy mal",
        "rating_2": "2 — Mal",
        "rating_3": "3 — Regular",
        "rating_4": "4 — Bien",
        "rating_5": "5 — Muy bien",
        "rating_comment": "Comentario (opcional)",
        "rating_button": "Enviar valoración",
        "rating_thanks": "Gracias por tu valoración.",
        "rating_yours": "Nos has dado un {rating} de 5.",
        "rating_change": "Cambiar tu valoración",
        "rating_done": "Gracias: hemos guardado tu valoración.",
        "error_rating": "Elige una valoración del 1 al 5.",
        "error_rating_comment": "Tu comentario es demasiado largo o contiene caracteres que no "
        "podemos guardar: escribe como máximo {max} caracteres.",
        "reopen_heading": "¿No está resuelto?",
        "reopen_text": "Puedes reabrir esta solicitud hasta el {date}.",
        "reopen_label": "¿Qué sigue sin funcionar?",
        "reopen_button": "Reabrir la solicitud",
        "reopen_done": "Tu solicitud vuelve a estar abierta: un agente la revisará.",
        "error_reason": "Cuéntanos qué sigue sin funcionar (como máximo {max} caracteres).",
        "reopen_expired": "Esta solicitud ya no se puede reabrir. Si todavía necesitas ayuda, "
        "pregunta a nuestro asistente en el chat del centro de ayuda: si hace falta, te pasará "
        "con una persona.",
        "new_chat": "Ir al centro de ayuda",
        "footer": "Esta página es privada: cualquiera con su enlace puede leerla, así que no "
        "la compartas.",
    },
}

#: The private page's 404, in both languages (the language of a ticket not found is unknown).
PORTAL_NOT_FOUND: dict[str, dict[str, str]] = {
    "en": {
        "title": "Link not valid",
        "text": "This link does not lead to any request. It may be incomplete, or a newer "
        "link may have replaced it: use the link in our latest e-mail.",
    },
    "es": {
        "title": "Enlace no válido",
        "text": "Este enlace no lleva a ninguna solicitud. Puede que esté incompleto o que lo "
        "haya sustituido uno más reciente: usa el enlace de nuestro último correo.",
    },
}
