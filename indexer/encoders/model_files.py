"""What the model folders of every family share.

Folders written by ``medsearch model init`` (of any family) carry ``medsearch_model.json``, which
marks random weights; every family's folder finder reads it. A model that cannot be found gets the
same help whatever its family: how to bring its Hub repository to a machine without network.
Before a family downloads from the Hub, :func:`hub_unreachable` asks once, with a short timeout,
whether the Hub answers; when it does not (or ``HF_HUB_OFFLINE`` is set), the family looks in the
local Hub cache only, rather than let the Hub client retry for half a minute. Fingerprints digest
the files a model is made of.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable
from pathlib import Path

from ..errors import ModelUnavailableError

MARKER_FILE = "medsearch_model.json"

OFFLINE_HELP = (
    "To run without network access, put the model's files in a folder and pass it with --model DIR "
    "(or MEDSEARCH_MODEL=DIR). On a machine that can reach the Hub, run\n"
    "  huggingface-cli download {repo} --local-dir ./{name}\n"
    "and copy ./{name} here: it must hold {files}."
)


#: seconds the Hub has to answer before models are looked for in the local Hub cache only
HUB_PROBE_TIMEOUT = 3.0


def hub_unreachable() -> str | None:
    """Why the Hugging Face Hub cannot be reached now (``HF_HUB_OFFLINE``, or no answer within
    :data:`HUB_PROBE_TIMEOUT`); None when it answers."""
    from huggingface_hub import constants
    from huggingface_hub.utils import get_session

    if constants.HF_HUB_OFFLINE:
        return "HF_HUB_OFFLINE is set"
    try:
        get_session().head(constants.ENDPOINT, timeout=HUB_PROBE_TIMEOUT)
    except Exception as exc:  # noqa: BLE001 - whatever the cause, the Hub is out of reach
        return f"{constants.ENDPOINT} cannot be reached: {_first_line(exc)}"
    return None


def hub_failure(
    repo: str, exc: Exception, unreachable: str | None, files: str
) -> ModelUnavailableError:
    """The error for a Hub repository that could not be fetched, nor found in the local cache;
    ``unreachable``: why the Hub was not asked (:func:`hub_unreachable`)."""
    cause = f"{unreachable}, and the cache has no copy" if unreachable else _first_line(exc)
    return ModelUnavailableError(
        f"cannot get {repo} from the Hugging Face Hub or its local cache ({cause}). "
        + offline_help(repo, files)
    )


def _first_line(exc: Exception) -> str:
    text = str(exc).splitlines()[0] if str(exc) else ""
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__


def has_random_weights(folder: Path) -> bool:
    """True when ``medsearch model init`` wrote ``folder`` (its marker says random weights)."""
    marker = folder / MARKER_FILE
    if not marker.is_file():
        return False
    return bool(json.loads(marker.read_text(encoding="utf-8")).get("random_weights"))


def offline_help(repo: str, files: str) -> str:
    """How to get the Hub repository ``repo`` onto a machine without network; ``files`` it holds."""
    return OFFLINE_HELP.format(repo=repo, name=repo.rsplit("/", 1)[-1], files=files)


def model_not_found(model: str, known_names: Iterable[str]) -> ModelUnavailableError:
    """The error for a model that is no known name, no hub id and no folder."""
    return ModelUnavailableError(
        f"model {model!r} is neither a known name ({', '.join(known_names)}), "
        f"an hf-hub: id, nor an existing folder. To run without network access, download the "
        "model's Hub repository on a machine that can reach the Hub "
        "(huggingface-cli download REPO --local-dir DIR), copy DIR here and pass it with "
        "--model DIR (or MEDSEARCH_MODEL=DIR)."
    )


def json_object(path: Path) -> dict[str, object] | None:
    """The JSON object in ``path``; None when the file is absent, unreadable or not an object."""
    if not path.is_file():
        return None
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError):
        return None
    return data if isinstance(data, dict) else None


def file_digest(path: Path) -> bytes:
    """SHA-256 of the file's bytes, read in blocks."""
    h = hashlib.sha256()
    with path.open("rb") as fh:
        for block in iter(lambda: fh.read(1 << 22), b""):
            h.update(block)
    return h.digest()
