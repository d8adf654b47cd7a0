"""The index's group key: the secret that turns series and study UIDs into stable keys.

Every index has its own 32 random bytes in the file ``group_key`` of its folder, readable by its
owner only (mode 0600). Series and study keys are keyed hashes with it
(:func:`indexer.imaging.case_keys.keyed_hash`): consistent within the index, unrelated between
two indexes, and no UID can be recovered or confirmed from them without the file.

The file is made once, when the index is created (or on the first run of an index older than the
key), and never rewritten: it is written aside and linked into place, which fails rather than
replace a key another process made first. It is not part of a published version and is left alone
by publishing.
"""

from __future__ import annotations

import os
import secrets
from contextlib import suppress
from pathlib import Path

from ..errors import IndexCorruptError
from .atomic import fsync_path, reporting_disk_full

GROUP_KEY_FILE = "group_key"
GROUP_KEY_BYTES = 32
#: owner read and write, nobody else
GROUP_KEY_MODE = 0o600


def group_key_path(folder: Path) -> Path:
    """Where the group key of the index in ``folder`` lives."""
    return Path(folder) / GROUP_KEY_FILE


def read_group_key(folder: Path) -> bytes | None:
    """The group key of the index in ``folder``; None when it has none yet.

    Raises :class:`~indexer.errors.IndexCorruptError` for a file of the wrong size.
    """
    path = group_key_path(folder)
    try:
        key = path.read_bytes()
    except FileNotFoundError:
        return None
    if len(key) != GROUP_KEY_BYTES:
        raise IndexCorruptError(
            f"{path} holds {len(key)} bytes, not the {GROUP_KEY_BYTES} of a group key; the series "
            "and study keys of this index cannot be computed again: rebuild it in a new folder"
        )
    return key


def write_group_key(folder: Path, key: bytes) -> bool:
    """Make ``key`` the group key of the index in ``folder`` unless it has one already.

    True when this call wrote it. The file is complete and owner-only before it appears."""
    if len(key) != GROUP_KEY_BYTES:
        raise ValueError(f"a group key is {GROUP_KEY_BYTES} bytes, not {len(key)}")
    path = group_key_path(folder)
    tmp = path.with_name(f".{path.name}.{secrets.token_hex(8)}.tmp")
    with reporting_disk_full(path.name):
        path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, GROUP_KEY_MODE)
        try:
            with os.fdopen(fd, "wb") as handle:
                handle.write(key)
                handle.flush()
                os.fsync(handle.fileno())
            os.chmod(tmp, GROUP_KEY_MODE)  # whatever the umask did to the mode above
            try:
                os.link(tmp, path)  # unlike a rename, never replaces an existing key
            except FileExistsError:
                return False
        finally:
            with suppress(FileNotFoundError):
                tmp.unlink()
        fsync_path(path.parent)
    return True


def ensure_group_key(folder: Path) -> bytes:
    """The group key of the index in ``folder``, made from fresh random bytes if it has none."""
    key = read_group_key(folder)
    if key is None:
        write_group_key(folder, secrets.token_bytes(GROUP_KEY_BYTES))
        key = read_group_key(folder)
    assert key is not None  # written just now, by this call or a concurrent one
    return key
