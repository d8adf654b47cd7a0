"""Checks of the corpus and the index folder before a run writes anything.

The usual mistakes cost a model load and leave an empty index, or index files among the user's
own files: an index folder given as the corpus, the corpus given as ``--index``, an ``--index``
folder that already holds other files, a corpus without one image. :func:`check_run_folders`
refuses each with one line. An index folder inside a folder corpus is fine: the scan leaves it out.
"""

from __future__ import annotations

import os
from pathlib import Path, PurePosixPath

from ..errors import InvalidRequestError
from ..imaging.decode import IMAGE_SUFFIXES, sniff_format
from ..sources.base import CorpusSource
from ..sources.folder import FolderSource
from ..storage.folder import (
    DB_FILE,
    FAISS_FILE,
    GROUPS_DIR,
    LOCK_FILE,
    NULL_SCORES_FILE,
    RECENT_FILE,
    VECTORS_FILE,
    IndexFolder,
)
from ..storage.group_key import GROUP_KEY_FILE
from ..storage.info import INFO_FILE

#: what an index folder may hold besides its files' temporaries (``.NAME.tmp``)
INDEX_ENTRIES = frozenset(
    {
        INFO_FILE,
        DB_FILE,
        f"{DB_FILE}-wal",
        f"{DB_FILE}-shm",
        f"{DB_FILE}-journal",
        VECTORS_FILE,
        FAISS_FILE,
        RECENT_FILE,
        LOCK_FILE,
        GROUP_KEY_FILE,
        GROUPS_DIR,
        NULL_SCORES_FILE,
        "thumbnails",
    }
)


class EmptyCorpusError(InvalidRequestError):
    """The corpus holds no file that could be an image."""


def check_run_folders(source: CorpusSource, index: IndexFolder, *, require_images: bool) -> None:
    """Refuse a run whose corpus or index folder is a mistake (see the module docstring).

    ``require_images``: refuse a folder corpus without one image, which would only make an empty
    index (:class:`EmptyCorpusError`). An index folder inside the corpus is left out of its scan.
    """
    index_path = Path(os.path.realpath(index.path))
    if isinstance(source, FolderSource):
        corpus = Path(os.path.realpath(source.folder))
        if (corpus / INFO_FILE).is_file():
            raise InvalidRequestError(
                f"{source.folder} is an index folder, not a folder of images: give the folder "
                "that holds the images as CORPUS and this one as --index"
            )
        if index_path == corpus:
            raise InvalidRequestError(
                f"--index {index.path} is the corpus folder: the index needs a folder of its "
                "own, e.g. --index " + str(index.path.parent / f"{index.path.name}-index")
            )
        if index_path.is_relative_to(corpus):
            source.leave_out(index_path)
    _check_index_folder(index, index_path)
    if require_images and isinstance(source, FolderSource) and not _holds_an_image(source):
        raise EmptyCorpusError(
            f"no image in {source.folder}: it is empty or holds no image file "
            "(PNG, JPEG, TIFF, BMP, WebP, GIF, DICOM); nothing was indexed"
        )


def _check_index_folder(index: IndexFolder, real_path: Path) -> None:
    """An ``--index`` folder must be absent, empty, or hold an index (or its first files)."""
    if real_path.exists() and not real_path.is_dir():
        raise InvalidRequestError(f"--index {index.path} is a file; give a folder")
    if index.exists() or not real_path.is_dir():
        return
    others = sorted(
        entry.name
        for entry in os.scandir(real_path)
        if entry.name not in INDEX_ENTRIES
        and not (entry.name.startswith(".") and entry.name.endswith(".tmp"))
    )
    if others:
        shown = ", ".join(others[:3]) + (" ..." if len(others) > 3 else "")
        raise InvalidRequestError(
            f"--index {index.path} holds other files ({shown}) and no index: give an empty or "
            "new folder, so that index files are not written among them"
        )


def _holds_an_image(source: FolderSource) -> bool:
    """True at the first file that is an image by its name or its first bytes."""
    for file in source.scan_lazily():
        if PurePosixPath(file.relpath).suffix.lower() in IMAGE_SUFFIXES:
            return True
        try:
            with file.path.open("rb") as stream:
                if sniff_format(stream.read(132)) is not None:
                    return True
        except OSError:
            continue
    return False
