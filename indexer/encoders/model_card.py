"""The model card's way of embedding images, timed: a reference for indexing speed.

One image at a time, under ``torch.no_grad``, in fp32, on the stock model built from the same
folder without any of MedSearch's changes for speed: for BiomedCLIP open_clip's own ``preprocess``
and ``model.encode_image``; for ConceptCLIP (a model that is code in its folder) its card's
``AutoModel``/``AutoProcessor`` (:func:`.conceptclip.card_embedder`). Raster files are opened with
``Image.open(p).convert("RGB")`` as the cards do; DICOM files, which they cannot open, with
MedSearch's own decoder.
"""

from __future__ import annotations

import json
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import torch
from PIL import Image

from ..errors import ModelUnavailableError
from ..imaging import load_image, sniff_file
from .biomedclip import build_stock_model
from .model_folder import locate_model
from .registry import expand_alias, family_for
from .runtime import resolve_device


def model_card_rate(model_ref: str, paths: list[str], device: str = "auto") -> dict[str, float]:
    """Embed ``paths`` the model card's way in this process; images, images/s and ms per image.

    One image goes through first, untimed, so one-off kernel set-up is not counted.
    """
    embed = _card_embedder(model_ref, resolve_device(device))
    files = [Path(p) for p in paths]
    times: list[float] = []
    with torch.no_grad():
        embed(load_image(files[0]).image)
        for path in files:
            started = time.perf_counter()
            if sniff_file(path) == "dicom":
                image = load_image(path).image
            else:
                image = Image.open(path).convert("RGB")
            embed(image)
            times.append(time.perf_counter() - started)
    total = sum(times)
    return {
        "images": len(files),
        "images_per_s": round(len(files) / total, 3),
        "ms_per_image": round(total * 1000 / len(files), 2),
    }


def _card_embedder(model_ref: str, device: torch.device) -> Callable[[Image.Image], object]:
    """The family's model card recipe for one image (the model loaded once)."""
    reference = expand_alias(model_ref)
    if family_for(reference).runs_model_code:
        from .conceptclip import card_embedder

        return card_embedder(reference, device)
    model, preprocess = build_stock_model(locate_model(reference), device)
    return lambda image: model.encode_image(preprocess(image).unsqueeze(0).to(device))


def model_card_rate_in_child(model_ref: str, paths: list[Path], device: str) -> dict[str, float]:
    """:func:`model_card_rate` in a child process, so its torch threads never share a process
    with an encoder's; a failure there raises :class:`ModelUnavailableError`."""
    request = {"model_ref": model_ref, "paths": [str(p) for p in paths], "device": device}
    code = (
        "import json, sys; from indexer.encoders.model_card import model_card_rate; "
        "print(json.dumps(model_card_rate(**json.load(sys.stdin))))"
    )
    done = subprocess.run(
        [sys.executable, "-c", code],
        input=json.dumps(request),
        capture_output=True,
        text=True,
        check=False,
    )
    if done.returncode != 0:
        detail = (done.stderr.strip().splitlines() or ["no output"])[-1]
        raise ModelUnavailableError(f"the model card recipe failed to run: {detail}")
    rate: dict[str, float] = json.loads(done.stdout.strip().splitlines()[-1])
    return rate
