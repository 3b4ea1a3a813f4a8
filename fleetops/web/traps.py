"""SNMP traps (issue 17 part 2): what cabinets, UPS units and switches reported — filter by site, device and kind;
known traps by their meaning, unknown ones by their OID (stored and shown, never dropped)."""
from flask import Blueprint, current_app, render_template, request

from fleetops.domain import inputs
from fleetops.services import traps
from fleetops.web import db_session, nav, roles_required

bp = Blueprint("traps", __name__, url_prefix="/traps")

NAV = [nav.NavItem.of("traps.index", "SNMP traps", roles=("supervisor",), order=37)]


@bp.route("/")
@roles_required("supervisor")
def index():
    extra = current_app.config.get("TRAP_DEFINITIONS_FILE", "") or ""
    f = {k: inputs.text(request.args.get(k, ""), k, 60) for k in ("site", "device", "kind")}
    rows = traps.list_traps(db_session(), site=f["site"], device=f["device"], meaning=f["kind"], limit=300,
                            extra_definitions=extra)
    return render_template("traps/index.html", rows=rows, f=f, meanings=traps.meanings(extra), unknown=traps.UNKNOWN)
