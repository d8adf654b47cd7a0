"""The BiomedCLIP model card's recipe, run as a separate process against an offline Hub cache.

Usage: python parity_recipe.py OUT.npz IMAGE [IMAGE ...]   (HF_HUB_CACHE and HF_HUB_OFFLINE set)
Writes the recipe's image and text features, then MedSearch's own, loaded by hub id.
"""

from __future__ import annotations

import sys

import numpy as np
import torch
from open_clip import create_model_from_pretrained, get_tokenizer
from PIL import Image

from indexer.encoders import load_encoder

HUB_ID = "hf-hub:microsoft/BiomedCLIP-PubMedBERT_256-vit_base_patch16_224"
TEMPLATE = "this is a photo of "
LABELS = ["adenocarcinoma histopathology", "chest X-ray", "brain MRI", "bone X-ray"]


def main(out: str, paths: list[str]) -> None:
    # the model card, verbatim apart from file names
    model, preprocess = create_model_from_pretrained(HUB_ID)
    tokenizer = get_tokenizer(HUB_ID)
    model.eval()
    images = torch.stack([preprocess(Image.open(p)) for p in paths])
    texts = tokenizer([TEMPLATE + label for label in LABELS], context_length=256)
    with torch.no_grad():
        image_features, text_features, _ = model(images, texts)

    ours = load_encoder(HUB_ID, device="cpu", precision="fp32")
    np.savez(
        out,
        ref_images=image_features.numpy(),
        ref_texts=text_features.numpy(),
        hub_images=ours.encode_images([Image.open(p).convert("RGB") for p in paths]),
        hub_texts=ours.encode_texts([TEMPLATE + label for label in LABELS]),
        hub_fingerprint=np.array(ours.fingerprint),
    )


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2:])
