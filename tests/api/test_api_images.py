"""Image record, similar images, thumbnails (disk cache, ETag) and original files."""

from __future__ import annotations

import io
from typing import Any

import pytest
from flask.testing import FlaskClient
from PIL import Image

from indexer.settings import Settings
from search_api.routes import images as routes_images
from tests.support.helpers import SAMPLE_DIR


def test_record_has_everything_stored(client: FlaskClient, ids_by_file: dict[str, int]) -> None:
    image_id = ids_by_file["images/cxr_01.jpg"]
    body = client.get(f"/api/images/{image_id}").get_json()
    assert body["id"] == image_id
    assert body["path"] == "images/cxr_01.jpg"
    assert len(body["sha256"]) == 64
    assert body["caption"].startswith("Chest X-ray")
    assert body["metadata"]["label"] == "ARDS"
    assert body["metadata"]["modality"] == "CR"
    assert body["thumbnail_url"] == f"/api/images/{image_id}/thumbnail"
    assert body["image_url"] == f"/api/images/{image_id}/file"


def test_similar_leaves_the_image_out(client: FlaskClient, ids_by_file: dict[str, int]) -> None:
    image_id = ids_by_file["images/cxr_03.jpg"]
    response = client.get(f"/api/images/{image_id}/similar?k=5")
    assert response.status_code == 200, response.get_json()
    hits = response.get_json()["results"]
    assert len(hits) == 5
    assert image_id not in {hit["id"] for hit in hits}
    scores = [hit["score"] for hit in hits]
    assert scores == sorted(scores, reverse=True)
    default = client.get(f"/api/images/{image_id}/similar").get_json()["results"]
    assert len(default) == 20
    filtered = client.get(
        f"/api/images/{image_id}/similar", query_string={"filters": '{"modality": "CT"}'}
    ).get_json()["results"]
    assert {hit["metadata"]["modality"] for hit in filtered} == {"CT"}


def test_thumbnail_is_cached_on_disk(
    client: FlaskClient,
    ids_by_file: dict[str, int],
    api_settings: Settings,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    image_id = ids_by_file["images/histo_01.png"]
    url = f"/api/images/{image_id}/thumbnail?size=64"
    first = client.get(url)
    assert first.status_code == 200
    assert first.mimetype == "image/jpeg"
    assert "max-age" in first.headers["Cache-Control"]
    etag = first.headers["ETag"]
    with Image.open(io.BytesIO(first.data)) as thumb:
        assert thumb.format == "JPEG"
        assert max(thumb.size) == 64
    sha = client.get(f"/api/images/{image_id}").get_json()["sha256"]
    assert api_settings.thumbnail_dir is not None
    cached = api_settings.thumbnail_dir / sha[:2] / f"{sha}-64.jpg"
    assert cached.read_bytes() == first.data

    def no_rendering(*args: Any, **kwargs: Any) -> bytes:
        raise AssertionError("rendered again instead of using the cache")

    monkeypatch.setattr(routes_images, "render_thumbnail", no_rendering)
    second = client.get(url)
    assert second.status_code == 200 and second.data == first.data
    assert second.headers["ETag"] == etag
    not_modified = client.get(url, headers={"If-None-Match": etag})
    assert not_modified.status_code == 304
    assert not_modified.data == b""


def test_thumbnail_sizes_snap_up_to_a_few_steps(
    client: FlaskClient, ids_by_file: dict[str, int], api_settings: Settings
) -> None:
    image_id = ids_by_file["images/histo_01.png"]
    sha = client.get(f"/api/images/{image_id}").get_json()["sha256"]
    responses = [client.get(f"/api/images/{image_id}/thumbnail?size={n}") for n in (97, 110, 128)]
    assert {r.headers["ETag"] for r in responses} == {f'"{sha}-128"'}
    with Image.open(io.BytesIO(responses[0].data)) as thumb:
        assert max(thumb.size) == 128
    assert api_settings.thumbnail_dir is not None
    assert [p.name for p in (api_settings.thumbnail_dir / sha[:2]).glob(f"{sha}-1*.jpg")] == [
        f"{sha}-128.jpg"
    ]


def test_every_sample_has_a_thumbnail(client: FlaskClient, ids_by_file: dict[str, int]) -> None:
    for path, image_id in ids_by_file.items():
        response = client.get(f"/api/images/{image_id}/thumbnail")
        assert response.status_code == 200, (path, response.get_json())
        with Image.open(io.BytesIO(response.data)) as thumb:
            assert max(thumb.size) <= 256


@pytest.mark.parametrize(
    ("name", "mimetype"), [("cxr_01.jpg", "image/jpeg"), ("fundus_02.png", "image/png")]
)
def test_original_file_is_sent_as_is(
    client: FlaskClient, ids_by_file: dict[str, int], name: str, mimetype: str
) -> None:
    response = client.get(f"/api/images/{ids_by_file['images/' + name]}/file")
    assert response.status_code == 200
    assert response.mimetype == mimetype
    assert response.data == (SAMPLE_DIR / "images" / name).read_bytes()
    assert response.headers.get("ETag")


@pytest.mark.parametrize("name", ["dcm_ct_small.dcm", "dcm_us_echo.dcm"])
def test_dicom_file_is_rendered_to_png(
    client: FlaskClient, ids_by_file: dict[str, int], name: str
) -> None:
    image_id = ids_by_file["images/" + name]
    record = client.get(f"/api/images/{image_id}").get_json()
    response = client.get(f"/api/images/{image_id}/file")
    assert response.status_code == 200
    assert response.mimetype == "image/png"
    assert response.data.startswith(b"\x89PNG\r\n\x1a\n")
    with Image.open(io.BytesIO(response.data)) as rendered:
        assert rendered.size == (record["metadata"]["width"], record["metadata"]["height"])
    again = client.get(f"/api/images/{image_id}/file")
    assert again.data == response.data
    assert (
        client.get(
            f"/api/images/{image_id}/file", headers={"If-None-Match": response.headers["ETag"]}
        ).status_code
        == 304
    )
