"""Ticket pages: the crew's tablet (My tickets, one big button per step, checklist, parts, photos) and the supervisors' list, history, SLA policies, penalties."""
import uuid
from datetime import date, datetime, timedelta

from flask import Blueprint, abort, current_app, flash, g, redirect, render_template, request, send_from_directory, url_for
from flask_babel import gettext as _
from flask_login import current_user, login_required

from fleetops.domain import inputs, sla
from fleetops.domain import tickets as rules
from fleetops.domain.errors import ValidationFailed
from fleetops.domain.text import Msg
from fleetops.platform.clock import local_today, local_zone, utcnow
from fleetops.services import spares, tickets
from fleetops.web import db_session, nav, page_arg, pager_args, roles_required

bp = Blueprint("tickets", __name__, url_prefix="/tickets")

LIST_PAGE = 50  # the supervisors' list, paged in SQL
MINE_PAGE = 20  # the crew's tablet: a page of big cards

# This area's menu entries; fleetops.wiring adds them to the navigation bar.
NAV = [
    nav.NavItem.of("tickets.mine", "My tickets", roles=("crew",), order=10, home_for=("crew",)),
    nav.NavItem.of("tickets.index", "Tickets", roles=("supervisor",), order=30),
]


@bp.before_request
def _fetch_follow():
    """tickets.js sends forms with fetch, which follows the redirect itself: answer that hop empty so the flash
    message is kept for the page the tablet then loads."""
    if request.method == "GET" and request.headers.get("X-Requested-With") == "fetch":
        return "", 204
    return None


def new_request_id() -> str:
    """A fresh id per rendered form: a resend of the same form carries the same id and is applied once."""
    return uuid.uuid4().hex


@bp.app_context_processor
def _helpers():
    return {"new_request_id": new_request_id, "ticket_state_label": _state_label, "now_utc": utcnow,
            "action_label": _action_label, "fault_label": _fault_label, "checklist_label": rules.checklist_label}


def _remembered(kind: str, value, make):
    """A label remembered for the request: a list page asks for the same few labels once per row."""
    memo = g.setdefault("_ticket_labels", {})
    key = (kind, value)
    if key not in memo:
        memo[key] = make(value)
    return memo[key]


def _state_label(state):
    def make(v):
        try:
            return rules.TicketState(v).label(_loc())
        except ValueError:
            return v

    return _remembered("state", state, make)


def _action_label(action):
    """A history line's action in the reader's language (transitions and events alike: never a raw code)."""
    msgid = rules.event_label_msgid(action)
    return Msg(msgid, context="TicketAction").render() if msgid else _("Other change")


def _fault_label(category):
    def make(v):
        try:
            return rules.FaultCategory(v).label(_loc())
        except ValueError:
            return v

    return _remembered("fault", category, make)


def _loc():
    from fleetops.web import current_locale

    return current_locale()


def _ticket_for_user(ticket_id):
    t = tickets.get_ticket(db_session(), ticket_id)
    if not tickets.may_act(current_user, t):
        abort(403)
    return t


def _done(t, message):
    """Commit, say so, and go back to the ticket (the tablet reloads the page it came from)."""
    db_session().commit()
    flash(message, "success")
    return redirect(url_for("tickets.detail", ticket_id=t.id))


def _float_or_none(name):
    raw = (request.form.get(name) or "").strip()
    if not raw:
        return None
    try:
        return float(raw)
    except ValueError:
        raise ValidationFailed(_("The location sent by the tablet is not a number.")) from None


# ---------------------------------------------------------------- the crew's tablet

