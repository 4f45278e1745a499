"""Confidence bands and the calibrated thresholds that assign them.

Given the best and second-best article scores of a query (per-article score = max similarity over
the article's search texts, see :mod:`knowledge.search`):

- ANSWER   best >= answer_min and best - second >= answer_margin: confident, show the article.
- CLARIFY  otherwise, best >= clarify_min: offer the (up to k) candidates scoring >= clarify_min.
- FALLBACK otherwise: not sure, offer a human. Empty, letter-less and overlong input also gets it.

Thresholds (and the lexical weight of the hybrid score) are per language, chosen on the dev set by
``python -m knowledge.calibrate`` and stored in ``knowledge/calibration.json``.
"""

from __future__ import annotations

import json
import logging
from dataclasses import asdict, dataclass
from enum import StrEnum
from pathlib import Path

import numpy as np

logger = logging.getLogger(__name__)


class Band(StrEnum):
    ANSWER = "answer"
    CLARIFY = "clarify"
    FALLBACK = "fallback"


@dataclass(frozen=True)
class Thresholds:
    """Per-language search parameters. lexical_weight mixes char-n-gram TF-IDF into the score."""

    answer_min: float
    answer_margin: float
    clarify_min: float
    lexical_weight: float = 0.0


# Used only when no calibration file matches the model: conservative, so the bot rather hands
# over to a human than answers wrongly. Run `python -m knowledge.calibrate` to replace them.
UNCALIBRATED = Thresholds(answer_min=0.8, answer_margin=0.05, clarify_min=0.6, lexical_weight=0.0)


def assign_bands(best: np.ndarray, second: np.ndarray, t: Thresholds) -> np.ndarray:
    """Vectorised band assignment (array of Band values) for many queries at once."""
    answer = (best >= t.answer_min) & (best - second >= t.answer_margin)
    clarify = ~answer & (best >= t.clarify_min)
    return np.where(answer, Band.ANSWER, np.where(clarify, Band.CLARIFY, Band.FALLBACK))


def assign_band(best: float, second: float, t: Thresholds) -> Band:
    return Band(assign_bands(np.array([best]), np.array([second]), t)[0])


@dataclass(frozen=True)
class Calibration:
    model_identity: str | None
    languages: dict[str, Thresholds]

    def for_language(self, language: str) -> Thresholds:
        return self.languages.get(language, UNCALIBRATED)

    @classmethod
    def uncalibrated(cls) -> Calibration:
        return cls(model_identity=None, languages={})

    @classmethod
    def load(cls, path: Path, model_identity: str) -> Calibration:
        """Thresholds for this model from ``path``; conservative defaults (logged) if absent.

        The file holds one entry per model identity (``models``), so the bundled model and a
        fine-tuned one can both be calibrated.
        """
        try:
            data = json.loads(Path(path).read_text(encoding="utf-8"))
        except FileNotFoundError:
            logger.warning("no calibration file %s: using conservative thresholds", path)
            return cls.uncalibrated()
        entry = data.get("models", {}).get(model_identity)
        if entry is None:
            logger.warning(
                "calibration %s has no entry for model %s (only %s): using conservative "
                "thresholds; run `python -m knowledge.calibrate`",
                path,
                model_identity,
                sorted(data.get("models", {})),
            )
            return cls.uncalibrated()
        languages = {lang: Thresholds(**values) for lang, values in entry["languages"].items()}
        return cls(model_identity=model_identity, languages=languages)

    def languages_json(self) -> dict[str, dict[str, float]]:
        return {lang: asdict(t) for lang, t in self.languages.items()}
