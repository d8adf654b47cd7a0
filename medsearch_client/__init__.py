"""A Python client of the MedSearch JSON API, for notebooks and pipelines.

It needs only ``requests``: importing it loads no model, FAISS or database library, and no part
of the service. ::

    from medsearch_client import MedSearchClient

    client = MedSearchClient("http://127.0.0.1:8000", token=None)
    page = client.search("chest X-ray with pleural effusion", k=10, filters={"modality": "CR"})
    for hit in page.results:
        print(hit.score, hit.path)
"""

from __future__ import annotations

from medsearch_client.client import MedSearchClient
from medsearch_client.errors import (
    ApiError,
    MedSearchClientError,
    RequestTimeoutError,
    ServiceUnreachableError,
)
from medsearch_client.results import (
    FacetValue,
    Hit,
    ImageRecord,
    IndexDescription,
    Info,
    LabelProbability,
    SearchPage,
)

__all__ = [
    "ApiError",
    "FacetValue",
    "Hit",
    "ImageRecord",
    "IndexDescription",
    "Info",
    "LabelProbability",
    "MedSearchClient",
    "MedSearchClientError",
    "RequestTimeoutError",
    "SearchPage",
    "ServiceUnreachableError",
]
