"""The open_clip family: BiomedCLIP and any model open_clip builds.

:mod:`.folder` finds a model's files, :mod:`.encoder` loads them, :mod:`.init_folder` writes a
random-weight BiomedCLIP folder; the declaration below names them for the registry.
"""

from ...family import Architecture, EncoderFamily, ImportedOnCall
from .folder import CONFIG_FILE, HUB_PREFIX, MODEL_ALIASES

FAMILY = EncoderFamily(
    name="open_clip",
    description=f"a folder with {CONFIG_FILE}, or an {HUB_PREFIX} id",
    matches=lambda folder: (folder / CONFIG_FILE).is_file(),
    load=ImportedOnCall(f"{__name__}.encoder", "load_open_clip"),
    aliases=MODEL_ALIASES,
    id_prefixes=(HUB_PREFIX,),
    model_card=ImportedOnCall(f"{__name__}.encoder", "model_card_embedder"),
    architectures={
        "biomedclip": Architecture(
            "open_clip family", ImportedOnCall(f"{__name__}.init_folder", "write_biomedclip_folder")
        )
    },
)
