"""``medsearch search`` options that steer a query: more like some images, less like others.

``--minus-text`` (less like this text), ``--like-id`` and ``--unlike-id`` (more or less like an
indexed image) repeat, and may join ``--text``, ``--image`` and ``--id``. Given any of them, the
query becomes weighted parts (:mod:`indexer.search.query_parts`): each positive one weighs +1,
each negative one -1.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import TYPE_CHECKING, Any, TypeVar

import click

from .options import SettingsProblem

if TYPE_CHECKING:  # the command line loads the search library only when it searches
    from PIL import Image

    from ..search.query_parts import QueryPart

F = TypeVar("F", bound=Callable[..., Any])

#: the options, their part kind and weight
FEEDBACK_OPTIONS = (
    ("--minus-text", "minus_texts", str, "TEXT", "text", -1.0, "Less like this text."),
    ("--like-id", "like_ids", int, "ID", "image_id", 1.0, "More like this indexed image."),
    ("--unlike-id", "unlike_ids", int, "ID", "image_id", -1.0, "Less like this indexed image."),
)


def feedback_options(command: F) -> F:
    """Add the repeatable steering options to a click command."""
    for flag, name, kind, metavar, _, _, help_text in reversed(FEEDBACK_OPTIONS):
        option = click.option(
            flag, name, type=kind, multiple=True, metavar=metavar, help=f"{help_text} (repeat)"
        )
        command = option(command)
    return command


def steering_given(values: Mapping[str, Sequence[Any]]) -> bool:
    """Whether any steering option was given (``values``: by parameter name)."""
    return any(values[name] for _, name, *_ in FEEDBACK_OPTIONS)


def query_parts_of(
    values: Mapping[str, Sequence[Any]],
    *,
    text: str | None,
    image: Image.Image | None,
    image_id: int | None,
) -> list[QueryPart]:
    """The weighted parts of ``--text``/``--image``/``--id`` (+1 each) and the steering options."""
    from ..search.query_parts import QueryPart

    if text is not None and not text.strip():
        raise SettingsProblem("--text needs words to search for")
    parts = [
        QueryPart(kind, value)
        for kind, value in (("text", text), ("image", image), ("image_id", image_id))
        if value is not None
    ]
    for _, name, _, _, kind, weight, _ in FEEDBACK_OPTIONS:
        parts.extend(QueryPart(kind, value, weight) for value in values[name])
    return parts
