"""Tests of the JSON API (a package, so its conftest never shadows tests/conftest.py)."""
