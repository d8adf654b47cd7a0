"""What an evaluation finds, as typed values: figures per task, per index, and the run as a whole.

The table, the HTML report and the ``--json`` document (:mod:`.report.document`, the one place
that turns these into JSON) all read these classes.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

#: a 95% bootstrap interval; an end is None where it is not finite
Interval = tuple[float | None, float | None]


@dataclass(frozen=True)
class Figure:
    """One figure (None where it is not finite) and its interval (None: not computed)."""

    value: float | None
    interval: Interval | None = None


@dataclass(frozen=True)
class Figures:
    """The figures of one task, in the order they are reported, over ``n`` queries."""

    figures: dict[str, Figure]
    n: int

    def value(self, name: str) -> float | None:
        figure = self.figures.get(name)
        return None if figure is None else figure.value

    def interval(self, name: str) -> Interval | None:
        figure = self.figures.get(name)
        return None if figure is None else figure.interval


@dataclass(frozen=True)
class ZeroShotFigures(Figures):
    """Classification figures, with the class names and confusion matrix (rows: true class)."""

    labels: list[str] | None = None
    confusion_matrix: list[list[int]] | None = None


@dataclass(frozen=True)
class ExampleHit:
    """One result of an example query: its path, original file, score and relevance."""

    path: str
    file: Path | None
    score: float
    relevant: bool


@dataclass(frozen=True)
class Example:
    """An example text query (the caption of the image at ``query_path``) and its top results."""

    query: str
    query_path: str
    hits: list[ExampleHit]


@dataclass(frozen=True)
class Breakdown:
    """Every task's figures per value of the ``--by`` field."""

    field: str
    values: dict[str, dict[str, Figures]]

    def figures(self, value: str, task: str) -> Figures | None:
        return self.values.get(value, {}).get(task)


@dataclass(frozen=True)
class Served:
    """``--served``: figures as the ANN index answers, and served minus exact per figure."""

    figures: dict[str, Figures]
    difference: dict[str, dict[str, float | None]]


@dataclass(frozen=True)
class Skipped:
    """A task not run on an index because a field it needs is missing or unusable there."""

    task: str
    reason: str


@dataclass(frozen=True)
class IndexResult:
    """One index's figures, task by task (in the order of the registry)."""

    index: str
    encoder: str
    model: str
    random_weights: bool
    images: int
    tasks: dict[str, Figures] = field(default_factory=dict)
    by: Breakdown | None = None
    served: Served | None = None
    skipped: list[Skipped] = field(default_factory=list)
    examples: list[Example] = field(default_factory=list)
    #: whether image -> image left each query's own series out (the index has series keys)
    own_series_excluded: bool = False


@dataclass(frozen=True)
class Difference:
    """A figure whose intervals do not overlap between two indexes."""

    figure: str
    better: str
    worse: str
    values: tuple[float, float]


@dataclass(frozen=True)
class RunSettings:
    """The settings an evaluation ran with, as ``--json`` reports them."""

    label_field: str
    group_field: str | None
    #: the field whose groups were ranked instead of images (None: images)
    collapse: str | None
    #: whether image -> image leaves the query's own series out where an index has series keys
    exclude_own_series: bool
    caption_field: str
    by: str | None
    queries: Path | None
    bootstrap: int
    seed: int
    served: bool
    template: str
    #: the units retrieved: image, series, study or group:FIELD
    level: str = "image"
    #: how text -> image ranked: dense, keyword, hybrid (a task each)
    modes: tuple[str, ...] = ("dense",)
    #: the cosine whose near-duplicates leakage-free image -> image leaves out (None: none)
    exclude_duplicates: float | None = None


@dataclass(frozen=True)
class Evaluation:
    """Every index's results, the differences between them and the settings of the run."""

    indexes: list[IndexResult]
    differences: list[Difference]
    settings: RunSettings
