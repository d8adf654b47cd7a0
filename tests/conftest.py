"""Shared fixtures: a tiny real model, a real index of data/sample, settings.

Everything runs offline: the Hugging Face Hub is switched to offline mode before any of its
modules are imported, so a test can never reach the network.
"""

from __future__ import annotations

import os

os.environ["HF_HUB_OFFLINE"] = "1"
os.environ["HF_HUB_DISABLE_TELEMETRY"] = "1"
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

from collections.abc import Iterator  # noqa: E402
from pathlib import Path  # noqa: E402

import pytest  # noqa: E402

from indexer.encoders import Encoder, init_model_folder, load_encoder  # noqa: E402
from indexer.search.retriever import Retriever  # noqa: E402
from indexer.settings import Settings  # noqa: E402
from tests.support.ct_series import index_ct_series  # noqa: E402
from tests.support.helpers import (  # noqa: E402
    SAMPLE_DIR,
    index_sample,
    run_cli,
    seed_group_key,
    tiny_model_args,
)
from tests.support.orthanc import PACS_FILES, Orthanc, running_orthanc  # noqa: E402
from tests.support.orthanc import missing as orthanc_missing  # noqa: E402


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Files marked ``first`` (minutes each) run first: on two processes (CI's ``-n 2 --dist
    loadfile --no-loadscope-reorder``) the other one runs the rest meanwhile, rather than one
    waiting at the end. The sort is stable, so each file's tests stay together and in order."""
    items.sort(key=lambda item: item.get_closest_marker("first") is None)


@pytest.fixture(scope="session")
def sample_dir() -> Path:
    return SAMPLE_DIR


def tiny_model_folder(tmp_path_factory: pytest.TempPathFactory, name: str, seed: int) -> Path:
    folder = tmp_path_factory.mktemp("models") / name
    init_model_folder(folder, size="tiny", seed=seed)
    return folder


@pytest.fixture(scope="session")
def tiny_model_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A randomly initialised BiomedCLIP-architecture model folder at small widths (seed 0)."""
    return tiny_model_folder(tmp_path_factory, "tiny", seed=0)


@pytest.fixture(scope="session")
def tiny_encoder(tiny_model_dir: Path) -> Encoder:
    return load_encoder(str(tiny_model_dir), device="cpu", precision="fp32")


@pytest.fixture(scope="session")
def onnx_cache(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One cache of exported and quantised ONNX towers for the session (each made once)."""
    return tmp_path_factory.mktemp("onnx-cache")


@pytest.fixture(scope="session")
def sample_index_dir(tmp_path_factory: pytest.TempPathFactory, tiny_model_dir: Path) -> Path:
    """A real index of the 32 sample images, built by the real CLI. Read-only for tests."""
    return index_sample(tmp_path_factory.mktemp("sample-index") / "index", tiny_model_dir)


@pytest.fixture(scope="session")
def ct_series_index_dir(tmp_path_factory: pytest.TempPathFactory, tiny_model_dir: Path) -> Path:
    """A real index of four real CT series (250 slices, three studies): each slice's
    ``series_key``, ``study_key`` and place read from its file, and a sidecar naming its
    ``series`` and ``study`` by folder, both group fields. Read-only for tests."""
    folder = tmp_path_factory.mktemp("ct-series-index") / "index"
    return index_ct_series(folder, tiny_model_dir)


@pytest.fixture(scope="session")
def ct_series_retriever(ct_series_index_dir: Path, tiny_encoder: Encoder) -> Iterator[Retriever]:
    settings = Settings(index_dir=ct_series_index_dir, device="cpu", precision="fp32")
    opened = Retriever.open(settings, encoder=tiny_encoder)
    yield opened
    opened.close()


@pytest.fixture(scope="session")
def other_model_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A second tiny model folder (seed 1): same architecture, another fingerprint."""
    return tiny_model_folder(tmp_path_factory, "tiny-seed1", seed=1)


@pytest.fixture(scope="session")
def other_index_dir(tmp_path_factory: pytest.TempPathFactory, other_model_dir: Path) -> Path:
    """The sample images indexed with :func:`other_model_dir`'s model. Read-only for tests."""
    return index_sample(tmp_path_factory.mktemp("other-index") / "other", other_model_dir)


@pytest.fixture(scope="session")
def sample_settings(sample_index_dir: Path) -> Settings:
    return Settings(index_dir=sample_index_dir, device="cpu", precision="fp32")


@pytest.fixture(scope="session")
def retriever(sample_settings: Settings, tiny_encoder: Encoder) -> Iterator[Retriever]:
    opened = Retriever.open(sample_settings, encoder=tiny_encoder)
    yield opened
    opened.close()


@pytest.fixture(scope="session")
def orthanc(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Orthanc]:
    """A real PACS (Orthanc + DICOMweb) holding the sample DICOMs and one file per encoding."""
    reason = orthanc_missing()
    if reason:
        pytest.skip(reason)
    with running_orthanc(tmp_path_factory.mktemp("orthanc")) as server:
        server.upload(PACS_FILES)
        yield server


@pytest.fixture(scope="session")
def pacs_index_dir(
    orthanc: Orthanc, tiny_model_dir: Path, tmp_path_factory: pytest.TempPathFactory
) -> Path:
    """A real index of everything in :func:`orthanc`, built by ``medsearch index URL``."""
    index_dir = tmp_path_factory.mktemp("pacs-index") / "index"
    seed_group_key(index_dir, 1)
    with pytest.MonkeyPatch.context() as patch:
        orthanc.use_credentials(patch)
        run_cli("index", orthanc.dicomweb, "--index", index_dir, *tiny_model_args(tiny_model_dir))
    return index_dir


@pytest.fixture(scope="session")
def ray_runtime() -> Iterator[None]:
    """One local Ray runtime on this machine's CPUs for every Ray test, whose workers import
    this checkout's code (they inherit PYTHONPATH from this process)."""
    import ray

    import indexer

    repo = str(Path(indexer.__file__).resolve().parent.parent)
    path = os.environ.get("PYTHONPATH", "")
    os.environ["PYTHONPATH"] = os.pathsep.join(p for p in (repo, path) if p)
    ray.init(num_cpus=os.cpu_count() or 1, include_dashboard=False, log_to_driver=False)
    try:
        worker_file = ray.get(ray.remote(_indexer_file).remote())
        assert worker_file == indexer.__file__, (worker_file, indexer.__file__)
        yield
    finally:
        ray.shutdown()
        os.environ["PYTHONPATH"] = path


def _indexer_file() -> str:
    import indexer

    return str(indexer.__file__)
