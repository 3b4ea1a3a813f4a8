"""Probe agents page (issue 14, admin): each agent with its health (last push, spool depth, lag, version,
devices in scope); register one (its token shown once) and revoke one."""
from flask import Blueprint, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user
from flask_wtf import FlaskForm
from wtforms import SelectMultipleField, StringField
from wtforms.validators import DataRequired, Length

from fleetops.domain.errors import FleetopsError
from fleetops.services import agents, inventory
from fleetops.web import db_session, nav, roles_required

bp = Blueprint("agents", __name__, url_prefix="/admin/agents")

NAV = [nav.NavItem.of("agents.index", "Probe agents", roles=("admin",), order=94)]


class AgentForm(FlaskForm):
    name = StringField("Agent name", validators=[DataRequired(), Length(max=100)])
    # Ticked from the inventory's districts, never typed (issue 13); WTForms refuses a value not in the list.
    districts = SelectMultipleField("Districts", choices=[])
    cidrs = StringField("Address ranges (CIDR, comma-separated)", validators=[Length(max=2000)])


def _items(text: str) -> list[str]:
    return [x.strip() for x in (text or "").replace("，", ",").split(",") if x.strip()]


@bp.route("/", methods=["GET", "POST"])
@roles_required()
def index():
    s = db_session()
    form = AgentForm()
    form.districts.choices = [(d, d) for d in inventory.districts(s)]
    new_token = None
    status = 200
    if request.method == "POST":
        if form.validate():
            try:
                _agent, new_token = agents.create_agent(s, form.name.data, list(form.districts.data or ()),
                                                        _items(form.cidrs.data), actor=current_user)
            except FleetopsError as err:
                s.rollback()
                flash(err.message, "error")
                status = 422
            else:
                s.commit()
                flash(_("Probe agent registered. Copy its token now: it is shown only once."), "success")
        else:
            status = 422
    return render_template("agents/index.html", form=form, rows=agents.list_agents(s), new_token=new_token), status


@bp.route("/<int:agent_id>/revoke", methods=["POST"])
@roles_required()
def revoke(agent_id):
    s = db_session()
    agents.revoke_agent(s, agent_id, actor=current_user)
    s.commit()
    flash(_("Probe agent revoked: its token no longer works."), "success")
    return redirect(url_for(".index"))
