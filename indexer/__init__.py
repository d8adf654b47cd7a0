"""MedSearch core library: encoders, image loading, corpus, store, vector index, retrieval.

The public API is importable from here; heavy modules (torch, faiss) load on first use::

    from indexer import Retriever, Settings

    retriever = Retriever.open(Settings(index_dir=Path("data/index")))
    for hit in retriever.search(text="chest X-ray with pleural effusion", k=5).hits:
        print(hit.score, hit.path)
"""

from __future__ import annotations

from importlib import import_module
from importlib.metadata import PackageNotFoundError, version
from typing import Any

try:
    __version__ = version("medsearch")
except PackageNotFoundError:  # running from a source tree that was not installed
    __version__ = "0.0.0"

_EXPORTS = {
    "Settings": "indexer.settings",
    "Encoder": "indexer.encoders",
    "load_encoder": "indexer.encoders",
    "init_model_folder": "indexer.encoders",
    "Store": "indexer.store",
    "Retriever": "indexer.retriever",
    "index_corpus": "indexer.pipeline",
    "IndexReport": "indexer.pipeline",
    "verify_index": "indexer.verify",
    "load_image": "indexer.imaging",
    "decode_image_bytes": "indexer.imaging",
    "ImageRecord": "indexer.records",
    "Hit": "indexer.records",
    "SearchResult": "indexer.records",
    "MedSearchError": "indexer.errors",
}

__all__ = ["__version__", *_EXPORTS]


def __getattr__(name: str) -> Any:
    if name in _EXPORTS:
        return getattr(import_module(_EXPORTS[name]), name)
    raise AttributeError(f"module 'indexer' has no attribute {name!r}")
