"""Loading the sentence-transformers model offline and naming it for the index cache."""

from __future__ import annotations

import hashlib
import json
from functools import cache
from pathlib import Path

import numpy as np

from knowledge.settings import offline_env

# The files whose content defines what vectors a model produces (weights, tokenizer, pooling).
_IDENTITY_FILES = ("model.safetensors", "pytorch_model.bin", "tokenizer.json", "modules.json")


class EmbeddingModel:
    """A sentence-transformers model loaded from a local directory, never from the network.

    ``identity`` changes whenever the weights or tokenizer change, so the on-disk index never
    mixes vectors of two models. ``encode_calls``/``encoded_texts`` count work done (used by
    tests to prove the cache works without measuring time).
    """

    def __init__(self, path: Path | str):
        offline_env()
        import torch
        from sentence_transformers import SentenceTransformer

        self.path = Path(path)
        if not (self.path / "modules.json").is_file() and not (self.path / "config.json").is_file():
            raise FileNotFoundError(f"no sentence-transformers model in {self.path}")
        torch.set_num_threads(min(torch.get_num_threads(), 2))
        self._model = SentenceTransformer(str(self.path), device="cpu", local_files_only=True)
        self.identity = model_identity(self.path)
        self.encode_calls = 0
        self.encoded_texts = 0

    @property
    def name(self) -> str:
        """Human-readable model name (the bundled model lives in a directory called 'model')."""
        return self.path.parent.name if self.path.name == "model" else self.path.name

    def encode(self, texts: list[str]) -> np.ndarray:
        """L2-normalised float32 vectors, one row per text."""
        self.encode_calls += 1
        self.encoded_texts += len(texts)
        vectors = self._model.encode(
            texts,
            batch_size=32,
            normalize_embeddings=True,
            convert_to_numpy=True,
            show_progress_bar=False,
        )
        return np.asarray(vectors, dtype=np.float32)


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
def load_model(path: Path) -> EmbeddingModel:
    """One model instance per path and process (loading takes ~1 s and ~100 MB)."""
    return EmbeddingModel(path)
