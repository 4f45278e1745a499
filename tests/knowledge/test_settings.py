from __future__ import annotations

from pathlib import Path

import pytest
from pydantic import ValidationError

from knowledge.settings import (
    FINETUNED_MODEL_DIR,
    PROJECT_ROOT,
    KnowledgeSettings,
    default_model_path,
)

_ENV = (
    "KB_DIR",
    "INDEX_DIR",
    "EMBEDDING_MODEL",
    "EMBEDDING_PRECISION",
    "QUERY_ENCODER",
    "CALIBRATION",
    "HELP_CENTER_URL",
    "MAX_QUERY_CHARS",
    "SEARCH_THREADS",
    "KB_RELOAD_SECONDS",
)


@pytest.fixture
def clean_env(monkeypatch: pytest.MonkeyPatch) -> pytest.MonkeyPatch:
    for name in _ENV:
        monkeypatch.delenv(f"NIVEL0_{name}", raising=False)
    return monkeypatch


def test_defaults_are_the_project_root_whatever_the_working_directory(
    tmp_path: Path, clean_env: pytest.MonkeyPatch
) -> None:
    clean_env.chdir(tmp_path)  # as the action server, which runs from bot/
    settings = KnowledgeSettings()
    assert settings.kb_dir == PROJECT_ROOT / "kb_articles"
    assert settings.index_dir == PROJECT_ROOT / "var/index"
    assert settings.calibration == PROJECT_ROOT / "knowledge/calibration.json"
    assert settings.embedding_model == str(FINETUNED_MODEL_DIR)
    assert settings.embedding_precision == "auto"
    assert settings.query_encoder == "onnx"
    assert settings.help_center_url == "http://localhost:8080/help"
    assert settings.max_query_chars == 1000
    assert settings.search_threads == 1
    assert settings.kb_reload_seconds == 2.0


def test_relative_paths_from_the_environment_resolve_against_the_project_root(
    tmp_path: Path, clean_env: pytest.MonkeyPatch
) -> None:
    clean_env.chdir(tmp_path)
    clean_env.setenv("NIVEL0_KB_DIR", "tests/eval")
    clean_env.setenv("NIVEL0_INDEX_DIR", str(tmp_path / "index"))
    settings = KnowledgeSettings()
    assert settings.kb_dir == PROJECT_ROOT / "tests/eval"
    assert settings.index_dir == tmp_path / "index"


def test_model_path_is_the_configured_model_and_never_a_silent_fallback(
    tmp_path: Path, clean_env: pytest.MonkeyPatch
) -> None:
    built = tmp_path / "model"
    built.mkdir()
    (built / "modules.json").write_text("[]")
    clean_env.setenv("NIVEL0_EMBEDDING_MODEL", str(built))
    assert KnowledgeSettings().model_path == built
    clean_env.setenv("NIVEL0_EMBEDDING_MODEL", "bundled")
    assert KnowledgeSettings().model_path == default_model_path()
    assert (default_model_path() / "modules.json").is_file()
    clean_env.setenv("NIVEL0_EMBEDDING_MODEL", str(tmp_path / "missing"))
    with pytest.raises(FileNotFoundError, match="NIVEL0_EMBEDDING_MODEL"):
        _ = KnowledgeSettings().model_path


def test_help_center_url_loses_its_trailing_slash(clean_env: pytest.MonkeyPatch) -> None:
    clean_env.setenv("NIVEL0_HELP_CENTER_URL", "https://help.voltia.example/")
    assert KnowledgeSettings().help_center_url == "https://help.voltia.example"


def test_search_threads_default_and_override(clean_env: pytest.MonkeyPatch) -> None:
    import torch

    before = torch.get_num_threads()
    try:
        assert KnowledgeSettings().limit_search_threads() == 1
        assert torch.get_num_threads() == 1
        clean_env.setenv("NIVEL0_SEARCH_THREADS", "2")
        assert KnowledgeSettings().limit_search_threads() == 2
        assert torch.get_num_threads() == 2
    finally:
        torch.set_num_threads(before)


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("SEARCH_THREADS", "two"),
        ("SEARCH_THREADS", "0"),
        ("MAX_QUERY_CHARS", "-1"),
        ("KB_RELOAD_SECONDS", "-1"),
        ("KB_RELOAD_SECONDS", "soon"),
        ("EMBEDDING_PRECISION", "fp8"),
        ("QUERY_ENCODER", "gpu"),
    ],
)
def test_bad_values_are_a_clear_error_naming_the_setting(
    clean_env: pytest.MonkeyPatch, name: str, value: str
) -> None:
    clean_env.setenv(f"NIVEL0_{name}", value)
    with pytest.raises(ValidationError, match=name.lower()):
        KnowledgeSettings()


@pytest.mark.parametrize(
    ("name", "value", "expected"),
    [("EMBEDDING_PRECISION", " BFLOAT16 ", "bfloat16"), ("QUERY_ENCODER", "Torch", "torch")],
)
def test_choices_are_normalised(
    clean_env: pytest.MonkeyPatch, name: str, value: str, expected: str
) -> None:
    clean_env.setenv(f"NIVEL0_{name}", value)
    assert getattr(KnowledgeSettings(), name.lower()) == expected
