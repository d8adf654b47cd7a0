"""Varied medical query texts, so that a benchmark measures the text tower and not its cache.

:func:`query_texts` combines :data:`PHRASES` (50 findings) with views and qualifiers into several
thousand distinct queries of 3 to 10 words, in a seeded order.
"""

from __future__ import annotations

import numpy as np

PHRASES = (
    "pleural effusion",
    "pneumothorax",
    "cardiomegaly",
    "lobar pneumonia",
    "pulmonary edema",
    "lung nodule",
    "ground-glass opacities",
    "atelectasis",
    "rib fracture",
    "hiatal hernia",
    "interstitial lung disease",
    "pulmonary fibrosis",
    "lung mass",
    "mediastinal widening",
    "consolidation in the lower lobe",
    "tension pneumothorax",
    "aortic dissection",
    "pericardial effusion",
    "kidney stone",
    "hydronephrosis",
    "liver cyst",
    "hepatic steatosis",
    "splenomegaly",
    "gallstones",
    "appendicitis",
    "bowel obstruction",
    "free intraperitoneal air",
    "intracranial hemorrhage",
    "ischemic stroke",
    "brain tumor",
    "subdural hematoma",
    "hydrocephalus",
    "multiple sclerosis lesions",
    "tibial fracture",
    "osteoarthritis of the knee",
    "shoulder dislocation",
    "rotator cuff tear",
    "bone metastases",
    "osteoporotic vertebral fracture",
    "scoliosis",
    "diabetic retinopathy",
    "optic disc edema",
    "macular degeneration",
    "glaucomatous optic disc",
    "invasive ductal carcinoma",
    "lymphocytic infiltrate",
    "fetal heart",
    "thyroid nodule",
    "deep vein thrombosis",
    "endotracheal tube placement",
)

VIEWS = (
    "{}",
    "chest X-ray showing {}",
    "CT scan with {}",
    "MRI of {}",
    "ultrasound image of {}",
    "radiograph demonstrating {}",
    "axial CT image of {}",
    "histopathology slide of {}",
    "fundus photograph with {}",
    "{} on a portable radiograph",
    "follow-up imaging of {}",
    "contrast-enhanced scan showing {}",
)

QUALIFIERS = (
    "",
    "mild ",
    "moderate ",
    "severe ",
    "left ",
    "right ",
    "bilateral ",
    "small ",
    "large ",
    "acute ",
    "chronic ",
    "suspected ",
)


def query_texts(n: int, *, seed: int = 0) -> list[str]:
    """``n`` query texts in a seeded order; all distinct while ``n`` <= :func:`distinct_count`."""
    combos = [
        view.format(qualifier + phrase)
        for phrase in PHRASES
        for view in VIEWS
        for qualifier in QUALIFIERS
    ]
    order = np.random.default_rng(seed).permutation(len(combos))
    return [combos[int(order[i % len(combos)])] for i in range(n)]


def distinct_count() -> int:
    """How many distinct texts :func:`query_texts` can give."""
    return len(PHRASES) * len(VIEWS) * len(QUALIFIERS)
