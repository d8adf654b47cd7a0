"""The named indexes one service serves: each with its retriever, render cache and reload cadence.

Requests name an index with ``index=NAME``; without one they go to the first. Names are URL-safe
(they travel in query strings and the page's address) and unique. :func:`open_indexes` opens
several index folders, loading each distinct encoder (by the fingerprint the folders record)
once, so two indexes built with the same model share one encoder object.
"""

from __future__ import annotations

import logging
import re
import threading
import time
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

from indexer.errors import InvalidRequestError, MedSearchError, NotFoundError
from indexer.settings import Settings
from search_api.schema.params import MAX_INDEX_NAME_CHARS
from search_api.service import SearchService
from search_api.thumbnails import RenderCache

log = logging.getLogger(__name__)

#: what an index name may hold: letters, digits, ".", "_" and "-", a letter or digit first
INDEX_NAME = re.compile(rf"[A-Za-z0-9][A-Za-z0-9._-]{{0,{MAX_INDEX_NAME_CHARS - 1}}}")
#: the name of a lone index whose folder name is not URL-safe
FALLBACK_NAME = "index"


class UnknownIndexError(NotFoundError):
    """A request names an index the service does not serve."""

    code = "unknown_index"


class IndexNameError(InvalidRequestError):
    """Index names given to a service are not URL-safe or not unique."""

    code = "invalid_index_name"


class ServedIndex:
    """One index of a service: its name, settings, search service and thumbnail cache."""

    def __init__(
        self, name: str, settings: Settings, retriever: SearchService, renders: RenderCache
    ) -> None:
        self.name = name
        self.settings = settings
        self.retriever = retriever
        self.renders = renders
        self._refresh_lock = threading.Lock()
        self._next_refresh = time.monotonic() + settings.reload_interval
        #: new versions picked up, and new versions that could not be loaded
        self.reloads = 0
        self.reload_failures = 0

    @property
    def draft_size(self) -> int:
        """Uploads are decoded like indexed files (same draft reduction)."""
        return self.retriever.encoder.draft_size

    def describe(self) -> dict[str, Any]:
        """Name, encoder family, model, dimension, image count and whether weights are random."""
        info = self.retriever.info()
        return {
            "name": self.name,
            "family": info.encoder.family,
            "model": info.encoder.model,
            "dim": info.dim,
            "count": info.count,
            "random_weights": info.encoder.random_weights,
        }

    def maybe_refresh(self) -> None:
        """Ask the retriever to pick up a newly published index, at most every reload_interval.

        Only one request thread checks at a time; the others go on with the current index.
        A failed reload is logged and the previous index keeps being served.
        """
        now = time.monotonic()
        if now < self._next_refresh or not self._refresh_lock.acquire(blocking=False):
            return
        folder = self.settings.index_dir
        try:
            self._next_refresh = now + self.settings.reload_interval
            if self.retriever.refresh():
                self.reloads += 1
                log.info("loaded a newly published version of index %r from %s", self.name, folder)
        except MedSearchError as exc:
            self.reload_failures += 1
            log.warning("keeping index %r, its new version cannot be loaded: %s", self.name, exc)
        except Exception:  # a reload problem must not fail the request that noticed it
            self.reload_failures += 1
            log.exception("keeping the current index %r, reloading %s failed", self.name, folder)
        finally:
            self._refresh_lock.release()


class IndexSet:
    """The served indexes in order, the first one the default; looked up by name."""

    def __init__(self, indexes: Sequence[ServedIndex]) -> None:
        if not indexes:
            raise IndexNameError("a service needs at least one index")
        check_names([index.name for index in indexes])
        self._indexes = {index.name: index for index in indexes}

    @classmethod
    def of(cls, entries: Sequence[tuple[str, Settings, SearchService]]) -> IndexSet:
        """Indexes over already opened search services: (name, the index's settings, service)."""
        several = len(entries) > 1
        return cls(
            [
                ServedIndex(name, own, retriever, render_cache(own, name, several=several))
                for name, own, retriever in entries
            ]
        )

    @property
    def names(self) -> tuple[str, ...]:
        return tuple(self._indexes)

    @property
    def default(self) -> ServedIndex:
        return next(iter(self._indexes.values()))

    @property
    def several(self) -> bool:
        """True when more than one index is served (image URLs then name theirs)."""
        return len(self._indexes) > 1

    def __iter__(self) -> Iterator[ServedIndex]:
        return iter(self._indexes.values())

    def __len__(self) -> int:
        return len(self._indexes)

    def get(self, name: str | None) -> ServedIndex:
        """The index called ``name`` (the default for None); :class:`UnknownIndexError` if none."""
        if name is None:
            return self.default
        found = self._indexes.get(name)
        if found is None:
            known = ", ".join(self._indexes)
            raise UnknownIndexError(f"no index named {name!r}; this service serves: {known}")
        return found

    def maybe_refresh(self) -> None:
        """Let each index pick up its newly published version (each at its own cadence)."""
        for index in self:
            index.maybe_refresh()

    def close(self) -> None:
        """Close every retriever that can be closed (once, even if served under two names)."""
        closed: set[int] = set()
        for index in self:
            close = getattr(index.retriever, "close", None)
            if close is not None and id(index.retriever) not in closed:
                closed.add(id(index.retriever))
                close()


