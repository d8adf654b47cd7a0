"""The open_clip family: BiomedCLIP and any model open_clip builds."""
