"""The API keeps its contract.

The OpenAPI document is valid; its limits are the ones the validators enforce (probed at and just
beyond each documented bound on the real app) and follow the runtime settings; every route's
real answers, successes and errors, match the document; the template rule is the same in the
document, the API and the library; the stand-in retriever keeps to the SearchService protocol.
"""

from __future__ import annotations

import ast
import base64
import inspect
import io
from pathlib import Path
from typing import Any

import jsonschema
import pytest
from flask import Flask
from openapi_spec_validator import validate

import search_api
from indexer.errors import ModelUnavailableError
from indexer.prompts import DEFAULT_TEMPLATE
from indexer.search.retriever import Retriever
from indexer.settings import Settings
from search_api import create_app
from search_api.schema.openapi import build_openapi
from search_api.schema.params import MAX_VECTOR_LEN
from search_api.service import SearchService
from tests.api.conftest import FakeRetriever
from tests.support.contract import Contract, openapi_path
from tests.support.helpers import REPO, SAMPLE_IMAGES

JPEG = (SAMPLE_IMAGES / "cxr_01.jpg").read_bytes()
HTTP_METHODS = {"get", "put", "post", "delete", "options", "head", "patch", "trace"}


def b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


@pytest.mark.parametrize(
    "settings",
    [Settings(), Settings(api_token="secret", max_k=7, max_upload_bytes=1000)],
    ids=["defaults", "token-and-limits"],
)
def test_the_document_is_valid_openapi(settings: Settings) -> None:
    validate(build_openapi(settings, version="1.0"))


def test_the_published_document_is_valid_and_describes_every_api_route(
    app: Flask, contract: Contract
) -> None:
    validate(contract.doc)
    served: dict[str, set[str]] = {}
    for rule in app.url_map.iter_rules():
        if rule.rule.startswith("/api/"):
            methods = {m.lower() for m in rule.methods or ()} - {"head", "options"}
            served.setdefault(openapi_path(rule.rule), set()).update(methods)
    documented = {path: set(item) & HTTP_METHODS for path, item in contract.doc["paths"].items()}
    assert served == documented
    assert contract.doc["paths"]["/api/health"]["get"]["security"] == []
    assert "security" not in contract.doc  # no token configured
    assert "401" not in contract.doc["paths"]["/api/info"]["get"]["responses"]


def test_runtime_settings_shape_the_document(app_retriever: Any, api_settings: Settings) -> None:
    settings = api_settings.replace(api_token="secret", max_k=7, max_upload_bytes=1000)
    client = create_app(settings, retriever=app_retriever).test_client()
    headers = {"Authorization": "Bearer secret"}
    doc = client.get("/api/openapi.json", headers=headers).get_json()
    assert doc["security"] == [{"bearerAuth": []}, {"sessionCookie": []}]
    assert "401" in doc["paths"]["/api/info"]["get"]["responses"]
    search = doc["components"]["schemas"]["SearchRequest"]["properties"]
    assert search["k"]["maximum"] == 7 and search["k"]["default"] == 7
    assert "at most 1000 bytes" in search["image"]["description"]
    for k, status in [(7, 200), (8, 400)]:
        body = {"text": "x", "k": k}
        assert client.post("/api/search", json=body, headers=headers).status_code == status


def error_message(response: Any) -> str:
    body = response.get_json()
    assert response.status_code == 400, body
    return str(body["error"]["message"])


