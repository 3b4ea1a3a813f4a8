"""Issue 13: the fleet map (Leaflet, vendored; tiles from MAP_TILE_URL or a tile-less plain map), the duty room's
wall screen (auto-refreshing JSON, opened with a read-only display token), the display tokens' admin page, and
the navigation links to a site in the tablet's map app (Amap in GCJ-02, Baidu in WGS-84).

Coordinates are WGS-84 as stored; the server never contacts a map service — the links are opened by the tablet."""
from urllib.parse import urlsplit

from flask import Blueprint, abort, current_app, jsonify, make_response, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user
from flask_wtf import FlaskForm
from wtforms import StringField
from wtforms.validators import DataRequired, Length

from fleetops.domain import geo
from fleetops.platform import clock
from fleetops.platform.i18n import translate
from fleetops.services.accounts import display_tokens
from fleetops.services.reports import geo as geo_queries
from fleetops.web import current_locale, db_session, enum_label, nav, roles_required

bp = Blueprint("map", __name__)

NAV = [
    nav.NavItem.of("map.index", "Map", roles=("crew", "supervisor"), order=11),
    nav.NavItem.of("map.wall", "Wall screen", roles=("supervisor",), order=16),
    nav.NavItem.of("map.tokens", "Wall-screen tokens", roles=("admin",), order=95),
]

WALL_COOKIE = "fleetops_wall"
WALL_POLL_S = 15  # the wall screen's fetch interval (WALL_POLL_S in config overrides)


@bp.after_request
def _tile_origin_allowed(response):
    """With a tile server configured, the map pages may load its images (the app's CSP allows only 'self')."""
    url = current_app.config.get("MAP_TILE_URL") or ""
    parts = urlsplit(url.replace("{s}.", "*."))
    if parts.scheme in ("http", "https") and parts.netloc and response.mimetype == "text/html":
        from fleetops.web import SECURITY_HEADERS

        origin = f"{parts.scheme}://{parts.netloc}"
        response.headers["Content-Security-Policy"] = SECURITY_HEADERS["Content-Security-Policy"].replace(
            "img-src 'self'", f"img-src 'self' {origin}")
    return response


def _crew_district() -> str:
    return (current_user.district or "") if current_user.is_authenticated and current_user.role == "crew" else ""


def status_labels() -> dict:
    return {k: _(v) for k, v in geo.SiteMapStatus.LABELS.items()}


def tiles_gcj02() -> bool:
    """MAP_TILE_DATUM=gcj02: the configured tiles are GCJ-02 (a mirror of a Chinese map service); markers are
    then drawn at their GCJ-02 position. PGIS / CGCS2000 tiles are WGS-84 to within centimetres (the default)."""
    return bool(current_app.config.get("MAP_TILE_URL")) and \
        str(current_app.config.get("MAP_TILE_DATUM") or "").lower() == "gcj02"


def map_config() -> dict:
    """What map.js needs: the tile template (empty: the tile-less map), its attribution, the labels."""
    return {"tile_url": current_app.config.get("MAP_TILE_URL") or "", "gcj02": tiles_gcj02(),
            "tile_attribution": current_app.config.get("MAP_TILE_ATTRIBUTION") or "",
            "tile_max_zoom": int(current_app.config.get("MAP_TILE_MAX_ZOOM") or 18),
            "labels": status_labels(),
            "text": {"devices_down": _("devices down"), "open_tickets": _("open tickets"),
                     "down_for": _("down for"), "nothing_down": _("No site has a device down."),
                     "devices": _("Devices at this site"), "tickets": _("Open tickets"), "none": _("Nothing here now."),
                     "wgs84": _("Coordinates: WGS-84"), "loading": _("Loading…"),
                     "tileless": _("Plain map: district outlines and roads drawn from the inventory's sites "
                                   "(no tile server configured)."),
                     "min": _("min"), "h": _("h"), "d": _("d")}}


# ---------------------------------------------------------------- the map

@bp.route("/map/")
@roles_required("crew", "supervisor")
def index():
    return render_template("map/index.html", cfg=map_config(), district=_crew_district())


@bp.route("/map/layers.json")
def layers():
    """The tile-less map's background: district outlines and roads (for the map and the wall screen)."""
    if not (_wall_allowed() or (current_user.is_authenticated and current_user.role in ("crew", "supervisor",
                                                                                        "admin"))):
        abort(403)
    return jsonify(geo_queries.map_layers(db_session(), district=_crew_district(), display_gcj02=tiles_gcj02()))


@bp.route("/map/sites/<code>.json")
@roles_required("crew", "supervisor")
def site_panel(code):
    panel = geo_queries.site_panel(db_session(), code, district=_crew_district())
    if panel is None:
        abort(404)
    site = panel["site"]
    return jsonify({
        "site": {"code": site.code, "name": site.name, "district": site.district, "road": site.road,
                 "direction": site.direction, "latitude": site.latitude, "longitude": site.longitude,
                 "url": url_for("inventory.site", code=site.code), "links": nav_links(site.latitude, site.longitude,
                                                                                      site.name)},
        "devices": [{"code": d.code, "name": d.name, "kind": enum_label("DeviceKind", d.kind), "status": d.status,
                     "status_label": enum_label("DeviceStatus", d.status),
                     "since": d.status_since.isoformat() if d.status_since else None,
                     "url": url_for("monitoring.device", code=d.code)} for d in panel["devices"]],
        "tickets": [{"id": t.id, "state": enum_label("TicketState", t.state),
                     "fault": enum_label("FaultCategory", t.category),
                     "device": panel["device_codes"].get(t.device_id, ""),
                     "summary": translate(t.summary, current_locale()) if t.summary else "",
                     "url": url_for("tickets.detail", ticket_id=t.id)} for t in panel["tickets"]],
    })


