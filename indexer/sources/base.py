"""What every corpus source is: the files it lists, their bytes, the original of an indexed image
and its link into a viewer.

A :class:`CorpusSource` serves both ends of an index. Indexing asks it to :meth:`~CorpusSource.scan`
the corpus, for the :meth:`~CorpusSource.slice_places` of its DICOM instances (to group them
into series) and to :meth:`~CorpusSource.read` each new file; the search service asks it, for an
image indexed from it, for the :meth:`~CorpusSource.original` the page shows and the
:meth:`~CorpusSource.viewer_links` of a page of results. What the index recorded of an image is
its relative path and, for an instance of a PACS, its :class:`~indexer.records.InstanceUIDs`.

A :class:`SourceKind` says which corpus arguments a source answers to and how to open it;
:mod:`indexer.sources.registry` lists the kinds and picks one for a corpus.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

from ..imaging.geometry import SlicePlace
from ..records import InstanceUIDs
from ..settings import Settings


@dataclass(frozen=True)
class CorpusFile:
    """One regular file found under the corpus root (or one instance in a PACS)."""

    path: Path  # absolute
    relpath: str  # relative to the corpus root, POSIX separators
    size: int
    mtime: float
    #: the instance's identifiers, for files listed by a DICOMweb service
    uids: InstanceUIDs | None = None
    #: its series and place in it, for instances a listing describes (DICOMweb)
    place: SlicePlace | None = None


#: the failure reason of a file whose read failed for a passing reason (:class:`PassingReadError`)
UNAVAILABLE = "unavailable"


class PassingReadError(OSError):
    """A read that failed for a passing reason (the source was busy, slow or unreachable) and
    went on failing after the retries: recorded as :data:`UNAVAILABLE`, and read again by the
    next run even though the file looks unchanged."""


class CorpusSource(Protocol):
    """Where the images of an index come from."""

    #: recorded as the index's ``corpus_root``: a folder, or a DICOMweb base URL
    root: str

    def scan(self) -> list[CorpusFile]:
        """Every candidate file, in a stable order."""
        ...

    def read(self, file: CorpusFile) -> bytes:
        """The file's bytes; :class:`OSError` when this one file cannot be read
        (:class:`PassingReadError` when a later try may succeed)."""
        ...

    def slice_places(self, files: Sequence[CorpusFile]) -> dict[str, SlicePlace]:
        """The series, study and slice position of each DICOM instance among ``files`` (from
        headers only, never pixels), by relpath; other files are left out."""
        ...

    def original(self, relpath: str, uids: InstanceUIDs | None) -> Path | bytes:
        """The original of an indexed image, for the page: a local file to send, or its bytes.
        :class:`~indexer.errors.NotFoundError` when the source no longer has it."""
        ...

    def viewer_links(self, identifiers: Mapping[int, InstanceUIDs]) -> dict[int, str]:
        """Links into a viewer of the source for the images whose identifiers are given, by
        image id; images without a link are left out."""
        ...


#: opens the source of a corpus argument to index it, with the user's selection (``KEY=VALUE``
#: pairs that narrow what it lists)
SourceOpener = Callable[[str, Settings, Sequence[str]], CorpusSource]


@dataclass(frozen=True)
class SourceKind:
    """One kind of corpus: which arguments name it, and how to open it."""

    name: str
    #: True when a corpus argument (a folder path or a URL) names a corpus of this kind
    claims: Callable[[str], bool]
    #: the source to index; refuses a corpus that cannot be (a folder that is not there)
    open: SourceOpener
    #: the source an index records as its ``corpus_root``, to serve originals and viewer links;
    #: nothing is checked until something is asked of it
    reopen: Callable[[str, Settings], CorpusSource]
