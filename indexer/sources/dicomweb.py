"""A PACS as a corpus: DICOMweb QIDO-RS lists series and their instances, WADO-RS retrieves them.

:class:`DicomWebSource` is the :class:`~indexer.sources.base.CorpusSource` of an ``http(s)://``
DICOMweb base URL. Each instance becomes a :class:`~indexer.sources.base.CorpusFile` whose
``relpath`` is an opaque name derived from its UIDs (``<hash>.dcm``), so no UID reaches the images
table; the UIDs themselves travel in ``CorpusFile.uids`` into the identifiers table. Series are
listed first (QIDO-RS at series level), then the instances of each with the attributes that place
them in their series (InstanceNumber, ImagePositionPatient, ImageOrientationPatient), so that a run
indexing a few slices per series retrieves only those; the user's matching keys go with both
searches. Instances never change under their SOP Instance UID, so size and mtime are 0 and a
listed instance that is already indexed is unchanged. The page shows an instance retrieved again
by its UIDs, and links it into the PACS viewer that ``MEDSEARCH_VIEWER_URL`` names.

Credentials come from the settings (``MEDSEARCH_DICOMWEB_TOKEN``, or ``MEDSEARCH_DICOMWEB_USER``
and ``MEDSEARCH_DICOMWEB_PASSWORD``), never from a URL or the command line. A PACS that cannot
be reached or that refuses a search raises :class:`~indexer.errors.SourceUnavailableError`; an
instance that fails to be retrieved raises :class:`OSError`, which the pipeline records as that
instance's failure. Every search and retrieval is retried after a passing failure (HTTP 5xx or
429, a time-out, a dropped connection) as :mod:`indexer.sources.retries` says; an instance that
still fails for such a reason raises :class:`~indexer.sources.base.PassingReadError`, so that the
next run asks for it again. The service's retrieval of an original is not retried (someone waits
for it): a passing failure answers 503. The client's own retries are turned off: they neither
honour ``Retry-After`` nor cover connection errors."""

from __future__ import annotations

import hashlib
import io
from collections.abc import Callable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any
from urllib.parse import quote, urlsplit

import pydicom
import requests
from pydicom.dataset import Dataset

from ..errors import InvalidRequestError, NotFoundError, SourceUnavailableError
from ..imaging.geometry import SlicePlace, slice_place
from ..records import InstanceUIDs
from ..settings import Settings
from .base import CorpusFile, PassingReadError, SourceKind
from .retries import NO_RETRIES, RetryPolicy, is_passing, with_retries

#: series or instances asked for per QIDO-RS request
PAGE_SIZE = 1000
_STUDY, _SERIES, _SOP = "0020000D", "0020000E", "00080018"
#: InstanceNumber, ImagePositionPatient, ImageOrientationPatient: an instance's place in its series
PLACE_FIELDS = ("00200013", "00200032", "00200037")


def is_dicomweb_url(corpus: str | Path) -> bool:
    """Whether a corpus argument names a DICOMweb service rather than a folder."""
    return isinstance(corpus, str) and corpus.lower().startswith(("http://", "https://"))


def parse_filters(pairs: Sequence[str]) -> dict[str, str]:
    """``KEY=VALUE`` QIDO-RS matching keys (``Modality=CT``) as a dict."""
    filters: dict[str, str] = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not key.strip() or not value.strip():
            raise InvalidRequestError(f"--dicomweb-filter {pair!r} is not KEY=VALUE")
        filters[key.strip()] = value.strip()
    return filters


def relpath_for(uids: InstanceUIDs) -> str:
    """The opaque name an instance is indexed under (a digest of its UIDs)."""
    digest = hashlib.sha256("/".join(uids).encode("ascii")).hexdigest()[:32]
    return f"{digest}.dcm"


def open_client(url: str, settings: Settings) -> Any:
    """A ``dicomweb_client.DICOMwebClient`` for ``url`` with the configured credentials."""
    from dicomweb_client.api import DICOMwebClient

    parts = urlsplit(url)
    if parts.username or parts.password:
        raise InvalidRequestError(
            "put DICOMweb credentials in MEDSEARCH_DICOMWEB_TOKEN or MEDSEARCH_DICOMWEB_USER/"
            "MEDSEARCH_DICOMWEB_PASSWORD, not in the URL"
        )
    session = requests.Session()
    if settings.dicomweb_token:
        session.headers["Authorization"] = f"Bearer {settings.dicomweb_token}"
    elif settings.dicomweb_user:
        session.auth = (settings.dicomweb_user, settings.dicomweb_password or "")
    client = DICOMwebClient(url=url.rstrip("/"), session=session, timeout=settings.dicomweb_timeout)
    client.set_http_retry_params(retry=False)  # retried here, see the module's docstring
    return client


def retrieve(client: Any, uids: InstanceUIDs, policy: RetryPolicy) -> bytes:
    """The instance as DICOM file bytes, in its stored transfer syntax when the PACS allows;
    retried after passing failures as ``policy`` allows."""
    media_types = (("application/dicom", "*"),)
    try:
        dataset = with_retries(
            lambda: client.retrieve_instance(*uids, media_types=media_types), policy
        )
    except requests.RequestException as exc:
        failure = PassingReadError if is_passing(exc) else OSError
        raise failure(_retrieval_failure(exc)) from exc
    buffer = io.BytesIO()
    pydicom.dcmwrite(buffer, dataset, enforce_file_format=True)
    return buffer.getvalue()


def viewer_link(template: str, uids: InstanceUIDs) -> str:
    """``template`` with its ``{study_uid}`` and ``{series_uid}`` placeholders filled in."""
    return template.replace("{study_uid}", quote(uids.study_uid, safe="")).replace(
        "{series_uid}", quote(uids.series_uid, safe="")
    )


