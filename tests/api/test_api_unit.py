"""Parameter parsing, error shape, auth and reload cadence, over a stand-in retriever."""

from __future__ import annotations

import ast
import base64
import io
import logging
import os
from pathlib import Path
from typing import Any

import pytest
from flask import Blueprint, Flask

import search_api
from indexer.errors import (
    FrontEndMissingError,
    IndexCorruptError,
    InvalidRequestError,
    ModelUnavailableError,
    NotFoundError,
    PayloadTooLargeError,
)
from indexer.settings import Settings
from search_api import app as app_module
from search_api import create_app
from search_api.schema.fields import MAX_ID, Limits
from search_api.schema.image_fields import decode_base64_image
from search_api.schema.params import (
    FILTERS,
    K,
    parse_search_body,
    parse_search_query,
    parse_thumbnail_size,
)
from search_api.thumbnails import RenderCache
from tests.support.helpers import assert_error

# --- parsing ----------------------------------------------------------------------------------

LIMITS = Limits(max_k=1000, max_upload_bytes=100)


@pytest.mark.parametrize("value", [0, -1, 1001, "5", 2.5, 1e300, True, [], {}])
def test_parse_k_rejects(value: Any) -> None:
    with pytest.raises(InvalidRequestError, match="k must be an integer between 1 and 1000"):
        K.parse(value, LIMITS)


def test_parse_k_default_and_bounds() -> None:
    assert parse_search_body({"text": "x"}, LIMITS).params.k == 20
    assert parse_search_body({"text": "x", "k": None}, Limits(5, 100)).params.k == 5
    assert K.parse(1000, LIMITS) == 1000
    assert K.parse(5.0, LIMITS) == 5  # JSON Schema counts 5.0 as an integer too


def test_search_body_parses_every_field() -> None:
    body = {
        "text": "chest x-ray",
        "k": 3,
        "offset": 2,
        "filters": {"modality": "CT", "label": ["a", "b"], "width": 512, "flag": None},
        "min_score": 0.1,
        "image": None,
    }
    query = parse_search_body(body, Limits(max_k=10, max_upload_bytes=100))
    assert query.text == "chest x-ray"
    assert query.image is None and query.vector is None and query.image_id is None
    assert query.params.k == 3 and query.params.offset == 2 and query.params.min_score == 0.1
    assert query.params.filters == body["filters"]


@pytest.mark.parametrize(
    "filters",
    [
        [],
        "modality=CT",
        {"modality": []},
        {"modality": {"$ne": "CT"}},
        {"modality": [["CT"]]},
        {"modality": float("nan")},
        {"width": 2**70},
        {"": "x"},
        {"width": 1e300},
        {"label": ["x"] * 1001},
        {f"field{i}": 1 for i in range(65)},
        {"caption": "x" * 10_001},
    ],
)
def test_parse_filters_rejects(filters: Any) -> None:
    with pytest.raises(InvalidRequestError):
        FILTERS.parse(filters, LIMITS)


def test_parse_filters_empty_is_none() -> None:
    assert FILTERS.parse({}, LIMITS) is None
    assert parse_search_body({"text": "x", "filters": None}, LIMITS).params.filters is None


def test_base64_accepts_data_urls_whitespace_and_missing_padding() -> None:
    data = b"\x89PNG\r\n\x1a\n-some-bytes"
    encoded = base64.b64encode(data).decode()
    assert decode_base64_image(encoded, max_bytes=100) == data
    assert decode_base64_image("data:image/png;base64," + encoded, max_bytes=100) == data
    wrapped = "\n".join(encoded[i : i + 8] for i in range(0, len(encoded), 8))
    assert decode_base64_image(wrapped, max_bytes=100) == data
    assert decode_base64_image(encoded.rstrip("="), max_bytes=100) == data
    urlsafe = base64.urlsafe_b64encode(b"\xfb\xff\xfe").decode()
    assert decode_base64_image(urlsafe, max_bytes=100) == b"\xfb\xff\xfe"


