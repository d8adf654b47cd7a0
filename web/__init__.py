"""MedSearch web search page: a Flask blueprint serving one HTML page and its static assets.

The page talks to the service only through the JSON API under ``/api`` (fetch from the browser),
so this package imports nothing from the core library. ``search_api.create_app`` mounts the
blueprint at ``/`` through the ``medsearch.blueprints`` entry point group.
"""

from __future__ import annotations

from flask import Blueprint, Response, render_template, request

__all__ = ["create_blueprint"]

#: The page loads only its own scripts, styles and images (no CDNs, no inline code), talks only
#: to its own origin, and shows query images the user picked through blob: URLs.
CONTENT_SECURITY_POLICY = "; ".join(
    [
        "default-src 'self'",
        "script-src 'self'",
        "style-src 'self'",
        "img-src 'self' blob: data:",
        "connect-src 'self'",
        "font-src 'self'",
        "object-src 'none'",
        "base-uri 'none'",
        "form-action 'self'",
        "frame-ancestors 'none'",
    ]
)


def create_blueprint() -> Blueprint:
    """The search page blueprint, named ``web``: ``/`` and its assets under ``/assets/``."""
    # Assets get their own URL path: the app keeps /static for itself whether or not it has files.
    bp = Blueprint(
        "web",
        __name__,
        static_folder="static",
        static_url_path="/assets",
        template_folder="templates",
    )

    @bp.get("/")
    def index() -> Response:
        return _page("web/index.html")

    @bp.get("/duplicates")
    def duplicates() -> Response:
        # the clusters of near-identical images, for review side by side
        return _page("web/duplicates.html")

    return bp


def _page(template: str) -> Response:
    """A page of the site, with its security and caching headers."""
    # The API lives next to the page; script_root keeps it right behind a path prefix.
    api_base = request.script_root.rstrip("/") + "/api"
    response = Response(render_template(template, api_base=api_base))
    response.headers["Content-Security-Policy"] = CONTENT_SECURITY_POLICY
    response.headers["X-Content-Type-Options"] = "nosniff"
    response.headers["Referrer-Policy"] = "no-referrer"
    # The page is tiny and its data comes from the API; always revalidate.
    response.headers["Cache-Control"] = "no-cache"
    return response
