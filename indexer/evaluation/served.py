"""``--served``: the figures as the published ANN index answers, and how far they are from exact.

Each task declaring a served scorer (:mod:`.tasks`) sends its queries to
:meth:`~indexer.search.retriever.Retriever.search`; the others (image-to-text, zero-shot) do
not use the ANN index. ``difference`` is served minus exact, figure by figure.
"""

from __future__ import annotations

from ..search.retriever import Retriever
from .context import TaskContext
from .figures import summarise
from .options import progress_bar
from .results import Figures, Served
from .tasks import Task


def served_figures(context: TaskContext, tasks: list[Task], exact: dict[str, Figures]) -> Served:
    """The served figures of each of ``tasks`` that has a served scorer, and served minus exact."""
    options = context.options
    settings = options.settings.replace(index_dir=context.index.path)
    retriever = Retriever.open(settings, encoder=context.encoder)
    figures: dict[str, Figures] = {}
    try:
        with progress_bar(options, "served queries") as bar:
            for task in tasks:
                if task.served is not None:
                    values = task.served(context, retriever, bar.update)
                    figures[task.name] = summarise(values, options.bootstrap, options.seed)
    finally:
        retriever.close()
    return Served(figures, {name: _minus(found, exact[name]) for name, found in figures.items()})


def _minus(served: Figures, exact: Figures) -> dict[str, float | None]:
    differences: dict[str, float | None] = {}
    for name in served.figures:
        value, reference = served.value(name), exact.value(name)
        differences[name] = (
            None if value is None or reference is None else round(value - reference, 6)
        )
    return differences
