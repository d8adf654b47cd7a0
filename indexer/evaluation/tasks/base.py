"""What an evaluation task declares: its name and titles, the fields it needs, its scorers.

The run scores every declared task whose fields an index has (:mod:`..run`), the served
comparison asks the tasks that declare a served scorer (:mod:`..served`), and the table and the
report title and chart each task from its declaration.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Protocol

import numpy as np
import numpy.typing as npt

from ..context import TaskContext
from ..figures import summarise
from ..inputs import Need
from ..results import Figures
from ..scoring import PerQuery, Progress

if TYPE_CHECKING:
    from ...search.retriever import Retriever


class TaskScores(Protocol):
    """A task's per-query results on one index, from which its figures are computed."""

    def figures(self, rounds: int, seed: int, *, detail: bool = True) -> Figures:
        """The figures with ``rounds`` bootstrap intervals; ``detail``: with any matrix."""
        ...

    def within(self, keep: npt.NDArray[np.bool_]) -> TaskScores | None:
        """The results of the queries on the images ``keep`` marks; None: not per image."""
        ...


@dataclass(frozen=True)
class PerQueryScores:
    """Per-query values, and the image row of each query (None: queries are not images)."""

    values: PerQuery
    rows: npt.NDArray[np.int64] | None

    def figures(self, rounds: int, seed: int, *, detail: bool = True) -> Figures:
        return summarise(self.values, rounds, seed)

    def within(self, keep: npt.NDArray[np.bool_]) -> PerQueryScores | None:
        if self.rows is None:
            return None
        kept = keep[self.rows]
        return PerQueryScores({k: v[kept] for k, v in self.values.items()}, self.rows[kept])


#: the exact scorer: every query's result over all of the index's stored vectors
ExactScorer = Callable[[TaskContext, Progress], TaskScores]
#: the served scorer: every query's result as the published ANN index answers it
ServedScorer = Callable[[TaskContext, "Retriever", Progress], PerQuery]


@dataclass(frozen=True)
class Task:
    """One evaluation task, declared once."""

    #: key of the task's figures in ``--json``
    name: str
    #: heading in the table and the report; ``{label}`` stands for the label field's name
    title: str
    #: label of the task's bars in the report's charts
    short: str
    #: what the index must have besides vectors
    needs: frozenset[Need]
    exact: ExactScorer
    served: ServedScorer | None = None
    #: the report's chart that shows the task, and the figures it shows
    chart: str | None = None
    chart_figures: tuple[str, ...] = ()
    #: the search mode the task ranks by (``--mode``); None: a task every run has
    mode: str | None = None
