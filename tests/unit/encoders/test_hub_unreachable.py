"""A Hub model when the Hub cannot be reached: the good error at once, or the local cache."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from tests.support.helpers import REPO
from tests.unit.encoders.test_encoders import _offline_hub_cache

#: loads the default model in a fresh process and prints how long it took and what it said
LOAD_DEFAULT = """
import json, sys, time
import open_clip  # imported before the clock starts: its import alone can take seconds
from indexer.encoders import load_encoder
from indexer.errors import ModelUnavailableError
started = time.perf_counter()
try:
    encoder = load_encoder("biomedclip", device="cpu", precision="fp32")
    said = "loaded " + encoder.fingerprint
except ModelUnavailableError as exc:
    said = exc.message
print(json.dumps({"seconds": time.perf_counter() - started, "said": said}))
"""


def _load_default_model(hub_cache: Path) -> dict[str, object]:
    """Load ``biomedclip`` with a Hub endpoint that refuses connections (not offline mode);
    what it said, how long it took, and whether the Hub client retried."""
    env = {k: v for k, v in os.environ.items() if k != "HF_HUB_OFFLINE"}
    env.update(
        HF_ENDPOINT="http://127.0.0.1:9",
        HF_HUB_CACHE=str(hub_cache),
        PYTHONPATH=str(REPO),
    )
    done = subprocess.run(
        [sys.executable, "-c", LOAD_DEFAULT],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    result: dict[str, object] = json.loads(done.stdout.strip().splitlines()[-1])
    result["retried"] = "Retrying" in done.stderr
    return result


def test_an_unreachable_hub_fails_at_once_with_the_offline_help(tmp_path: Path) -> None:
    result = _load_default_model(tmp_path / "empty-cache")
    said = str(result["said"])
    assert said.startswith("cannot get microsoft/BiomedCLIP")
    assert "cannot be reached" in said and "--model DIR" in said
    assert "huggingface-cli download" in said
    # the Hub client alone retries for about half a minute
    assert not result["retried"] and float(result["seconds"]) < 10, result  # type: ignore[arg-type]


def test_an_unreachable_hub_still_loads_the_model_from_the_cache(
    tmp_path: Path, tiny_model_dir: Path
) -> None:
    cache = tmp_path / "hub"
    _offline_hub_cache(cache, tiny_model_dir)
    result = _load_default_model(cache)
    assert str(result["said"]).startswith("loaded "), result
    assert not result["retried"], result
