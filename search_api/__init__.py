"""MedSearch JSON search service (Flask)."""
