"""Atomic file replacement: readers see the old file or the new one, never a half-written one.

The content goes to a hidden temporary file beside the target, which is then renamed over it.
A durable write also fsyncs the file before the rename and the folder after it, so the new file
survives a power cut once the call returns; a cache that can be rebuilt may skip both.
"""

from __future__ import annotations

import os
import secrets
from collections.abc import Callable
from contextlib import suppress
from pathlib import Path


def write_atomic(
    path: Path,
    content: bytes | Callable[[Path], None],
    *,
    durable: bool,
    make_parents: bool = False,
) -> None:
    """Replace ``path`` with ``content`` in one step.

    ``content`` is the bytes to write, or a callback that writes the file whose path it is given
    (for libraries that write only to a path). The temporary file is removed when anything fails.
    ``make_parents`` creates the missing folders above ``path`` first.
    """
    if make_parents:
        path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{secrets.token_hex(8)}.tmp")
    # created like any open() would create it, so the process umask sets its permissions
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666)
    try:
        with os.fdopen(fd, "wb") as handle:
            if isinstance(content, bytes):
                handle.write(content)
        if not isinstance(content, bytes):
            content(tmp)
        if durable:
            _fsync(tmp)
        os.replace(tmp, path)
    except BaseException:
        with suppress(OSError):
            tmp.unlink()
        raise
    if durable:
        _fsync(path.parent)


def _fsync(path: Path) -> None:
    """Flush a file's or a folder's content to the disk."""
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
