"""The service over an index of a real PACS: thumbnails and files come through WADO-RS, images
with burned-in patient data can be withheld, and no UID is returned."""

from __future__ import annotations

import io
import json
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import numpy as np
import pydicom
import pytest
from flask import Flask
from PIL import Image
from sqlalchemy import event
from sqlalchemy.engine import Engine

from indexer.imaging.decode import load_image
from indexer.records import InstanceUIDs
from indexer.settings import Settings
from indexer.sources.dicomweb import relpath_for
from search_api import create_app
from search_api.state import ApiState
from search_api.thumbnails import withheld_placeholder
from tests.support.contract import Contract, ContractClient
from tests.support.helpers import SAMPLE_IMAGES, assert_error, run_cli, tiny_model_args
from tests.support.orthanc import PASSWORD, USER, Orthanc, running_orthanc
from tests.support.orthanc import missing as orthanc_missing

pytestmark = pytest.mark.slow


def make_app(index_dir: Path, thumbnails: Path, **settings: object) -> Flask:
    return create_app(
        Settings(
            index_dir=index_dir,
            device="cpu",
            precision="fp32",
            thumbnail_dir=thumbnails,
            dicomweb_user=USER,
            dicomweb_password=PASSWORD,
            **settings,  # type: ignore[arg-type]
        )
    )


@pytest.fixture()
def pacs_client(
    orthanc: Orthanc, pacs_index_dir: Path, tmp_path: Path, request: pytest.FixtureRequest
) -> Iterator[ContractClient]:
    app = make_app(pacs_index_dir, tmp_path / "thumbnails", **getattr(request, "param", {}))
    client = ContractClient(app, app.response_class, use_cookies=True)
    client.contract = Contract.of(app)
    yield client
    state: ApiState = app.extensions["medsearch"]
    state.retriever.close()  # type: ignore[attr-defined]


def search_all(client: ContractClient) -> dict[str, Any]:
    response = client.post("/api/search", json={"text": "an image", "k": 100})
    assert response.status_code == 200, response.get_json()
    body: dict[str, Any] = response.get_json()
    return body


def image_id(client: ContractClient, sample_name: str) -> int:
    dataset = pydicom.dcmread(SAMPLE_IMAGES / sample_name, stop_before_pixels=True)
    uids = InstanceUIDs(
        str(dataset.StudyInstanceUID), str(dataset.SeriesInstanceUID), str(dataset.SOPInstanceUID)
    )
    hits = search_all(client)["results"]
    found = [hit["id"] for hit in hits if hit["path"] == relpath_for(uids)]
    assert len(found) == 1
    return int(found[0])


def test_thumbnail_and_file_are_fetched_from_the_pacs(pacs_client: ContractClient) -> None:
    ct = image_id(pacs_client, "dcm_ct_head.dcm")
    thumbnail = pacs_client.get(f"/api/images/{ct}/thumbnail?size=128")
    assert thumbnail.status_code == 200 and thumbnail.mimetype == "image/jpeg"
    assert max(Image.open(io.BytesIO(thumbnail.data)).size) == 128
    full = pacs_client.get(f"/api/images/{ct}/file")
    assert full.status_code == 200 and full.mimetype == "image/png"
    rendered = np.asarray(Image.open(io.BytesIO(full.data)).convert("RGB"))
    local = np.asarray(load_image(SAMPLE_IMAGES / "dcm_ct_head.dcm").image)
    assert np.array_equal(rendered, local)


def test_search_results_carry_no_uid(pacs_client: ContractClient) -> None:
    body = search_all(pacs_client)
    text = json.dumps(body)
    for path in SAMPLE_IMAGES.glob("*.dcm"):
        assert str(pydicom.dcmread(path, stop_before_pixels=True).SOPInstanceUID) not in text
    flags = {hit["metadata"]["burned_in_annotation"] for hit in body["results"]}
    assert flags == {"yes", "no", "unknown"}


