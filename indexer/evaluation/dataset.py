"""What an evaluation reads from an index folder, and the user's judgments file, checked up front.

Everything that could make an evaluation impossible (a missing field, a label field with one
class, no captions, fewer than two images, a judgment naming an image the index lacks) is found
here, before any model is loaded or file written, and raised as
:class:`~indexer.errors.EvaluationInputError` naming the field, index or line.
"""

from __future__ import annotations

import csv
import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import numpy.typing as npt

from ..errors import EvaluationInputError
from ..records import ImageRecord, MetadataValue
from ..storage.folder import IndexFolder
from ..storage.info import IndexInfo

#: fields that are columns of the image row rather than metadata
_COLUMN_FIELDS = {"caption", "path"}


@dataclass(frozen=True)
class EvalIndex:
    """One index as an evaluation sees it: info, images in ascending id, their stored vectors."""

    path: Path
    info: IndexInfo
    ids: npt.NDArray[np.int64]
    records: list[ImageRecord]
    vectors: npt.NDArray[np.float32]
    fields: frozenset[str]

    @property
    def name(self) -> str:
        return str(self.path)

    def values(self, field: str) -> list[MetadataValue]:
        """The value of ``field`` for every image (None where an image lacks it)."""
        if field not in self.fields:
            raise EvaluationInputError(
                f"index {self.path} has no field {field!r}; its fields: "
                + ", ".join(sorted(self.fields))
            )
        if field == "caption":
            return [_blank_is_none(r.caption) for r in self.records]
        if field == "path":
            return [r.path for r in self.records]
        return [_blank_is_none(r.metadata().get(field)) for r in self.records]

    def source_file(self, row: int) -> Path | None:
        """The original file of the image in ``row``, when the index records its corpus."""
        if self.info.corpus_root is None:
            return None
        return Path(self.info.corpus_root) / self.records[row].path


def open_eval_index(path: Path) -> EvalIndex:
    """Read ``path``'s info, image rows and stored vectors; it must hold two images or more."""
    folder = IndexFolder(path)
    info = folder.read_info()
    store = folder.open_store()
    try:
        ids = store.ids()
        found = store.get_many(ids.tolist())
        fields = frozenset(store.filterable_fields()) | _COLUMN_FIELDS
    finally:
        store.close()
    if len(ids) < 2:
        raise EvaluationInputError(
            f"index {path} holds {len(ids)} image(s); an evaluation needs at least two"
        )
    vectors = folder.vector_file(info.dim).read(ids)
    return EvalIndex(Path(path), info, ids, [found[int(i)] for i in ids], vectors, fields)


def labels_of(index: EvalIndex, field: str) -> list[str | None]:
    """The label of every image as text; the field must have at least two distinct values."""
    labels = [None if v is None else str(v) for v in index.values(field)]
    distinct = sorted({label for label in labels if label is not None})
    if len(distinct) < 2:
        shown = f" ({distinct[0]!r})" if distinct else ""
        raise EvaluationInputError(
            f"the label field {field!r} has {len(distinct)} distinct value(s){shown} in index "
            f"{index.path}; zero-shot classification and same-label relevance need at least two"
        )
    return labels


def captions_of(index: EvalIndex, field: str) -> list[str | None]:
    """The caption of every image; at least one image must have one."""
    captions = [None if v is None else str(v) for v in index.values(field)]
    if not any(captions):
        raise EvaluationInputError(
            f"no image in index {index.path} has a caption in the field {field!r}: "
            "text-to-image and image-to-text retrieval need captions"
        )
    return captions


@dataclass(frozen=True)
class Judgment:
    """One line of a judgments file: a query text, a relevant image path, a grade."""

    line: int
    query: str
    image: str
    grade: float


def read_qrels(path: Path) -> list[Judgment]:
    """Judgments from a CSV with the columns ``query``, ``image`` and optionally ``grade``.

    ``image`` is an indexed path (relative to the corpus, as ``medsearch search`` prints it) or an
    image id; ``grade`` (default 1) is a number >= 0, used as the gain of nDCG.
    """
    try:
        with open(path, newline="", encoding="utf-8") as stream:
            rows = list(csv.reader(stream))
    except (OSError, UnicodeDecodeError) as exc:
        raise EvaluationInputError(f"cannot read the judgments file {path}: {exc}") from exc
    if not rows:
        raise EvaluationInputError(
            f"{path} line 1: empty file; expected a header query,image[,grade]"
        )
    header = [cell.strip().lower() for cell in rows[0]]
    if "query" not in header or "image" not in header:
        raise EvaluationInputError(
            f"{path} line 1: the header must name the columns query and image (and optionally "
            f"grade), not {', '.join(rows[0]) or 'nothing'}"
        )
    at: dict[str, int] = {
        name: header.index(name) for name in ("query", "image", "grade") if name in header
    }
    read = [_judgment(path, number, row, at) for number, row in enumerate(rows[1:], start=2)]
    judgments = [j for j in read if j is not None]
    if not judgments:
        raise EvaluationInputError(f"{path} holds no judgment below its header")
    return judgments


def _judgment(path: Path, number: int, row: list[str], at: dict[str, int]) -> Judgment | None:
    if not any(cell.strip() for cell in row):
        return None
    cells = {name: (row[i].strip() if i < len(row) else "") for name, i in at.items()}
    if not cells["query"]:
        raise EvaluationInputError(f"{path} line {number}: the query is empty")
    if not cells["image"]:
        raise EvaluationInputError(f"{path} line {number}: the image is empty")
    grade = 1.0
    if cells.get("grade"):
        try:
            grade = float(cells["grade"])
        except ValueError:
            grade = math.nan
        if not math.isfinite(grade) or grade < 0:
            raise EvaluationInputError(
                f"{path} line {number}: grade must be a number >= 0, not {cells['grade']!r}"
            )
    return Judgment(number, cells["query"], cells["image"], grade)


def resolve_judgments(judgments: list[Judgment], index: EvalIndex, source: Path) -> list[int]:
    """The row in ``index`` of each judgment's image (by path, else by id); unknown: an error."""
    row_of_path = {record.path: row for row, record in enumerate(index.records)}
    row_of_id = {int(image_id): row for row, image_id in enumerate(index.ids)}
    rows = []
    for judgment in judgments:
        row = row_of_path.get(judgment.image)
        if row is None and judgment.image.isdigit():
            row = row_of_id.get(int(judgment.image))
        if row is None:
            raise EvaluationInputError(
                f"{source} line {judgment.line}: {judgment.image!r} is not an image of index "
                f"{index.path} (give its indexed path or id)"
            )
        rows.append(row)
    return rows


def _blank_is_none(value: MetadataValue) -> MetadataValue:
    return None if isinstance(value, str) and not value.strip() else value
