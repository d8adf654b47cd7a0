"""The unrelated queries an indexing run measures its index's null scores with.

Two fixed sets, embedded with the run's own model, so the null is the one a real query of that
kind meets: everyday phrases that describe no medical image, and synthetic pictures (flat
colours, gradients, noise, stripes, checkerboards, a disc) that show none. They are fixed so
that two publications of one index measure the same thing; the seeded random vectors every
publication adds need no model (:mod:`indexer.storage.null_scores`).
"""

from __future__ import annotations

import numpy as np
from PIL import Image

from ..encoders import Encoder
from ..storage.null_scores import NullQuerySet

#: text queries that describe nothing a medical image shows
OFF_TOPIC_PHRASES = (
    "a bowl of fresh fruit on a kitchen table",
    "a red sports car parked on a city street",
    "a cat sleeping on a sofa",
    "a mountain lake at sunset",
    "a plate of spaghetti with tomato sauce",
    "a group of friends playing football in a park",
    "a sailing boat on a calm sea",
    "a birthday cake with candles",
    "a wooden bookshelf full of novels",
    "a snowy forest in winter",
    "a cup of coffee next to a laptop",
    "a dog catching a frisbee on the beach",
    "an old castle on a hill",
    "a bicycle leaning against a brick wall",
    "a field of sunflowers under a blue sky",
    "a pizza with mushrooms and olives",
    "a train crossing a stone bridge",
    "children building a sandcastle",
    "a guitar on a wooden chair",
    "a crowded market with vegetables for sale",
    "a hot air balloon over green hills",
    "a pair of running shoes",
    "a living room with a fireplace",
    "a parrot sitting on a branch",
    "a skyscraper reflecting the clouds",
    "a chess board in the middle of a game",
    "a basket of freshly baked bread",
    "a tennis racket and two yellow balls",
    "a waterfall in a tropical jungle",
    "a vintage typewriter on a desk",
    "a herd of cows grazing in a meadow",
    "fireworks over a river at night",
    "a bowl of ramen with an egg",
    "a lighthouse on a rocky coast",
    "a colourful umbrella in the rain",
    "an airplane taking off from a runway",
    "a garden with roses and tulips",
    "a stack of pancakes with maple syrup",
    "a horse running across a field",
    "a city skyline at night",
    "a teddy bear on a bed",
    "a desert with sand dunes",
    "a violin lying on sheet music",
    "a goldfish in a glass bowl",
    "a kitchen with copper pots",
    "a bridge over a foggy river",
    "a glass of orange juice",
    "a child flying a kite",
)
_IMAGE_SIDE = 224
_IMAGE_SEED = 7
_FLAT_COLOURS = (
    (220, 30, 30),
    (30, 160, 60),
    (40, 70, 220),
    (250, 220, 40),
    (255, 255, 255),
    (0, 0, 0),
)


def null_queries_of(encoder: Encoder) -> tuple[NullQuerySet, ...]:
    """The off-topic phrases and synthetic pictures embedded with ``encoder``."""
    images = synthetic_images()
    return (
        NullQuerySet(
            "text",
            f"{len(OFF_TOPIC_PHRASES)} built-in off-topic phrases embedded with the index's model",
            encoder.encode_texts(list(OFF_TOPIC_PHRASES)),
        ),
        NullQuerySet(
            "image",
            f"{len(images)} synthetic pictures (colours, gradients, noise, stripes, "
            "checkerboards, a disc) embedded with the index's model",
            encoder.encode_images(images),
        ),
    )


def synthetic_images(side: int = _IMAGE_SIDE) -> list[Image.Image]:
    """Sixteen seeded RGB pictures that show nothing a medical image shows."""
    rng = np.random.default_rng(_IMAGE_SEED)
    ramp = np.linspace(0, 255, side, dtype=np.float64)
    y, x = np.mgrid[0:side, 0:side]
    disc = ((x - side / 2) ** 2 + (y - side / 2) ** 2 < (side / 3) ** 2).astype(np.float64)
    planes = [
        *(np.full((side, side, 3), colour, np.float64) for colour in _FLAT_COLOURS),
        np.stack([np.tile(ramp, (side, 1)), np.tile(ramp[:, None], (1, side)), 128 + 0 * x], -1),
        np.stack([255 - np.tile(ramp, (side, 1))] * 3, -1),
        rng.integers(0, 256, (side, side, 3)).astype(np.float64),
        np.repeat(rng.integers(0, 256, (side, side, 1)), 3, axis=-1).astype(np.float64),
        np.stack([((x // 16) % 2) * 255.0] * 3, -1),
        np.stack([((y // 8) % 2) * 200.0, 40 + 0 * x, ((y // 8) % 2) * 60.0], -1),
        np.stack([(((x // 28) + (y // 28)) % 2) * 255.0] * 3, -1),
        np.stack([(((x // 56) + (y // 56)) % 2) * 220.0, 30 + 0 * x, 180 + 0 * x], -1),
        np.stack([disc * 240, disc * 200, 40 + 0 * x], -1),
        np.stack([255 - disc * 200, 255 - disc * 50, 255 + 0 * x], -1),
    ]
    return [Image.fromarray(plane.clip(0, 255).astype(np.uint8), "RGB") for plane in planes]
