"""MedSearch core library: encoders, image loading, corpus, store, vector index, retrieval."""
