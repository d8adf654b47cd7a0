"""Indexing a real PACS (Orthanc over DICOMweb): listing, retrieval, identifiers, increments,
filters, pruning, failures, and the errors of a PACS that is down or refuses the request."""

from __future__ import annotations

import json
from pathlib import Path

import pydicom
import pytest
from click.testing import CliRunner

from indexer.cli import cli
from indexer.records import InstanceUIDs
from indexer.sources.dicomweb import relpath_for
from indexer.storage.folder import IndexFolder
from tests.support.helpers import SAMPLE_IMAGES, run_cli, tiny_model_args
from tests.support.orthanc import Orthanc, running_orthanc
from tests.support.orthanc import missing as orthanc_missing

pytestmark = pytest.mark.slow


def listed_uids(orthanc: Orthanc, **filters: str) -> set[tuple[str, str, str]]:
    """(study, series, SOP) of every instance the PACS lists, read with plain QIDO-RS."""
    from dicomweb_client.api import DICOMwebClient

    from tests.support.orthanc import PASSWORD, USER

    client = DICOMwebClient(orthanc.dicomweb)
    client._session.auth = (USER, PASSWORD)
    found = client.search_for_instances(search_filters=filters)
    return {
        tuple(item[tag]["Value"][0] for tag in ("0020000D", "0020000E", "00080018"))
        for item in found
    }


def stored_identifiers(index_dir: Path) -> dict[str, tuple[str, str, str]]:
    """relpath -> UIDs, from the index's own tables."""
    with IndexFolder(index_dir).open_store() as store:
        records = store.get_many(store.ids())
        uids = {image_id: store.identifiers(image_id) for image_id in records}
        return {records[i].path: found for i, found in uids.items() if found is not None}


def index_json(source: str, index_dir: Path, model_dir: Path, *options: str) -> dict[str, object]:
    args = tiny_model_args(model_dir)
    out = run_cli("index", source, "--index", index_dir, *args, "--json", *options)
    result: dict[str, object] = json.loads(out)
    return result


def test_the_whole_pacs_is_indexed_with_its_identifiers_apart(
    orthanc: Orthanc, pacs_index_dir: Path
) -> None:
    listed = listed_uids(orthanc)
    info = IndexFolder(pacs_index_dir).read_info()
    with IndexFolder(pacs_index_dir).open_store() as store:
        failures = store.failures()
    # every listed instance but the one without pixel data (rtplan.dcm) is an image
    assert [failure["reason"] for failure in failures] == ["no_pixel_data"]
    assert info.count == len(listed) - 1
    assert info.corpus_root == orthanc.dicomweb
    identifiers = stored_identifiers(pacs_index_dir)
    assert set(identifiers.values()) <= listed and len(identifiers) == info.count
    for relpath, uids in identifiers.items():
        assert relpath == relpath_for(InstanceUIDs(*uids))  # opaque: no UID in the images table


def test_a_second_run_retrieves_nothing_and_a_filter_narrows_the_listing(
    orthanc: Orthanc,
    pacs_index_dir: Path,
    tiny_model_dir: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    orthanc.use_credentials(monkeypatch)
    again = index_json(orthanc.dicomweb, pacs_index_dir, tiny_model_dir)
    assert again["indexed"] == 0
    assert again["unchanged"] == IndexFolder(pacs_index_dir).read_info().count
    failed = again["failed"]
    assert isinstance(failed, list) and [f["reason"] for f in failed] == ["unchanged_since_failure"]

    filtered = index_json(
        orthanc.dicomweb, tmp_path / "ct", tiny_model_dir, "--dicomweb-filter", "Modality=CT"
    )
    ct = listed_uids(orthanc, Modality="CT")
    assert 0 < filtered["count"] == len(ct) < len(listed_uids(orthanc))  # type: ignore[operator]
    with IndexFolder(tmp_path / "ct").open_store() as store:
        assert {store.get(int(i)).modality for i in store.ids()} == {"CT"}


def test_prune_and_a_pacs_that_goes_down(
    tiny_model_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    reason = orthanc_missing()
    if reason:
        pytest.skip(reason)
    monkeypatch.setenv("MEDSEARCH_DICOMWEB_BACKOFF", "0.01")  # the stopped PACS is retried
    names = ("dcm_ct_small.dcm", "dcm_mr_small.dcm", "dcm_us_echo.dcm")
    files = [SAMPLE_IMAGES / name for name in names]
    index_dir = tmp_path / "index"
    with running_orthanc(tmp_path / "pacs") as pacs:
        pacs.use_credentials(monkeypatch)
        pacs.upload(files)
        assert index_json(pacs.dicomweb, index_dir, tiny_model_dir)["count"] == 3
        pacs.delete_instance(str(pydicom.dcmread(files[0]).SOPInstanceUID))
        kept = index_json(pacs.dicomweb, index_dir, tiny_model_dir)
        assert kept["missing"] == 1 and kept["count"] == 3
        pruned = index_json(pacs.dicomweb, index_dir, tiny_model_dir, "--prune")
        assert pruned["pruned"] == 1 and pruned["count"] == 2
        assert len(stored_identifiers(index_dir)) == 2

        monkeypatch.setenv("MEDSEARCH_DICOMWEB_PASSWORD", "wrong")
        refused = CliRunner().invoke(cli, ["index", pacs.dicomweb, "--index", str(index_dir)])
        assert refused.exit_code == 1 and "HTTP 401" in refused.output
        url = pacs.dicomweb
    # the PACS is stopped now
    down = CliRunner().invoke(cli, ["index", url, "--index", str(index_dir)])
    assert down.exit_code == 1 and "cannot be reached" in down.output
    assert IndexFolder(index_dir).read_info().count == 2  # what was committed is kept
    assert "consistent" in run_cli("verify", index_dir)


def test_credentials_stay_out_of_the_url(tmp_path: Path) -> None:
    result = CliRunner().invoke(
        cli, ["index", "http://user:secret@127.0.0.1:9/dicom-web", "--index", str(tmp_path)]
    )
    assert result.exit_code == 1 and "MEDSEARCH_DICOMWEB_TOKEN" in result.output
