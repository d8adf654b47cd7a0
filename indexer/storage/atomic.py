"""Atomic file replacement: readers see the old file or the new one, never a half-written one.

The content goes to a hidden temporary file beside the target, which is then renamed over it.
A durable write also fsyncs the file before the rename and the folder after it, so the new file
survives a power cut once the call returns; a cache that can be rebuilt may skip both.

A write that fails for lack of space (``ENOSPC``, ``EFBIG`` past a file-size limit, ``EDQUOT``,
or SQLite's "database or disk is full") becomes a :class:`~indexer.errors.DiskFullError` inside
:func:`reporting_disk_full`, so the command line reports it in one line with its own exit status.
"""

from __future__ import annotations

import errno
import os
import secrets
import sqlite3
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from pathlib import Path

from ..errors import DiskFullError
from ..fault_points import fault_point

#: errors of a write that found no room
DISK_FULL_ERRNOS = frozenset({errno.ENOSPC, errno.EFBIG, errno.EDQUOT})
#: SQLite's (extended) result names for the same: a full database, a failed write, a
#: shared-memory file that cannot grow (SQLite does not pass on the errno)
_SQLITE_DISK_FULL = frozenset({"SQLITE_FULL", "SQLITE_IOERR_WRITE", "SQLITE_IOERR_SHMSIZE"})


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
            fsync_path(tmp)
        fault_point("atomic:before-rename")
        os.replace(tmp, path)
    except BaseException:
        with suppress(OSError):
            tmp.unlink()
        raise
    if durable:
        fsync_path(path.parent)


def fsync_path(path: Path) -> None:
    """Flush a file's or a folder's content to the disk."""
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


@contextmanager
def reporting_disk_full(what: str) -> Iterator[None]:
    """Turn a write that failed for lack of space into :class:`DiskFullError` naming ``what``."""
    try:
        yield
    except OSError as exc:
        if exc.errno not in DISK_FULL_ERRNOS:
            raise
        raise DiskFullError(_disk_full_message(what, os.strerror(exc.errno))) from exc
    except Exception as exc:
        # SQLAlchemy wraps the sqlite3 error in ``orig``
        cause = getattr(exc, "orig", exc)
        if not (
            isinstance(cause, sqlite3.Error)
            and getattr(cause, "sqlite_errorname", None) in _SQLITE_DISK_FULL
        ):
            raise
        raise DiskFullError(_disk_full_message(what, str(cause))) from exc


def _disk_full_message(what: str, reason: str) -> str:
    return (
        f"cannot write {what}: {reason}. The last published index is intact; "
        "free some space and run the command again to finish"
    )
