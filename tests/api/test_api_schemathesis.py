"""Schemathesis sends generated requests for every operation of the published OpenAPI document
to a real ``medsearch serve`` over two indexes of the sample images (two tiny models), so the
generated ``index`` arguments reach both.

It runs all of its checks in both of its modes: requests that fit the document (positive) must
be accepted, requests that break it (negative) refused, and every answer must be free of server
errors and carry a documented status, content type, headers and body. Its phases run in turn:
the examples, the coverage phase (each field's boundaries and violations, derived from the
document), fuzzing and stateful sequences that follow the document's links (a search's hits to
their images). Generation is bounded and deterministic (derandomized, no example database), so a
failure reproduces; its report, with a ``curl`` line per failure, is the assertion message.

Schemathesis' own runner (its command line, in a subprocess) drives the phases; the statuses
both modes may also answer are configured below, each with its reason.
"""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from search_api.process import ServiceProcess
from tests.support.serving import serve

pytestmark = pytest.mark.first  # minutes: started first (tests/conftest.py)

#: test cases per operation and phase (Schemathesis' default): enough to reach every field and
#: its limits, bounded in time (the coverage phase derives its cases from the document, whatever
#: this number)
EXAMPLES = 100
#: what both modes may answer besides the statuses Schemathesis expects of each:
#: 413, a request over the upload limit, is refused for its size whatever it holds (the document
#: bounds each field, not their sum); 422, bytes that fit the document but are no image; 431, a
#: query string past the HTTP server's header limit, refused before the service reads it
CONFIG = """
[checks.positive_data_acceptance]
expected-statuses = ["2xx", "3xx", "401", "403", "404", "409", "413", "422", "429", "431", "5xx"]

[checks.negative_data_rejection]
expected-statuses = [
  "400", "401", "403", "404", "405", "406", "409", "413", "415", "422", "428", "429", "431",
  "5xx",
]
"""
#: longest line of the report kept in the assertion message (a generated body can be megabytes)
REPORT_LINE_CHARS = 2_000


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


@pytest.mark.slow
def test_the_service_and_its_document_agree_on_every_request(
    server: ServiceProcess, tmp_path: Path
) -> None:
    config = tmp_path / "schemathesis.toml"
    config.write_text(CONFIG, encoding="utf-8")
    command = [
        *(sys.executable, "-m", "schemathesis.cli", "--config-file", str(config), "run"),
        server.url + "/api/openapi.json",
        *("--checks", "all", "--mode", "all"),
        *("--phases", "examples,coverage,fuzzing,stateful"),
        *("--max-examples", str(EXAMPLES), "--generation-deterministic"),
        *("--workers", "1", "--request-timeout", "30"),
        *("--report-dir", str(tmp_path / "report"), "--no-color"),
    ]
    run = subprocess.run(command, capture_output=True, text=True, cwd=tmp_path, timeout=600)
    report = "\n".join(line[:REPORT_LINE_CHARS] for line in (run.stdout + run.stderr).splitlines())
    assert run.returncode == 0, report
    assert "19 selected / 19 total" in report, report
    for phase in ("Coverage", "Fuzzing", "Stateful"):
        assert f"✅ {phase}" in report, report
