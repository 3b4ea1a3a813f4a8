"""Spare-parts pages: stock per part type and location with below-minimum warnings, the ledger, receive/return/repair/scrap forms."""
from flask import Blueprint, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user, login_required

from fleetops.domain.choices import DeviceKind
from fleetops.domain.errors import ValidationFailed
from fleetops.services import spares
from fleetops.web import db_session, nav, roles_required

bp = Blueprint("spares", __name__, url_prefix="/spares")

# This area's menu entries; fleetops.wiring adds them to the navigation bar.
NAV = [
    nav.NavItem.of("spares.index", "Spare parts", roles=("crew", "supervisor"), order=40),
]


@bp.before_request
def _fetch_follow():
    """See fleetops.web.tickets._fetch_follow: keep the flash for the page the tablet loads after a fetch."""
    if request.method == "GET" and request.headers.get("X-Requested-With") == "fetch":
        return "", 204
    return None


@bp.route("/")
@login_required
def index():
    s = db_session()
    part_type_id = request.args.get("part_type_id", "")
    ledger = spares.ledger(s, part_type_id=int(part_type_id) if part_type_id.isdigit() else None, limit=100)
    return render_template("spares/index.html", overview=spares.stock_overview(s), locations=spares.locations(s),
                           part_types=spares.part_types(s), ledger=ledger, kinds=list(DeviceKind),
                           labels=spares.MOVEMENT_LABELS, labels_context=spares.MOVEMENT_CONTEXT)


MOVES = {
    "received": spares.receive,
    "returned": spares.return_to_stock,
    "sent_for_repair": spares.send_for_repair,
    "scrapped": spares.scrap,
}


@bp.route("/move", methods=["POST"])
@roles_required("supervisor")
def move():
    f = request.form
    kind = f.get("kind", "")
    if kind not in MOVES and kind != "transferred":
        raise ValidationFailed(_("Unknown stock movement."))
    s = db_session()
    serials = [x for x in f.get("serials", "").replace(",", "\n").splitlines() if x.strip()]
    if kind == "transferred":
        spares.transfer(s, f.get("part_type_id", ""), f.get("location_id", ""), f.get("to_location_id", ""),
                        f.get("quantity") or 1, serial=(serials[0] if serials else ""), actor=current_user,
                        note=f.get("note", ""), request_id=f.get("request_id"))
    elif kind == "received":
        spares.receive(s, f.get("part_type_id", ""), f.get("location_id", ""), f.get("quantity") or None,
                       serials=serials, actor=current_user, note=f.get("note", ""), request_id=f.get("request_id"))
    else:
        MOVES[kind](s, f.get("part_type_id", ""), f.get("location_id", ""), f.get("quantity") or 1,
                    serial=(serials[0] if serials else ""), actor=current_user, note=f.get("note", ""),
                    request_id=f.get("request_id"))
    s.commit()
    flash(_("Stock movement recorded."), "success")
    return redirect(url_for("spares.index"))


@bp.route("/part-types", methods=["POST"])
@roles_required("supervisor")
def add_part_type():
    f = request.form
    raw_min = f.get("minimum_stock", "3") or "3"
    if not raw_min.isdigit():
        raise ValidationFailed(_("The minimum stock must be a whole number."))
    spares.create_part_type(db_session(), f.get("code", ""), f.get("name", ""), device_kind=f.get("device_kind", ""),
                            serialised=bool(f.get("serialised")), minimum_stock=int(raw_min), actor=current_user)
    db_session().commit()
    flash(_("Part type added."), "success")
    return redirect(url_for("spares.index"))


@bp.route("/locations", methods=["POST"])
@roles_required("supervisor")
def add_location():
    f = request.form
    spares.create_location(db_session(), f.get("code", ""), f.get("name", ""), kind=f.get("kind", "warehouse"),
                           actor=current_user)
    db_session().commit()
    flash(_("Location added."), "success")
    return redirect(url_for("spares.index"))
