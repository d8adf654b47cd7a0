"""MedSearch core library: encoders, image loading, corpus, store, vector index, retrieval.

The public API is importable from here; heavy modules (torch, faiss) load on first use::

    from indexer import Retriever, Settings

    retriever = Retriever.open(Settings(index_dir=Path("data/index")))
    for hit in retriever.search(text="chest X-ray with pleural effusion", k=5).hits:
        print(hit.score, hit.path)
"""

from __future__ import annotations

from importlib import import_module
from typing import TYPE_CHECKING, Any

from .versions import medsearch_version

if TYPE_CHECKING:  # real types for type checkers; `X as X` marks a re-export
    from .encoders import Encoder as Encoder
    from .encoders import init_model_folder as init_model_folder
    from .encoders import load_encoder as load_encoder
    from .errors import MedSearchError as MedSearchError
    from .imaging.decode import decode_image_bytes as decode_image_bytes
    from .imaging.decode import load_image as load_image
    from .indexing.pipeline import IndexReport as IndexReport
    from .indexing.pipeline import index_corpus as index_corpus
    from .records import Hit as Hit
    from .records import ImageRecord as ImageRecord
    from .records import SearchResult as SearchResult
    from .search.retriever import Retriever as Retriever
    from .settings import Settings as Settings
    from .storage.metadata_db import Store as Store
    from .storage.verify import verify_index as verify_index

__version__ = medsearch_version()

_EXPORTS = {
    "Settings": ".settings",
    "Encoder": ".encoders",
    "load_encoder": ".encoders",
    "init_model_folder": ".encoders",
    "Store": ".storage.metadata_db",
    "Retriever": ".search.retriever",
    "index_corpus": ".indexing.pipeline",
    "IndexReport": ".indexing.pipeline",
    "verify_index": ".storage.verify",
    "load_image": ".imaging.decode",
    "decode_image_bytes": ".imaging.decode",
    "ImageRecord": ".records",
    "Hit": ".records",
    "SearchResult": ".records",
    "MedSearchError": ".errors",
}

__all__ = ["__version__", *_EXPORTS]


def __getattr__(name: str) -> Any:
    if name in _EXPORTS:
        return getattr(import_module(_EXPORTS[name], __name__), name)
    raise AttributeError(f"module 'indexer' has no attribute {name!r}")
