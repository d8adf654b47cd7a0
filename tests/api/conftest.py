"""Fixtures of the JSON API tests.

The real app runs over the session's ``sample_index_dir`` (32 sample images, tiny random model)
from tests/conftest.py; ``fake_app`` runs over a stand-in retriever for the paths a real index
cannot easily produce (503, 500, reload cadence).
"""

from __future__ import annotations

import csv
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient

from indexer.errors import NotFoundError
from indexer.records import Hit, ImageRecord, LabelProbability, SearchResult
from indexer.settings import Settings
from search_api import create_app
from tests.helpers import SAMPLE_DIR


@pytest.fixture(scope="session")
def api_settings(sample_index_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Settings:
    return Settings(
        index_dir=Path(sample_index_dir),
        device="cpu",
        precision="fp32",
        thumbnail_dir=tmp_path_factory.mktemp("thumbnails"),
    )


@pytest.fixture(scope="session")
def app(api_settings: Settings) -> Iterator[Flask]:
    """The app as ``medsearch serve`` builds it: it opens the index and model itself."""
    app = create_app(api_settings)
    yield app
    app.extensions["medsearch"].close()


@pytest.fixture(scope="session")
def retriever(app: Flask) -> Any:
    """The app's own retriever (overrides the library's fixture of the same name)."""
    return app.extensions["medsearch"]


@pytest.fixture()
def client(app: Flask) -> FlaskClient:
    return app.test_client()


@pytest.fixture(scope="session")
def sample_rows() -> list[dict[str, str]]:
    """data/sample/metadata.csv, read independently of the indexer."""
    with open(SAMPLE_DIR / "metadata.csv", newline="", encoding="utf-8") as handle:
        return list(csv.DictReader(handle))


@pytest.fixture(scope="session")
def ids_by_file(app: Flask, retriever: Any) -> dict[str, int]:
    """Indexed id of every sample file, keyed by its path relative to data/sample."""
    count = retriever.info()["count"]
    with app.test_client() as client:
        response = client.post("/api/search", json={"text": "an image", "k": count})
    assert response.status_code == 200, response.get_json()
    return {hit["path"]: hit["id"] for hit in response.get_json()["results"]}


# --- a stand-in retriever ---------------------------------------------------------------------


@dataclass
class FakeRetriever:
    """Just enough of the Retriever interface; ``error`` is raised by every query if set."""

    root: Path
    error: Exception | None = None
    refreshes: int = 0
    calls: list[dict[str, Any]] = field(default_factory=list)

    def record(self) -> ImageRecord:
        return ImageRecord(
            id=1,
            path="a.png",
            sha256="ab" * 32,
            size=10,
            mtime=0.0,
            width=4,
            height=4,
            format="png",
            modality="CT",
            caption="a caption",
        )

    def info(self) -> dict[str, Any]:
        return {"count": 1, "dim": 4, "encoder": {"name": "fake"}}

    def search(self, **kwargs: Any) -> SearchResult:
        self.calls.append(kwargs)
        if self.error is not None:
            raise self.error
        image = self.record()
        hit = Hit(image.id, 0.5, image.path, image.caption, image.metadata())
        return SearchResult([hit], 1, {"embed": 1.0, "search": 1.0, "total": 2.0})

    def get(self, image_id: int) -> ImageRecord:
        if image_id != 1:
            raise NotFoundError(f"no image with id {image_id}")
        return self.record()

    def source_path(self, image_id: int) -> Path:
        self.get(image_id)
        return self.root / "a.png"

    def classify(self, labels: list[str], **kwargs: Any) -> list[LabelProbability]:
        if self.error is not None:
            raise self.error
        return [LabelProbability(label, 1 / len(labels), 0.1) for label in labels]

    def facets(self) -> dict[str, list[tuple[Any, int]]]:
        return {"modality": [("CT", 1)]}

    def filterable_fields(self) -> list[str]:
        return ["modality"]

    def refresh(self) -> bool:
        self.refreshes += 1
        return False


@pytest.fixture()
def fake(tmp_path: Path) -> FakeRetriever:
    return FakeRetriever(root=tmp_path)


@pytest.fixture()
def fake_app(fake: FakeRetriever, tmp_path: Path) -> Iterator[Flask]:
    settings = Settings(index_dir=tmp_path, reload_interval=3600)
    yield create_app(settings, retriever=fake)
