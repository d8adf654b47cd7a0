"""The versions MedSearch reports and records: its own and those of the libraries it runs on."""

from __future__ import annotations

import contextlib
import platform
from importlib import metadata

#: the version of a source tree that was not installed (no package metadata to read it from);
#: a valid version number, so that whatever compares versions can still parse it
UNINSTALLED_VERSION = "0.0.0"

#: distributions whose versions every ``index_info.json`` records
RECORDED_DISTRIBUTIONS = (
    "medsearch",
    "faiss-cpu",
    "torch",
    "open_clip_torch",
    "transformers",
    "sqlalchemy",
    "numpy",
    "pillow",
    "pydicom",
)


def medsearch_version() -> str:
    """The version of this MedSearch (:data:`UNINSTALLED_VERSION` in a source tree)."""
    try:
        return metadata.version("medsearch")
    except metadata.PackageNotFoundError:
        return UNINSTALLED_VERSION


def library_versions() -> dict[str, str]:
    """Python's version and those of the installed :data:`RECORDED_DISTRIBUTIONS`."""
    versions = {"python": platform.python_version()}
    for dist in RECORDED_DISTRIBUTIONS:
        with contextlib.suppress(metadata.PackageNotFoundError):
            versions[dist] = metadata.version(dist)
    return versions
