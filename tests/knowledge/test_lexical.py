"""The hashed char-n-gram TF-IDF: scikit-learn's TF-IDF arithmetic, TfidfVectorizer's ranking."""

from __future__ import annotations

import numpy as np
from sklearn.feature_extraction.text import TfidfTransformer, TfidfVectorizer

from knowledge.lexical import LexicalIndex, count_rows

TEXTS = [
    "Where is my order?",
    "¿Dónde está mi pedido?",
    "Return a product within 30 days",
    "Devolver un producto en 30 días",
    "My phone won't charge",
    "El móvil no carga",
]
QUERIES = ["donde esta mi pedido", "how do I return it", "cargador del movil", "", "¿?"]


def test_similarities_are_tfidf_transformer_cosines() -> None:
    counts = count_rows(TEXTS)
    reference = TfidfTransformer(sublinear_tf=True).fit(counts)
    expected = reference.transform(count_rows(QUERIES)) @ reference.transform(counts).T
    ours = LexicalIndex(counts).similarities(QUERIES)
    assert ours.shape == (len(QUERIES), len(TEXTS))
    assert ours.dtype == np.float32
    np.testing.assert_allclose(ours, expected.toarray(), atol=1e-5)
    assert ours[0].argmax() == 1  # the Spanish order question, accents stripped
    assert not ours[3].any()  # an empty query has no n-grams: all zero


def test_ranking_is_tfidf_vectorizers() -> None:
    vectorizer = TfidfVectorizer(
        analyzer="char_wb", ngram_range=(2, 4), strip_accents="unicode", sublinear_tf=True
    ).fit(TEXTS)
    expected = (vectorizer.transform(QUERIES[:3]) @ vectorizer.transform(TEXTS).T).toarray()
    ours = LexicalIndex(count_rows(TEXTS)).similarities(QUERIES[:3])
    np.testing.assert_array_equal(np.argsort(-ours, axis=1), np.argsort(-expected, axis=1))


def test_no_queries_give_an_empty_matrix() -> None:
    assert LexicalIndex(count_rows(TEXTS)).similarities([]).shape == (0, len(TEXTS))
