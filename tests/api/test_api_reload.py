"""A running service picks up a newly published index without a restart."""

from __future__ import annotations

from pathlib import Path

from indexer.encoders import Encoder
from indexer.search.retriever import Retriever
from indexer.settings import Settings
from search_api import create_app
from tests.support.helpers import GrowingIndex


def test_service_serves_the_new_version_after_indexing(
    tmp_path: Path, tiny_model_dir: Path, tiny_encoder: Encoder
) -> None:
    grown = GrowingIndex.at(tmp_path, tiny_model_dir)
    grown.add("cxr_01.jpg")
    settings = Settings(index_dir=grown.index_dir, device="cpu", reload_interval=0.0)
    retriever = Retriever.open(settings, encoder=tiny_encoder)
    client = create_app(settings, retriever=retriever).test_client()
    try:
        assert client.get("/api/info").get_json()["count"] == 1
        assert client.get("/api/facets").get_json()["facets"]["format"] == [
            {"value": "jpeg", "count": 1}
        ]
        grown.add("dcm_ct_small.dcm")
        assert client.get("/api/info").get_json()["count"] == 2
        formats = client.get("/api/facets").get_json()["facets"]["format"]
        assert sorted(f["value"] for f in formats) == ["dicom", "jpeg"]
        assert "rows" in client.get("/api/facets").get_json()["facets"]  # a DICOM-only field
        found = client.post("/api/search", json={"text": "CT", "k": 5}).get_json()["results"]
        assert {hit["path"] for hit in found} == {"cxr_01.jpg", "dcm_ct_small.dcm"}
    finally:
        retriever.close()
