"""The ways a text query can rank images (:mod:`indexer.search.keywords` tells them apart).

Kept apart from the search code, with no imports, so that the CLI and the API can list the modes
without loading the index's libraries.
"""

DENSE, KEYWORD, HYBRID = "dense", "keyword", "hybrid"
MODES = (DENSE, KEYWORD, HYBRID)
