"""Schemathesis sends generated requests for every operation of the published OpenAPI document
to a real ``medsearch serve`` over two indexes of the sample images (two tiny models), so the
generated ``index`` arguments reach both.

Requests are generated to fit the document (Schemathesis' positive mode, its default). Every
answer must be free of server errors, carry a status the document lists for the operation,
a documented content type, and a body that validates against the documented schema. Generation
is bounded and deterministic (derandomized, no example database), so a failure reproduces.

The operations are taken from the document one test each, and each runs Schemathesis' own
Hypothesis strategy for that operation (its Python API): the lazy pytest loader of Schemathesis
4.32 reads a node attribute that pytest 9.2 no longer has.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from indexer.settings import Settings
from search_api.process import ServiceProcess
from search_api.schema.openapi import build_openapi
from tests.support.helpers import SAMPLE_COUNT
from tests.support.serving import serve

#: examples per operation: enough to reach every field and its limits, bounded in time
EXAMPLES = 25
CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
]


@pytest.fixture(scope="module")
def server(
    sample_index_dir: Path, other_index_dir: Path, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[ServiceProcess]:
    env = {
        "MEDSEARCH_THUMBNAIL_DIR": str(tmp_path_factory.mktemp("schemathesis-thumbnails")),
        "MEDSEARCH_PRECISION": "fp32",
    }
    with serve(sample_index_dir, other_index_dir, threads=2, env=env) as running:
        yield running


@pytest.fixture(scope="module")
def api_schema(server: ServiceProcess) -> schemathesis.BaseSchema:
    """The document the running service publishes; requests are generated to fit it."""
    return schemathesis.openapi.from_url(server.url + "/api/openapi.json", timeout=30)


def documented_operations() -> list[tuple[str, str]]:
    """(method, path) of every operation, from the document any configuration publishes."""
    doc = build_openapi(Settings(), version="test")
    return sorted((method.upper(), path) for path, item in doc["paths"].items() for method in item)


@pytest.mark.slow
@pytest.mark.parametrize(("method", "path"), documented_operations())
def test_every_operation_keeps_to_the_document(
    api_schema: schemathesis.BaseSchema, server: ServiceProcess, method: str, path: str
) -> None:
    operation = api_schema[path][method]
    cases = operation.as_strategy()
    if "{id}" in path:  # generated ids are mostly unknown: half the cases use indexed ones
        indexed = st.integers(min_value=1, max_value=SAMPLE_COUNT)
        cases = st.one_of(
            cases,
            indexed.flatmap(lambda i: operation.as_strategy(path_parameters={"id": i})),
        )

    @settings(
        max_examples=EXAMPLES,
        derandomize=True,
        database=None,
        deadline=None,
        suppress_health_check=list(HealthCheck),
    )
    @given(case=cases)
    def check(case: schemathesis.Case) -> None:
        case.call_and_validate(base_url=server.url, checks=CHECKS, timeout=30)

    check()
