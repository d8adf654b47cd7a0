"""``/session``: a browser signs in with the API token once and then sends a cookie.

A page cannot put an ``Authorization`` header on ``<img src>`` requests, so with a token set the
web page could not show a single thumbnail. ``POST /session`` checks the token and sets an
HttpOnly, SameSite=Strict cookie holding a new random session id, which the service then accepts
like the bearer header until it expires; ``DELETE /session`` revokes it.
"""

from __future__ import annotations

from flask import Blueprint, Response, jsonify, make_response, request

from search_api.schema.params import json_body, parse_session_body
from search_api.security.auth import SESSION_COOKIE
from search_api.state import client_address, get_state

bp = Blueprint("session", __name__)


@bp.post("/session")
def sign_in() -> Response:
    """Check ``{"token": ...}`` and set the session cookie (no token needed to call this)."""
    state = get_state()
    token = parse_session_body(json_body(request), state.limits)
    if not state.auth.api_token:
        return jsonify({"signed_in": True, "token_required": False})
    session_id = state.auth.sign_in(token, client_address())
    response = jsonify({"signed_in": True, "token_required": True})
    response.set_cookie(
        SESSION_COOKIE,
        session_id,
        max_age=state.auth.session_seconds,
        path="/",
        secure=request.is_secure,
        httponly=True,
        samesite="Strict",
    )
    return response


@bp.delete("/session")
def sign_out() -> Response:
    """Revoke this browser's session and clear its cookie."""
    get_state().auth.sessions.revoke(request.cookies.get(SESSION_COOKIE))
    response = make_response("", 204)
    response.delete_cookie(SESSION_COOKIE, path="/", httponly=True, samesite="Strict")
    return response
