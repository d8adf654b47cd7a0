"""Indexing a real PACS (Orthanc) through a proxy that fails chosen requests: passing failures
(503, 429, a dropped connection, a time-out) are retried within a run, an instance whose failures
outlast the retries is recorded as unavailable and indexed by the next run, a 404 is a permanent
failure, and a listing that keeps failing stops the run."""

from __future__ import annotations

import json
from pathlib import Path

import pydicom
import pytest
from click.testing import CliRunner

from indexer.cli import cli
from indexer.storage.folder import IndexFolder
from tests.support.failing_proxy import SEARCH, failing_proxy
from tests.support.helpers import SAMPLE_IMAGES, run_cli, tiny_model_args
from tests.support.orthanc import require_orthanc, running_orthanc

pytestmark = pytest.mark.slow

#: the instances, by what the proxy does to their retrievals
FILES = {
    "busy": "dcm_ct_small.dcm",
    "dropped": "dcm_mr_small.dcm",
    "slow": "dcm_nm_bone.dcm",
    "refused": "dcm_us_obstetric.dcm",
    "down": "dcm_ct_head.dcm",
}
RETRIES = 2


def failed_by_reason(report: dict[str, object]) -> dict[str, str]:
    failed = report["failed"]
    assert isinstance(failed, list)
    return {f["path"]: f["reason"] for f in failed}


def test_passing_failures_are_retried_and_permanent_ones_are_not(
    tiny_model_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    require_orthanc()
    monkeypatch.setenv("MEDSEARCH_DICOMWEB_RETRIES", str(RETRIES))
    monkeypatch.setenv("MEDSEARCH_DICOMWEB_BACKOFF", "0.05")
    monkeypatch.setenv("MEDSEARCH_DICOMWEB_TIMEOUT", "0.5")
    sop = {
        name: str(pydicom.dcmread(SAMPLE_IMAGES / file, stop_before_pixels=True).SOPInstanceUID)
        for name, file in FILES.items()
    }
    index_dir = tmp_path / "index"
    with running_orthanc(tmp_path / "pacs") as pacs, failing_proxy(pacs.url, 1.5) as proxy:
        pacs.use_credentials(monkeypatch)
        pacs.upload(SAMPLE_IMAGES / file for file in FILES.values())
        proxy.fail(SEARCH, "503")
        proxy.fail(sop["busy"], "503", "429")
        proxy.fail(sop["dropped"], "drop")
        proxy.fail(sop["slow"], "stall")
        proxy.fail(sop["down"], *["503"] * (RETRIES + 1))
        proxy.always[sop["refused"]] = "404"

        def index() -> dict[str, object]:
            args = tiny_model_args(tiny_model_dir)
            out = run_cli("index", f"{proxy.url}/dicom-web", "--index", index_dir, *args, "--json")
            report: dict[str, object] = json.loads(out)
            return report

        first = index()
        assert first["indexed"] == 3
        assert sorted(failed_by_reason(first).values()) == ["io_error", "unavailable"]
        asked = {name: len(proxy.requests[uid]) for name, uid in sop.items()}
        assert asked == {"busy": 3, "dropped": 2, "slow": 2, "refused": 1, "down": RETRIES + 1}
        busy = proxy.requests[sop["busy"]]
        assert busy[2] - busy[1] >= 1.0  # the 429's Retry-After: 1 was honoured

        second = index()  # the PACS answers for "down" now
        assert second["indexed"] == 1 and second["count"] == 4
        assert list(failed_by_reason(second).values()) == ["unchanged_since_failure"]
        assert len(proxy.requests[sop["refused"]]) == 1  # a 404 is not asked for again
        assert len(proxy.requests[sop["busy"]]) == 3  # nor what is indexed
        with IndexFolder(index_dir).open_store() as store:
            assert [f["reason"] for f in store.failures()] == ["io_error"]

        proxy.fail(SEARCH, *["503"] * (RETRIES + 1))
        refused = CliRunner().invoke(
            cli, ["index", f"{proxy.url}/dicom-web", "--index", str(index_dir)]
        )
        assert refused.exit_code == 1 and "QIDO-RS search: HTTP 503" in refused.output
    assert IndexFolder(index_dir).read_info().count == 4
