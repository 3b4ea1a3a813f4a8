"""The JSON API at /api/v1: bearer-token authentication, role checks, errors as {"error": …}, the OpenAPI document.

Each area adds its routes to `bp` in a module of this package (inventory.py, monitoring.py, …) and
describes them with `openapi.path(...)`; `fleetops.wiring` imports every one of them.
"""
from functools import wraps

from flask import Blueprint, abort, g, jsonify, request
from flask_login import current_user

from fleetops.domain.text import Msg
from fleetops.services import accounts
from fleetops.services import agents as agent_service
from fleetops.web import csrf, db_session
from fleetops.web.api import openapi

bp = Blueprint("api", __name__, url_prefix="/api/v1")
csrf.exempt(bp)  # token-authenticated, no cookies: CSRF does not apply
# Read-only GETs a page's own script fetches: a logged-in session is accepted as well as a token (issue 13: the map).
SESSION_ENDPOINTS = frozenset({"api.sites_geojson"})

# Issue 14: the endpoints a probe agent's token ("fa_…") may call (web/api/agents.py fills it); nothing else.
AGENT_ENDPOINTS: set[str] = set()


@bp.before_request
def authenticate():
    if request.endpoint == "api.openapi_document":
        return None
    header = request.headers.get("Authorization", "")
    token = header[7:].strip() if header.lower().startswith("bearer ") else ""
    g.api_agent = None
    if token.startswith(agent_service.AGENT_TOKEN_PREFIX):
        agent = agent_service.agent_for_token(db_session(), token)
        if agent is None:  # unknown or revoked
            return jsonify({"error": str(Msg("Missing or invalid API token: send 'Authorization: Bearer <token>'."))}), 401
        if request.endpoint not in AGENT_ENDPOINTS:
            return jsonify({"error": str(Msg("A probe agent's token may only fetch its configuration and send "
                                             "results."))}), 403
        db_session().commit()  # last contact
        g.api_agent, g.api_user = agent, None
        return None
    user = accounts.user_for_token(db_session(), token) if token else None
    if not token and request.method == "GET" and request.endpoint in SESSION_ENDPOINTS \
            and current_user.is_authenticated:
        g.api_user = current_user._get_current_object()
        return None
    if user is None:
        return jsonify({"error": str(Msg("Missing or invalid API token: send 'Authorization: Bearer <token>'."))}), 401
    db_session().commit()  # last_used_at
    g.api_user = user
    return None


def api_roles(*roles):
    """Route decorator: the token's user must have one of `roles` (admin always passes)."""

    def deco(view):
        @wraps(view)
        def wrapped(*args, **kwargs):
            if g.get("api_agent") is not None:  # an agent reaches only AGENT_ENDPOINTS (checked above)
                return view(*args, **kwargs)
            if g.api_user.role != "admin" and g.api_user.role not in roles:
                abort(403)
            return view(*args, **kwargs)

        return wrapped

    return deco


@bp.errorhandler(RecursionError)
def json_too_deep(_err):
    """A JSON body nested deeper than the parser's recursion limit (e.g. 100,000 brackets): a 400, nothing read."""
    return jsonify({"error": str(Msg("The request body is not usable JSON: it is nested too deeply.")),
                    "details": {"field": "body"}}), 400


@bp.route("/openapi.json")
def openapi_document():
    return jsonify(openapi.document())
