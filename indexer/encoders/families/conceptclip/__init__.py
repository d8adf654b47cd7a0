"""ConceptCLIP: transformers remote code, loaded only when trusted.

:mod:`.folder` finds a model's files, :mod:`.encoder` loads them, :mod:`.init_folder` writes a
random-weight folder of the Hub repository's layout; the declaration below names them for the
registry.
"""

from ...family import Architecture, EncoderFamily, ImportedOnCall
from .folder import HUB_ID, has_remote_code

FAMILY = EncoderFamily(
    name="conceptclip",
    description="a folder whose config.json has an auto_map (transformers remote code), "
    f"or the {HUB_ID} id",
    matches=has_remote_code,
    load=ImportedOnCall(f"{__name__}.encoder", "load_conceptclip"),
    aliases={"conceptclip": HUB_ID},
    id_prefixes=(HUB_ID,),
    runs_model_code=True,
    model_card=ImportedOnCall(f"{__name__}.encoder", "card_embedder"),
    architectures={
        "conceptclip": Architecture(
            "transformers remote code",
            ImportedOnCall(f"{__name__}.init_folder", "write_conceptclip_folder"),
        )
    },
)
