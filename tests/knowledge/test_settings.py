from __future__ import annotations

from pathlib import Path

import pytest

from knowledge.settings import (
    FINETUNED_MODEL_DIR,
    Settings,
    default_model_path,
    embedding_precision,
    limit_search_threads,
    query_encoder,
)


def test_defaults(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)  # no fine-tuned model here
    for name in ("KB_DIR", "INDEX_DIR", "EMBEDDING_MODEL", "CALIBRATION", "MAX_QUERY_CHARS"):
        monkeypatch.delenv(f"NIVEL0_{name}", raising=False)
    settings = Settings.from_env()
    assert settings.kb_dir == Path("kb_articles")
    assert settings.index_dir == Path("var/index")
    assert settings.calibration_path == Path("knowledge/calibration.json")
    assert settings.max_query_chars == 1000
    assert settings.model_path == default_model_path()
    assert (settings.model_path / "modules.json").is_file()


def test_built_finetuned_model_is_preferred_and_env_wins(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("NIVEL0_EMBEDDING_MODEL", raising=False)
    (tmp_path / FINETUNED_MODEL_DIR).mkdir(parents=True)
    (tmp_path / FINETUNED_MODEL_DIR / "modules.json").write_text("[]")
    assert Settings.from_env().model_path == Path(FINETUNED_MODEL_DIR)
    monkeypatch.setenv("NIVEL0_EMBEDDING_MODEL", "/models/other")
    assert Settings.from_env().model_path == Path("/models/other")


def test_search_threads_default_and_override(monkeypatch: pytest.MonkeyPatch) -> None:
    import torch

    before = torch.get_num_threads()
    try:
        monkeypatch.delenv("NIVEL0_SEARCH_THREADS", raising=False)
        assert limit_search_threads() == 1
        assert torch.get_num_threads() == 1
        monkeypatch.setenv("NIVEL0_SEARCH_THREADS", "2")
        assert limit_search_threads() == 2
        assert torch.get_num_threads() == 2
    finally:
        torch.set_num_threads(before)


@pytest.mark.parametrize("value", ["two", "0", "-1", ""])
def test_bad_search_threads_is_a_clear_error(monkeypatch: pytest.MonkeyPatch, value: str) -> None:
    monkeypatch.setenv("NIVEL0_SEARCH_THREADS", value)
    with pytest.raises(ValueError, match="NIVEL0_SEARCH_THREADS"):
        limit_search_threads()


@pytest.mark.parametrize(
    ("read", "name", "default", "other"),
    [
        (embedding_precision, "NIVEL0_EMBEDDING_PRECISION", "auto", "bfloat16"),
        (query_encoder, "NIVEL0_QUERY_ENCODER", "onnx", "torch"),
    ],
)
def test_choice_settings_default_normalise_and_reject(
    monkeypatch: pytest.MonkeyPatch, read, name: str, default: str, other: str
) -> None:
    monkeypatch.delenv(name, raising=False)
    assert read() == default
    monkeypatch.setenv(name, f" {other.upper()} ")
    assert read() == other
    monkeypatch.setenv(name, "fp8")
    with pytest.raises(ValueError, match=name):
        read()
