"""Every kind of corpus source, and the one choice of a source for a corpus.

A new kind (object storage, another PACS protocol) is a module with a
:class:`~indexer.sources.base.SourceKind` plus its entry in :data:`SOURCE_KINDS`. Kinds are asked
in order and the first that claims a corpus argument opens it; a folder claims whatever is left.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from ..errors import IndexCorruptError
from ..settings import Settings
from . import dicomweb, folder
from .base import CorpusSource, SourceKind

SOURCE_KINDS: tuple[SourceKind, ...] = (dicomweb.KIND, folder.KIND)


def source_kind(corpus: str | Path) -> SourceKind:
    """The kind of source a corpus argument names."""
    return next(kind for kind in SOURCE_KINDS if kind.claims(str(corpus)))


def open_source(
    corpus: str | Path, settings: Settings, *, selection: Sequence[str] = ()
) -> CorpusSource:
    """The source of ``corpus`` (a folder, or a DICOMweb base URL), to index.

    ``selection`` narrows what the source lists (``KEY=VALUE`` QIDO-RS matching keys for a PACS);
    a kind that lists everything refuses one with :class:`~indexer.errors.SourceOptionError`.
    """
    return source_kind(corpus).open(str(corpus), settings, selection)


def indexed_source(corpus_root: str | None, settings: Settings) -> CorpusSource:
    """The source an index was built from (the ``corpus_root`` its info records), to open the
    originals of its images and their viewer links."""
    if corpus_root is None:
        raise IndexCorruptError(
            "the index records no corpus_root: the indexed files cannot be located"
        )
    return source_kind(corpus_root).reopen(corpus_root, settings)
