"""MedSearch core library: encoders, image loading, corpus scanning, store, vector index, retrieval."""
