"""``/session``: a browser signs in with the API token once and then sends a cookie.

A page cannot put an ``Authorization`` header on ``<img src>`` requests, so with a token set the
web page could not show a single thumbnail. ``POST /session`` checks the token and sets an
HttpOnly, SameSite=Strict cookie that the service then accepts like the bearer header.
"""

from __future__ import annotations

from flask import Blueprint, Response, jsonify, make_response, request

from indexer.errors import InvalidRequestError
from search_api.errors import UnauthorizedError
from search_api.params import json_body, reject_unknown
from search_api.state import get_state

#: name of the cookie holding a signed-in browser's session value
SESSION_COOKIE = "medsearch_session"
#: a signed-in browser stays signed in this long (seconds)
SESSION_SECONDS = 12 * 3600

bp = Blueprint("session", __name__)


@bp.post("/session")
def sign_in() -> Response:
    """Check ``{"token": ...}`` and set the session cookie (no token needed to call this)."""
    body = json_body(request)
    reject_unknown(body, ["token"])
    token = body.get("token")
    if not isinstance(token, str) or not token:
        raise InvalidRequestError('send the access token as JSON: {"token": "..."}')
    state = get_state()
    if not state.settings.api_token:
        return jsonify({"signed_in": True, "token_required": False})
    if not state.token_matches(token.encode("utf-8")):
        raise UnauthorizedError("wrong access token")
    response = jsonify({"signed_in": True, "token_required": True})
    response.set_cookie(
        SESSION_COOKIE,
        state.session_value(),
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
