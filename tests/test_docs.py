"""The README documents every setting a process reads (so the docs cannot drift from code)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from actions.settings import ActionSettings
from pydantic_settings import BaseSettings

from help_center.settings import HelpCenterSettings
from knowledge.articles import Category
from knowledge.settings import KnowledgeSettings

ROOT = Path(__file__).resolve().parents[1]


def env_names(settings: type[BaseSettings]) -> list[str]:
    """The environment variable of each field of ``settings`` (its alias, else prefix+name)."""
    prefix = settings.model_config.get("env_prefix", "")
    names = []
    for name, field in settings.model_fields.items():
        if isinstance(field.default, BaseSettings) or field.default_factory is not None:
            continue  # a nested settings object: documented under its own class
        alias = field.validation_alias
        names.append(alias if isinstance(alias, str) else f"{prefix}{name}".upper())
    return names


@pytest.mark.parametrize(
    "settings", [KnowledgeSettings, ActionSettings, HelpCenterSettings], ids=lambda c: c.__name__
)
def test_readme_documents_every_setting(settings: type[BaseSettings]) -> None:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    missing = [name for name in env_names(settings) if f"`{name}`" not in readme]
    assert not missing, f"README.md does not document {missing}"


def test_kb_format_lists_exactly_the_category_vocabulary() -> None:
    text = (ROOT / "docs" / "kb-format.md").read_text(encoding="utf-8")
    listed = text.split("Categories:", 1)[1].split(".\n", 1)[0]
    assert re.findall(r"`([a-z-]+)`", listed) == [c.value for c in Category]
