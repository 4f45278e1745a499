"""nivel0 knowledge base: articles, offline embeddings, on-disk index, banded hybrid search.

Public interface::

    from knowledge.articles import Article, ArticleError, load_articles
    from knowledge.search import Band, Hit, KnowledgeBase, SearchOutcome

Commands: ``python -m knowledge.build_index``, ``python -m knowledge.calibrate``,
``python -m knowledge.evaluate``, ``python -m knowledge.finetune``.
"""
