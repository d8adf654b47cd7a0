"""Between indexes: the figures whose bootstrap intervals do not overlap."""

from __future__ import annotations

from .bootstrap import overlapping
from .results import Difference, Figures, IndexResult, Interval
from .tasks import TASKS

#: figures where a lower value is the better one
LOWER_IS_BETTER = frozenset({"median_rank"})


def differences(results: list[IndexResult]) -> list[Difference]:
    """Figures whose intervals do not overlap between two indexes: the better and the worse."""
    found = []
    for task in TASKS:
        for i, first in enumerate(results):
            for second in results[i + 1 :]:
                a, b = first.tasks.get(task.name), second.tasks.get(task.name)
                if a is None or b is None:
                    continue
                for figure in _separated(a, b):
                    value_a, value_b = a.value(figure), b.value(figure)
                    assert value_a is not None and value_b is not None
                    first_better = (value_a < value_b) == (figure in LOWER_IS_BETTER)
                    better, worse = (first, second) if first_better else (second, first)
                    values = (value_a, value_b) if first_better else (value_b, value_a)
                    found.append(
                        Difference(f"{task.name}.{figure}", better.index, worse.index, values)
                    )
    return found


def _separated(a: Figures, b: Figures) -> list[str]:
    """The figures of ``a`` and ``b`` with values and intervals that do not overlap."""
    names = []
    for name in a.figures:
        interval_a, interval_b = _finite(a.interval(name)), _finite(b.interval(name))
        if interval_a is None or interval_b is None or overlapping(interval_a, interval_b):
            continue
        if a.value(name) is not None and b.value(name) is not None:
            names.append(name)
    return names


def _finite(interval: Interval | None) -> tuple[float, float] | None:
    if interval is None or interval[0] is None or interval[1] is None:
        return None
    return interval[0], interval[1]
