"""Discovery (issue 12 part 2, F4): admins start a sweep of allowed ranges (it runs as a background job of the
scheduler; the page refreshes itself while it runs), read its rows and add an unmanaged address to the inventory
in one step."""
from flask import Blueprint, jsonify, redirect, render_template, request, url_for
from flask_login import current_user

from fleetops.domain.choices import DeviceKind
from fleetops.services import discovery
from fleetops.web import current_locale, db_session, nav, roles_required

bp = Blueprint("discovery", __name__, url_prefix="/discovery")

NAV = [nav.NavItem.of("discovery.index", "Discovery", roles=("admin",), order=88)]


@bp.route("/")
@roles_required("admin")
def index():
    s = db_session()
    return render_template("discovery/index.html", sweeps=discovery.list_sweeps(s),
                           schedule=discovery.district_schedule(s), networks=request.args.get("networks", ""))


@bp.route("/sweeps", methods=["POST"])
@roles_required("admin")
def start():
    from flask import current_app

    s = db_session()
    cidrs = request.form.get("networks", "").replace(",", " ").split()
    sweep = discovery.create_sweep(s, cidrs, current_user.username, conf=current_app.config)
    s.commit()
    return redirect(url_for("discovery.sweep", sweep_id=sweep.id))


@bp.route("/sweeps/<int:sweep_id>")
@roles_required("admin")
def sweep(sweep_id):
    s = db_session()
    sw = discovery.get_sweep(s, sweep_id)
    if request.args.get("format") == "json":
        return jsonify({**discovery.sweep_progress(sw), "rows": [discovery.json_row(r) for r in sw.results]})
    return render_template("discovery/sweep.html", sweep=sw, progress=discovery.sweep_progress(sw),
                           kinds=DeviceKind.choices(current_locale()))


@bp.route("/sweeps/<int:sweep_id>/progress")
@roles_required("admin")
def progress(sweep_id):
    return jsonify(discovery.sweep_progress(discovery.get_sweep(db_session(), sweep_id)))


@bp.route("/results/<int:result_id>/add", methods=["POST"])
@roles_required("admin")
def add(result_id):
    s = db_session()
    device = discovery.add_to_inventory(s, result_id, request.form.get("code", ""), request.form.get("site_code", ""),
                                        request.form.get("kind", ""), current_user)
    s.commit()
    return redirect(url_for("inventory.device", code=device.code))