def test_documented_limits_are_the_enforced_ones(
    client: Any, contract: Contract, ids_by_file: dict[str, int]
) -> None:
    """Each documented bound is accepted, and one step beyond it refused, by the real app."""
    schemas = contract.doc["components"]["schemas"]
    search = schemas["SearchRequest"]["properties"]
    classify = schemas["ClassifyRequest"]["properties"]
    scalar, values = search["filters"]["additionalProperties"]["anyOf"]
    k, offset, text = (
        search["k"]["maximum"],
        search["offset"]["maximum"],
        search["text"]["maxLength"],
    )
    labels, label = classify["labels"]["maxItems"], classify["labels"]["items"]["maxLength"]
    template, chars, top = classify["template"]["maxLength"], scalar["maxLength"], scalar["maximum"]
    vector, fields = search["vector"]["maxItems"], search["filters"]["maxProperties"]
    image = {"image_id": ids_by_file["images/cxr_01.jpg"]}

    def within_and_beyond(url: str, build: Any, limit: int) -> str:
        assert client.post(url, json=build(limit)).status_code == 200, build(limit)
        return error_message(client.post(url, json=build(limit + 1)))

    def text_query(**more: Any) -> dict[str, Any]:
        return {"text": "x", **more}

    search_cases = [
        (lambda n: text_query(k=n), k, f"k must be an integer between 1 and {k}"),
        (
            lambda n: text_query(offset=n),
            offset,
            f"offset must be an integer between 0 and {offset}",
        ),
        (lambda n: {"text": "x" * n}, text, f"text must be at most {text} characters"),
        (lambda n: text_query(filters={"modality": ["CT"] * n}), values["maxItems"], "1 to"),
        (lambda n: text_query(filters={"label": "x" * n}), chars, f"at most {chars} characters"),
        (lambda n: text_query(filters={"width": n}), top, f"numbers between {-top} and {top}"),
    ]
    for build, limit, message in search_cases:
        assert message in within_and_beyond("/api/search", build, limit)
    classify_cases = [
        (lambda n: {**image, "labels": ["a"] * n}, labels, f"at most {labels} labels"),
        (lambda n: {**image, "labels": ["x" * n]}, label, f"at most {label} characters"),
        (
            lambda n: {**image, "labels": ["a"], "template": "{}" + "x" * (n - 2)},
            template,
            f"template must be at most {template} characters",
        ),
    ]
    for build, limit, message in classify_cases:
        assert message in within_and_beyond("/api/classify", build, limit)
    # The vector's length is the served index's dimension: one more is refused by the index,
    # and beyond the longest vector any index may take, by the request's shape.
    assert search["vector"]["minItems"] == vector
    assert client.post("/api/search", json={"vector": [0.5] * vector}).status_code == 200
    assert "the index's dimension" in error_message(
        client.post("/api/search", json={"vector": [0.5] * (vector + 1)})
    )
    assert f"1 to {MAX_VECTOR_LEN} numbers" in error_message(
        client.post("/api/search", json={"vector": [0.5] * (MAX_VECTOR_LEN + 1)})
    )
    many = {f"field{i}": 1 for i in range(fields)}
    assert "unknown filter field" in error_message(
        client.post("/api/search", json=text_query(filters=many))
    )
    assert f"at most {fields} fields" in error_message(
        client.post("/api/search", json=text_query(filters={**many, "one more": 1}))
    )


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("image", "0"),  # one base64 character holds no byte
        ("image", "AAAA="),  # padding after a whole group
        ("image", "AA"),  # unpadded: valid, but no image (422)
        ("image", " QU\r\nFB =\n"),
        ("image", "data:image/png;base64,QUFB"),
        ("image", "data:image/png,QUFB"),
        ("image", "QUFB\u00a0"),  # a space only Unicode calls one
        ("text", "\x1c"),  # whitespace to Python, not to ECMAScript
        ("text", "\ufeff"),  # whitespace to ECMAScript, not to Python
        ("text", "\u3000x"),
        ("vector", "zeros"),
        ("vector", "tiny"),
    ],
)
def test_the_document_and_the_service_judge_edge_values_alike(
    client: Any, contract: Contract, field: str, value: Any
) -> None:
    """A value the document allows is not refused as malformed (400), and one it forbids is."""
    dim = contract.doc["components"]["schemas"]["SearchRequest"]["properties"]["vector"]["maxItems"]
    vectors = {"zeros": [0.0] * dim, "tiny": [0.0] * (dim - 1) + [1e-300]}
    body = {field: vectors.get(value, value) if field == "vector" else value}
    judge_alike(client, contract, body)


def judge_alike(client: Any, contract: Contract, body: dict[str, Any]) -> bool:
    """Whether the document allows ``body`` for a search, after checking that the service
    refuses it as malformed (400) exactly when the document does not allow it."""
    schema = {**contract.doc["components"]["schemas"]["SearchRequest"], "components": {}}
    documented = jsonschema.Draft202012Validator(schema).is_valid(body)
    status = client.post("/api/search", json=body).status_code
    assert (status != 400) == documented and status < 500, (body, status)
    return documented


def test_filters_in_a_query_or_form_are_declared_as_json(contract: Contract) -> None:
    """A ``filters`` argument is JSON text: the document says so, so that clients send JSON."""
    similar = contract.doc["paths"]["/api/images/{id}/similar"]["get"]["parameters"]
    filters = next(p for p in similar if p["name"] == "filters")
    assert "schema" not in filters
    assert filters["content"]["application/json"]["schema"]["type"] == "object"
    upload = contract.doc["paths"]["/api/search/image"]["post"]["requestBody"]["content"]
    form = upload["multipart/form-data"]
    assert form["schema"]["properties"]["filters"]["type"] == "object"
    assert form["encoding"] == {"filters": {"contentType": "application/json"}}
    index = next(p for p in similar if p["name"] == "index")
    k = next(p for p in similar if p["name"] == "k")
    assert index["allowEmptyValue"] is False and k["allowEmptyValue"] is True


