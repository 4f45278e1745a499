"""Accessibility audits in the browser tests: axe-core's WCAG 2.1 level A and AA rules.

axe-core (4.12.1) is the copy vendored in the ``axe-playwright-python`` package. It is
evaluated through Playwright (the DevTools protocol), not added as a ``<script>`` tag, so the
pages' Content-Security-Policy (same-origin scripts only) does not block it.
"""

from __future__ import annotations

from functools import cache
from importlib.resources import files
from typing import Any

WCAG_21_AA = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa"]

_RUN = """async ([context, tags]) => {
    const results = await axe.run(context || document, {
        runOnly: {type: 'tag', values: tags},
        resultTypes: ['violations'],
    });
    return results.violations;
}"""


@cache
def _axe_source() -> str:
    return files("axe_playwright_python").joinpath("axe.min.js").read_text(encoding="utf-8")


def axe_violations(page: Any, selector: str | None = None) -> list[dict[str, Any]]:
    """The WCAG 2.1 A/AA violations axe-core finds on ``page`` (a Playwright ``Page``), in the
    element matching ``selector`` if given, else in the whole document. Each violation is axe's
    result dict (``id``, ``impact``, ``help``, ``helpUrl``, ``nodes`` with ``target`` and
    ``failureSummary``)."""
    if not page.evaluate("typeof window.axe !== 'undefined'"):
        page.evaluate(_axe_source())
    return page.evaluate(_RUN, [selector, WCAG_21_AA])


def describe(violations: list[dict[str, Any]]) -> str:
    """A readable report: one block per rule with its impact and the offending nodes."""
    lines = []
    for violation in violations:
        lines.append(f"{violation['id']} ({violation['impact']}): {violation['help']}")
        lines.append(f"  {violation['helpUrl']}")
        for node in violation["nodes"]:
            target = " ".join(str(part) for part in node["target"])
            lines.append(f"  - {target}")
            summary = (node.get("failureSummary") or "").strip()
            lines.extend(f"      {line.strip()}" for line in summary.splitlines())
    return "\n".join(lines)


def assert_accessible(page: Any, selector: str | None = None) -> None:
    """Fail the test, listing each rule and node, if axe-core finds any WCAG 2.1 A/AA
    violation on ``page`` (or inside ``selector``)."""
    violations = axe_violations(page, selector)
    where = f" in {selector}" if selector else ""
    assert not violations, (
        f"axe-core found {len(violations)} WCAG 2.1 AA violation(s) on {page.url}{where}:\n"
        + describe(violations)
    )
