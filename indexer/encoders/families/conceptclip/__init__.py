"""ConceptCLIP: transformers remote code, loaded only when trusted."""
