"""Article bodies: Markdown to HTML with raw HTML disabled (it is shown escaped)."""

from __future__ import annotations

from markdown_it import MarkdownIt
from markupsafe import Markup

_MARKDOWN = MarkdownIt("commonmark", {"html": False, "typographer": False}).enable("table")


def markdown_to_html(text: str) -> Markup:
    """Safe HTML for a Markdown body: raw HTML is escaped, unsafe link schemes are dropped."""
    return Markup(_MARKDOWN.render(text))
