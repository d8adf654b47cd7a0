"""Finding a ConceptCLIP model's files: a local folder of remote code, or the Hub repository.

A ConceptCLIP folder holds a ``config.json`` whose ``auto_map`` names the configuration, modeling
and processor modules that sit beside it (``transformers`` remote code), the tokenizer files and
the weights. The Hub repository is named by its id, :data:`HUB_ID`.
"""

from __future__ import annotations

from pathlib import Path

from ....errors import ModelUnavailableError
from ...model_files import hub_unreachable, json_object

HUB_ID = "JerrryNie/ConceptCLIP"


def has_remote_code(folder: Path) -> bool:
    """True when ``folder`` has a ``config.json`` with an ``auto_map`` (code in the folder)."""
    return "auto_map" in (json_object(folder / "config.json") or {})


def locate_conceptclip(model: str) -> tuple[Path, str]:
    """The folder of ``model`` (:data:`HUB_ID` or a folder path) and the reference to record."""
    if model == HUB_ID:
        return _hub_snapshot(model), model
    folder = Path(model).expanduser().resolve()
    return folder, str(folder)


def _hub_snapshot(repo: str) -> Path:
    """The Hub snapshot of ``repo`` (the local cache when the Hub is out of reach)."""
    unreachable = hub_unreachable()
    try:
        from huggingface_hub import snapshot_download

        return Path(snapshot_download(repo, local_files_only=unreachable is not None))
    except Exception as exc:  # noqa: BLE001 - any hub failure means "not reachable"
        raise ModelUnavailableError(
            f"cannot get {repo} from the Hugging Face Hub or its local cache "
            f"({unreachable or type(exc).__name__}). To run without network access, download it "
            "on a machine that can reach the Hub "
            f"(huggingface-cli download {repo} --local-dir ./conceptclip) and pass the folder "
            "with --model DIR --trust-remote-code."
        ) from exc
