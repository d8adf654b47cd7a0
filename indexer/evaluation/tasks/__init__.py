"""The evaluation tasks, one module each, and the registry the run, table and report read.

Adding a task: a module declaring a :class:`~.base.Task` (its exact scorer, optionally a
served one and a chart) and one line in :data:`TASKS`.
"""

from __future__ import annotations

from . import image_to_image, image_to_text, judged, text_modes, text_to_image, zero_shot
from .base import PerQueryScores, Task, TaskScores

#: every task, in the order the outputs show them
TASKS: tuple[Task, ...] = (
    text_to_image.TASK,
    text_modes.KEYWORD_TASK,
    text_modes.HYBRID_TASK,
    image_to_text.TASK,
    image_to_image.TASK,
    image_to_image.LEAKAGE_FREE,
    zero_shot.TASK,
    judged.TASK,
)

__all__ = ["TASKS", "PerQueryScores", "Task", "TaskScores"]