@pytest.mark.parametrize("pacs_client", [{"hide_burned_in": True}], indirect=True)
def test_hide_burned_in_withholds_flagged_images(pacs_client: ContractClient) -> None:
    kidney = image_id(pacs_client, "dcm_us_kidney.dcm")  # Burned In Annotation: YES
    thumbnail = pacs_client.get(f"/api/images/{kidney}/thumbnail?size=128")
    assert thumbnail.status_code == 200 and thumbnail.data == withheld_placeholder(128, "JPEG")
    full = pacs_client.get(f"/api/images/{kidney}/file")
    assert full.status_code == 200 and full.data == withheld_placeholder(512, "PNG")
    ct = image_id(pacs_client, "dcm_ct_head.dcm")
    shown = pacs_client.get(f"/api/images/{ct}/thumbnail?size=128")
    assert shown.status_code == 200 and shown.data != withheld_placeholder(128, "JPEG")


VIEWER = "https://viewer.example/viewer?study={study_uid}&series={series_uid}"


@pytest.mark.parametrize("pacs_client", [{"viewer_url": VIEWER}], indirect=True)
def test_viewer_setting_gives_each_pacs_image_its_viewer_link(
    pacs_client: ContractClient,
) -> None:
    dataset = pydicom.dcmread(SAMPLE_IMAGES / "dcm_ct_head.dcm", stop_before_pixels=True)
    ct = image_id(pacs_client, "dcm_ct_head.dcm")
    expected = VIEWER.format(
        study_uid=dataset.StudyInstanceUID, series_uid=dataset.SeriesInstanceUID
    )
    hits = {hit["id"]: hit for hit in search_all(pacs_client)["results"]}
    assert hits[ct]["viewer_url"] == expected
    assert pacs_client.get(f"/api/images/{ct}").get_json()["viewer_url"] == expected


@contextmanager
def statements_reading(engine: Engine, table: str) -> Iterator[list[str]]:
    """The SQL statements that name ``table``, as ``engine`` sends them while the block runs."""
    seen: list[str] = []

    def record(_conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        if table in statement:
            seen.append(statement)

    event.listen(engine, "before_cursor_execute", record)
    try:
        yield seen
    finally:
        event.remove(engine, "before_cursor_execute", record)


@pytest.mark.parametrize("pacs_client", [{"viewer_url": VIEWER}], indirect=True)
def test_a_page_of_results_reads_its_identifiers_in_one_query(
    pacs_client: ContractClient,
) -> None:
    state: ApiState = pacs_client.application.extensions["medsearch"]
    engine = state.retriever.store.engine  # type: ignore[attr-defined]
    with statements_reading(engine, "dicom_identifiers") as page_reads:
        hits = search_all(pacs_client)["results"]
    assert len(hits) > 1 and all(hit["viewer_url"] for hit in hits)
    assert len(page_reads) == 1
    with statements_reading(engine, "dicom_identifiers") as record_reads:
        assert pacs_client.get(f"/api/images/{hits[0]['id']}").get_json()["viewer_url"]
    assert len(record_reads) == 1


def test_files_have_no_viewer_link(api_settings: Settings) -> None:
    app = create_app(api_settings.replace(viewer_url=VIEWER))
    viewer_client = ContractClient(app, app.response_class)
    viewer_client.contract = Contract.of(app)
    hits = search_all(viewer_client)["results"]
    assert hits and all(hit["viewer_url"] is None for hit in hits)
    app.extensions["medsearch"].retriever.close()


def test_a_pacs_that_is_down_gives_503(
    tiny_model_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    reason = orthanc_missing()
    if reason:
        pytest.skip(reason)
    index_dir = tmp_path / "index"
    with running_orthanc(tmp_path / "pacs") as pacs:
        pacs.use_credentials(monkeypatch)
        pacs.upload([SAMPLE_IMAGES / "dcm_ct_small.dcm"])
        run_cli("index", pacs.dicomweb, "--index", index_dir, *tiny_model_args(tiny_model_dir))
    app = make_app(index_dir, tmp_path / "thumbnails")
    client = ContractClient(app, app.response_class)
    client.contract = Contract.of(app)
    assert_error(client.get("/api/images/1/thumbnail"), 503, "source_unavailable")
    assert_error(client.get("/api/images/1/file"), 503, "source_unavailable")
    app.extensions["medsearch"].retriever.close()
