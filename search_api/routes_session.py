"""``/session``: a browser signs in with the API token once and then sends a cookie.

A page cannot put an ``Authorization`` header on ``<img src>`` requests, so with a token set the
web page could not show a single thumbnail. ``POST /session`` checks the token and sets an
HttpOnly, SameSite=Strict cookie that the service then accepts like the bearer header.
"""

from __future__ import annotations

from flask import Blueprint, Response, jsonify, make_response, request

from search_api.auth import SESSION_COOKIE, SESSION_SECONDS, session_value, token_matches
from search_api.errors import UnauthorizedError
from search_api.params import json_body, parse_session_body
from search_api.state import get_state

bp = Blueprint("session", __name__)


@bp.post("/session")
def sign_in() -> Response:
    """Check ``{"token": ...}`` and set the session cookie (no token needed to call this)."""
    state = get_state()
    token = parse_session_body(json_body(request), state.limits)
    api_token = state.settings.api_token
    if not api_token:
        return jsonify({"signed_in": True, "token_required": False})
    if not token_matches(api_token, token.encode("utf-8")):
        raise UnauthorizedError("wrong access token")
    response = jsonify({"signed_in": True, "token_required": True})
    response.set_cookie(
        SESSION_COOKIE,
        session_value(api_token),
        max_age=SESSION_SECONDS,
        path="/",
        secure=request.is_secure,
        httponly=True,
        samesite="Strict",
    )
    return response


@bp.delete("/session")
def sign_out() -> Response:
    """Forget this browser's session cookie."""
    response = make_response("", 204)
    response.delete_cookie(SESSION_COOKIE, path="/", httponly=True, samesite="Strict")
    return response
