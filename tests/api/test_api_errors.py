"""Every bad request gets the one error shape with the right status, and never a 500."""

from __future__ import annotations

import base64
import io
import struct
import zlib
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient

from indexer.settings import Settings
from search_api import create_app
from tests.support.helpers import SAMPLE_DIR, assert_error

JPEG = (SAMPLE_DIR / "images" / "cxr_01.jpg").read_bytes()


def png_bomb(width: int = 100_000, height: int = 100_000) -> bytes:
    """A PNG whose header claims ``width`` x ``height`` pixels (10 gigapixels by default)."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        crc = zlib.crc32(kind + data) & 0xFFFFFFFF
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", crc)

    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    pixels = zlib.compress(b"\x00" * 64)
    return (
        b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", pixels) + chunk(b"IEND", b"")
    )


def b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


BAD_SEARCH_BODIES: list[tuple[Any, int]] = [
    ({}, 400),
    ({"k": 5}, 400),
    ({"text": ""}, 400),
    ({"text": "   "}, 400),
    ({"text": 5}, 400),
    ({"text": ["chest"]}, 400),
    ({"text": "x" * 20_000}, 400),
    ({"text": "a", "image_id": 1}, 400),
    ({"text": "a", "vector": [0.1]}, 400),
    ({"text": "a", "k": 0}, 400),
    ({"text": "a", "k": -3}, 400),
    ({"text": "a", "k": "abc"}, 400),
    ({"text": "a", "k": "5"}, 400),
    ({"text": "a", "k": 2.5}, 400),
    ({"text": "a", "k": True}, 400),
    ({"text": "a", "k": 1001}, 400),
    ({"text": "a", "k": 10**30}, 400),
    ({"text": "a", "offset": -1}, 400),
    ({"text": "a", "offset": "0"}, 400),
    ({"text": "a", "offset": 10**15}, 400),
    ({"text": "a", "min_score": "high"}, 400),
    ({"text": "a", "min_score": [0.5]}, 400),
    ({"text": "a", "min_score": 10**400}, 400),
    ({"text": "a", "filters": "modality=CT"}, 400),
    ({"text": "a", "filters": ["CT"]}, 400),
    ({"text": "a", "filters": {"no_such_field": "x"}}, 400),
    ({"text": "a", "filters": {"modality": []}}, 400),
    ({"text": "a", "filters": {"modality": {"$ne": "CT"}}}, 400),
    ({"text": "a", "filters": {"modality": [{"a": 1}]}}, 400),
    ({"text": "a", "filters": {"width": 2**80}}, 400),
    ({"textt": "a"}, 400),
    ({"text": "a", "filter": {"modality": "CT"}}, 400),
    ({"vector": []}, 400),
    ({"vector": [0.1, 0.2, 0.3]}, 400),
    ({"vector": ["a", "b"]}, 400),
    ({"vector": [True, False]}, 400),
    ({"vector": "0.1,0.2"}, 400),
    ({"vector": [[0.1]]}, 400),
    ({"vector": [0.0] * 100_000}, 400),
    ({"vector": [10**400, 0.0]}, 400),
    ({"image_id": -1}, 400),
    ({"image_id": "1"}, 400),
    ({"image_id": 1.5}, 400),
    ({"image_id": 987_654}, 404),
    ({"image_id": 2**63}, 404),
    ({"image_id": 10**40}, 404),
    ({"image": 12}, 400),
    ({"image": ""}, 400),
    ({"image": "!!!not base64!!!"}, 400),
    ({"image": "data:image/png,rawbytes"}, 400),
    ({"image": b64(b"this is not an image")}, 422),
    ({"image": b64(b"\x89PNG\r\n\x1a\n" + b"\x00" * 40)}, 422),
    ({"image": b64(JPEG[: len(JPEG) // 3])}, 422),
    ({"image": b64(png_bomb())}, 422),
    ({"image": b64(b"\x00" * 200)}, 422),
]


@pytest.mark.parametrize(("body", "status"), BAD_SEARCH_BODIES)
def test_bad_search_bodies(client: FlaskClient, body: Any, status: int) -> None:
    assert_error(client.post("/api/search", json=body), status)


BAD_RAW_BODIES: list[tuple[bytes, str | None, int]] = [
    (b"", "application/json", 400),
    (b"{", "application/json", 400),
    (b"{'text': 'a'}", "application/json", 400),
    (b"[]", "application/json", 400),
    (b"null", "application/json", 400),
    (b'"text"', "application/json", 400),
    (b"[" * 100_000 + b"]" * 100_000, "application/json", 400),
    (b'{"text": "a", "min_score": NaN}', "application/json", 400),
    (b'{"text": "a", "min_score": Infinity}', "application/json", 400),
    (b'{"vector": [1e999, 0.0]}', "application/json", 400),
    (b'{"text": "a", "k": 1' + b"0" * 5000 + b"}", "application/json", 400),
    (b"\xff\xfe\x00garbage", "application/json", 400),
    (b'{"text": "a"}', "text/plain", 415),
    (b'{"text": "a"}', "application/x-www-form-urlencoded", 415),
    (b'{"text": "a"}', None, 415),
]


@pytest.mark.parametrize("url", ["/api/search", "/api/classify"])
@pytest.mark.parametrize(("data", "content_type", "status"), BAD_RAW_BODIES)
def test_bad_raw_bodies(
    client: FlaskClient, url: str, data: bytes, content_type: str | None, status: int
) -> None:
    headers = {} if content_type is None else {"Content-Type": content_type}
    assert_error(client.post(url, data=data, headers=headers), status)


BAD_CLASSIFY_BODIES: list[tuple[Any, int]] = [
    ({"labels": ["a", "b"]}, 400),
    ({"image_id": 1}, 400),
    ({"image_id": 1, "labels": []}, 400),
    ({"image_id": 1, "labels": "a,b"}, 400),
    ({"image_id": 1, "labels": [1, 2]}, 400),
    ({"image_id": 1, "labels": ["a", ""]}, 400),
    ({"image_id": 1, "labels": ["a"], "template": 5}, 400),
    ({"image_id": 1, "labels": ["a"], "template": "no placeholder"}, 400),
    ({"image_id": 1, "labels": ["a"], "template": "{} and {}"}, 400),
    ({"image_id": 1, "labels": ["a"], "template": "{{}} and {}"}, 400),
    ({"image_id": 1, "labels": ["a"], "template": "a {} " + "x" * 10_000}, 400),
    ({"image_id": 1, "labels": ["a"] * 101}, 400),
    ({"image_id": 1, "labels": ["a", "x" * 10_001]}, 400),
    ({"image_id": 1, "image": b64(JPEG), "labels": ["a"]}, 400),
    ({"image_id": 1, "labels": ["a"], "extra": True}, 400),
    ({"image_id": 987_654, "labels": ["a", "b"]}, 404),
    ({"image": b64(b"GIF89a broken"), "labels": ["a", "b"]}, 422),
    ({"image": b64(png_bomb()), "labels": ["a", "b"]}, 422),
]


@pytest.mark.parametrize(("body", "status"), BAD_CLASSIFY_BODIES)
def test_bad_classify_bodies(client: FlaskClient, body: Any, status: int) -> None:
    assert_error(client.post("/api/classify", json=body), status)


def multipart(**fields: Any) -> dict[str, Any]:
    return {"data": fields, "content_type": "multipart/form-data"}


BAD_UPLOADS: list[tuple[dict[str, Any], int]] = [
    (multipart(k="3"), 400),
    (multipart(file=(io.BytesIO(b""), "empty.png")), 400),
    (multipart(file=(io.BytesIO(b"hello"), "a.png")), 422),
    (multipart(file=(io.BytesIO(png_bomb()), "bomb.png")), 422),
    (multipart(file=(io.BytesIO(JPEG), "a.jpg"), k="abc"), 400),
    (multipart(file=(io.BytesIO(JPEG), "a.jpg"), k="0"), 400),
    (multipart(file=(io.BytesIO(JPEG), "a.jpg"), offset="-2"), 400),
    (multipart(file=(io.BytesIO(JPEG), "a.jpg"), min_score="x"), 400),
    (multipart(file=(io.BytesIO(JPEG), "a.jpg"), filters="{"), 400),
    (multipart(file=(io.BytesIO(JPEG), "a.jpg"), filters='{"nope": 1}'), 400),
    (multipart(file=(io.BytesIO(JPEG), "a.jpg"), text="chest"), 400),
    (multipart(file=(io.BytesIO(JPEG), "a.jpg"), other=(io.BytesIO(JPEG), "b.jpg")), 400),
    (multipart(file="not a file part"), 400),
    ({"data": b"garbage", "content_type": "multipart/form-data"}, 400),
    ({"data": b"--xyz\r\ngarbage", "content_type": "multipart/form-data; boundary=xyz"}, 400),
    ({"json": {"image": b64(JPEG)}}, 415),
    ({"data": JPEG, "content_type": "image/jpeg"}, 415),
]


@pytest.mark.parametrize(("kwargs", "status"), BAD_UPLOADS)
def test_bad_uploads(client: FlaskClient, kwargs: dict[str, Any], status: int) -> None:
    assert_error(client.post("/api/search/image", **kwargs), status)


BAD_GETS: list[tuple[str, int]] = [
    ("/api/images/987654", 404),
    ("/api/images/987654/thumbnail", 404),
    ("/api/images/987654/file", 404),
    ("/api/images/987654/similar", 404),
    ("/api/images/" + "9" * 40, 404),
    ("/api/images/" + "9" * 40 + "/file", 404),
    ("/api/images/-1", 404),
    ("/api/images/abc", 404),
    ("/api/images/1/nothing", 404),
    ("/api/images/1/thumbnail?size=abc", 400),
    ("/api/images/1/thumbnail?size=31", 400),
    ("/api/images/1/thumbnail?size=5000", 400),
    ("/api/images/1/similar?k=0", 400),
    ("/api/images/1/similar?k=abc", 400),
    ("/api/images/1/similar?filters=%7B", 400),
    ("/api/images/1/similar?filters=%7B%22zzz%22%3A1%7D", 400),
    ("/api/nope", 404),
    ("/api/search/", 404),
    ("/api", 404),
    ("/api/search", 405),
    ("/api/classify", 405),
]


@pytest.mark.parametrize(("url", "status"), BAD_GETS)
def test_bad_gets(client: FlaskClient, ids_by_file: dict[str, int], url: str, status: int) -> None:
    assert 1 in ids_by_file.values()  # the sample ids start at 1
    assert_error(client.get(url), status)


@pytest.mark.parametrize(
    ("method", "url"),
    [("delete", "/api/images/1"), ("put", "/api/search"), ("post", "/api/health")],
)
def test_wrong_method(client: FlaskClient, method: str, url: str) -> None:
    response = getattr(client, method)(url)
    assert_error(response, 405)
    assert response.headers["Allow"]


@pytest.fixture(scope="module")
def small_app(api_settings: Settings, app_retriever: Any) -> Flask:
    return create_app(api_settings.replace(max_upload_bytes=20_000), retriever=app_retriever)


def test_too_large(small_app: Flask) -> None:
    assert len(JPEG) > 20_000
    client = small_app.test_client()
    assert_error(client.post("/api/search", json={"image": b64(JPEG)}), 413)
    assert_error(client.post("/api/classify", json={"image": b64(JPEG), "labels": ["a"]}), 413)
    upload = multipart(file=(io.BytesIO(JPEG), "a.jpg"))
    assert_error(client.post("/api/search/image", **upload), 413)
