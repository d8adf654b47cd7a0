"""A model card's way of embedding images, timed: a reference for indexing speed.

One image at a time, through the recipe of the model's family (``EncoderFamily.model_card``:
open_clip's ``preprocess`` and ``model.encode_image`` for BiomedCLIP and other open_clip models,
``CLIPProcessor`` and ``get_image_features`` for PubMedCLIP, ``AutoProcessor`` and
``encode_image`` for ConceptCLIP) under ``torch.no_grad``, in fp32, on
the stock model built from the same folder without any of MedSearch's changes for speed. Raster
files are opened with ``Image.open(p).convert("RGB")`` as the cards do; DICOM files, which the
cards cannot open, with MedSearch's own decoder.
"""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path

import torch
from PIL import Image

from ...errors import ModelUnavailableError
from ...imaging.decode import load_image, sniff_file
from ..registry import expand_alias, family_for
from .device import resolve_device


def model_card_rate(model_ref: str, paths: list[str], device: str = "auto") -> dict[str, float]:
    """Embed ``paths`` the model card's way in this process; images, images/s and ms per image.

    One image goes through first, untimed, so one-off kernel set-up is not counted.
    """
    torch_device = resolve_device(device)
    reference = expand_alias(model_ref)
    family = family_for(reference)
    if family.model_card is None:
        raise ModelUnavailableError(f"the {family.name} family has no model card recipe to time")
    embed = family.model_card(reference, torch_device)
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


def model_card_rate_in_child(model_ref: str, paths: list[Path], device: str) -> dict[str, float]:
    """:func:`model_card_rate` in a child process, so its torch threads never share a process
    with an encoder's; a failure there raises :class:`ModelUnavailableError`."""
    request = {"model_ref": model_ref, "paths": [str(p) for p in paths], "device": device}
    code = (
        "import json, sys; from indexer.encoders.runtime.model_card import model_card_rate; "
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
