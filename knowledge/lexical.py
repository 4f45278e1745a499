"""The lexical half of the hybrid score: character n-gram TF-IDF, built incrementally.

Each text's n-gram counts are hashed (:data:`HASHER`) independently of every other text, so the
count rows of unchanged articles are reused after an edit and only the IDF weights are
recomputed over the current texts (sparse arithmetic, milliseconds). The scores equal those of
``TfidfVectorizer(analyzer="char_wb", ngram_range=(2, 4), strip_accents="unicode",
sublinear_tf=True)`` up to hash collisions among 2**20 buckets.
"""

from __future__ import annotations

import numpy as np
from scipy import sparse
from sklearn.feature_extraction.text import HashingVectorizer, TfidfTransformer

HASHER = HashingVectorizer(
    analyzer="char_wb",
    ngram_range=(2, 4),
    lowercase=True,
    strip_accents="unicode",
    alternate_sign=False,
    norm=None,
    n_features=2**20,
    dtype=np.float32,
)


def count_rows(texts: list[str]) -> sparse.csr_matrix:
    """Hashed n-gram counts, one row per text."""
    return HASHER.transform(texts).tocsr()


def empty_rows() -> sparse.csr_matrix:
    return sparse.csr_matrix((0, HASHER.n_features), dtype=np.float32)


class LexicalIndex:
    """TF-IDF over given count rows; :meth:`similarities` are cosine similarities."""

    def __init__(self, counts: sparse.csr_matrix):
        self.counts = counts
        self._tfidf = TfidfTransformer(sublinear_tf=True).fit(counts)
        # (features, texts): a query row times this touches only the query's own n-grams
        self._by_feature = self._tfidf.transform(counts).T.tocsr()

    def similarities(self, queries: list[str]) -> np.ndarray:
        """(queries, texts) cosine similarities of the queries' TF-IDF vectors to the rows."""
        weighted = self._tfidf.transform(count_rows(queries)).tocsr()
        return (weighted @ self._by_feature).toarray()
