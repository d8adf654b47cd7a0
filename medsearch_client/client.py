"""``MedSearchClient``: every route of a MedSearch service a program needs, as typed methods.

Options the client does not name (those of newer services) are passed through as keyword
arguments: into the JSON body of a search or classification, or into the query string of a GET
(lists and mappings as JSON text). The service checks them like any other field and answers an
:class:`~medsearch_client.errors.ApiError` (400 ``invalid_request``) for one it does not know.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping, Sequence
from types import TracebackType
from typing import Any

import requests

from medsearch_client.images import ImageInput, image_base64
from medsearch_client.results import (
    FacetValue,
    Hit,
    ImageRecord,
    IndexDescription,
    Info,
    LabelProbability,
    SearchPage,
)
from medsearch_client.transport import Transport

#: a filter: a field's value, or a list of values any of which may match
Filters = Mapping[str, Any]
#: results per request while iterating over every page
PAGE_SIZE = 100


class MedSearchClient:
    """A client of the MedSearch JSON API at ``url`` (``http://host:8000``, with or without
    ``/api``).

    ``token``: the service's ``MEDSEARCH_API_TOKEN``, sent as a bearer token, or used once to sign
    in when ``use_session`` is set (the session cookie then stands for it). ``timeout``: seconds
    to wait for an answer (or ``(connect, read)``). ``retries``: further tries of a call that
    changes nothing when the connection fails, times out or the service answers 502/503/504,
    after ``backoff``, twice that, ... seconds. ``session``: a ``requests.Session`` of your own
    (proxies, certificates).
    """

    def __init__(
        self,
        url: str,
        token: str | None = None,
        *,
        timeout: float | tuple[float, float] = 60.0,
        retries: int = 2,
        backoff: float = 0.5,
        use_session: bool = False,
        session: requests.Session | None = None,
    ) -> None:
        base = url.rstrip("/").removesuffix("/api")
        self.transport = Transport(
            base,
            token=token,
            use_session=use_session,
            timeout=timeout,
            retries=retries,
            backoff=backoff,
            session=session,
        )

    # --- search ---------------------------------------------------------------------------------

    def search(
        self,
        text: str | None = None,
        *,
        image: ImageInput | None = None,
        image_id: int | None = None,
        vector: Sequence[float] | None = None,
        k: int = 20,
        offset: int = 0,
        filters: Filters | None = None,
        min_score: float | None = None,
        index: str | None = None,
        **options: Any,
    ) -> SearchPage:
        """One page of images nearest a text, an image (a path, bytes or a PIL image), an
        indexed image (left out of its own results) or a vector; exactly one of them."""
        body = self._search_body(text, image, image_id, vector, filters, min_score, index, options)
        return self._search(body, k, offset)

    def iter_search(
        self,
        text: str | None = None,
        *,
        image: ImageInput | None = None,
        image_id: int | None = None,
        vector: Sequence[float] | None = None,
        filters: Filters | None = None,
        min_score: float | None = None,
        index: str | None = None,
        page_size: int = PAGE_SIZE,
        limit: int | None = None,
        **options: Any,
    ) -> Iterator[Hit]:
        """Every result of a search, best first, fetched ``page_size`` at a time (up to
        ``limit`` results if given). The image is read and encoded once."""
        body = self._search_body(text, image, image_id, vector, filters, min_score, index, options)
        offset = 0
        while limit is None or offset < limit:
            k = page_size if limit is None else min(page_size, limit - offset)
            page = self._search(body, k, offset)
            yield from page.results
            offset += len(page.results)
            if len(page.results) < k or offset >= page.total:
                return

    def similar(
        self,
        image_id: int,
        *,
        k: int = 20,
        offset: int = 0,
        filters: Filters | None = None,
        min_score: float | None = None,
        index: str | None = None,
        **options: Any,
    ) -> SearchPage:
        """Images most similar to an indexed image, itself left out."""
        query = {"k": k, "offset": offset, "filters": filters, "min_score": min_score}
        params = self._query(index=index, **query, **options)
        data = self._get(f"/api/images/{int(image_id)}/similar", params)
        return SearchPage.from_json(data)

    def classify(
        self,
        labels: Sequence[str],
        *,
        image: ImageInput | None = None,
        image_id: int | None = None,
        template: str | None = None,
        index: str | None = None,
        **options: Any,
    ) -> list[LabelProbability]:
        """Zero-shot probabilities of ``labels`` for an image or an indexed image, best first;
        ``template`` holds ``{}`` once (the service's default: ``Info.default_template``)."""
        if (image is None) == (image_id is None):
            raise ValueError("give exactly one of image and image_id")
        body = {"labels": list(labels), "template": template, "index": index, **options}
        body["image"] = None if image is None else image_base64(image)
        body["image_id"] = image_id
        data = self._post("/api/classify", _without_none(body))
        return [LabelProbability.from_json(label) for label in data["labels"]]

    # --- images ---------------------------------------------------------------------------------

    def image(self, image_id: int, *, index: str | None = None) -> ImageRecord:
        """Everything the index stores about an image."""
        return ImageRecord.from_json(self._get(f"/api/images/{int(image_id)}", self._query(index)))

    def thumbnail(self, image_id: int, *, size: int = 256, index: str | None = None) -> bytes:
        """A JPEG of the image, at most ``size`` pixels on a side."""
        path = f"/api/images/{int(image_id)}/thumbnail"
        return self.transport.call("GET", path, params=self._query(index, size=size)).content

    def original(self, image_id: int, *, index: str | None = None) -> bytes:
        """The image's original file (a DICOM rendered to PNG)."""
        path = f"/api/images/{int(image_id)}/file"
        return self.transport.call("GET", path, params=self._query(index)).content

    # --- the service ----------------------------------------------------------------------------

    def facets(
        self, filters: Filters | None = None, *, index: str | None = None, **options: Any
    ) -> dict[str, list[FacetValue]]:
        """Every field's values with their counts; under ``filters``, each field counted with
        the other fields' filters applied."""
        data = self._get("/api/facets", self._query(index, filters=filters, **options))
        return {
            name: [FacetValue.from_json(value) for value in values]
            for name, values in data["facets"].items()
        }

    def indexes(self) -> list[IndexDescription]:
        """The served indexes, the default first."""
        return [IndexDescription.from_json(item) for item in self._get("/api/indexes")["indexes"]]

    def info(self, *, index: str | None = None) -> Info:
        """An index's size, encoder and generation, and the service's version."""
        return Info.from_json(self._get("/api/info", self._query(index)))

    def health(self) -> bool:
        """Whether the service answers (no token needed)."""
        return bool(self._get("/api/health").get("status") == "ok")

    def sign_out(self) -> None:
        """End the session ``use_session`` opened (nothing to do otherwise)."""
        self.transport.sign_out()

    def close(self) -> None:
        """Sign out if signed in, and close the connections."""
        try:
            self.transport.sign_out()
        finally:
            self.transport.close()

    def __enter__(self) -> MedSearchClient:
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.close()

    # --- plumbing -------------------------------------------------------------------------------

    def _search_body(
        self,
        text: str | None,
        image: ImageInput | None,
        image_id: int | None,
        vector: Sequence[float] | None,
        filters: Filters | None,
        min_score: float | None,
        index: str | None,
        options: Mapping[str, Any],
    ) -> dict[str, Any]:
        kinds = {"text": text, "image": image, "image_id": image_id, "vector": vector}
        given = [name for name, value in kinds.items() if value is not None]
        # without a typed query, the options passed through may hold one this client does not
        # type (parts, group): the service judges it
        if len(given) > 1 or (not given and not options):
            raise ValueError(f"give exactly one of text, image, image_id and vector, not {given}")
        body = {**kinds, "filters": filters, "min_score": min_score, "index": index, **options}
        if image is not None:
            body["image"] = image_base64(image)
        if vector is not None:
            body["vector"] = [float(x) for x in vector]
        return _without_none(body)

    def _search(self, body: Mapping[str, Any], k: int, offset: int) -> SearchPage:
        return SearchPage.from_json(self._post("/api/search", {**body, "k": k, "offset": offset}))

    def _post(self, path: str, body: Mapping[str, Any]) -> Any:
        return self.transport.call("POST", path, json=body).json()

    def _get(self, path: str, params: Mapping[str, str] | None = None) -> Any:
        return self.transport.call("GET", path, params=params).json()

    @staticmethod
    def _query(index: str | None = None, **values: Any) -> dict[str, str]:
        """Query arguments: ``None`` left out, lists and mappings as JSON, booleans as
        ``true``/``false``."""
        values["index"] = index
        return {name: _as_text(value) for name, value in values.items() if value is not None}


def _as_text(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, Mapping | list | tuple):
        return json.dumps(value)
    return str(value)


def _without_none(body: Mapping[str, Any]) -> dict[str, Any]:
    return {key: value for key, value in body.items() if value is not None}