def check_names(names: Sequence[str]) -> None:
    """:class:`IndexNameError` unless every name is URL-safe and none repeats."""
    for name in names:
        if not INDEX_NAME.fullmatch(name):
            raise IndexNameError(
                f"index name {name!r} is not URL-safe: use 1 to {MAX_INDEX_NAME_CHARS} letters, "
                'digits, ".", "_" or "-", starting with a letter or digit (NAME=DIR names one)'
            )
    repeated = sorted({name for name in names if names.count(name) > 1})
    if repeated:
        raise IndexNameError(
            f"two indexes are named {repeated[0]!r}: index names must be unique "
            "(name them with NAME=DIR)"
        )


def render_cache(settings: Settings, name: str, *, several: bool) -> RenderCache:
    """An index's thumbnail cache: the configured folder (one sub-folder per index when several
    are served, so they never share renderings), else ``thumbnails`` in the index folder; each
    index's cache keeps under ``thumbnail_cache_mb``."""
    if settings.thumbnail_dir is None:
        folder = settings.index_dir / "thumbnails"
    else:
        folder = settings.thumbnail_dir / name if several else settings.thumbnail_dir
    return RenderCache(folder, max_bytes=settings.thumbnail_cache_mb * 2**20)


def name_index_dirs(arguments: Sequence[str]) -> list[tuple[str, Path]]:
    """``DIR`` or ``NAME=DIR`` arguments as (name, folder); a folder's name names it.

    A lone folder whose name is not URL-safe is served as :data:`FALLBACK_NAME`, so that a
    single index serves whatever its folder is called.
    """
    named: list[tuple[str, Path]] = []
    given_names = False
    for argument in arguments:
        name, equals, folder = argument.partition("=")
        if equals and not Path(argument).exists():
            named.append((name, Path(folder)))
            given_names = True
        else:
            path = Path(argument)
            named.append((path.resolve().name, path))
    if len(named) == 1 and not given_names and not INDEX_NAME.fullmatch(named[0][0]):
        named = [(FALLBACK_NAME, named[0][1])]
    check_names([name for name, _ in named])
    return named


class IndexOpenError(MedSearchError):
    """One of the index folders a service was asked to serve cannot be opened."""

    def __init__(self, folder: Path, cause: MedSearchError) -> None:
        super().__init__(cause.message)
        self.folder = folder
        self.status = cause.status
        self.code = cause.code


def open_indexes(settings: Settings, named_dirs: Sequence[tuple[str, Path]]) -> IndexSet:
    """Open each (name, folder) with ``settings``, one encoder per distinct fingerprint.

    Raises :class:`IndexOpenError` naming the folder that cannot be opened (the others opened so
    far are closed again).
    """
    # imported here so that importing search_api stays light (torch loads with the index)
    from indexer.encoders import Encoder
    from indexer.search.retriever import Retriever

    check_names([name for name, _ in named_dirs])
    encoders: dict[str, Encoder] = {}
    opened: list[tuple[str, Settings, Retriever]] = []
    try:
        for name, folder in named_dirs:
            index_settings = settings.replace(index_dir=folder)
            try:
                retriever = Retriever.open(index_settings, encoders=encoders)
                retriever.check_vectors_in_background()
            except MedSearchError as exc:
                raise IndexOpenError(folder, exc) from exc
            opened.append((name, index_settings, retriever))
        return IndexSet.of(opened)
    except BaseException:
        for _, _, retriever in opened:
            retriever.close()
        raise
