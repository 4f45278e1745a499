"""The embedding model: precision choice, output format, agreement of bfloat16 with float32."""

from __future__ import annotations

import numpy as np
import pytest

from knowledge.embedding import EmbeddingModel, fast_bfloat16_cpu, resolve_precision
from knowledge.settings import default_model_path

TEXTS = [
    "¿Dónde está mi pedido?",
    "where is my order",
    "I want to return a laptop that arrived scratched",
    "no me llega el correo para restablecer la contraseña",
    "x",
]


@pytest.fixture(scope="module")
def bfloat16_model() -> EmbeddingModel:
    return EmbeddingModel(default_model_path(), precision="bfloat16")


def test_auto_follows_the_cpu_and_explicit_choices_are_kept() -> None:
    assert resolve_precision("auto") == ("bfloat16" if fast_bfloat16_cpu() else "float32")
    assert resolve_precision("float32") == "float32"
    assert resolve_precision("bfloat16") == "bfloat16"
    with pytest.raises(ValueError, match="precision"):
        resolve_precision("half")


def test_vectors_are_unit_float32_rows(bfloat16_model: EmbeddingModel) -> None:
    vectors = bfloat16_model.encode(TEXTS)
    assert vectors.dtype == np.float32
    assert vectors.shape == (len(TEXTS), bfloat16_model.dimension)
    np.testing.assert_allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-5)
    assert bfloat16_model.encode([]).shape == (0, bfloat16_model.dimension)


def test_bfloat16_agrees_with_float32(
    float32_model: EmbeddingModel, bfloat16_model: EmbeddingModel
) -> None:
    """Why one index and one calibration serve both precisions (identity ignores precision)."""
    assert (float32_model.precision, bfloat16_model.precision) == ("float32", "bfloat16")
    assert float32_model.identity == bfloat16_model.identity
    full, half = float32_model.encode(TEXTS), bfloat16_model.encode(TEXTS)
    assert np.min(np.sum(full * half, axis=1)) >= 0.9995
    # and the similarities between texts, which rank articles, move by less than 0.005
    assert np.max(np.abs(full @ full.T - half @ half.T)) < 0.005


def test_encode_matches_sentence_transformers_in_float32(float32_model: EmbeddingModel) -> None:
    """The direct module calls give what ``SentenceTransformer.encode`` gives, in input order,
    across several length-sorted batches."""
    from sentence_transformers import SentenceTransformer

    reference = SentenceTransformer(str(default_model_path()), device="cpu", local_files_only=True)
    texts = [f"{text} {'and more words ' * (n % 7)}" for n, text in enumerate(TEXTS * 30)]
    expected = reference.encode(texts, normalize_embeddings=True, convert_to_numpy=True)
    np.testing.assert_allclose(float32_model.encode(texts), expected, atol=1e-5)