@pytest.mark.parametrize("value", [123, "", "   ", "@@@@", "data:image/png,rawdata", "a", ["aGk="]])
def test_base64_rejects(value: Any) -> None:
    with pytest.raises(InvalidRequestError):
        decode_base64_image(value, max_bytes=100)


def test_base64_too_large() -> None:
    with pytest.raises(PayloadTooLargeError):
        decode_base64_image(base64.b64encode(b"x" * 101).decode(), max_bytes=100)
    with pytest.raises(PayloadTooLargeError):
        decode_base64_image("A" * 10_000, max_bytes=100)


def test_search_form_parses_strings() -> None:
    limits = Limits(max_k=10, max_upload_bytes=100)
    params = parse_search_query(
        {"k": "7", "offset": " 3 ", "min_score": "0.25", "filters": '{"label": ["a"]}'}, limits
    )
    assert (params.k, params.offset, params.min_score) == (7, 3, 0.25)
    assert params.filters == {"label": ["a"]}
    assert parse_search_query({"k": "", "filters": ""}, limits).k == 10


@pytest.mark.parametrize(
    "form",
    [
        {"k": "abc"},
        {"k": "1.5"},
        {"k": "0"},
        {"k": "9" * 40},
        {"offset": "-1"},
        {"min_score": "high"},
        {"min_score": "nan"},
        {"min_score": "inf"},
        {"filters": "{"},
        {"filters": "null"},
        {"filters": "[1]"},
        {"filters": "[" * 100_000},
    ],
)
def test_search_form_rejects(form: dict[str, str]) -> None:
    with pytest.raises(InvalidRequestError):
        parse_search_query(form, Limits(max_k=10, max_upload_bytes=100))


@pytest.mark.parametrize("value", ["31", "1025", "abc", "1e3", "-64"])
def test_parse_size_rejects(value: str) -> None:
    with pytest.raises(InvalidRequestError):
        parse_thumbnail_size({"size": value}, LIMITS)


@pytest.mark.parametrize(
    ("value", "size"),
    [
        ("32", 64),
        ("64", 64),
        ("65", 128),
        ("200", 256),
        ("256", 256),
        ("513", 1024),
        ("1024", 1024),
    ],
)
def test_parse_size_snaps_up_to_a_step(value: str, size: int) -> None:
    assert parse_thumbnail_size({"size": value}, LIMITS) == size
    assert parse_thumbnail_size({}, LIMITS) == 256


def test_image_id_beyond_sqlite_is_not_found() -> None:
    with pytest.raises(NotFoundError):
        parse_search_body({"image_id": MAX_ID + 1}, LIMITS)


# --- render cache -----------------------------------------------------------------------------


def test_render_cache_creates_its_folder_and_leaves_only_the_rendering(tmp_path: Path) -> None:
    cache = RenderCache(tmp_path / "cache", max_bytes=2**20)
    path = cache.path_for("ab" * 32, "png", ".png")
    assert path is not None
    assert cache.get(path, lambda: b"png") == b"png"
    assert os.listdir(path.parent) == [path.name]


def test_render_cache_renders_once(tmp_path: Path) -> None:
    cache = RenderCache(tmp_path, max_bytes=2**20)
    path = cache.path_for("cd" * 32, "64", ".jpg")
    assert path == tmp_path / "cd" / f"{'cd' * 32}-64.jpg"
    calls: list[int] = []

    def render() -> bytes:
        calls.append(1)
        return b"jpeg"

    assert cache.get(path, render) == b"jpeg"
    assert path is not None and path.read_bytes() == b"jpeg"
    assert cache.get(path, render) == b"jpeg"
    assert calls == [1]
    assert cache.path_for("../../etc/passwd", "64", ".jpg") is None
    assert cache.get(None, render) == b"jpeg"


