"""Every customer-facing text of the website, help centre and chat widget, in ``en`` and ``es``.

``STRINGS[language][key]``; the widget receives the ``widget_*`` keys of both languages so that
the customer can switch language without reloading the page. Category names are
:data:`knowledge.articles.CATEGORY_LABELS`, the article format's own vocabulary.
"""

from __future__ import annotations

from knowledge.settings import LANGUAGES

STRINGS: dict[str, dict[str, str]] = {
    "en": {
        "language_name": "English",
        "skip_to_content": "Skip to content",
        "nav_label": "Main",
        "nav_shop": "Shop",
        "nav_help": "Help centre",
        "switch_language": "Language",
        "home_title": "Voltia — electronics delivered across the EU",
        "home_hero_title": "Tech you love, delivered from Spain to your door",
        "home_hero_text": (
            "Phones, laptops, TVs, headphones and smart-home devices with free returns "
            "within 30 days and a 3-year warranty."
        ),
        "home_cta": "Browse the help centre",
        "home_products": "Popular right now",
        "product_phone": "Voltia X12 smartphone",
        "product_laptop": "Aero 14 laptop",
        "product_tv": 'Lumen 55" 4K TV',
        "product_headphones": "Quiet Pro headphones",
        "home_help_title": "Need help?",
        "home_help_text": (
            "Ask our assistant in the chat (bottom right) or search the help centre. "
            "If the assistant can't solve it, it passes you to a person."
        ),
        "footer": "Voltia is a sample shop for the nivel0 demo. No real orders are taken.",
        "help_title": "Help centre",
        "help_intro": "Answers to the most common questions about orders, returns and devices.",
        "search_label": "Search the help centre",
        "search_placeholder": "e.g. my package hasn't arrived",
        "search_button": "Search",
        "search_title": "Search results",
        "search_results_for": "Results for",
        "search_answer": "Best answer",
        "search_clarify": "Did you mean one of these?",
        "search_fallback": "Sorry, nothing in the help centre matched your question.",
        "search_fallback_chat": "Ask the assistant in the chat",
        "search_empty": "Type a question to search the help centre.",
        "search_too_long": "Your question is too long. Please shorten it and try again.",
        "search_no_letters": "Please type your question in words.",
        "search_unavailable": "Search is not available right now. Please try again later.",
        "read_article": "Read the full article",
        "updated": "Updated",
        "back_to_help": "All help topics",
        "breadcrumb": "Breadcrumb",
        "other_language": "Leer en español",
        "article_in_category": "Category",
        "articles_count": "articles",
        "not_found_title": "Page not found",
        "not_found_text": "We couldn't find that page. It may have moved or never existed.",
        "unavailable_title": "The help centre is not available right now",
        "unavailable_text": "Please try again in a few minutes, or ask the assistant in the chat.",
        "widget_open": "Open chat with the Voltia assistant",
        "widget_close": "Close chat",
        "widget_title": "Voltia assistant",
        "widget_log": "Conversation",
        "widget_input_label": "Your message",
        "widget_placeholder": "Type your question…",
        "widget_send": "Send",
        "widget_language": "Chat language",
        "widget_typing": "The assistant is typing…",
        "widget_you": "You",
        "widget_bot": "Assistant",
        "widget_welcome": "Hi! I'm Voltia's assistant. Ask me about orders, returns or devices.",
        "widget_offline": "Can't reach the assistant right now. Please try again.",
        "widget_retry": "Not sent. Try again",
        "widget_no_reply": "The assistant did not answer. Please try again.",
        "widget_too_long": "That message is too long for the chat: please sum it up in a few "
        "sentences.",
        "widget_restart": "New conversation",
    },
    "es": {
        "language_name": "Español",
        "skip_to_content": "Saltar al contenido",
        "nav_label": "Principal",
        "nav_shop": "Tienda",
        "nav_help": "Centro de ayuda",
        "switch_language": "Idioma",
        "home_title": "Voltia — electrónica con envío a toda la UE",
        "home_hero_title": "La tecnología que te gusta, de España a tu puerta",
        "home_hero_text": (
            "Móviles, portátiles, televisores, auriculares y hogar inteligente con devolución "
            "gratuita en 30 días y 3 años de garantía."
        ),
        "home_cta": "Ir al centro de ayuda",
        "home_products": "Lo más vendido",
        "product_phone": "Smartphone Voltia X12",
        "product_laptop": "Portátil Aero 14",
        "product_tv": 'Televisor Lumen 55" 4K',
        "product_headphones": "Auriculares Quiet Pro",
        "home_help_title": "¿Necesitas ayuda?",
        "home_help_text": (
            "Pregunta a nuestro asistente en el chat (abajo a la derecha) o busca en el centro "
            "de ayuda. Si el asistente no lo resuelve, te pasa con una persona."
        ),
        "footer": "Voltia es una tienda de ejemplo para la demo de nivel0. No se aceptan pedidos.",
        "help_title": "Centro de ayuda",
        "help_intro": "Respuestas a las preguntas más habituales sobre pedidos, devoluciones y "
        "dispositivos.",
        "search_label": "Buscar en el centro de ayuda",
        "search_placeholder": "p. ej. no me ha llegado el paquete",
        "search_button": "Buscar",
        "search_title": "Resultados de búsqueda",
        "search_results_for": "Resultados para",
        "search_answer": "Mejor respuesta",
        "search_clarify": "¿Te refieres a alguno de estos?",
        "search_fallback": "Lo sentimos, nada del centro de ayuda coincide con tu pregunta.",
        "search_fallback_chat": "Pregunta al asistente en el chat",
        "search_empty": "Escribe una pregunta para buscar en el centro de ayuda.",
        "search_too_long": "Tu pregunta es demasiado larga. Acórtala y vuelve a intentarlo.",
        "search_no_letters": "Escribe tu pregunta con palabras.",
        "search_unavailable": "La búsqueda no está disponible ahora. Inténtalo más tarde.",
        "read_article": "Leer el artículo completo",
        "updated": "Actualizado",
        "back_to_help": "Todos los temas de ayuda",
        "breadcrumb": "Ruta de navegación",
        "other_language": "Read in English",
        "article_in_category": "Categoría",
        "articles_count": "artículos",
        "not_found_title": "Página no encontrada",
        "not_found_text": "No encontramos esa página. Puede que se haya movido o que no exista.",
        "unavailable_title": "El centro de ayuda no está disponible ahora",
        "unavailable_text": (
            "Inténtalo de nuevo en unos minutos o pregunta al asistente en el chat."
        ),
        "widget_open": "Abrir el chat con el asistente de Voltia",
        "widget_close": "Cerrar el chat",
        "widget_title": "Asistente de Voltia",
        "widget_log": "Conversación",
        "widget_input_label": "Tu mensaje",
        "widget_placeholder": "Escribe tu pregunta…",
        "widget_send": "Enviar",
        "widget_language": "Idioma del chat",
        "widget_typing": "El asistente está escribiendo…",
        "widget_you": "Tú",
        "widget_bot": "Asistente",
        "widget_welcome": "¡Hola! Soy el asistente de Voltia. Pregúntame por pedidos, "
        "devoluciones o dispositivos.",
        "widget_offline": "No podemos contactar con el asistente. Inténtalo de nuevo.",
        "widget_retry": "No enviado. Reintentar",
        "widget_no_reply": "El asistente no ha respondido. Inténtalo de nuevo.",
        "widget_too_long": "Ese mensaje es demasiado largo para el chat: resúmelo en unas pocas "
        "frases, por favor.",
        "widget_restart": "Nueva conversación",
    },
}


def widget_strings() -> dict[str, dict[str, str]]:
    """The widget's texts in every language, keyed without the ``widget_`` prefix."""
    return {
        lang: {
            k.removeprefix("widget_"): v
            for k, v in STRINGS[lang].items()
            if k.startswith("widget_")
        }
        for lang in LANGUAGES
    }
