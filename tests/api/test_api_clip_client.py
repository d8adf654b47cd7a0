"""clip-retrieval's own ``ClipClient``, from the package index, queries a real ``medsearch serve``.

How it is installed, and why: ``clip-retrieval`` pins an old torch, faiss and more, and its
``__init__`` imports its whole back end, so neither installing it beside MedSearch nor importing
the package would work. The test setup makes a separate virtual environment (with
``--system-site-packages``), installs the package into it with ``pip install --no-deps`` (its
code only, no dependency), adds a ``.pth`` line pointing at the site-packages that hold this
interpreter's ``requests`` (the one thing ``clip_client.py`` imports), and runs a script in that
environment that loads the single module ``clip_retrieval/clip_client.py`` by its file path.
The environment is made once and kept in the pytest cache (or the temporary folder when the cache
is off), so later runs need no network.
"""

from __future__ import annotations

import fcntl
import json
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import requests

from search_api.process import ServiceProcess
from tests.support.helpers import SAMPLE_IMAGES
from tests.support.serving import serve_fp32

CLIP_RETRIEVAL = "clip-retrieval==2.45.0"
#: runs in the clip-retrieval environment: ClipClient's answers to the queries in argv, as JSON
SCRIPT = """
import importlib.util, json, sys
spec = importlib.util.spec_from_file_location("clip_client", sys.argv[1])
module = importlib.util.module_from_spec(spec)
spec.loader.exec_module(module)
assert "clip_retrieval" not in sys.modules and "torch" not in sys.modules
url, index, queries = sys.argv[2], sys.argv[3], json.loads(sys.argv[4])
client = module.ClipClient(url=url, indice_name=index, num_images=5)
print(json.dumps([client.query(**query) for query in queries]))
"""


def clip_retrieval_env(cache: Path) -> Path:
    """The path of ``clip_client.py`` in an environment made (once) under ``cache``."""
    venv = cache / "venv"
    module = next(venv.glob("lib/python*/site-packages/clip_retrieval/clip_client.py"), None)
    if module is not None:
        return module
    cache.mkdir(parents=True, exist_ok=True)
    with open(cache / "lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # another test session may be making it
        module = next(venv.glob("lib/python*/site-packages/clip_retrieval/clip_client.py"), None)
        if module is None:
            subprocess.run(
                [sys.executable, "-m", "venv", "--system-site-packages", str(venv)], check=True
            )
            python = venv / "bin" / "python"
            pip = [str(python), "-m", "pip", "install", "--quiet", "--no-deps"]
            subprocess.run([*pip, "--disable-pip-version-check", CLIP_RETRIEVAL], check=True)
            site = next(venv.glob("lib/python*/site-packages"))
            # clip_client needs requests only: this interpreter's, whatever the base holds
            (site / "medsearch_requests.pth").write_text(
                str(Path(requests.__file__).parents[1]) + "\n", encoding="utf-8"
            )
            module = next(site.glob("clip_retrieval/clip_client.py"))
    return module


@pytest.fixture(scope="module")
def clip_client_module(request: pytest.FixtureRequest) -> Path:
    cache_provider = getattr(request.config, "cache", None)
    folder = (
        cache_provider.mkdir("clip-retrieval")
        if cache_provider is not None
        else Path(tempfile.gettempdir()) / "medsearch-test-clip-retrieval"
    )
    return clip_retrieval_env(folder / CLIP_RETRIEVAL.replace("==", "-"))


@pytest.fixture(scope="module")
def server(
    sample_index_dir: Path, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[ServiceProcess]:
    thumbnails = tmp_path_factory.mktemp("clip-client-thumbnails")
    with serve_fp32(sample_index_dir, thumbnails=thumbnails) as running:
        yield running


def clip_client_answers(
    module: Path, server: ServiceProcess, index: str, queries: list[dict[str, Any]]
) -> list[Any]:
    venv_python = module.parents[4] / "bin" / "python"
    command = [str(venv_python), "-c", SCRIPT, str(module), server.url + "/api/knn-service"]
    run = subprocess.run(
        [*command, index, json.dumps(queries)], capture_output=True, text=True, timeout=120
    )
    assert run.returncode == 0, run.stderr
    answers: list[Any] = json.loads(run.stdout)
    return answers


@pytest.mark.slow
def test_clip_client_searches_a_served_index(
    clip_client_module: Path, server: ServiceProcess, sample_index_dir: Path
) -> None:
    index = requests.get(server.url + "/api/indices-list", timeout=30).json()
    assert index == [sample_index_dir.name]
    xray = SAMPLE_IMAGES / "cxr_01.jpg"
    queries = [
        {"text": "chest x-ray"},
        {"image": str(xray)},
        {"image": "http://192.0.2.1/a.png"},  # image_url: this service fetches no URL
    ]
    by_text, by_image, by_url = clip_client_answers(clip_client_module, server, index[0], queries)

    search = requests.post(
        server.url + "/api/search", json={"text": "chest x-ray", "k": 5}, timeout=30
    ).json()
    # ClipClient asks to deduplicate: what it gets is the search's ranking, copies left out
    expected = [hit["id"] for hit in search["results"]]
    assert [row["id"] for row in by_text] == [
        i for i in expected if i in {r["id"] for r in by_text}
    ]
    assert by_text[0]["id"] == expected[0] and 1 <= len(by_text) <= 5
    first = by_text[0]
    assert first["similarity"] == pytest.approx(search["results"][0]["score"], abs=1e-5)
    assert first["caption"] == search["results"][0]["caption"]
    assert requests.get(first["url"], timeout=30).status_code == 200

    assert by_image[0]["image_path"] == "images/cxr_01.jpg"
    metadata = requests.post(
        server.url + "/api/metadata", data=json.dumps({"ids": [by_image[0]["id"]]}), timeout=30
    ).json()
    assert metadata[0]["metadata"]["image_path"] == "images/cxr_01.jpg"
    assert by_url["error"]["code"] == "image_url_refused"
