"""The model families MedSearch ships, one package each.

Each package declares its :class:`~indexer.encoders.family.EncoderFamily` as ``FAMILY`` (how it
recognises a model, its loader, its folder finder and the architectures its folder writer knows);
registering one is its entry below, in the order the registry asks them.
"""

from . import conceptclip, hf_clip, open_clip

BUILT_IN_FAMILIES = (open_clip.FAMILY, hf_clip.FAMILY, conceptclip.FAMILY)