class DicomWebSource:
    """The instances a DICOMweb service lists (optionally matching QIDO-RS filters)."""

    def __init__(self, url: str, settings: Settings, filters: Mapping[str, str] | None = None):
        self.root = url.rstrip("/")
        self.filters = dict(filters or {})
        self.settings = settings
        self.client = open_client(self.root, settings)
        self.retry_policy = RetryPolicy.for_settings(settings)

    def scan(self) -> list[CorpusFile]:
        """Every listed instance, series by series, in a stable order (by relpath)."""
        files: dict[str, CorpusFile] = {}
        for series in self._paged(self.client.search_for_series):
            study_uid, series_uid = _value(series, _STUDY), _value(series, _SERIES)
            if not (study_uid and series_uid):
                continue
            instances = self._paged(
                self.client.search_for_instances,
                study_instance_uid=study_uid,
                series_instance_uid=series_uid,
                fields=list(PLACE_FIELDS),
            )
            for item in instances:
                uids = InstanceUIDs(study_uid, series_uid, _value(item, _SOP))
                if all(uids):
                    relpath = relpath_for(uids)
                    place = _place(item, uids)
                    files[relpath] = CorpusFile(Path(relpath), relpath, 0, 0.0, uids, place)
        return [files[relpath] for relpath in sorted(files)]

    def slice_places(self, files: Sequence[CorpusFile]) -> dict[str, SlicePlace]:
        """The places the listing gave (:meth:`scan`)."""
        return {f.relpath: f.place for f in files if f.place is not None}

    def read(self, file: CorpusFile) -> bytes:
        if file.uids is None:
            raise OSError("no DICOM identifiers recorded for this instance")
        return retrieve(self.client, file.uids, self.retry_policy)

    def original(self, relpath: str, uids: InstanceUIDs | None) -> bytes:
        """The instance retrieved again, without retries (someone waits for it);
        :class:`NotFoundError` when the PACS refuses it, :class:`SourceUnavailableError` when
        it fails for a passing reason."""
        if uids is None:
            raise NotFoundError(f"no DICOM identifiers are recorded for {relpath!r}")
        # a client of its own: the service's threads do not share one session
        client = open_client(self.root, self.settings)
        try:
            return retrieve(client, uids, NO_RETRIES)
        except PassingReadError as exc:
            raise SourceUnavailableError(str(exc)) from exc
        except OSError as exc:
            raise NotFoundError(f"the PACS no longer gives this image ({exc})") from exc

    def viewer_links(self, identifiers: Mapping[int, InstanceUIDs]) -> dict[int, str]:
        """Each instance's link into the PACS viewer (none without ``MEDSEARCH_VIEWER_URL``)."""
        template = self.settings.viewer_url
        if not template:
            return {}
        return {image_id: viewer_link(template, uids) for image_id, uids in identifiers.items()}

    def _paged(
        self, search: Callable[..., list[dict[str, Any]]], **query: Any
    ) -> Iterator[dict[str, Any]]:
        """Every result of a QIDO-RS ``search`` with the run's filters, a page at a time."""
        offset = 0
        while True:
            page = self._ask(
                search, search_filters=self.filters, limit=PAGE_SIZE, offset=offset, **query
            )
            yield from page
            if len(page) < PAGE_SIZE:
                return
            offset += len(page)

    def _ask(
        self, search: Callable[..., list[dict[str, Any]]], **query: Any
    ) -> list[dict[str, Any]]:
        try:
            return with_retries(lambda: search(**query), self.retry_policy)
        except requests.HTTPError as exc:
            raise SourceUnavailableError(
                f"the PACS at {self.root} refused the QIDO-RS search: {_status(exc)}"
            ) from exc
        except requests.RequestException as exc:
            raise SourceUnavailableError(
                f"the PACS at {self.root} cannot be reached: {_brief(exc)}"
            ) from exc


def open_dicomweb(corpus: str, settings: Settings, selection: Sequence[str]) -> DicomWebSource:
    """The PACS at ``corpus``, to index; ``selection`` holds QIDO-RS matching keys
    (``Modality=CT``)."""
    return DicomWebSource(corpus, settings, parse_filters(selection))


KIND = SourceKind(
    name="dicomweb",
    claims=is_dicomweb_url,
    open=open_dicomweb,
    reopen=lambda root, settings: DicomWebSource(root, settings),
)


def _place(item: Mapping[str, Any], uids: InstanceUIDs) -> SlicePlace:
    """The place of a listed instance in its series, from the attributes the listing gave."""
    try:
        found = slice_place(Dataset.from_json({t: item[t] for t in PLACE_FIELDS if t in item}))
    except Exception:  # noqa: BLE001 - an odd attribute leaves the slice unplaced, not the run
        found = SlicePlace(None, None, None, None)
    return SlicePlace(uids.series_uid, uids.study_uid, found.instance_number, found.position)


def _value(item: Mapping[str, Any], tag: str) -> str:
    values = item.get(tag, {}).get("Value") or [""]
    return str(values[0])


def _status(exc: requests.HTTPError) -> str:
    response = exc.response
    if response is None:
        return str(exc)
    return f"HTTP {response.status_code} {response.reason or ''}".strip()


def _brief(exc: Exception) -> str:
    return type(exc).__name__


def _retrieval_failure(exc: requests.RequestException) -> str:
    if isinstance(exc, requests.HTTPError):
        return f"WADO-RS answered {_status(exc)}"
    return f"the PACS stopped answering: {_brief(exc)}"
