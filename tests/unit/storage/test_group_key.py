"""The index's group key file: random, owner-only, made once and never replaced; and the keyed
hash that turns a UID into a series or study key."""

from __future__ import annotations

import hashlib
import os
import shutil
import stat
from pathlib import Path

import pydicom
import pytest

from indexer.errors import IndexCorruptError
from indexer.imaging.case_keys import KEY_HEX_CHARS, keyed_hash
from indexer.records import MetadataValue
from indexer.storage.folder import IndexFolder
from indexer.storage.group_key import (
    GROUP_KEY_BYTES,
    ensure_group_key,
    group_key_path,
    read_group_key,
    write_group_key,
)
from tests.support.helpers import SAMPLE_IMAGES, run_cli, tiny_model_args


def hmac_sha256_by_definition(key: bytes, message: bytes) -> bytes:
    """RFC 2104 written out: H((K ^ opad) || H((K ^ ipad) || m)), for a key of up to 64 bytes."""
    block = key.ljust(64, b"\0")
    inner = hashlib.sha256(bytes(b ^ 0x36 for b in block) + message).digest()
    return hashlib.sha256(bytes(b ^ 0x5C for b in block) + inner).digest()


def test_keyed_hash_is_the_first_hex_characters_of_hmac_sha256() -> None:
    key = bytes(range(GROUP_KEY_BYTES))
    uid = "1.3.46.670589.33.1.6002432791750815306.26862469513794233732"
    expected = hmac_sha256_by_definition(key, uid.encode()).hex()[:KEY_HEX_CHARS]
    assert keyed_hash(uid, key) == expected
    assert len(expected) == 16
    assert keyed_hash(uid, bytes(GROUP_KEY_BYTES)) != expected  # another key, another value


def test_a_new_key_is_random_owner_only_and_never_replaced(tmp_path: Path) -> None:
    old_umask = os.umask(0o000)  # the most permissive umask must not widen the file's mode
    try:
        first = ensure_group_key(tmp_path / "a")
    finally:
        os.umask(old_umask)
    path = group_key_path(tmp_path / "a")
    assert len(first) == GROUP_KEY_BYTES
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert ensure_group_key(tmp_path / "a") == first
    assert not write_group_key(tmp_path / "a", bytes(GROUP_KEY_BYTES))
    assert path.read_bytes() == first
    assert ensure_group_key(tmp_path / "b") != first
    assert sorted(p.name for p in (tmp_path / "a").iterdir()) == ["group_key"]  # no temporaries


def test_a_key_of_the_wrong_size_is_refused(tmp_path: Path) -> None:
    assert read_group_key(tmp_path) is None
    group_key_path(tmp_path).write_bytes(b"short")
    with pytest.raises(IndexCorruptError, match="5 bytes"):
        ensure_group_key(tmp_path)
    with pytest.raises(ValueError):
        write_group_key(tmp_path / "other", b"short")


@pytest.mark.slow
def test_an_index_gets_its_key_when_made_and_keeps_it(tmp_path: Path, tiny_model_dir: Path) -> None:
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    shutil.copy(SAMPLE_IMAGES / "dcm_ct_head.dcm", corpus)
    index_dir = tmp_path / "index"
    model = tiny_model_args(tiny_model_dir)
    run_cli("index", corpus, "--index", index_dir, *model)
    key = read_group_key(index_dir)
    assert key is not None
    assert stat.S_IMODE(group_key_path(index_dir).stat().st_mode) == 0o600

    # publishing a new version leaves the key as it was
    shutil.copy(SAMPLE_IMAGES / "dcm_ct_abdomen.dcm", corpus)
    run_cli("index", corpus, "--index", index_dir, *model)
    assert read_group_key(index_dir) == key
    assert "consistent" in run_cli("verify", index_dir, "--deep")
    before = series_keys(index_dir)

    # an index made before group keys gets one on its next run; what it holds is not re-read
    group_key_path(index_dir).unlink()
    shutil.copy(SAMPLE_IMAGES / "dcm_mr_liver.dcm", corpus)
    run_cli("index", corpus, "--index", index_dir, *model)
    renewed = read_group_key(index_dir)
    assert renewed is not None and renewed != key
    after = series_keys(index_dir)
    assert after == {**before, "dcm_mr_liver.dcm": after["dcm_mr_liver.dcm"]}
    for name, keyed_with in (("dcm_ct_head.dcm", key), ("dcm_mr_liver.dcm", renewed)):
        series_uid = str(pydicom.dcmread(corpus / name, stop_before_pixels=True).SeriesInstanceUID)
        assert after[name] == keyed_hash(series_uid, keyed_with)


def series_keys(index_dir: Path) -> dict[str, MetadataValue]:
    with IndexFolder(index_dir).open_store() as store:
        return {r.path: r.extra["series_key"] for r in store.get_many(store.ids()).values()}
