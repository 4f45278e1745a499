"""The ONNX query encoder: exported once, checked, used for short batches, never a failure."""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np
import pytest

from knowledge import query_encoder
from knowledge.embedding import EmbeddingModel
from knowledge.settings import default_model_path

QUERIES = ["¿Dónde está mi pedido?", "my laptop won't turn on", "reembolso"]


@pytest.fixture(scope="module")
def cache_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("query-encoder")


@pytest.fixture(scope="module")
def model(cache_dir: Path) -> EmbeddingModel:
    return EmbeddingModel(default_model_path(), query_encoder_dir=cache_dir)


def test_graph_is_exported_into_the_cache_and_reused(
    model: EmbeddingModel, cache_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    graph = cache_dir / model.identity / query_encoder.FILE_NAME
    assert model.query_encoder is not None
    assert model.query_encoder.path == graph and graph.is_file()
    assert not list(graph.parent.glob("*.tmp"))  # written atomically

    def no_export(*_args: object) -> None:
        raise AssertionError("the cached graph must be reused")

    monkeypatch.setattr(query_encoder, "export", no_export)
    again = EmbeddingModel(default_model_path(), query_encoder_dir=cache_dir)
    assert again.query_encoder is not None and again.query_encoder.path == graph


def test_queries_use_the_graph_and_agree_with_pytorch(model: EmbeddingModel) -> None:
    assert model.query_encoder is not None
    for query in QUERIES:
        ours = model.encode_queries([query])
        assert ours.shape == (1, model.dimension) and ours.dtype == np.float32
        np.testing.assert_allclose(np.linalg.norm(ours), 1.0, atol=1e-5)
        expected = model.query_encoder.encode([query])
        np.testing.assert_allclose(ours, expected / np.linalg.norm(expected), atol=1e-6)
    by_graph = model.encode_queries(QUERIES)  # one padded batch: same vectors as one by one
    by_torch = model.encode(QUERIES)
    assert np.min(np.sum(by_graph * by_torch, axis=1)) >= 0.999


def test_articles_never_use_the_graph(
    model: EmbeddingModel, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Index vectors have one source whatever the batch size (PyTorch), so an edited article's
    vectors are computed like the rest of the index."""
    assert model.query_encoder is not None

    def refuse(texts: list[str]) -> np.ndarray:
        raise AssertionError("article texts must not go through the query encoder")

    monkeypatch.setattr(model.query_encoder, "encode", refuse)
    assert model.encode(QUERIES[:1]).shape == (1, model.dimension)
    with pytest.raises(AssertionError, match="must not go through"):
        model.encode_queries(QUERIES[:1])  # the patch is in effect


def test_a_corrupt_graph_falls_back_to_pytorch(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    identity = EmbeddingModel(default_model_path()).identity
    graph = tmp_path / identity / query_encoder.FILE_NAME
    graph.parent.mkdir(parents=True)
    graph.write_bytes(b"not an onnx graph")
    with caplog.at_level(logging.WARNING, logger="knowledge.query_encoder"):
        fallback = EmbeddingModel(default_model_path(), query_encoder_dir=tmp_path)
    assert fallback.query_encoder is None
    assert "queries use PyTorch" in caplog.text
    vectors = fallback.encode_queries(QUERIES[:1])
    np.testing.assert_allclose(vectors, fallback.encode(QUERIES[:1]), atol=1e-6)


def test_a_graph_that_disagrees_with_the_model_is_not_used(
    model: EmbeddingModel,
    cache_dir: Path,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    rng = np.random.default_rng(0)

    def wrong(self: query_encoder.QueryEncoder, texts: list[str]) -> np.ndarray:
        return rng.normal(size=(len(texts), model.dimension)).astype(np.float32)

    monkeypatch.setattr(query_encoder.QueryEncoder, "encode", wrong)
    with caplog.at_level(logging.WARNING, logger="knowledge.query_encoder"):
        checked = EmbeddingModel(default_model_path(), query_encoder_dir=cache_dir)
    assert checked.query_encoder is None
    assert "disagrees with the model" in caplog.text


def test_without_a_cache_directory_there_is_no_graph() -> None:
    assert EmbeddingModel(default_model_path()).query_encoder is None
