"""Encoder families: dispatch by alias, id and folder contents; the architectures they write;
the zero-shot head."""

from __future__ import annotations

import dataclasses
import importlib
import json
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest

from indexer.encoders import (
    Encoder,
    EncoderFamily,
    family_for,
    init_model_folder,
    load_encoder,
    register_family,
    registered_architectures,
)
from indexer.encoders.families.open_clip.folder import BIOMEDCLIP_HUB_ID
from indexer.encoders.family import ImportedOnCall
from indexer.encoders.registry import expand_alias, families, unregister_family
from indexer.encoders.vector_only import VectorOnlyEncoder
from indexer.errors import InvalidRequestError, ModelUnavailableError
from tests.support import random_vectors_family as random_vectors
from tests.support.helpers import REPO, modules_loaded_by

MARKER = "vectors_only.json"


def _load_vectors_only(model: str, *, device: str, precision: str, compile_images: bool) -> Encoder:
    dim = json.loads((Path(model) / MARKER).read_text(encoding="utf-8"))["dim"]
    return VectorOnlyEncoder(dim)


@pytest.fixture()
def vectors_only_family(tmp_path: Path) -> Iterator[Path]:
    """A second family registered for the test, and a folder that it (only) recognises."""
    folder = tmp_path / "vectors"
    folder.mkdir()
    (folder / MARKER).write_text(json.dumps({"dim": 6}), encoding="utf-8")
    register_family(
        EncoderFamily(
            name="vectors_only",
            description=f"a folder with {MARKER}",
            matches=lambda path: (path / MARKER).is_file(),
            load=_load_vectors_only,
            aliases={"six-dims": str(folder)},
        )
    )
    yield folder
    unregister_family("vectors_only")


def test_open_clip_family_loads_the_tiny_folder_and_the_alias(tiny_model_dir: Path) -> None:
    assert [f.name for f in families()][:3] == ["open_clip", "hf_clip", "conceptclip"]
    assert family_for(str(tiny_model_dir)).name == "open_clip"
    assert expand_alias("biomedclip") == "hf-hub:" + BIOMEDCLIP_HUB_ID
    assert family_for("biomedclip").name == "open_clip"
    assert family_for("hf-hub:" + BIOMEDCLIP_HUB_ID).name == "open_clip"


def test_an_unknown_folder_names_what_it_holds_and_the_families(tmp_path: Path) -> None:
    (tmp_path / "weights.pt").write_bytes(b"\0")
    with pytest.raises(ModelUnavailableError) as info:
        load_encoder(str(tmp_path), device="cpu")
    message = info.value.message
    assert "the files weights.pt" in message and "no encoder family" in message
    assert "open_clip (a folder with open_clip_config.json, or an hf-hub: id)" in message


def test_a_transformers_clip_folder_is_the_hf_clip_familys(tmp_path: Path) -> None:
    (tmp_path / "config.json").write_text(json.dumps({"model_type": "clip"}), encoding="utf-8")
    assert family_for(str(tmp_path)).name == "hf_clip"
    assert family_for("pubmedclip").name == family_for("hf-clip:owner/model").name == "hf_clip"
    with pytest.raises(ModelUnavailableError, match="never falls back to random weights"):
        load_encoder(str(tmp_path), device="cpu")
    other = tmp_path / "bert"
    other.mkdir()
    (other / "config.json").write_text(json.dumps({"model_type": "bert"}), encoding="utf-8")
    with pytest.raises(ModelUnavailableError, match="config.json with model_type 'bert'"):
        family_for(str(other))
    remote = tmp_path / "remote"
    remote.mkdir()
    config = {"model_type": "concept_clip", "auto_map": {"AutoModel": "modeling.Model"}}
    (remote / "config.json").write_text(json.dumps(config), encoding="utf-8")
    assert family_for(str(remote)).name == "conceptclip"


def test_a_missing_model_still_lists_the_known_names(tmp_path: Path) -> None:
    with pytest.raises(
        ModelUnavailableError, match=r"known name \(biomedclip, pubmedclip, conceptclip"
    ):
        load_encoder(str(tmp_path / "absent"), device="cpu")


def test_a_registered_family_is_chosen_for_the_folders_it_matches(
    vectors_only_family: Path, tiny_model_dir: Path
) -> None:
    assert family_for(str(vectors_only_family)).load is _load_vectors_only
    assert family_for("six-dims").load is _load_vectors_only
    assert family_for(str(tiny_model_dir)).name == "open_clip"
    encoder = load_encoder("six-dims", device="cpu")
    assert isinstance(encoder, VectorOnlyEncoder) and encoder.dim == 6


def test_an_alias_belongs_to_one_family(vectors_only_family: Path) -> None:
    clash = EncoderFamily(
        name="other",
        description="none",
        matches=lambda path: False,
        load=_load_vectors_only,
        aliases={"biomedclip": str(vectors_only_family)},
    )
    with pytest.raises(ValueError, match="already belong to family 'open_clip'"):
        register_family(clash)
    assert "other" not in [f.name for f in families()]


