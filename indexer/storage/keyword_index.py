"""The full-text index of an index's words: SQLite FTS5, ranked by BM25.

One row per image in the ``image_text`` FTS5 table, its ``rowid`` the image id, its one column
the words that describe the image: the caption, the modality and every text-valued extra field
(``modality_detail``, ``body_part``, ``label``, a sidecar's ``finding`` ...) except the
provenance and identifier fields in :data:`UNINDEXED_FIELDS` (and any ending in ``_key`` or
``_uid``), which name where a file came from rather than what it shows.

Words are cut by FTS5's ``unicode61`` tokenizer with ``remove_diacritics 2``: letters and digits
make words, everything else separates them, case and accents are ignored ("Pneumonie" finds
"pneumonie"). The writer keeps the table in step with the rows in the same transaction
(:mod:`indexer.storage.writer`); an index made before the table existed has it filled from its
rows the next time it is opened for writing, as :mod:`indexer.storage.field_kinds` does.

User text never reaches FTS5's query syntax as written: it is cut into words here
(:func:`query_terms`) and each word is sent as a quoted string, the words OR-ed together, so
that BM25 ranks images by how many of them they hold, and how rare those are.
"""

from __future__ import annotations

import json
import re
import unicodedata
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import numpy as np
from sqlalchemy import inspect, text
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import Session

from ..errors import InvalidRequestError

TABLE = "image_text"
TOKENIZER = "unicode61 remove_diacritics 2"
#: text fields that say where an image came from, not what it shows: not searched by keyword
UNINDEXED_FIELDS = frozenset(
    {"source", "source_path", "license", "attribution", "note", "sidecar_id", "file", "path"}
)
UNINDEXED_SUFFIXES = ("_key", "_uid")
#: what the index holds of one image: (id, caption, modality, extra fields)
Words = tuple[int, str | None, str | None, Mapping[str, Any] | None]
#: where the table is written: a unit of work's session, or a connection
Writable = Session | Connection
#: where it is read: an engine (a connection of its own per read) or an open connection
Readable = Engine | Connection
UNAVAILABLE = "keyword search unavailable: re-run medsearch index"

CREATE = f"CREATE VIRTUAL TABLE IF NOT EXISTS {TABLE} USING fts5(body, tokenize='{TOKENIZER}')"
_INSERT = text(f"INSERT INTO {TABLE}(rowid, body) VALUES (:id, :body)")
_DELETE = text(f"DELETE FROM {TABLE} WHERE rowid IN (SELECT value FROM json_each(:ids))")
_MARKED = re.compile("\x02(.*?)\x03", re.DOTALL)
_WITHIN = "AND rowid IN (SELECT value FROM json_each(:within))"


def indexed_text(caption: str | None, modality: str | None, extra: Mapping[str, Any] | None) -> str:
    """The words of an image the keyword index holds, one field a line."""
    fields = [caption, modality]
    fields += [value for name, value in (extra or {}).items() if is_indexed_field(name, value)]
    return "\n".join(field for field in fields if isinstance(field, str) and field.strip())


def is_indexed_field(name: str, value: Any) -> bool:
    """Whether an extra field's value is searched by keyword."""
    return (
        isinstance(value, str)
        and name not in UNINDEXED_FIELDS
        and not name.endswith(UNINDEXED_SUFFIXES)
    )


def query_terms(query: str) -> list[str]:
    """The words of ``query`` as ``unicode61`` cuts them: runs of letters, digits and private-use
    characters, lower-cased, accents taken off; each once, in order."""
    folded = "".join(
        c for c in unicodedata.normalize("NFD", query) if not unicodedata.combining(c)
    ).lower()
    words: list[str] = []
    current: list[str] = []
    for char in folded + " ":
        if unicodedata.category(char)[0] in "LN" or unicodedata.category(char) == "Co":
            current.append(char)
        elif current:
            words.append("".join(current))
            current = []
    return list(dict.fromkeys(words))


def match_expression(terms: Sequence[str]) -> str:
    """An FTS5 query matching any of ``terms``, each a quoted string (no FTS5 syntax)."""
    return " OR ".join('"' + term.replace('"', '""') + '"' for term in terms)


