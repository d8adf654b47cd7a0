"""``medsearch serve`` as a real process under waitress, queried from 8 threads at once."""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import click
import pytest
from click.testing import CliRunner

from search_api.cli import serve
from tests.support.serving import serve as serve_process

THREADS = 8
ROUNDS = 4
# loopback only, never through a proxy from the environment
OPENER = urllib.request.build_opener(urllib.request.ProxyHandler({}))


def call(url: str, body: dict[str, Any] | None = None) -> tuple[int, bytes]:
    data = None if body is None else json.dumps(body).encode()
    request = urllib.request.Request(url, data=data, method="GET" if body is None else "POST")
    if body is not None:
        request.add_header("Content-Type", "application/json")
    try:
        with OPENER.open(request, timeout=60) as response:
            return response.status, response.read()
    except urllib.error.HTTPError as exc:
        with exc:
            return exc.code, exc.read()


def one_client(base: str, worker: int) -> list[str]:
    """A few queries of every kind; returns a description of each unexpected answer."""
    problems = []
    for round_ in range(ROUNDS):
        status, raw = call(base + "/api/search", {"text": f"chest x-ray {worker} {round_}", "k": 5})
        body = json.loads(raw)
        if status != 200 or len(body["results"]) != 5 or body["total"] != 32:
            problems.append(f"search: {status} {raw[:200]!r}")
            continue
        top = body["results"][0]
        for url in (f"/api/images/{top['id']}", f"/api/images/{top['id']}/similar?k=3"):
            status, raw = call(base + url)
            if status != 200:
                problems.append(f"{url}: {status} {raw[:200]!r}")
        status, raw = call(base + top["thumbnail_url"] + f"?size={64 + worker}")
        if status != 200 or not raw.startswith(b"\xff\xd8"):
            problems.append(f"thumbnail: {status}")
        status, raw = call(base + "/api/info")
        if status != 200 or json.loads(raw)["count"] != 32:
            problems.append(f"info: {status} {raw[:200]!r}")
    return problems


@pytest.mark.slow
def test_serve_answers_concurrent_clients(sample_index_dir: Path, tmp_path: Path) -> None:
    env = {
        "MEDSEARCH_THUMBNAIL_DIR": str(tmp_path / "thumbnails"),
        "MEDSEARCH_PRECISION": "fp32",
    }
    with serve_process(sample_index_dir, threads=4, env=env, startup_timeout_s=120) as server:
        base = server.url
        with ThreadPoolExecutor(max_workers=THREADS) as pool:
            results = list(pool.map(lambda worker: one_client(base, worker), range(THREADS)))
        assert [problem for problems in results for problem in problems] == []
        status, raw = call(base + "/api/nope")
        assert status == 404 and json.loads(raw)["error"]["code"] == "not_found"
        log = server.log_path.read_text()
    assert f"{base}/" in log


@pytest.mark.parametrize("broken", [None, b"", b"{not json", b'{"format_version": 1}'])
def test_serve_reports_a_missing_or_broken_index(tmp_path: Path, broken: bytes | None) -> None:
    folder = tmp_path / "no-index-here"
    if broken is not None:
        folder.mkdir()
        (folder / "index_info.json").write_bytes(broken)
    result = CliRunner().invoke(serve, [str(folder), "--port", "0"])
    assert result.exit_code == 1, result.output
    assert result.output.startswith("Error: cannot serve")
    assert "no-index-here" in result.output
    assert len(result.output.strip().splitlines()) == 1
    assert not isinstance(result.exception, Exception) or isinstance(result.exception, SystemExit)


def test_serve_help() -> None:
    result = CliRunner().invoke(serve, ["--help"])
    assert result.exit_code == 0
    for text in ["--host", "--port", "--threads", "Example:", "INDEX_DIR"]:
        assert text in result.output
    assert all(param.help for param in serve.params if isinstance(param, click.Option))


@pytest.mark.slow
def test_serve_several_indexes(
    sample_index_dir: Path, other_index_dir: Path, tmp_path: Path
) -> None:
    env = {"MEDSEARCH_THUMBNAIL_DIR": str(tmp_path / "thumbnails"), "MEDSEARCH_PRECISION": "fp32"}
    with serve_process(sample_index_dir, f"b={other_index_dir}", threads=2, env=env) as server:
        base = server.url
        status, raw = call(base + "/api/indexes")
        listed = json.loads(raw)["indexes"]
        assert status == 200
        assert [entry["name"] for entry in listed] == [sample_index_dir.name, "b"]
        assert [entry["count"] for entry in listed] == [32, 32]
        scores = {}
        for entry in listed:
            body = {"text": "chest x-ray", "k": 3, "index": entry["name"]}
            status, raw = call(base + "/api/search", body)
            top = json.loads(raw)["results"][0]
            assert status == 200 and top["thumbnail_url"].endswith(f"?index={entry['name']}")
            scores[entry["name"]] = top["score"]
            status, raw = call(base + top["thumbnail_url"] + "&size=64")
            assert status == 200 and raw.startswith(b"\xff\xd8")
        assert scores[sample_index_dir.name] != scores["b"]  # two models, two rankings
        status, raw = call(base + "/api/search", {"text": "x", "index": "c"})
        assert status == 404 and json.loads(raw)["error"]["code"] == "unknown_index"
        log = server.log_path.read_text()
    assert f"{sample_index_dir}, {other_index_dir} on {base}/" in log


@pytest.mark.parametrize(
    ("arguments", "message"),
    [(["a=x", "a=y"], "two indexes are named 'a'"), (["bad name=x"], "is not URL-safe")],
)
def test_serve_refuses_bad_index_names(arguments: list[str], message: str) -> None:
    result = CliRunner().invoke(serve, [*arguments, "--port", "0"])
    assert result.exit_code == 2, result.output
    assert message in result.output


def test_serve_names_the_index_folder_it_cannot_open(
    sample_index_dir: Path, tmp_path: Path
) -> None:
    missing = tmp_path / "missing"
    result = CliRunner().invoke(serve, [str(sample_index_dir), f"m={missing}", "--port", "0"])
    assert result.exit_code == 1, result.output
    assert result.output.startswith(f"Error: cannot serve {missing}:")
