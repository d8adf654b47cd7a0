"""Checksums of the files an index version publishes, as ``index_info.json`` records them.

A checksum is ``"sha256:<hex>"``, computed in chunks so a file of any size is hashed in little
memory. ``vectors.f16`` grows in place, so its checksum covers only the rows a version publishes;
:class:`PrefixDigest` hashes such a prefix and can go on from where an earlier one stopped.
``meta.sqlite`` is written in place by SQLite and has no checksum: ``medsearch verify --deep``
runs SQLite's own integrity check on it instead.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any, BinaryIO

from ..errors import IndexCorruptError

ALGORITHM = "sha256"
_CHUNK = 1 << 20


def file_checksum(handle: BinaryIO) -> str:
    """The checksum of everything from the handle's position to the end of the file."""
    digest = hashlib.sha256()
    while chunk := handle.read(_CHUNK):
        digest.update(chunk)
    return f"{ALGORITHM}:{digest.hexdigest()}"


def path_checksum(path: Path) -> str:
    """The checksum of the whole file at ``path``."""
    with open(path, "rb") as handle:
        return file_checksum(handle)


def content_checksum(content: bytes) -> str:
    """The checksum ``index_info.json`` records for a file of ``content``."""
    return f"{ALGORITHM}:{hashlib.sha256(content).hexdigest()}"


def checked_bytes(path: Path, recorded: str) -> bytes:
    """The content of the published file at ``path``, which must match the ``recorded``
    checksum (:class:`IndexCorruptError` if not, or if it cannot be read)."""
    try:
        content = path.read_bytes()
    except OSError as exc:
        raise IndexCorruptError(f"cannot read {path.name}: {exc.strerror}") from exc
    if content_checksum(content) != recorded:
        raise IndexCorruptError(mismatch_message(path.name, "run `medsearch index` again"))
    return content


def checked_json(path: Path, recorded: str) -> Any:
    """The parsed content of the published JSON file at ``path``, checked as
    :func:`checked_bytes` checks it."""
    content = checked_bytes(path, recorded)
    try:
        return json.loads(content)
    except ValueError as exc:
        raise IndexCorruptError(f"{path.name} is not valid JSON: {exc}") from exc


def mismatch_message(name: str, what_to_do: str) -> str:
    return (
        f"{name} does not match the checksum index_info.json records: the file is damaged; "
        f"{what_to_do}"
    )


class PrefixDigest:
    """The checksum of the first ``length`` bytes of a file that only grows at its end."""

    def __init__(self) -> None:
        self._digest = hashlib.sha256()
        self.length = 0

    def copy(self) -> PrefixDigest:
        other = PrefixDigest()
        other._digest = self._digest.copy()
        other.length = self.length
        return other

    def extend_to(self, path: Path, length: int) -> None:
        """Hash the file's bytes from where this digest stopped up to ``length``."""
        if length == self.length:
            return
        if length < self.length:
            raise ValueError(f"a prefix digest cannot shrink from {self.length} to {length}")
        with open(path, "rb") as handle:
            handle.seek(self.length)
            while self.length < length:
                chunk = handle.read(min(_CHUNK, length - self.length))
                if not chunk:
                    raise IndexCorruptError(
                        f"{path.name} has {self.length} bytes, fewer than the {length} published"
                    )
                self._digest.update(chunk)
                self.length += len(chunk)

    def checksum(self) -> str:
        return f"{ALGORITHM}:{self._digest.hexdigest()}"
