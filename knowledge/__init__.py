"""nivel0 knowledge base: articles, offline embeddings, on-disk index, banded hybrid search.

Public interface::

    from knowledge.settings import KnowledgeSettings          # the package's configuration
    from knowledge.articles import Article, load_articles     # the article format
    from knowledge.service import KnowledgeService            # what serving processes ask
    from knowledge.reload import ReloadingKnowledgeBase       # its implementation

Commands: ``kb`` (``knowledge.cli``: new, lint, reindex, search, gaps),
``python -m knowledge.calibrate``, ``python -m knowledge.evaluate``,
``python -m knowledge.finetune``.
"""
