"""Named points where a crash-safety test can make the process kill itself.

``MEDSEARCH_FAULT_POINT=NAME`` (or ``NAME@N``) makes the process send itself SIGKILL the first
(or the N-th) time it reaches the point ``NAME``, exactly as a power cut or ``kill -9`` would stop
it there. The variable is read here and nowhere else; unset (always, outside tests) nothing
happens. The points:

``batch:after-vectors``
    a batch's vectors are on disk, its SQLite transaction is not yet committed
``publish:after-faiss``
    the new ``index.faiss`` is in place, ``index_info.json`` still describes the previous version
``publish:after-recent``
    the new ``index-recent.faiss`` is in place, ``index_info.json`` still describes the previous
    version
``atomic:before-rename``
    a file is completely written beside its target, not yet renamed over it
"""

from __future__ import annotations

import os
import signal
from collections import Counter

from .errors import SettingsError

FAULT_POINT_VARIABLE = "MEDSEARCH_FAULT_POINT"
FAULT_POINTS = frozenset(
    {"batch:after-vectors", "publish:after-faiss", "publish:after-recent", "atomic:before-rename"}
)

_reached: Counter[str] = Counter()


def fault_point(name: str) -> None:
    """Kill this process if ``MEDSEARCH_FAULT_POINT`` names this point (and its turn came)."""
    spec = os.environ.get(FAULT_POINT_VARIABLE)
    if not spec:
        return
    target, _, nth = spec.partition("@")
    if target not in FAULT_POINTS or not (nth == "" or nth.isdigit()):
        raise SettingsError(
            f"{FAULT_POINT_VARIABLE}={spec!r}: expected one of {sorted(FAULT_POINTS)}, "
            "optionally followed by @N"
        )
    if target != name:
        return
    _reached[name] += 1
    if _reached[name] >= int(nth or 1):
        os.kill(os.getpid(), signal.SIGKILL)