@bp.route("/mine")
@login_required
def mine():
    page = page_arg()
    rows, total = tickets.my_tickets_page(db_session(), current_user, limit=MINE_PAGE, offset=(page - 1) * MINE_PAGE)
    return render_template("tickets/mine.html", rows=rows, now=utcnow(), total=total, page=page,
                           pages=max(1, -(-total // MINE_PAGE)), args=pager_args())


@bp.route("/<int:ticket_id>")
@login_required
def detail(ticket_id):
    s = db_session()
    t = tickets.get_ticket(s, ticket_id)
    if current_user.role == "crew" and not tickets.may_act(current_user, t):
        abort(403)
    page = tickets.detail_page(s, t, current_user)
    repair_h = (t.policy.rules or {}).get("repair_h") if t.policy is not None else None
    return render_template("tickets/detail.html", t=t, checklist=rules.SAFETY_CHECKLIST,
                           resolutions=list(rules.Resolution), **page,
                           parts=tickets.part_choices(s, t, current_user), undone=spares.undone_ids(s, t.id),
                           after_photo=tickets.after_photo_problem(t), checklist_done=tickets.checklist_complete(t),
                           repair_h=repair_h)


@bp.route("/<int:ticket_id>/step", methods=["POST"])
@login_required
def step(ticket_id):
    """The big button: set off, check in (with the browser's location when given), start the repair."""
    t = _ticket_for_user(ticket_id)
    action, rid = request.form.get("action", ""), request.form.get("request_id")
    s = db_session()
    if action == "depart":
        tickets.depart(s, t.id, actor=current_user, request_id=rid)
        return _done(t, _("On the way."))
    if action == "arrive":
        tickets.record_arrival(s, t.id, actor=current_user, lat=_float_or_none("lat"),
                               lon=_float_or_none("lon"), request_id=rid)
        return _done(t, _("Checked in on site."))
    if action == "start_repair":
        tickets.start_repair(s, t.id, actor=current_user, request_id=rid)
        return _done(t, _("Repair started."))
    raise ValidationFailed(_("Unknown step."))


@bp.route("/<int:ticket_id>/cannot-repair", methods=["POST"])
@login_required
def cannot_repair(ticket_id):
    """T3: the repair clock stops and the spare-swap clock starts."""
    t = _ticket_for_user(ticket_id)
    tickets.cannot_repair_on_site(db_session(), t.id, actor=current_user, note=request.form.get("note", ""),
                                  request_id=request.form.get("request_id"))
    return _done(t, _("Spare swap started: the swap clock is running."))


@bp.route("/<int:ticket_id>/checklist", methods=["POST"])
@login_required
def checklist(ticket_id):
    t = _ticket_for_user(ticket_id)
    tickets.tick_checklist(db_session(), t.id, request.form.getlist("items"), actor=current_user,
                           request_id=request.form.get("request_id"))
    return _done(t, _("Safety checklist saved."))


@bp.route("/<int:ticket_id>/part", methods=["POST"])
@login_required
def use_part(ticket_id):
    t = _ticket_for_user(ticket_id)
    f = request.form
    spares.issue_to_ticket(db_session(), t.id, f.get("part_type_id", ""), f.get("location_id", ""),
                           f.get("quantity") or 1, serial=f.get("serial", ""), actor=current_user,
                           request_id=f.get("request_id"))
    return _done(t, _("Part recorded."))


@bp.route("/<int:ticket_id>/part/<int:movement_id>/undo", methods=["POST"])
@login_required
def undo_part(ticket_id, movement_id):
    """A part recorded by mistake goes back to its location: a reversing ledger row, audited (S2, A3)."""
    t = _ticket_for_user(ticket_id)
    spares.undo_issue(db_session(), t.id, movement_id, actor=current_user, request_id=request.form.get("request_id"))
    return _done(t, _("Part taken back into stock."))


@bp.route("/<int:ticket_id>/photo", methods=["POST"])
@login_required
def photo(ticket_id):
    t = _ticket_for_user(ticket_id)
    upload = request.files.get("photo")
    if upload is None or not upload.filename:
        raise ValidationFailed(_("Choose or take a photo first."))
    tickets.add_photo(db_session(), t.id, request.form.get("phase", "before"), upload.read(),
                      upload_dir=current_app.config["UPLOAD_DIR"], actor=current_user,
                      request_id=request.form.get("request_id"))
    return _done(t, _("Photo saved."))


@bp.route("/<int:ticket_id>/photos/<int:photo_id>")
@bp.route("/<int:ticket_id>/photos/<int:photo_id>/<any(thumb):size>")
@login_required
def photo_file(ticket_id, photo_id, size=None):
    t = _ticket_for_user(ticket_id) if current_user.role == "crew" else tickets.get_ticket(db_session(), ticket_id)
    rel = tickets.photo_file(db_session(), t.id, photo_id, thumb=size == "thumb")
    if rel is None:
        abort(404)
    return send_from_directory(current_app.config["UPLOAD_DIR"], rel)


@bp.route("/<int:ticket_id>/note", methods=["POST"])
@login_required
def note(ticket_id):
    t = _ticket_for_user(ticket_id)
    tickets.add_note(db_session(), t.id, request.form.get("note", ""), actor=current_user,
                     request_id=request.form.get("request_id"))
    return _done(t, _("Note saved."))


@bp.route("/<int:ticket_id>/resolve", methods=["POST"])
@login_required
def resolve(ticket_id):
    t = _ticket_for_user(ticket_id)
    tickets.resolve(db_session(), t.id, request.form.get("resolution", ""), actor=current_user,
                    notes=request.form.get("notes", "").strip(), request_id=request.form.get("request_id"))
    return _done(t, _("Resolved. The ticket closes when the device is verified back online."))


# ---------------------------------------------------------------- supervisors

@bp.route("/")
@roles_required("supervisor")
def index():
    s = db_session()
    f = request.args
    page = page_arg()
    now = utcnow()
    rows, total = tickets.ticket_list_page(s, state=f.get("state", ""), district=f.get("district", ""),
                                           device_code=f.get("device", "").strip(),
                                           overdue_only=bool(f.get("overdue")), open_only=bool(f.get("open")),
                                           now=now, limit=LIST_PAGE, offset=(page - 1) * LIST_PAGE)
    districts = tickets.districts(s)
    return render_template("tickets/index.html", rows=rows, f=f, districts=districts, states=list(rules.TicketState),
                           now=now, is_overdue=tickets.is_overdue, total=total, page=page,
                           pages=max(1, -(-total // LIST_PAGE)), args=pager_args())


@bp.route("/new", methods=["GET", "POST"])
@roles_required("supervisor")
def new():
    s = db_session()
    if request.method == "POST":
        f = request.form
        device_id, site_id = tickets.find_target(s, f.get("device", "").strip(), f.get("site", "").strip())
        if device_id is None and site_id is None:
            raise ValidationFailed(_("Give a known device code or site code."))
        t = tickets.open_ticket(s, device_id=device_id, site_id=site_id,
                                category=f.get("category", ""), source=f.get("source", "supervisor"),
                                opened_by=current_user, summary=f.get("summary", "").strip(),
                                tier=f.get("tier", "ordinary"), policy_key=f.get("policy") or None,
                                request_id=f.get("request_id"))
        return _done(t, _("Ticket opened."))
    return render_template("tickets/new.html", categories=list(rules.FAULT_CATEGORIES),
                           policies=tickets.list_policies(s))


@bp.route("/<int:ticket_id>/dispatch", methods=["POST"])
@roles_required("supervisor")
def dispatch(ticket_id):
    raw = request.form.get("assignee_id", "")
    t = tickets.dispatch(db_session(), ticket_id, assignee_id=int(raw) if raw.isdigit() else None,
                         actor=current_user, request_id=request.form.get("request_id"))
    return _done(t, _("Dispatched."))


@bp.route("/<int:ticket_id>/verify", methods=["POST"])
@roles_required("supervisor")
def verify(ticket_id):
    t = tickets.verify(db_session(), ticket_id, actor=current_user, request_id=request.form.get("request_id"))
    return _done(t, _("Verified."))


@bp.route("/<int:ticket_id>/close", methods=["POST"])
@roles_required("supervisor")
def close(ticket_id):
    t = tickets.close(db_session(), ticket_id, actor=current_user, request_id=request.form.get("request_id"))
    return _done(t, _("Closed."))


@bp.route("/<int:ticket_id>/cancel", methods=["POST"])
@roles_required("supervisor")
def cancel(ticket_id):
    t = tickets.cancel(db_session(), ticket_id, actor=current_user, reason=request.form.get("reason", ""),
                       request_id=request.form.get("request_id"))
    return _done(t, _("Cancelled."))


@bp.route("/<int:ticket_id>/reopen", methods=["POST"])
@roles_required("supervisor")
def reopen(ticket_id):
    t = tickets.reopen(db_session(), ticket_id, actor=current_user, reason=request.form.get("reason", ""),
                       request_id=request.form.get("request_id"))
    return _done(t, _("Reopened."))


@bp.route("/policies", methods=["GET", "POST"])
@roles_required("supervisor")
def policies():
    """SLA policies as forms (windows, tiers, the day/night and distance rules, penalties), validated per field:
    everyone with the supervisor role reads them; only an admin changes them (T5)."""
    s = db_session()
    errors, submitted, status = {}, None, 200
    if request.method == "POST":
        if current_user.role != "admin":
            abort(403)
        new = request.form.get("new") == "1"
        row, errors = tickets.save_policy_form(s, request.form.get("key", ""), request.form, current_user, new=new)
        if row is not None:
            s.commit()
            flash(_("Policy saved."), "success")
            return redirect(url_for("tickets.policies") + f"#policy-{row.key}")
        s.rollback()
        submitted, status = ("__new__" if new else request.form.get("key", "")), 400
    rows = tickets.list_policies(s)
    s.commit()  # the presets seeded on first use
    values = {p.key: tickets.policy_form_values(p.rules) for p in rows}
    values["__new__"] = tickets.policy_form_values({"resolve_h": {}})
    if submitted is not None:  # show what was typed, with the message at each field
        values[submitted] = {**values.get(submitted, {}), **request.form.to_dict(),
                             "key_sites_first": bool(request.form.get("key_sites_first")),
                             "penalty.extends_service_period": bool(request.form.get("penalty.extends_service_period"))}
    return render_template("tickets/policies.html", rows=rows, values=values, groups=tickets.FORM_GROUPS,
                           errors=errors, submitted=submitted, late_bases=sla.LATE_BASES), status


@bp.route("/penalties")
@roles_required("supervisor")
def penalties():
    """T9/P4: the penalty estimate for a period under one SLA policy, every figure traceable to its tickets."""
    s = db_session()
    zone = local_zone()

    def day(name):
        raw = request.args.get(name, "")
        return datetime.combine(inputs.parse_date(raw, name), datetime.min.time(), zone) if raw else None

    since, until = day("since"), day("until")
    if until is not None:
        until += timedelta(days=1)  # the "until" day is included
    if since is not None and until is not None and until <= since:
        raise ValidationFailed(_("The period ends before it starts."))
    policies = tickets.list_policies(s)
    key = request.args.get("policy") or None
    est = tickets.penalty_estimate(s, since=since, until=until, policy_key=key)
    s.commit()  # the presets seeded on first use
    return render_template("tickets/penalties.html", est=est, f=request.args, policies=policies,
                           kind_labels=tickets.NOT_TO_SPEC_KINDS)


@bp.route("/qualifications", methods=["GET", "POST"])
@roles_required("supervisor")
def qualifications():
    """T8: crew certificates and their validity; an admin records new ones."""
    s = db_session()
    if request.method == "POST":
        if current_user.role != "admin":
            abort(403)
        f = request.form
        try:
            until = date.fromisoformat(f.get("valid_until", ""))
            since = date.fromisoformat(f["valid_from"]) if f.get("valid_from") else None
        except ValueError:
            raise ValidationFailed(_("Dates are written like 2026-06-01.")) from None
        raw_user = f.get("user_id", "")
        if not raw_user.isdigit():
            raise ValidationFailed(_("Choose a crew member."))
        tickets.add_qualification(s, int(raw_user), f.get("kind", ""), until, valid_from=since,
                                  certificate_no=f.get("certificate_no", "").strip(), actor=current_user)
        s.commit()
        flash(_("Qualification recorded."), "success")
        return redirect(url_for("tickets.qualifications"))
    crews = tickets.crew_members(s)
    return render_template("tickets/qualifications.html", rows=tickets.list_qualifications(s), crews=crews,
                           kinds=list(rules.QualificationKind), today=local_today(),
                           kind_labels={k.value: k.label(_loc()) for k in rules.QualificationKind})