def test_label_probabilities_is_the_clip_softmax(tiny_encoder: Encoder) -> None:
    rng = np.random.default_rng(0)
    cosines = rng.uniform(-1.0, 1.0, size=(4, 5)).astype(np.float32)
    probs = tiny_encoder.label_probabilities(cosines)
    logits = tiny_encoder.logit_scale * cosines.astype(np.float64)
    expected = np.exp(logits) / np.exp(logits).sum(axis=1, keepdims=True)
    assert probs.shape == (4, 5)
    np.testing.assert_allclose(probs.sum(axis=1), 1.0, atol=1e-6)
    np.testing.assert_allclose(probs, expected, rtol=1e-5, atol=1e-7)


def test_label_probabilities_stay_finite_at_full_scale() -> None:
    # logits far past float32's exp range: a softmax without the max shift would overflow
    cosines = np.array([[1000.0, 999.0, -1000.0]], dtype=np.float32)
    probs = VectorOnlyEncoder(dim=2).label_probabilities(cosines)
    expected = np.array([[1 / (1 + np.exp(-1.0)), np.exp(-1.0) / (1 + np.exp(-1.0)), 0.0]])
    np.testing.assert_allclose(probs, expected, rtol=1e-6)


@pytest.fixture()
def random_vectors_family() -> Iterator[None]:
    """The plug-in family of ``tests.support.random_vectors_family``, registered for the test."""
    register_family(random_vectors.FAMILY)
    yield
    unregister_family(random_vectors.FAMILY.name)


def test_a_new_family_is_one_package_and_one_registration(
    random_vectors_family: None, tmp_path: Path
) -> None:
    assert registered_architectures() == (
        "biomedclip",
        "pubmedclip",
        "conceptclip",
        random_vectors.ARCH,
    )
    marker = init_model_folder(tmp_path / "m", arch=random_vectors.ARCH, seed=5)
    assert (marker["arch"], marker["size"], marker["seed"]) == (random_vectors.ARCH, "tiny", 5)
    assert marker["random_weights"] is True and marker["parameters"] == 0
    assert family_for(str(tmp_path / "m")).name == "random_vectors"
    encoder = load_encoder(str(tmp_path / "m"), device="cpu")
    assert isinstance(encoder, VectorOnlyEncoder) and encoder.dim == random_vectors.DIMS["tiny"]
    with pytest.raises(InvalidRequestError, match="unknown size 'full': use tiny$"):
        init_model_folder(tmp_path / "full", arch=random_vectors.ARCH, size="full")
    assert not (tmp_path / "full").exists()


def test_model_init_offers_every_registered_architecture(tmp_path: Path) -> None:
    register_then_run = (
        "import sys; from indexer.encoders import register_family; "
        "from tests.support.random_vectors_family import FAMILY; register_family(FAMILY); "
        "from indexer.cli import cli; cli(sys.argv[1:])"
    )

    def medsearch(*args: str) -> str:
        done = subprocess.run(
            [sys.executable, "-c", register_then_run, *args],
            cwd=REPO,
            capture_output=True,
            text=True,
            check=False,
        )
        assert done.returncode == 0, done.stderr
        return done.stdout

    usage = " ".join(medsearch("model", "init", "--help").split())
    assert "[biomedclip|pubmedclip|conceptclip|random-vectors]" in usage
    assert "or random-vectors (vectors without a model)" in usage
    written = json.loads(
        medsearch("model", "init", str(tmp_path / "m"), "--arch", random_vectors.ARCH, "--json")
    )
    assert (written["arch"], written["parameters"]) == (random_vectors.ARCH, 0)
    assert (tmp_path / "m" / random_vectors.MARKER).is_file()


def test_an_architecture_belongs_to_one_family() -> None:
    clash = dataclasses.replace(
        random_vectors.FAMILY,
        architectures={"pubmedclip": random_vectors.FAMILY.architectures[random_vectors.ARCH]},
    )
    with pytest.raises(ValueError, match=r"architectures \['pubmedclip'\] already belong"):
        register_family(clash)
    assert registered_architectures() == ("biomedclip", "pubmedclip", "conceptclip")


def test_unknown_architectures_and_sizes_are_refused(tmp_path: Path) -> None:
    with pytest.raises(InvalidRequestError, match="known: biomedclip, pubmedclip, conceptclip$"):
        init_model_folder(tmp_path / "m", arch="vit-g")
    with pytest.raises(InvalidRequestError, match="unknown size 'huge': use tiny or full$"):
        init_model_folder(tmp_path / "m", arch="pubmedclip", size="huge")
    assert not (tmp_path / "m").exists()


def test_the_command_line_loads_no_model_code() -> None:
    # --arch's choices come from the family declarations, which import their model code lazily
    heavy = ("torch", "open_clip", "transformers", "timm")
    assert modules_loaded_by("indexer.cli", heavy) == []


def test_every_function_a_family_names_exists() -> None:
    named = [
        function
        for family in families()
        for function in (
            family.load,
            family.model_card,
            *(arch.write for arch in family.architectures.values()),
        )
        if isinstance(function, ImportedOnCall)
    ]
    assert len(named) == 9
    for function in named:
        assert callable(getattr(importlib.import_module(function.module), function.name))
