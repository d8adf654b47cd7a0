"""MedSearch JSON search service (Flask): ``create_app`` builds it, ``medsearch serve`` runs it."""

from search_api.app import create_app

__all__ = ["create_app"]
