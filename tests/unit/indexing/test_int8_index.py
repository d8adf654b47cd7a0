"""An index built with ``--runtime onnx --precision int8`` (and ``--runtime openvino``) through the
real CLI: its fidelity figures in index_info.json and ``medsearch info``, searched from torch and
its own runtime (one vector space), and served by the real app with the int8 model, which checks
itself again on the index."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from indexer.search.retriever import Retriever
from indexer.settings import RuntimeName, Settings
from search_api import create_app
from tests.support.helpers import index_sample, run_cli

pytestmark = pytest.mark.slow

QUERY = "chest X-ray with pleural effusion"


def _int8_options(runtime: str, cache: Path) -> list[str]:
    return ["--runtime", runtime, "--precision", "int8", "--onnx-cache", str(cache)]


@pytest.fixture(scope="module", params=["onnx", "openvino"])
def runtime(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture(scope="module")
def int8_index(
    tmp_path_factory: pytest.TempPathFactory, tiny_model_dir: Path, onnx_cache: Path, runtime: str
) -> Path:
    index_dir = tmp_path_factory.mktemp(f"int8-index-{runtime}") / "index"
    return index_sample(index_dir, tiny_model_dir, *_int8_options(runtime, onnx_cache))


def test_the_index_records_its_fidelity(int8_index: Path, runtime: str) -> None:
    recorded = json.loads((int8_index / "index_info.json").read_text("utf-8"))["fidelity"]
    assert (recorded["runtime"], recorded["precision"]) == (runtime, "int8")
    assert float(recorded["mean_cosine"]) >= 0.995
    assert float(recorded["min_cosine"]) >= 0.98
    assert float(recorded["top10_overlap"]) >= 0.9
    assert "captions of the corpus" in recorded["calibration"]
    shown = json.loads(run_cli("info", int8_index, "--json"))
    assert shown["fidelity"] == recorded
    text = run_cli("info", int8_index)
    assert (
        f"runtime    {runtime} int8: fidelity to fp32 PyTorch mean cosine {recorded['mean_cosine']}"
        in text
    )


def test_searched_from_either_runtime(int8_index: Path, onnx_cache: Path, runtime: str) -> None:
    def top(*options: str) -> list[str]:
        args = ("search", int8_index, "--text", QUERY, "-k", "10", "--json", "--device", "cpu")
        return [hit["path"] for hit in json.loads(run_cli(*args, *options))["results"]]

    from_torch = top("--precision", "fp32")
    from_int8 = top(*_int8_options(runtime, onnx_cache))
    assert len(from_torch) == len(from_int8) == 10
    assert len(set(from_torch) & set(from_int8)) >= 8


def test_served_with_the_int8_model(
    int8_index: Path, onnx_cache: Path, tmp_path: Path, sample_index_dir: Path, runtime: RuntimeName
) -> None:
    settings = Settings(
        index_dir=int8_index,
        device="cpu",
        runtime=runtime,
        precision="int8",
        onnx_cache=onnx_cache,
        thumbnail_dir=tmp_path,
    )
    app = create_app(settings)
    try:
        answer = app.test_client().post("/api/search", json={"text": QUERY, "k": 5})
        assert answer.status_code == 200
        assert len(answer.get_json()["results"]) == 5
        encoder = app.test_client().get("/api/info").get_json()["encoder"]
        assert (encoder["runtime"], encoder["precision"]) == (runtime, "int8")
        retriever = app.extensions["medsearch"].retriever
        assert isinstance(retriever, Retriever)
        # the guard ran again at start, on the index's own images and vectors
        fidelity = retriever.encoder.fidelity_record()
        assert fidelity is not None and float(fidelity["top10_overlap"]) >= 0.9
        assert encoder["fidelity"] == fidelity
        # an index built by torch is served by the int8 model too: one vector space
        torch_built = create_app(settings.replace(index_dir=sample_index_dir))
        other = torch_built.test_client().post("/api/search", json={"text": QUERY, "k": 5})
        assert other.status_code == 200
        torch_built.extensions["medsearch"].retriever.close()
    finally:
        retriever.close()
