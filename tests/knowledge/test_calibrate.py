from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import yaml

from knowledge import calibrate
from knowledge.bands import Band, Thresholds, assign_bands
from knowledge.calibrate import choose_thresholds

TOPICS = ["a", "b", "c"]
# (per-article scores, right topic or None for out-of-scope)
ROWS = [
    ([0.90, 0.30, 0.20], "a"),
    ([0.85, 0.20, 0.10], "a"),
    ([0.20, 0.80, 0.10], "b"),
    ([0.10, 0.30, 0.75], "c"),
    ([0.70, 0.20, 0.10], "b"),  # confidently wrong: must not be answered when no FA is allowed
    ([0.10, 0.65, 0.20], "b"),  # right, but below the wrong one above
    ([0.60, 0.55, 0.10], "b"),  # two close candidates: clarify should offer b
    ([0.50, 0.40, 0.30], None),
    ([0.30, 0.20, 0.10], None),
    ([0.45, 0.10, 0.00], None),
]
SCORES = np.array([scores for scores, _ in ROWS])
LABELS = [label for _, label in ROWS]


def test_no_false_answer_allowed_answers_only_above_the_wrong_one() -> None:
    choice = choose_thresholds(SCORES, TOPICS, LABELS, max_false_answer_rate=0.05)
    # 0.05 * 10 queries -> 0 false answers allowed: answer >= 0.75, cut midway to 0.70.
    assert choice.thresholds == Thresholds(
        answer_min=0.725, answer_margin=0.15, clarify_min=0.55, lexical_weight=0.0
    )
    assert (choice.correct_answers, choice.false_answers) == (4, 0)
    bands = assign_bands(SCORES.max(axis=1), np.sort(SCORES, axis=1)[:, -2], choice.thresholds)
    assert list(bands[:4]) == [Band.ANSWER] * 4
    assert bands[6] == Band.CLARIFY
    assert all(band == Band.FALLBACK for band in bands[7:])


def test_looser_cap_trades_one_false_answer_for_one_more_correct() -> None:
    choice = choose_thresholds(SCORES, TOPICS, LABELS, max_false_answer_rate=0.1)
    assert (choice.correct_answers, choice.false_answers) == (5, 1)
    assert choice.thresholds.answer_min == pytest.approx(0.625)
    assert choice.thresholds.clarify_min == pytest.approx(0.55)


@pytest.mark.parametrize(
    ("queries", "confidence", "allowed"),
    [(10, 0.0, 0), (20, 0.0, 1), (89, 0.0, 4), (89, 0.9, 1), (89, 0.95, 0), (10, 0.9, 0)],
)
def test_allowed_false_answers(queries: int, confidence: float, allowed: int) -> None:
    assert calibrate.allowed_false_answers(queries, 0.05, confidence) == allowed


def test_unsearched_queries_always_fall_back() -> None:
    scores = np.vstack([SCORES, np.full((1, 3), calibrate._NOT_SEARCHED)])
    choice = choose_thresholds(scores, TOPICS, [*LABELS, None], max_false_answer_rate=0.05)
    assert choice.thresholds.clarify_min > calibrate._NOT_SEARCHED
    assert choice.queries == 11


def test_calibrate_command_writes_thresholds_for_the_model(
    kb_dir: Path, tmp_path: Path, model, monkeypatch: pytest.MonkeyPatch
) -> None:
    dev = {
        "in_scope": [
            {"text": "how can I follow my parcel", "language": "en", "topic": "order-status"},
            {"text": "reset password mail missing", "language": "en", "topic": "password-reset"},
            {
                "text": "earphones do not connect",
                "language": "en",
                "topic": "troubleshoot-bluetooth",
            },
            {"text": "money back when", "language": "en", "topic": "refund-timeline"},
            {"text": "no encuentro mi paquete", "language": "es", "topic": "order-status"},
            {
                "text": "no recibo el email de la contraseña",
                "language": "es",
                "topic": "password-reset",
            },
        ],
        "out_of_scope": [
            {"text": "tell me a joke", "language": "en"},
            {"text": "asdf", "language": "en"},
            {"text": "", "language": "es"},
            {"text": "¿qué hora es en Tokio?", "language": "es"},
        ],
    }
    dev_path = tmp_path / "dev.yml"
    dev_path.write_text(yaml.safe_dump(dev, allow_unicode=True))
    out = tmp_path / "calibration.json"
    monkeypatch.setenv("NIVEL0_KB_DIR", str(kb_dir))
    monkeypatch.setenv("NIVEL0_EMBEDDING_MODEL", str(model.path))
    monkeypatch.setenv("NIVEL0_INDEX_DIR", str(tmp_path / "index"))
    monkeypatch.setenv("NIVEL0_CALIBRATION", str(out))
    out.write_text(json.dumps({"models": {"other-model": {"languages": {}}}}))

    unanswerable = tmp_path / "unanswerable.yml"
    unanswerable.write_text(
        yaml.safe_dump(
            {
                "dev": [
                    {"text": "do you sell gift cards", "language": "en"},
                    {"text": "¿tenéis tienda en Sevilla?", "language": "es"},
                ],
                "test": [{"text": "is there a student discount", "language": "en"}],
            },
            allow_unicode=True,
        )
    )

    assert calibrate.main(["--set", str(dev_path), "--unanswerable", str(unanswerable)]) == 0

    models = json.loads(out.read_text())["models"]
    assert set(models) == {"other-model", model.identity}  # other models' entries are kept
    data = models[model.identity]
    assert data["model"]["identity"] == model.identity
    assert set(data["languages"]) == {"en", "es"}
    for values in data["languages"].values():
        t = Thresholds(**values)
        assert t.clarify_min <= t.answer_min
        assert t.lexical_weight in calibrate.LEXICAL_WEIGHTS
    assert data["dev_metrics"]["overall"]["false_answer_rate"] <= 0.05
    assert data["dev_metrics"]["en"]["in_scope"] == 4
    # the unanswerable set's dev half counts as out of scope, its test half not at all
    assert data["dev_metrics"]["en"]["out_of_scope"] == 3
    assert data["dev_metrics"]["es"]["out_of_scope"] == 3
    assert data["unanswerable_dev"] == [str(unanswerable)]
    assert len(data["lexical_weight_sweep"]["en"]) == len(calibrate.LEXICAL_WEIGHTS)


def test_calibrate_refuses_the_test_set() -> None:
    with pytest.raises(SystemExit):
        calibrate.main(["--set", "tests/eval/test.yml"])