def test_render_cache_unwritable_folder_still_renders(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_bytes(b"")
    cache = RenderCache(blocker / "sub", max_bytes=2**20)
    assert cache.get(cache.path_for("ef" * 32, "64", ".jpg"), lambda: b"data") == b"data"


def test_render_cache_evicts_the_least_recently_used_past_its_cap(tmp_path: Path) -> None:
    cache = RenderCache(tmp_path, max_bytes=250)
    paths = [cache.path_for(f"{n:02x}" * 32, "64", ".jpg") for n in range(4)]
    assert None not in paths
    for path in paths[:2]:
        cache.get(path, lambda: b"x" * 100)
    cache.get(paths[0], lambda: b"never rendered")  # used again: now the most recent
    cache.get(paths[2], lambda: b"x" * 100)  # 300 bytes: the least recently used goes
    assert [p is not None and p.exists() for p in paths] == [True, False, True, False]
    assert cache.size_bytes == 200
    cache.get(paths[3], lambda: b"y" * 1000)  # bigger than the whole cache: served, not kept
    assert paths[3] is not None and not paths[3].exists()
    assert cache.size_bytes == 200


def test_render_cache_counts_what_an_earlier_run_left(tmp_path: Path) -> None:
    earlier = RenderCache(tmp_path, max_bytes=10_000)
    old, new = (earlier.path_for(f"{n:02x}" * 32, "64", ".jpg") for n in (1, 2))
    assert old is not None and new is not None
    earlier.get(old, lambda: b"o" * 100)
    earlier.get(new, lambda: b"n" * 100)
    os.utime(old, (1, 1))  # the oldest file on disk
    (old.parent / f".{old.name}.0123.tmp").write_bytes(b"t" * 500)  # a write in progress
    cache = RenderCache(tmp_path, max_bytes=250)
    third = cache.path_for("03" * 32, "64", ".jpg")
    cache.get(third, lambda: b"t" * 100)
    assert not old.exists() and new.exists() and third is not None and third.exists()
    assert cache.size_bytes == 200


# --- the app over a stand-in retriever --------------------------------------------------------


def test_factory_config(fake_app: Flask, fake: Any) -> None:
    assert [key for key in fake_app.extensions if "medsearch" in key] == ["medsearch"]
    assert fake_app.extensions["medsearch"].retriever is fake
    assert fake_app.config["MAX_CONTENT_LENGTH"] == Settings().max_upload_bytes


def test_fake_search_adds_urls(fake_app: Flask) -> None:
    response = fake_app.test_client().post("/api/search", json={"text": "x", "k": 1})
    assert response.status_code == 200
    hit = response.get_json()["results"][0]
    assert hit["thumbnail_url"] == "/api/images/1/thumbnail"
    assert hit["image_url"] == "/api/images/1/file"


@pytest.mark.parametrize(
    ("error", "status", "code"),
    [
        (ModelUnavailableError("model weights are missing"), 503, "model_unavailable"),
        (IndexCorruptError("vectors do not match"), 503, "index_corrupt"),
        (InvalidRequestError("unknown filter field 'x'"), 400, "invalid_request"),
        (NotFoundError("no image with id 5"), 404, "not_found"),
    ],
)
def test_library_errors_keep_status_and_code(
    fake_app: Flask, fake: Any, error: Exception, status: int, code: str
) -> None:
    fake.error = error
    response = fake_app.test_client().post("/api/search", json={"text": "x"})
    body = assert_error(response, status, code)
    assert body["error"]["message"] == str(error)


def test_unexpected_error_is_a_logged_500_without_details(
    fake_app: Flask, fake: Any, caplog: pytest.LogCaptureFixture
) -> None:
    fake.error = RuntimeError("secret internal detail")
    with caplog.at_level(logging.ERROR, logger="search_api.errors"):
        response = fake_app.test_client().post(
            "/api/classify", json={"image_id": 1, "labels": ["a"]}
        )
    body = assert_error(response, 500, "internal_error")
    assert "secret" not in response.get_data(as_text=True)
    assert "Traceback" not in body["error"]["message"]
    assert any("secret internal detail" in (r.exc_text or "") for r in caplog.records)


def test_unknown_route_and_method(fake_app: Flask) -> None:
    client = fake_app.test_client()
    assert_error(client.get("/api/nope"), 404, "not_found")
    assert_error(client.get("/nope"), 404, "not_found")
    response = client.get("/api/search")
    assert_error(response, 405, "method_not_allowed")
    assert "POST" in response.headers["Allow"]


def test_body_over_the_limit_is_413(fake: Any, tmp_path: Path) -> None:
    app = create_app(Settings(index_dir=tmp_path, max_upload_bytes=1000), retriever=fake)
    client = app.test_client()
    big = {"image": "A" * 2000}
    assert_error(client.post("/api/search", json=big), 413, "payload_too_large")
    upload = {"file": (io.BytesIO(b"x" * 2000), "a.png")}
    assert_error(client.post("/api/search/image", data=upload), 413, "payload_too_large")


def test_refresh_is_rate_limited(fake: Any, tmp_path: Path) -> None:
    slow = create_app(Settings(index_dir=tmp_path, reload_interval=3600), retriever=fake)
    for _ in range(3):
        slow.test_client().get("/api/facets")
    assert fake.refreshes == 0
    eager = create_app(Settings(index_dir=tmp_path, reload_interval=0), retriever=fake)
    client = eager.test_client()
    client.get("/api/facets")
    client.get("/api/info")
    client.get("/api/health")  # health never touches the index
    client.get("/")  # nor do routes outside /api
    assert fake.refreshes == 2


def test_failed_refresh_keeps_serving(fake: Any, tmp_path: Path) -> None:
    def broken() -> bool:
        raise IndexCorruptError("half-written")

    fake.refresh = broken
    app = create_app(Settings(index_dir=tmp_path, reload_interval=0), retriever=fake)
    assert app.test_client().get("/api/facets").status_code == 200


def test_token_required_on_api_but_health(fake: Any, tmp_path: Path) -> None:
    app = create_app(Settings(index_dir=tmp_path, api_token="s3cr\u00e9t"), retriever=fake)
    client = app.test_client()
    assert client.get("/api/health").status_code == 200
    for headers in [{}, {"Authorization": "Bearer wrong"}, {"Authorization": "s3cr\u00e9t"}]:
        response = client.get("/api/facets", headers=headers)
        assert_error(response, 401, "unauthorized")
        assert response.headers["WWW-Authenticate"].startswith("Bearer")
    assert_error(client.get("/api/nope"), 401, "unauthorized")
    good = {"Authorization": "Bearer s3cr\u00e9t".encode().decode("latin-1")}
    assert client.get("/api/facets", headers=good).status_code == 200


def test_plugin_blueprints_are_mounted(
    fake: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    class EntryPoint:
        def __init__(self, name: str, factory: Any) -> None:
            self.name, self.value, self._factory = name, f"tests:{name}", factory

        def load(self) -> Any:
            return self._factory

    def page() -> Blueprint:
        blueprint = Blueprint("page", __name__)
        blueprint.add_url_rule("/hello", "index", lambda: "hello")
        return blueprint

    def broken() -> Blueprint:
        raise ImportError("missing dependency")

    plugins = [EntryPoint("page", page), EntryPoint("broken", broken)]
    monkeypatch.setattr(app_module, "entry_points", lambda group: plugins)
    with caplog.at_level(logging.ERROR, logger="search_api.app"):
        app = create_app(Settings(index_dir=tmp_path, api_token="t"), retriever=fake)
    assert app.test_client().get("/hello").get_data(as_text=True) == "hello"
    assert "web" in app.blueprints  # the first-party page is mounted beside the plug-in
    assert any("broken" in record.getMessage() for record in caplog.records)


def test_a_first_party_page_that_cannot_be_loaded_fails_loudly(
    fake: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(app_module, "FRONT_END_BLUEPRINTS", ("web.no_such_module:create",))
    with pytest.raises(FrontEndMissingError, match="web.no_such_module:create cannot be loaded"):
        create_app(Settings(index_dir=tmp_path), retriever=fake)


def test_search_api_imports_no_heavy_libraries() -> None:
    """Only indexer/ touches torch, faiss and SQLAlchemy."""
    package = Path(search_api.__file__).parent
    for module in package.glob("*.py"):
        for node in ast.walk(ast.parse(module.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom):
                names = [node.module or ""]
            else:
                continue
            for name in names:
                assert name.split(".")[0] not in {"torch", "faiss", "sqlalchemy"}, module