# -- writing ---------------------------------------------------------------------------------


def add_rows(session: Writable, rows: Iterable[Words]) -> None:
    """Index the words of new images: (id, caption, modality, extra) each."""
    values = [
        {"id": int(image_id), "body": indexed_text(caption, modality, extra)}
        for image_id, caption, modality, extra in rows
    ]
    if values:
        session.execute(_INSERT, values)


def remove_ids(session: Writable, ids: Sequence[int]) -> None:
    """Take images out of the index."""
    if len(ids):
        session.execute(_DELETE, {"ids": json.dumps([int(i) for i in ids])})


def replace_rows(session: Writable, rows: Sequence[Words]) -> None:
    """Index the new words of images whose caption, modality or extra fields changed."""
    remove_ids(session, [row[0] for row in rows])
    add_rows(session, rows)


def has_table(engine: Engine | Connection) -> bool:
    return inspect(engine).has_table(TABLE)


def fill_if_new(engine: Engine, had_table: bool) -> None:
    """Make the table, and index every row once when it was just made for existing rows."""
    if had_table:
        return
    with engine.begin() as connection:
        connection.execute(text(CREATE))
        rows = connection.execute(text("SELECT id, caption, modality, extra FROM images")).all()
        values = [
            {"id": i, "body": indexed_text(c, m, json.loads(e) if e else None)}
            for i, c, m, e in rows
        ]
        if values:
            connection.execute(_INSERT, values)


# -- reading ---------------------------------------------------------------------------------


def ranking(
    engine: Readable,
    terms: Sequence[str],
    *,
    limit: int | None = None,
    within: np.ndarray | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """BM25 scores (higher is better) and ids of the images holding any of ``terms``, best
    first (ties by id), among ``within`` when given; the first ``limit`` when given."""
    if not terms:
        return np.zeros(0, np.float64), np.zeros(0, np.int64)
    clauses = [f"SELECT rowid, -bm25({TABLE}) FROM {TABLE} WHERE {TABLE} MATCH :match"]
    params: dict[str, Any] = {"match": match_expression(terms)}
    if within is not None:
        clauses.append(_WITHIN)
        params["within"] = json.dumps(within.tolist())
    clauses.append("ORDER BY bm25(image_text), rowid")
    if limit is not None:
        clauses.append("LIMIT :limit")
        params["limit"] = int(limit)
    rows = _read(engine, " ".join(clauses), params)
    scores = np.asarray([row[1] for row in rows], dtype=np.float64)
    return scores, np.asarray([row[0] for row in rows], dtype=np.int64)


def matched_terms(
    engine: Readable, terms: Sequence[str], ids: Sequence[int]
) -> dict[int, list[str]]:
    """Which of ``terms`` each of ``ids`` holds, as FTS5 itself matched them: the words its
    ``highlight()`` marks, folded as query words are."""
    found: dict[int, list[str]] = {int(i): [] for i in ids}
    if not found or not terms:
        return found
    marked = f"highlight({TABLE}, 0, char(2), char(3))"
    query = f"SELECT rowid, {marked} FROM {TABLE} WHERE {TABLE} MATCH :match {_WITHIN}"
    params = {"match": match_expression(terms), "within": json.dumps(list(found))}
    for image_id, text_marked in _read(engine, query, params):
        held = {word for span in _MARKED.findall(text_marked) for word in query_terms(span)}
        found[int(image_id)] = [term for term in terms if term in held]
    return found


def _read(bind: Readable, query: str, params: Mapping[str, Any]) -> list[Any]:
    if isinstance(bind, Engine):
        with bind.connect() as connection:
            return _read(connection, query, params)
    if not has_table(bind):
        raise InvalidRequestError(UNAVAILABLE)
    try:
        return list(bind.execute(text(query), dict(params)))
    except OperationalError as exc:  # what quoting should make impossible, still a 400
        raise InvalidRequestError(f"keyword query not understood: {exc.orig}") from exc
