"""Server-side SVG charts for the console: plain functions returning inline ``<svg>`` markup.

No script and no inline style, so the console's Content-Security-Policy holds: colours come
from classes in ``static/console.css`` (``tone-<n>``). Every label is escaped here. A chart
is ``role="img"`` named by its ``<title>`` and described by its ``<desc>``; the page puts the
same numbers in a table next to it, which is the accessible version.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from markupsafe import Markup, escape

WIDTH = 560  # about the width of a half-page card: text at its own size
LABEL_WIDTH = 130  # the bars' labels, left
NOTE_WIDTH = 100  # the note after each bar, right
BAR_WIDTH = WIDTH - LABEL_WIDTH - NOTE_WIDTH
ROW_HEIGHT = 26
BAR_HEIGHT = 18
LEGEND_ROW = 20
LEGEND_COLUMNS = 2
MAX_LABEL_CHARS = 18
MAX_LEGEND_CHARS = 40


@dataclass(frozen=True)
class StackedBar:
    """One bar of a stacked chart: one value per series (counts), drawn as shares of their
    sum; ``note`` is written after the bar (e.g. its total)."""

    label: str
    values: Sequence[float]
    note: str = ""


@dataclass(frozen=True)
class Bar:
    """One bar of a bar chart: ``value`` is a fraction 0-1 (None: no bar, only the note)."""

    label: str
    value: float | None
    note: str = ""


def _short(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _number(value: float) -> str:
    return f"{value:.2f}".rstrip("0").rstrip(".")


def _svg(chart_id: str, title: str, description: str, height: int, body: list[str]) -> Markup:
    head = (
        f'<svg class="chart" id="{escape(chart_id)}" role="img" '
        f'viewBox="0 0 {WIDTH} {height}" width="{WIDTH}" height="{height}" '
        f'aria-labelledby="{escape(chart_id)}-title {escape(chart_id)}-desc">'
        f'<title id="{escape(chart_id)}-title">{escape(title)}</title>'
        f'<desc id="{escape(chart_id)}-desc">{escape(description)}</desc>'
    )
    return Markup(head + "".join(body) + "</svg>")


def _label(y: float, text: str) -> str:
    """A bar's label, right-aligned before the bar (shortened; the full text as a tooltip)."""
    return (
        f'<text class="label" x="{LABEL_WIDTH - 8}" y="{_number(y)}" text-anchor="end" '
        f'dominant-baseline="middle"><title>{escape(text)}</title>'
        f"{escape(_short(text, MAX_LABEL_CHARS))}</text>"
    )


def _note(y: float, text: str) -> str:
    return (
        f'<text class="note" x="{LABEL_WIDTH + BAR_WIDTH + 8}" y="{_number(y)}" '
        f'dominant-baseline="middle">{escape(text)}</text>'
    )


def _rect(css: str, x: float, y: float, width: float, tooltip: str | None = None) -> str:
    tip = f"<title>{escape(tooltip)}</title>" if tooltip else ""
    return (
        f'<rect class="{css}" x="{_number(x)}" y="{_number(y)}" width="{_number(width)}" '
        f'height="{BAR_HEIGHT}">{tip}</rect>'
    )


def stacked_bars(
    chart_id: str,
    title: str,
    description: str,
    series: Sequence[str],
    bars: Sequence[StackedBar],
    tones: Sequence[int] | None = None,
) -> Markup:
    """One horizontal bar per item of ``bars``, its values stacked left to right in the
    order of ``series`` as shares of the bar's total (every bar is 100 % wide; a bar whose
    values add up to 0 is an empty track), with a legend of ``series`` below. ``tones``
    picks each series' colour class ``tone-<n>`` (default: 0, 1, 2, ...)."""
    tones = list(tones) if tones is not None else list(range(len(series)))
    if len(tones) != len(series) or any(len(bar.values) != len(series) for bar in bars):
        raise ValueError("one tone and one value per bar for each series")
    body: list[str] = []
    for row, bar in enumerate(bars):
        top = row * ROW_HEIGHT + (ROW_HEIGHT - BAR_HEIGHT) / 2
        middle = row * ROW_HEIGHT + ROW_HEIGHT / 2
        body.append(_label(middle, bar.label))
        body.append(_rect("track", LABEL_WIDTH, top, BAR_WIDTH))
        total = sum(bar.values)
        x = float(LABEL_WIDTH)
        for name, tone, value in zip(series, tones, bar.values, strict=True):
            if total <= 0 or value <= 0:
                continue
            width = BAR_WIDTH * value / total
            tooltip = f"{bar.label} · {name}: {_number(value)} ({value / total:.0%})"
            body.append(_rect(f"segment tone-{tone}", x, top, width, tooltip))
            x += width
        body.append(_note(middle, bar.note))
    legend_top = len(bars) * ROW_HEIGHT + 10
    column_width = WIDTH / LEGEND_COLUMNS
    for index, (name, tone) in enumerate(zip(series, tones, strict=True)):
        row, column = divmod(index, LEGEND_COLUMNS)
        x = column * column_width + 8
        y = legend_top + row * LEGEND_ROW
        body.append(
            f'<rect class="tone-{tone}" x="{_number(x)}" y="{_number(y)}" width="12" '
            'height="12"></rect>'
        )
        body.append(
            f'<text class="legend" x="{_number(x + 18)}" y="{_number(y + 6)}" '
            f'dominant-baseline="middle">{escape(_short(name, MAX_LEGEND_CHARS))}</text>'
        )
    legend_rows = -(-len(series) // LEGEND_COLUMNS)
    height = legend_top + legend_rows * LEGEND_ROW
    return _svg(chart_id, title, description, height, body)


def horizontal_bars(chart_id: str, title: str, description: str, bars: Sequence[Bar]) -> Markup:
    """One horizontal bar per item of ``bars``, as long as its fraction of the full width,
    on a track showing the full width; the note after it."""
    body: list[str] = []
    for row, bar in enumerate(bars):
        top = row * ROW_HEIGHT + (ROW_HEIGHT - BAR_HEIGHT) / 2
        middle = row * ROW_HEIGHT + ROW_HEIGHT / 2
        body.append(_label(middle, bar.label))
        body.append(_rect("track", LABEL_WIDTH, top, BAR_WIDTH))
        if bar.value is not None and bar.value > 0:
            width = BAR_WIDTH * min(bar.value, 1.0)
            body.append(_rect("bar", LABEL_WIDTH, top, width, f"{bar.label}: {bar.note}"))
        body.append(_note(middle, bar.note))
    return _svg(chart_id, title, description, max(len(bars), 1) * ROW_HEIGHT, body)
