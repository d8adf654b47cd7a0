"""Transformers CLIP models such as PubMedCLIP."""