def test_documented_query_limits_are_the_enforced_ones(
    client: Any, contract: Contract, ids_by_file: dict[str, int]
) -> None:
    image_id = ids_by_file["images/cxr_01.jpg"]
    for path, name in [("/api/images/{id}/thumbnail", "size"), ("/api/images/{id}/similar", "k")]:
        parameters = contract.doc["paths"][path]["get"]["parameters"]
        schema = next(p["schema"] for p in parameters if p["name"] == name)
        url = path.format(id=image_id)
        for value, status in [
            (schema["minimum"], 200),
            (schema["maximum"], 200),
            (schema["minimum"] - 1, 400),
            (schema["maximum"] + 1, 400),
        ]:
            assert client.get(f"{url}?{name}={value}").status_code == status, (url, value)


TEMPLATES = [
    "{}",
    DEFAULT_TEMPLATE,
    "a {x} of {}",
    "a {{x}} of {}",
    "{{}}",
    "}{}{",
    "{0} {}",
    "",
    "no placeholder",
    "{} and {}",
    "{{}}{}",
    "a { b } c",
]


@pytest.mark.parametrize("template", TEMPLATES)
def test_one_template_rule_in_the_document_the_api_and_the_library(
    client: Any, contract: Contract, app_retriever: Any, template: str
) -> None:
    schema = contract.doc["components"]["schemas"]["ClassifyRequest"]["properties"]["template"]
    documented = jsonschema.Draft202012Validator(schema).is_valid(template)
    response = client.post(
        "/api/classify", json={"image_id": 1, "labels": ["a"], "template": template}
    )
    assert (response.status_code == 200) == documented == (template.count("{}") == 1)
    if not documented:
        assert "exactly once" in response.get_json()["error"]["message"]
        assert "{{" not in response.get_json()["error"]["message"]
        with pytest.raises(Exception, match="exactly once"):
            app_retriever.classify(["a"], image_id=1, template=template)


def test_info_gives_the_page_the_default_template(client: Any) -> None:
    assert client.get("/api/info").get_json()["default_template"] == DEFAULT_TEMPLATE


def test_the_default_template_is_written_once_in_python() -> None:
    sources = [
        path
        for package in ("indexer", "search_api", "web")
        for path in (REPO / package).rglob("*.py")
        if DEFAULT_TEMPLATE in path.read_text(encoding="utf-8")
    ]
    assert sources == [REPO / "indexer" / "prompts.py"]


def upload(data: bytes = JPEG, **fields: Any) -> dict[str, Any]:
    return {"data": {"file": (io.BytesIO(data), "query.jpg"), **fields}}