# ---------------------------------------------------------------- navigation links (the tablet opens them)

def nav_links(lat, lon, name) -> dict | None:
    """Amap (GCJ-02) and Baidu (WGS-84, converted by Baidu) links, and the coordinates as stored."""
    if lat is None or lon is None:
        return None
    return {"amap": geo.amap_marker_url(lat, lon, name or ""), "baidu": geo.baidu_marker_url(lat, lon, name or ""),
            "lat": f"{lat:.6f}", "lon": f"{lon:.6f}"}


@bp.app_context_processor
def _nav_links_helper():
    return {"site_nav_links": nav_links}


# ---------------------------------------------------------------- the wall screen

def _wall_token_row():
    token = request.cookies.get(WALL_COOKIE, "")
    return display_tokens.display_token_valid(db_session(), token) if token else None


def _wall_allowed() -> bool:
    """A live display token in the wall cookie, or a supervisor/admin session."""
    if request.cookies.get(WALL_COOKIE) and _wall_token_row() is not None:
        return True
    return current_user.is_authenticated and current_user.role in ("supervisor", "admin")


@bp.route("/wall")
def wall():
    token = request.args.get("token", "")
    if token:
        row = display_tokens.display_token_valid(db_session(), token)
        if row is None:
            db_session().rollback()
            return render_template("error.html", code=403, message=_("This wall-screen token is not valid or "
                                                                       "has been revoked.")), 403
        display_tokens.record_display_opened(db_session(), row, request.remote_addr or "")
        db_session().commit()
        # The token leaves the address bar (and the history) for an HttpOnly cookie valid on the wall only.
        resp = make_response(redirect(url_for(".wall")))
        resp.set_cookie(WALL_COOKIE, token, max_age=10 * 365 * 86400, httponly=True, samesite="Strict",
                        secure=bool(current_app.config.get("SESSION_COOKIE_SECURE")), path="/")
        return resp
    denied = _wall_denied()
    if denied == "login":
        return redirect(url_for("auth.login", next=request.path))
    if denied:
        return render_template("error.html", code=403, message=denied), 403
    return render_template("wall/index.html", cfg=map_config(), timezone=clock.zone_name(),
                           poll_s=int(current_app.config.get("WALL_POLL_S") or WALL_POLL_S))


def _wall_denied() -> str:
    """Empty when the wall may be shown: a live display token in the cookie, or a supervisor/admin session (which
    also wins over a revoked token's cookie left in the browser); "login" when nobody is signed in and no token
    was given; else the sentence a 403 shows."""
    if request.cookies.get(WALL_COOKIE):
        if _wall_token_row() is not None:
            db_session().commit()  # last_used_at
            return ""
        db_session().rollback()
        if current_user.is_authenticated and current_user.role in ("supervisor", "admin"):
            return ""
        return _("This wall-screen token is not valid or has been revoked.")
    if not current_user.is_authenticated:
        return "login"
    return "" if current_user.role in ("supervisor", "admin") else _("You do not have permission to do that.")


def _duration(seconds) -> str:
    from fleetops.web.monitoring import duration

    return duration(seconds)


@bp.route("/wall/data.json")
def wall_data():
    denied = _wall_denied()
    if denied:
        return jsonify({"error": _("You do not have permission to do that.") if denied == "login" else denied}), 403
    d = geo_queries.wall_data(db_session(), display_gcj02=tiles_gcj02())
    now = d["now"]
    resp = jsonify({
        "at": now.isoformat(), "target_pct": d["target_pct"],
        "fleet": {"rate_pct": d["status"]["contract_online_rate_pct"], "online": d["status"]["contract_online"],
                  "in_service": d["status"]["contract_in_service"]},
        "districts": [{**t, "district": t["district"] or _("No district")} for t in d["districts"]],
        "outages": [{"device": o["device"], "kind": enum_label("DeviceKind", o["kind"]), "site": o["site"],
                     "site_name": o["site_name"], "district": o["district"], "started_at": o["started_at"].isoformat(),
                     "duration": _duration(geo_queries.duration_s(o["started_at"], now))} for o in d["outages"]],
        "overdue": [{"id": t["id"], "fault": enum_label("FaultCategory", t["category"]),
                     "state": enum_label("TicketState", t["state"]), "site": t["site"], "site_name": t["site_name"],
                     "device": t["device"] or "", "overdue": _duration(geo_queries.duration_s(t["due"], now))}
                    for t in d["overdue"]],
        "sites": d["sites"],
    })
    resp.headers["Cache-Control"] = "no-store"
    return resp


# ---------------------------------------------------------------- display tokens (admin)

class DisplayTokenForm(FlaskForm):
    name = StringField("Where the screen is", validators=[DataRequired(), Length(max=100)])


@bp.route("/wall/tokens", methods=["GET", "POST"])
@roles_required("admin")
def tokens():
    form = DisplayTokenForm()
    s = db_session()
    new_token = None
    if form.validate_on_submit():
        _row, new_token = display_tokens.create_display_token(s, form.name.data, actor=current_user)
        s.commit()
    return render_template("wall/tokens.html", form=form, rows=display_tokens.list_display_tokens(s),
                           new_token=new_token,
                           new_url=url_for(".wall", token=new_token, _external=True) if new_token else None)


@bp.route("/wall/tokens/<int:token_id>/revoke", methods=["POST"])
@roles_required("admin")
def revoke_token(token_id):
    s = db_session()
    display_tokens.revoke_display_token(s, token_id, actor=current_user)
    s.commit()
    return redirect(url_for(".tokens"))

