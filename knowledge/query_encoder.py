"""ONNX Runtime for customers' queries: one query embedded in ~9 ms instead of 10-16 ms.

A single query is too small for the CPU's matrix units to matter; what costs is the per-operator
overhead of eager PyTorch (about 40 linear layers and 100 module calls). ONNX Runtime runs the
same float32 graph with a fraction of that overhead (measured in knowledge/MODEL_CHOICE.md).
Articles are always embedded by PyTorch, which is faster for large batches (bfloat16 on AMX).

The graph is exported from the model once and cached beside the index
(``<NIVEL0_INDEX_DIR>/<model identity>/query_encoder.onnx``, written atomically). Before a
graph is used, its output is compared with PyTorch's on probe sentences; a graph that disagrees
(or a failed export, or a missing runtime) is not used, with a warning, and queries go through
PyTorch as before: this is an accelerator, never a reason for the bot to stop answering.
"""

from __future__ import annotations

import logging
import os
import tempfile
import warnings
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    from collections.abc import Callable

    from sentence_transformers import SentenceTransformer

logger = logging.getLogger(__name__)

FILE_NAME = "query_encoder.onnx"
_OPSET = 17
_PROBES = [
    "¿Dónde está mi pedido?",
    "where is my order",
    "I want to return a laptop that arrived scratched, how many days do I have?",
    "x",
]
# against the serving model, bfloat16 or float32 (>= 0.9998): lower is a broken graph, not rounding
_MIN_PROBE_COSINE = 0.999


class QueryEncoder:
    """A float32 ONNX graph of the whole model (transformer, pooling, dense) in a session."""

    def __init__(self, path: Path, model: SentenceTransformer, threads: int):
        """``model``: the serving model, whose tokenizer (``preprocess``) this shares."""
        import onnxruntime

        options = onnxruntime.SessionOptions()
        options.intra_op_num_threads = threads
        options.inter_op_num_threads = 1
        self.path = path
        self._model = model
        self._session = onnxruntime.InferenceSession(
            str(path), options, providers=["CPUExecutionProvider"]
        )
        self._inputs = [i.name for i in self._session.get_inputs()]

    def encode(self, texts: list[str]) -> np.ndarray:
        """Raw (not normalised) float32 sentence embeddings, one row per text."""
        features = self._model.preprocess(texts)
        feed = {name: features[name].numpy().astype(np.int64) for name in self._inputs}
        return np.asarray(self._session.run(None, feed)[0], dtype=np.float32)


def load_query_encoder(
    model: SentenceTransformer,
    model_path: Path,
    cache_dir: Path,
    threads: int,
    reference: Callable[[list[str]], np.ndarray],
) -> QueryEncoder | None:
    """The cached graph of the model in ``model_path``, exported first if missing; None, with a
    warning, when it cannot be exported or loaded, or its vectors differ from ``reference``'s
    (the serving model's normalised vectors)."""
    path = cache_dir / FILE_NAME
    try:
        if not path.is_file():
            export(_float32(model, model_path), path)
        encoder = QueryEncoder(path, model, threads)
        ours = encoder.encode(_PROBES)
        ours /= np.linalg.norm(ours, axis=1, keepdims=True)
        agreement = float(np.min(np.sum(ours * reference(_PROBES), axis=1)))
    except Exception as exc:  # an accelerator only: any failure falls back to PyTorch
        logger.warning("ONNX query encoder unavailable (%s); queries use PyTorch", exc)
        return None
    if agreement < _MIN_PROBE_COSINE:
        logger.warning(
            "ONNX query encoder %s disagrees with the model (cosine %.5f); queries use PyTorch",
            path,
            agreement,
        )
        return None
    return encoder


def _float32(model: SentenceTransformer, model_path: Path) -> SentenceTransformer:
    """``model`` if it computes in float32, else a float32 copy loaded from ``model_path``."""
    import torch
    from sentence_transformers import SentenceTransformer

    if next(model.parameters()).dtype == torch.float32:
        return model
    return SentenceTransformer(str(model_path), device="cpu", local_files_only=True).eval()


def export(model: SentenceTransformer, path: Path) -> None:
    """Write ``model``'s float32 inference graph to ``path`` atomically (~4 s for MiniLM)."""
    import torch

    features = model.preprocess(_PROBES[:2])
    names = [name for name, value in features.items() if isinstance(value, torch.Tensor)]
    extra = {name: value for name, value in features.items() if name not in names}

    class _Graph(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.model = model

        def forward(self, *tensors: torch.Tensor) -> torch.Tensor:
            return self.model({**dict(zip(names, tensors, strict=True)), **extra})[
                "sentence_embedding"
            ]

    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, suffix=".onnx.tmp")
    os.close(fd)
    try:
        # The TorchScript exporter (no onnxscript needed) warns that it is deprecated and that
        # shape checks are traced as constants; the probe comparison in load_query_encoder is
        # what decides whether the graph is right, for every batch shape it is used with.
        with torch.no_grad(), warnings.catch_warnings():
            warnings.simplefilter("ignore")
            torch.onnx.export(
                _Graph().eval(),
                tuple(features[name] for name in names),
                tmp,
                input_names=names,
                output_names=["sentence_embedding"],
                dynamic_axes={
                    **{name: {0: "batch", 1: "tokens"} for name in names},
                    "sentence_embedding": {0: "batch"},
                },
                opset_version=_OPSET,
                dynamo=False,
            )
        os.replace(tmp, path)
    finally:
        Path(tmp).unlink(missing_ok=True)
    logger.info("exported the query encoder to %s", path)
