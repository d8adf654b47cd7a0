"""Transformers CLIP models such as PubMedCLIP.

:mod:`.folder` finds a model's files, :mod:`.encoder` loads them, :mod:`.init_folder` writes a
random-weight PubMedCLIP folder; the declaration below names them for the registry.
"""

from ...family import Architecture, EncoderFamily, ImportedOnCall
from .folder import HF_CLIP_PREFIX, PUBMEDCLIP_HUB_ID, is_hf_clip_folder

FAMILY = EncoderFamily(
    name="hf_clip",
    description=f"a folder with a config.json of model_type 'clip', or an {HF_CLIP_PREFIX} id",
    matches=is_hf_clip_folder,
    load=ImportedOnCall(f"{__name__}.encoder", "load_hf_clip"),
    aliases={"pubmedclip": HF_CLIP_PREFIX + PUBMEDCLIP_HUB_ID},
    id_prefixes=(HF_CLIP_PREFIX,),
    model_card=ImportedOnCall(f"{__name__}.encoder", "model_card_embedder"),
    architectures={
        "pubmedclip": Architecture(
            "transformers CLIP",
            ImportedOnCall(f"{__name__}.init_folder", "write_pubmedclip_folder"),
        )
    },
)
