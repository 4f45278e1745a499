"""Loading the sentence-transformers model offline and naming it for the index cache."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from functools import cache
from pathlib import Path

import numpy as np

from knowledge.query_encoder import QueryEncoder, load_query_encoder
from knowledge.settings import PRECISIONS, KnowledgeSettings

# Texts per forward pass: 64, 96 and 128 measured alike on the 2-core machine.
_BATCH_SIZE = 64

# The files whose content defines what vectors a model produces (weights, tokenizer, pooling).
_IDENTITY_FILES = ("model.safetensors", "pytorch_model.bin", "tokenizer.json", "modules.json")


class EmbeddingModel:
    """A sentence-transformers model loaded from a local directory, never from the network.

    ``identity`` changes whenever the weights or tokenizer change, so the on-disk index never
    mixes vectors of two models. It does not depend on ``precision``: bfloat16 and float32
    vectors of one model agree to a cosine of 0.9998 or better (tested), far below what moves a
    ranking or a threshold, so one index and one calibration serve both.
    Articles are embedded by :meth:`encode` (PyTorch, the index's one source of vectors);
    customers' queries by :meth:`encode_queries`, through an ONNX Runtime graph of the same
    model when one is available (``knowledge.query_encoder``; ``query_encoder`` is None
    otherwise), which is faster for one text and agrees with PyTorch to a cosine of 0.999+.
    ``encode_calls``/``encoded_texts`` count work done (used by tests to prove the cache works
    without measuring time).
    """

    def __init__(
        self,
        path: Path | str,
        precision: str = "auto",
        query_encoder_dir: Path | None = None,
        threads: int = 1,
    ):
        """``precision``: ``auto``, ``float32`` or ``bfloat16``. ``query_encoder_dir``: where the
        ONNX query encoder is cached (a directory per model identity is made in it); None:
        PyTorch only. ``threads``: the ONNX query encoder's threads."""
        import torch
        from sentence_transformers import SentenceTransformer

        self.path = Path(path)
        if not (self.path / "modules.json").is_file() and not (self.path / "config.json").is_file():
            raise FileNotFoundError(f"no sentence-transformers model in {self.path}")
        self.precision = resolve_precision(precision)
        torch.set_num_threads(min(torch.get_num_threads(), 2))
        self._model = SentenceTransformer(str(self.path), device="cpu", local_files_only=True)
        self._model.to(getattr(torch, self.precision)).eval()
        self.dimension = int(self._model.get_embedding_dimension())
        self.identity = model_identity(self.path)
        self.encode_calls = 0
        self.encoded_texts = 0
        self.query_encoder: QueryEncoder | None = None
        if query_encoder_dir is not None:
            self.query_encoder = load_query_encoder(
                self._model,
                self.path,
                Path(query_encoder_dir) / self.identity,
                threads,
                reference=lambda texts: self._batched(texts, self._forward),
            )

    @property
    def name(self) -> str:
        """Human-readable model name (the bundled model lives in a directory called 'model')."""
        return self.path.parent.name if self.path.name == "model" else self.path.name

    def encode(self, texts: list[str]) -> np.ndarray:
        """L2-normalised float32 vectors of article texts (PyTorch), one row per text."""
        self.encode_calls += 1
        self.encoded_texts += len(texts)
        return self._batched(texts, self._forward)

    def encode_queries(self, texts: list[str]) -> np.ndarray:
        """L2-normalised float32 vectors of customers' queries, one row per text: through the
        ONNX query encoder when there is one, else as :meth:`encode`."""
        if self.query_encoder is None:
            return self.encode(texts)
        self.encode_calls += 1
        self.encoded_texts += len(texts)
        return self._batched(texts, self.query_encoder.encode)

    def _batched(self, texts: list[str], run: Callable[[list[str]], np.ndarray]) -> np.ndarray:
        """``run`` over length-sorted batches (as ``SentenceTransformer.encode`` does, so a
        batch carries little padding), normalised in float32 whatever the precision: a bfloat16
        norm is only good to ~0.4 %."""
        vectors = np.empty((len(texts), self.dimension), dtype=np.float32)
        order = np.argsort([-len(text) for text in texts], kind="stable")
        for start in range(0, len(texts), _BATCH_SIZE):
            rows = order[start : start + _BATCH_SIZE]
            vectors[rows] = run([texts[i] for i in rows])
        return vectors / np.maximum(np.linalg.norm(vectors, axis=1, keepdims=True), 1e-12)

    def _forward(self, texts: list[str]) -> np.ndarray:
        """The model's modules called directly rather than through ``SentenceTransformer.encode``,
        whose per-call bookkeeping (``eval()`` over every submodule, device look-up) cost ~5 ms
        of a ~15 ms single-text encode."""
        import torch

        with torch.inference_mode():
            output = self._model.forward(self._model.preprocess(texts))["sentence_embedding"]
        return output.float().numpy()


def fast_bfloat16_cpu() -> bool:
    """Whether this CPU computes bfloat16 in hardware (AMX tiles or AVX512-BF16)."""
    import torch

    checks = ("_is_amx_tile_supported", "_is_avx512_bf16_supported")
    return any(getattr(torch.cpu, name, lambda: False)() for name in checks)


def resolve_precision(requested: str) -> str:
    """``auto`` becomes ``bfloat16`` on CPUs with hardware bfloat16, else ``float32``."""
    if requested == "auto":
        return "bfloat16" if fast_bfloat16_cpu() else "float32"
    if requested not in PRECISIONS:
        raise ValueError(f"unknown embedding precision {requested!r}")
    return requested


RECIPE_FILE = "nivel0_model.json"


@cache
def model_identity(path: Path) -> str:
    """Short content hash naming the model (plus the directory name, for readability).

    Models built by ``knowledge.finetune`` are named by their recipe file (base model, recipe,
    training-data hash); others by the content of their weights and tokenizer files.
    """
    digest = hashlib.sha256()
    recipe = path / RECIPE_FILE
    if recipe.is_file():
        digest.update(recipe.read_bytes())
        return f"{path.name}-{digest.hexdigest()[:16]}"
    for name in _IDENTITY_FILES:
        file = path / name
        if file.is_file():
            digest.update(name.encode())
            with file.open("rb") as fh:
                for chunk in iter(lambda: fh.read(1 << 20), b""):
                    digest.update(chunk)
    config = path / "sentence_bert_config.json"
    if config.is_file():
        digest.update(json.dumps(json.loads(config.read_text()), sort_keys=True).encode())
    return f"{path.name}-{digest.hexdigest()[:16]}"


@cache
def load_model(
    path: Path, precision: str = "auto", query_encoder_dir: Path | None = None, threads: int = 1
) -> EmbeddingModel:
    """One model instance per configuration and process (loading takes ~1 s and ~100 MB)."""
    return EmbeddingModel(path, precision, query_encoder_dir, threads)


def served_model(settings: KnowledgeSettings) -> EmbeddingModel:
    """The model ``settings`` configure, with its ONNX query encoder cached in the index
    directory when ``query_encoder`` is ``onnx``."""
    return load_model(
        settings.model_path,
        settings.embedding_precision,
        settings.index_dir if settings.query_encoder == "onnx" else None,
        settings.search_threads,
    )
