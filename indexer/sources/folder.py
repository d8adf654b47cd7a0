"""A folder as a corpus: every regular file under it, read from disk.

:func:`scan_corpus` lists every regular file under a folder in a stable order. It does not
filter by extension: the indexing pipeline sniffs each file's content. The series of its DICOM
files are read from their headers. The original of an indexed
image is the file at its relative path, sent from disk; a folder has no viewer.
"""

from __future__ import annotations

import os
from collections.abc import Collection, Iterator, Mapping, Sequence
from pathlib import Path

from ..errors import InvalidRequestError, NotFoundError, SourceOptionError
from ..imaging.geometry import SlicePlace
from ..imaging.header_place import header_places
from ..records import InstanceUIDs
from ..settings import Settings
from .base import CorpusFile, SourceKind


class FolderSource:
    """The files under a folder (see :func:`scan_corpus`)."""

    def __init__(self, folder: Path) -> None:
        self.folder = Path(folder).resolve()
        self.root = str(self.folder)
        #: real paths of folders under the corpus that are not part of it (an index folder)
        self._left_out: set[str] = set()

    def leave_out(self, folder: Path) -> None:
        """Scan without ``folder`` and what it holds (an index folder inside the corpus)."""
        self._left_out.add(os.path.realpath(folder))

    def scan(self) -> list[CorpusFile]:
        return list(self.scan_lazily())

    def scan_lazily(self) -> Iterator[CorpusFile]:
        """The files of :meth:`scan`, one at a time (stop early to save a full listing)."""
        return scan_corpus(self.folder, leave_out=self._left_out)

    def read(self, file: CorpusFile) -> bytes:
        return file.path.read_bytes()

    def slice_places(self, files: Sequence[CorpusFile]) -> dict[str, SlicePlace]:
        """Read from each DICOM file's header (see :mod:`indexer.imaging.header_place`)."""
        return header_places((f.relpath, f.path) for f in files)

    def original(self, relpath: str, uids: InstanceUIDs | None) -> Path:
        path = self.folder / relpath
        if not path.is_file():
            raise NotFoundError(f"the original file {relpath!r} is no longer available")
        return path

    def viewer_links(self, identifiers: Mapping[int, InstanceUIDs]) -> dict[int, str]:
        return {}


def open_folder(corpus: str, settings: Settings, selection: Sequence[str]) -> FolderSource:
    """The folder ``corpus``, to index; it must exist, and lists all its files."""
    if selection:
        raise SourceOptionError("a folder corpus takes no selection of what to list")
    source = FolderSource(Path(corpus))
    if source.folder.is_file():
        raise InvalidRequestError(
            f"corpus {corpus} is a file, not a folder: give the folder that holds the images "
            f"(e.g. {Path(corpus).parent}); every image under it is indexed"
        )
    if not source.folder.is_dir():
        raise InvalidRequestError(f"corpus folder {corpus} does not exist")
    return source


#: every corpus argument that is not claimed by another kind is a folder
KIND = SourceKind(
    name="folder",
    claims=lambda corpus: True,
    open=open_folder,
    reopen=lambda root, settings: FolderSource(Path(root)),
)


def scan_corpus(root: Path, leave_out: Collection[str] = ()) -> Iterator[CorpusFile]:
    """Every regular file under ``root``, recursively, in sorted order (depth first).

    Hidden files and folders (name starting with ".") are skipped. Symbolic links to files
    are followed. A symbolic link to a folder outside the corpus is followed, and each real
    folder is entered once, so link cycles end; a link to a folder inside the corpus is not
    followed, as that folder is scanned where it really is. Folders that cannot be listed are
    skipped, and so are those whose real path is in ``leave_out``. A missing or unreadable
    ``root`` raises :class:`InvalidRequestError` at once, before the first file is yielded.
    """
    root = Path(root).absolute()
    if not root.exists():
        raise InvalidRequestError(f"corpus folder not found: {root}")
    if not root.is_dir():
        raise InvalidRequestError(f"corpus path is not a folder: {root}")
    try:
        entries = _sorted_entries(root)
    except OSError as exc:
        raise InvalidRequestError(f"corpus folder cannot be read: {root} ({exc.strerror})") from exc
    real_root = os.path.realpath(root)
    return _walk(root, entries, (), real_root, {real_root, *leave_out})


def _walk(
    folder: Path,
    entries: list[os.DirEntry[str]],
    parts: tuple[str, ...],
    real_root: str,
    visited: set[str],
) -> Iterator[CorpusFile]:
    for entry in entries:
        if entry.name.startswith("."):
            continue
        entry_parts = (*parts, entry.name)
        try:
            is_dir = entry.is_dir()  # follows symlinks
            is_file = not is_dir and entry.is_file()
        except OSError:
            continue
        if is_dir:
            real = os.path.realpath(entry.path)
            if entry.is_symlink() and _is_within(real, real_root):
                continue
            if real in visited:  # a link cycle, or a second link to a folder already scanned
                continue
            visited.add(real)
            try:
                children = _sorted_entries(Path(entry.path))
            except OSError:  # no permission, or vanished while scanning
                continue
            yield from _walk(Path(entry.path), children, entry_parts, real_root, visited)
        elif is_file:
            try:
                stat = entry.stat()  # follows symlinks
            except OSError:
                continue
            yield CorpusFile(
                path=folder / entry.name,
                relpath="/".join(entry_parts),
                size=stat.st_size,
                mtime=stat.st_mtime,
            )


def _is_within(path: str, folder: str) -> bool:
    return path == folder or path.startswith(folder.rstrip(os.sep) + os.sep)


def _sorted_entries(folder: Path) -> list[os.DirEntry[str]]:
    with os.scandir(folder) as iterator:
        return sorted(iterator, key=lambda entry: entry.name)
