"""Searching a published index: the retriever every front end shares and its query cache."""
