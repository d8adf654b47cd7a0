"""Fixtures of the JSON API tests.

The real app runs over the session's ``sample_index_dir`` (32 sample images, tiny random model)
from tests/conftest.py; ``fake_app`` runs over a stand-in retriever for the paths a real index
cannot easily produce (503, 500, reload cadence). The stand-in implements the same
:class:`~search_api.service.SearchService` protocol as the real Retriever
(``test_api_contract.py`` holds it to the protocol's signatures).
"""

from __future__ import annotations

import csv
from collections.abc import Collection, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from flask import Flask
from flask.testing import FlaskClient
from PIL import Image

from indexer.encoders.base import EncoderUsage
from indexer.errors import InvalidRequestError, NotFoundError
from indexer.prompts import DEFAULT_TEMPLATE
from indexer.records import (
    GroupListing,
    GroupMember,
    GroupSummary,
    Hit,
    ImageRecord,
    LabelProbability,
    MetadataValue,
    SearchResult,
)
from indexer.search.duplicate_threshold import AdaptiveThreshold
from indexer.search.duplicates import DuplicateReport
from indexer.search.info import RetrieverInfo
from indexer.search.query_parts import QueryPart
from indexer.search.retriever import Retriever
from indexer.settings import Settings
from indexer.storage.info import EncoderRecord
from search_api import create_app
from search_api.state import ApiState
from tests.support.contract import Contract, ContractClient
from tests.support.helpers import SAMPLE_DIR


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
    retriever = app_state(app).retriever
    assert isinstance(retriever, Retriever)
    retriever.close()


def app_state(app: Flask) -> ApiState:
    state: ApiState = app.extensions["medsearch"]
    return state


@pytest.fixture(scope="session")
def app_retriever(app: Flask) -> Any:
    """The real Retriever the app opened itself."""
    return app_state(app).retriever


@pytest.fixture(scope="session")
def contract(app: Flask) -> Contract:
    """The real app's OpenAPI document, with the checks of answers against it."""
    return Contract.of(app)


@pytest.fixture()
def client(app: Flask, contract: Contract) -> FlaskClient:
    """A client of the real app that checks each answer against the app's OpenAPI document."""
    client = ContractClient(app, app.response_class, use_cookies=True)
    client.contract = contract
    return client


@pytest.fixture(scope="session")
def sample_rows() -> list[dict[str, str]]:
    """data/sample/metadata.csv, read independently of the indexer."""
    with open(SAMPLE_DIR / "metadata.csv", newline="", encoding="utf-8") as handle:
        return list(csv.DictReader(handle))


@pytest.fixture(scope="session")
def ids_by_file(app: Flask, app_retriever: Any) -> dict[str, int]:
    """Indexed id of every sample file, keyed by its path relative to data/sample."""
    count = app_retriever.info().count
    with app.test_client() as client:
        response = client.post("/api/search", json={"text": "an image", "k": count})
    assert response.status_code == 200, response.get_json()
    return {hit["path"]: hit["id"] for hit in response.get_json()["results"]}


# --- a stand-in retriever ---------------------------------------------------------------------


@dataclass(frozen=True)
class FakeEncoder:
    draft_size: int = 448

    def usage(self) -> EncoderUsage:
        return EncoderUsage()


@dataclass
class FakeRetriever:
    """A :class:`SearchService` over one image; ``error`` is raised by every query if set."""

    root: Path
    error: Exception | None = None
    refreshes: int = 0
    calls: list[dict[str, Any]] = field(default_factory=list)
    encoder: FakeEncoder = field(default_factory=FakeEncoder)

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

    def info(self) -> RetrieverInfo:
        encoder = EncoderRecord(name="fake", model="", fingerprint="fake", dim=4)
        return RetrieverInfo(count=1, dim=4, encoder=encoder, device="cpu", precision="fp32")

    def search(
        self,
        *,
        text: str | None = None,
        image: Image.Image | None = None,
        vector: Sequence[float] | None = None,
        image_id: int | None = None,
        k: int = 20,
        offset: int = 0,
        filters: Mapping[str, MetadataValue | Sequence[MetadataValue]] | None = None,
        min_score: float | None = None,
        exclude_ids: Collection[int] = (),
        count_facets: bool = False,
        collapse: str | None = None,
        level: str = "image",
        group: MetadataValue = None,
        mode: str = "dense",
        min_relative: float | None = None,
        min_z: float | None = None,
        dedupe: float | None = None,
        parts: Sequence[QueryPart] | None = None,
    ) -> SearchResult:
        self.calls.append({"text": text, "image_id": image_id, "k": k, "filters": filters})
        if self.error is not None:
            raise self.error
        if collapse is not None and collapse not in self.filterable_fields():
            raise InvalidRequestError(f"unknown group field {collapse!r}")
        image_record = self.record()
        metadata = image_record.metadata()
        summary = None if collapse is None else GroupSummary(collapse, metadata[collapse], 1, 1)
        hit = Hit(1, 0.5, image_record.path, image_record.caption, metadata, summary)
        return SearchResult([hit], 1, {"embed": 1.0, "search": 1.0, "total": 2.0})

    def group(self, field: str, value: MetadataValue) -> GroupListing:
        if field not in self.filterable_fields():
            raise InvalidRequestError(f"unknown group field {field!r}")
        if value != self.record().metadata()[field]:
            raise NotFoundError(f"no indexed image has {field} = {value!r}")
        return GroupListing(field, value, [GroupMember(1, None, None)])

    def get(self, image_id: int) -> ImageRecord:
        if image_id != 1:
            raise NotFoundError(f"no image with id {image_id}")
        return self.record()

    def original(self, image_id: int) -> Path:
        path = self.root / self.get(image_id).path
        if not path.is_file():
            raise NotFoundError(f"the original file {path.name!r} is no longer available")
        return path

    def viewer_links(self, image_ids: Sequence[int]) -> dict[int, str]:
        return {}

    def vectors_for(self, ids: Sequence[int]) -> np.ndarray:
        return np.ones((len(ids), 4), dtype=np.float32) / 2

    def duplicates(
        self, threshold: float | None = None, across: str | None = None
    ) -> DuplicateReport:
        return DuplicateReport(threshold or 0.99, "given", 1, [], "exact", 0.0, across)

    def duplicate_threshold(self) -> AdaptiveThreshold:
        return AdaptiveThreshold(0.99, 0.9, 1, 1)

    def classify(
        self,
        labels: Sequence[str],
        *,
        image: Image.Image | None = None,
        image_id: int | None = None,
        template: str = DEFAULT_TEMPLATE,
    ) -> list[LabelProbability]:
        if self.error is not None:
            raise self.error
        return [LabelProbability(label, 1 / len(labels), 0.1) for label in labels]

    def filterable_fields(self) -> list[str]:
        return ["modality"]

    def filter_field_kinds(self) -> dict[str, frozenset[str]]:
        return {"modality": frozenset({"text"})}

    def facets(
        self, filters: Mapping[str, Any] | None = None
    ) -> dict[str, list[tuple[MetadataValue, int]]]:
        return {"modality": [("CT", 1)]}

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
