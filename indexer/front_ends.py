"""First-party front ends loaded by name, so the core never imports them statically.

The ``medsearch`` group loads the ``serve`` and ``bench`` commands this way, and the service
its search page; a part that is missing means a broken installation, which is an error.
"""

from __future__ import annotations

from importlib import import_module
from typing import Any

from .errors import FrontEndMissingError


def load_front_end(target: str) -> Any:
    """The object named by ``"module:attribute"``; FrontEndMissingError if it cannot be had."""
    module_name, _, attribute = target.partition(":")
    try:
        return getattr(import_module(module_name), attribute)
    except (ImportError, AttributeError) as exc:
        raise FrontEndMissingError(
            f"{target} cannot be loaded ({exc}); reinstall medsearch"
        ) from exc