def real_app_requests(ids: dict[str, int]) -> list[tuple[str, str, dict[str, Any]]]:
    """(method, url, client keyword arguments) reaching every operation, well and badly."""
    xray, dicom = ids["images/cxr_01.jpg"], ids["images/dcm_ct_small.dcm"]
    image = b64(JPEG)
    return [
        ("GET", "/api/health", {}),
        ("GET", "/api/info", {}),
        ("GET", "/api/info?index=nope", {}),
        ("GET", "/api/facets", {}),
        ("GET", "/api/facets?index=" + "x" * 65, {}),
        ("GET", "/api/indexes", {}),
        ("GET", "/api/openapi.json", {}),
        ("POST", "/api/search", {"json": {"text": "chest x-ray", "k": 3}}),
        ("POST", "/api/search", {"json": {"image": image, "filters": {"modality": "CR"}}}),
        ("POST", "/api/search", {"json": {"image_id": xray, "min_score": 0.1}}),
        ("POST", "/api/search", {"json": {"text": "x", "k": 0}}),
        ("POST", "/api/search", {"json": {"text": "chest", "collapse": "modality", "k": 40}}),
        ("POST", "/api/search", {"json": {"text": "chest", "collapse": "nope"}}),
        ("POST", "/api/search", {"json": {"text": "x", "level": "series"}}),
        ("POST", "/api/search", {"json": {"image_id": 987_654}}),
        ("POST", "/api/search", {"data": b'{"text": "a"}', "content_type": "text/plain"}),
        ("POST", "/api/search", {"json": {"image": b64(b"not an image")}}),
        ("POST", "/api/search/image", upload(k="2")),
        ("POST", "/api/search/image", upload(k="zero")),
        ("POST", "/api/search/image", {"json": {"image": image}}),
        ("POST", "/api/search/image", upload(b"not an image")),
        ("POST", "/api/classify", {"json": {"image_id": xray, "labels": ["lung", "eye"]}}),
        ("POST", "/api/classify", {"json": {"image": image, "labels": ["a"], "template": "{}"}}),
        ("POST", "/api/classify", {"json": {"image_id": xray, "labels": []}}),
        ("POST", "/api/classify", {"json": {"image_id": 987_654, "labels": ["a"]}}),
        ("POST", "/api/classify", {"data": b"{}", "content_type": "text/plain"}),
        ("POST", "/api/classify", {"json": {"image": b64(b"GIF89a"), "labels": ["a"]}}),
        ("GET", f"/api/images/{xray}", {}),
        ("GET", "/api/images/987654", {}),
        ("GET", f"/api/images/{xray}/similar?k=4&filters=%7B%22modality%22%3A%22CR%22%7D", {}),
        ("GET", f"/api/images/{xray}/similar?k=abc", {}),
        ("GET", "/api/images/987654/similar", {}),
        ("GET", f"/api/images/{xray}/thumbnail?size=64", {}),
        ("GET", f"/api/images/{xray}/thumbnail?size=64", {"headers": {"If-None-Match": "*"}}),
        ("GET", f"/api/images/{xray}/thumbnail?size=9", {}),
        ("GET", "/api/images/987654/thumbnail", {}),
        ("GET", f"/api/images/{xray}/file", {}),
        ("GET", f"/api/images/{dicom}/file", {}),
        ("GET", "/api/images/987654/file", {}),
        ("GET", "/api/groups/modality/CR", {}),
        ("GET", "/api/groups/modality/XX", {}),
        ("GET", "/api/groups/nope/CR", {}),
        ("GET", "/api/duplicates?threshold=0.99&across=modality&limit=3", {}),
        ("GET", "/api/duplicates?threshold=2", {}),
        ("GET", "/api/duplicates?index=nope", {}),
        ("GET", "/api/duplicates/threshold", {}),
        ("GET", "/api/duplicates/threshold?index=nope", {}),
        ("POST", "/api/search", {"json": {"text": "chest", "dedupe": 0.99}}),
        ("POST", "/api/search", {"json": {"text": "chest", "dedupe": 1.5}}),
        ("POST", "/api/session", {"json": {"token": "anything"}}),
        ("POST", "/api/session", {"json": {}}),
        ("POST", "/api/session", {"data": b"token", "content_type": "text/plain"}),
        ("DELETE", "/api/session", {}),
        ("POST", "/api/knn-service", {"json": {"text": "chest x-ray", "num_images": 2}}),
        ("POST", "/api/knn-service", {"data": b'{"text": "a", "deduplicate": true}'}),
        ("POST", "/api/knn-service", {"json": {"text": "a", "modality": "text"}}),
        ("POST", "/api/knn-service", {"json": {"image_url": "http://192.0.2.1/a.png"}}),
        ("POST", "/api/knn-service", {"json": {"image": b64(b"not an image")}}),
        ("POST", "/api/knn-service", {"json": {"text": "a", "indice_name": "nope"}}),
        ("GET", "/api/indices-list", {}),
        ("POST", "/api/metadata", {"json": {"ids": [xray, 987_654]}}),
        ("POST", "/api/metadata", {"json": {"ids": "all"}}),
    ]


