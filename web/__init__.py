"""MedSearch web search page (a Flask blueprint over the JSON API)."""