def test_every_operation_answers_as_documented(
    app: Flask,
    contract: Contract,
    app_retriever: Any,
    api_settings: Settings,
    ids_by_file: dict[str, int],
    fake: FakeRetriever,
    tmp_path: Path,
) -> None:
    """Real answers of every route, successes and errors, validate against the document."""
    answered: set[tuple[str, str, str]] = set()
    contracts = {id(app): contract}

    def call(target: Flask, method: str, url: str, **kwargs: Any) -> None:
        # each app's document is fetched once, before it may refuse a client that erred
        if id(target) not in contracts:
            contracts[id(target)] = Contract.of(target)
        checker = contracts[id(target)]
        response = target.test_client().open(url, method=method, **kwargs)
        path = url.partition("?")[0]
        assert checker.check(method, path, response), f"{method} {path} is not documented"
        operation = checker.operation(method, path)
        assert operation is not None
        answered.add((method, operation[0], str(response.status_code)))

    for method, url, kwargs in real_app_requests(ids_by_file):
        call(app, method, url, **kwargs)
    # statuses only other configurations produce: a token, a small upload limit, a lost model
    token_app = create_app(api_settings.replace(api_token="t0ken"), retriever=app_retriever)
    call(token_app, "GET", "/api/info")
    call(token_app, "POST", "/api/session", json={"token": "wrong"})
    strict = create_app(
        api_settings.replace(api_token="t0ken", auth_failures=1), retriever=app_retriever
    )
    wrong = {"Authorization": "Bearer wr0ng"}
    call(strict, "GET", "/api/info", headers=wrong)  # 401, then 429 for every token check
    call(strict, "GET", "/api/info", headers=wrong)
    call(strict, "POST", "/api/session", json={"token": "t0ken"})
    small = create_app(api_settings.replace(max_upload_bytes=20_000), retriever=app_retriever)
    call(small, "POST", "/api/search", json={"image": b64(JPEG)})
    call(small, "POST", "/api/search/image", **upload())
    call(small, "POST", "/api/classify", json={"image": b64(JPEG), "labels": ["a"]})
    fake.error = ModelUnavailableError("the model is gone")
    call(
        create_app(Settings(index_dir=tmp_path), retriever=fake),
        "POST",
        "/api/search",
        json={"text": "x"},
    )

    for path, item in contract.doc["paths"].items():
        for method, operation in item.items():
            statuses = {s for m, p, s in answered if (m, p) == (method.upper(), path)}
            assert any(s.startswith("2") for s in statuses), (method, path, statuses)
            # request errors, per operation; 401 and 503 depend on the configuration (below)
            errors = set(operation["responses"]) & {"400", "404", "413", "415", "422"}
            assert not errors or statuses & errors, (method, path, statuses)
    statuses_seen = {s for _, _, s in answered}
    assert statuses_seen >= {
        *("200", "204", "304", "400", "401", "404", "413", "415", "422", "429", "503")
    }


def test_the_stand_in_retriever_keeps_to_the_protocol(
    fake: FakeRetriever, app_retriever: Any
) -> None:
    assert isinstance(app_retriever, Retriever)
    assert isinstance(app_retriever, SearchService) and isinstance(fake, SearchService)
    members = [name for name in vars(SearchService) if not name.startswith("_")]
    assert {"search", "classify", "get", "info", "encoder"} <= set(members)
    for name in members:
        declared = inspect.getattr_static(SearchService, name)
        if isinstance(declared, property):
            assert hasattr(fake.encoder, "draft_size") and hasattr(
                app_retriever.encoder, "draft_size"
            )
            continue
        expected = _parameters(declared)
        assert _parameters(getattr(FakeRetriever, name)) == expected, name
        assert _parameters(getattr(Retriever, name)) == expected, name


def _parameters(function: Any) -> list[tuple[str, Any, bool]]:
    """Name, kind and whether it has a default, of each parameter."""
    signature = inspect.signature(function)
    return [
        (p.name, p.kind, p.default is not inspect.Parameter.empty)
        for p in signature.parameters.values()
    ]


def test_the_api_package_imports_the_concrete_retriever_only_to_open_it() -> None:
    package = Path(search_api.__file__).parent
    users = [
        path.name
        for path in sorted(package.glob("*.py"))
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8")))
        if isinstance(node, ast.ImportFrom) and node.module == "indexer.search.retriever"
    ]
    assert users == ["indexes.py"]


#: of the filters below, those holding a value no stored value of its field can equal
WRONGLY_TYPED = [
    {"bits_stored": "thirteen"},
    {"bits_stored": " 13"},
    {"bits_stored": True},
    {"modality": 5},
    {"slice_thickness": [5, "5.0."]},
]


@pytest.mark.parametrize(
    "filters",
    [
        {"bits_stored": 13},
        {"bits_stored": "13"},
        {"bits_stored": ["-1.5e3", "13\n", 0.5]},
        {"bits_stored": "9" * 400},
        {"width": ["0" * 5000, "-" + "0" * 30 + "64"]},
        {"bits_stored": "thirteen"},
        {"bits_stored": " 13"},
        {"bits_stored": True},
        {"modality": 5},
        {"modality": ["CT", "5"]},
        {"modality": None},
        {"slice_thickness": [5, "5.0."]},
    ],
)
def test_the_document_declares_the_type_of_each_filter_fields_values(
    client: Any, contract: Contract, filters: dict[str, Any]
) -> None:
    """A filter value the document allows for its field is not refused, and one it forbids is
    (text for a field of numbers is allowed where it spells a number)."""
    documented = judge_alike(client, contract, {"text": "x", "filters": filters})
    assert documented == (filters not in WRONGLY_TYPED), filters
