"""A2: the monthly monitoring report for the contract's acceptance — uptime by device/site/kind/district, the daily
online rate, the most failing devices, fault categories, deadlines and breaches, spares, image quality, plate
accuracy, metrology, the penalty estimate and suggestions; every text in the report's language."""
from collections import Counter
from datetime import datetime, timedelta

from sqlalchemy.orm import Session

from fleetops.domain.text import N_, render_stored
from fleetops.models.base import utcnow
from fleetops.platform import clock, parameters
from fleetops.services.reports import figures, queries
from fleetops.services.reports.figures import hours, pct
from fleetops.services.reports.periods import month_bounds
from fleetops.services.inventory import metrology as metrology_records
from fleetops.services.reports.sections import Report, Section
from fleetops.services.reports.suggestions import suggestions
from fleetops.services.reports.words import Words, local_text

from fleetops.services import inspections
from fleetops.services import monitoring as uptime

UPTIME_KEY_HEADERS = {"device": (N_("Device code"), N_("Device name")), "site": (N_("Site code"), N_("Site name")),
                      "kind": (N_("Device kind"), N_("Kind name")), "district": (N_("District"), N_("District name"))}


def uptime_section(_: Words, key: str, title: str, rows, target: float) -> Section:
    """One uptime table (U3): time online, offline, excluded and unknown, raw and contractual rate, target met."""
    by = key.removeprefix("uptime_")
    sec = Section(key, title, [_(h) for h in UPTIME_KEY_HEADERS[by]] + [
        _("Devices"), _("In service (h)"), _("Online (h)"), _("Offline (h)"), _("Excluded (h)"), _("No data (h)"),
        _("Raw online rate (%)"), _("Contractual online rate (%)"), _("Met (≥%(target)s%%)", target=f"{target:g}")])
    for r in rows:
        c = r.contractual_pct
        sec.rows.append([r.key, r.label, r.devices, hours(r.in_service_s), hours(r.up_s), hours(r.down_s),
                         hours(r.excluded_s), hours(r.unknown_s), pct(r.raw_pct), pct(c),
                         "—" if c is None else _.yes_no(c >= target)])
    return sec


def plate_section(_: Words, session: Session, month: str) -> Section:
    """Q1: audited plate accuracy per camera and time of day, cameras below target first."""
    sec = Section("plates", _("Plate recognition accuracy"), [
        _("Device code"), _("Time of day"), _("Correct"), _("Judged"), _("Pending"), _("Accuracy (%)"),
        _("Target (%)"), _("Below target")])
    rows = [(r, None if r["rate"] is None else round(100 * r["rate"], 2))
            for r in figures.plate_accuracy(session, month)]
    # Worst first: the cameras below target, then by accuracy (unjudged last).
    rows.sort(key=lambda rr: (not rr[0]["flagged"], rr[1] is None, rr[1] if rr[1] is not None else 0))
    for r, rate in rows:
        sec.rows.append([r["device_code"], _("Day") if r["period"] == "day" else _("Night"), r["correct"],
                         r["judged"], r["pending"], rate, round(100 * r["target"], 2), _.yes_no(r["flagged"])])
    sec.pdf_limit = 30
    sec.note = _("By day ≥ 98%, at night ≥ 95%; from the sampled review, lowest accuracy first; the PDF lists the "
                 "first 30 rows, the full list is in the XLSX.")
    return sec


def metrology_state(_: Words, row: dict) -> str:
    return {"failed": lambda: _("Failed verification (must be replaced)"), "expired": lambda: _("Expired"),
            "due": lambda: _("Due within %(days)s days", days=row["warn_days"]),
            "valid": lambda: _("Valid")}[row["state"]]()


def spare_usage(session: Session, start: datetime, end: datetime) -> list[dict]:
    """Parts issued in the period (most first), then every other part type by code, with stock and minimum."""
    stock = {s["code"]: s for s in figures.stock(session)}
    out, used = [], set()
    for code, name, times, qty in queries.parts_issued(session, start, end):
        s = stock.get(code, {})
        used.add(code)
        out.append({"code": code, "name": name, "times": times, "units": int(qty or 0), "on_hand": s.get("on_hand"),
                    "minimum": s.get("minimum"), "below": bool(s.get("below"))})
    for code, s in sorted(stock.items()):
        if code not in used:
            out.append({"code": code, "name": s["name"], "times": 0, "units": 0, "on_hand": s["on_hand"],
                        "minimum": s["minimum"], "below": s["below"]})
    return out


def _ratio(_, on_time: int, decided: int, pending: int) -> str:
    text = f"{on_time}/{decided}"
    return text if not pending else text + " " + _("(%(n)s still within their deadline)", n=pending)


def monthly_report(session: Session, month: str, now: datetime | None = None, locale: str = "zh") -> Report:
    """A2: the monthly monitoring report for the contract's acceptance, in `locale` (zh by default)."""
    _ = Words(locale)
    start, end = month_bounds(month)
    now = now or utcnow()
    # A month still running counts up to now, never past it, and says so.
    upto = min(end, now)
    running = now < end
    as_of = _("Month in progress: figures as of %(at)s", at=clock.to_local(now).strftime("%m-%d %H:%M")) \
        if running else ""
    target = uptime.target_pct(session)
    top_n = int(parameters.get(session, "report_top_n"))
    sections: list[Section] = []

    fleet = figures.uptime_rows(session, start, upto, "fleet", _.locale)
    fleet_row = fleet[0] if fleet else None
    raw = fleet_row.raw_pct if fleet_row else None
    contractual = fleet_row.contractual_pct if fleet_row else None
    tickets = queries.tickets_opened(session, start, end)
    sla = figures.sla_figures(session, start, end, tickets, now=now)
    pen = figures.penalty(session, start, end, contractual, now=now)
    outages = queries.outages_started(session, start, end)
    incidents = queries.count_incidents_started(session, start, end)

    summary = Section("summary", _("Summary"), [_("Indicator"), _("Value"), _("Notes")])
    summary.rows = [
        [_("Period"), _("%(period)s (%(start)s to %(end)s, Beijing time)", period=month, start=local_text(start),
                        end=local_text(end)), as_of],
        [_("Devices assessed"), fleet_row.devices if fleet_row else 0,
         _("Checkpoint, e-police, security checkpoint and fixed speed cameras")],
        [_("Raw online rate (%)"), pct(raw), _("Online time ÷ (online + offline)")],
        [_("Contractual online rate (%)"), pct(contractual),
         _("Offline time caused by the power utility or the network provider is excluded")],
        [_("Online rate target (%)"), target, _("Met") if contractual is not None and contractual >= target else
         (_("Not met") if contractual is not None else _("No data"))],
        [_("Outages"), len(outages), ""],
        [_("Whole-site outages"), incidents, ""],
        [_("Tickets"), sla["tickets"], ""],
        [_("On-time arrival (%)"), sla["arrival_pct"], _ratio(_, sla["arrival_on_time"], sla["arrival_decided"],
                                                             sla["arrival_pending"])],
        [_("On-time repair (%)"), sla["repair_pct"], _ratio(_, sla["repair_on_time"], sla["repair_decided"],
                                                           sla["repair_pending"])],
        [_("Mean time to repair (h)"), sla["mttr_h"], _("%(n)s resolved, counted from detection", n=sla["resolved"])],
        [_("Estimated penalty (yuan)"), float(pen["total"]) if pen["total"] is not None else _("Contract total not set"),
         _("%(days)s days late; %(cases)s times not to spec", days=pen["days_late"], cases=pen["not_to_spec_cases"])],
    ]
    sections.append(summary)

    dev_sec = uptime_section(_, "uptime_device", _("Online rate by device"),
                             figures.uptime_rows(session, start, upto, "device", _.locale), target)
    dev_sec.rows.sort(key=lambda r: (r[9] is None, r[9] if r[9] is not None else 0))
    dev_sec.pdf_limit = 25
    dev_sec.note = _("Lowest contractual online rate first; the PDF lists the first 25 devices, the full list is in "
                     "the XLSX.")
    sections.append(dev_sec)
    by_rows = {}
    for by, title in (("site", _("Online rate by site")), ("kind", _("Online rate by device kind")),
                      ("district", _("Online rate by district"))):
        rows = by_rows[by] = figures.uptime_rows(session, start, upto, by, _.locale)
        sec = uptime_section(_, f"uptime_{by}", title, rows, target)
        if by == "district":
            sec.chart = {"kind": "bar", "labels": [r.label or _("(no district)") for r in rows],
                         "values": [round(r.contractual_pct or 0, 2) for r in rows], "target": target,
                         "title": _("Contractual online rate by district (%)")}
        if by == "site":
            sec.pdf_limit = 25
        sections.append(sec)

    # Daily fleet online rate for the chart (U4), from the sampled real-time rate.
    day_rates = figures.daily_online_rate(session, start, end)
    trend = Section("online_trend", _("Daily real-time online rate"), [_("Date"), _("Mean online rate (%)"),
                                                                       _("Samples")],
                    [[d, r, n] for d, r, n in day_rates])
    trend.pdf_limit, trend.note = 0, _("The daily figures are in the XLSX.")
    trend.chart = {"kind": "line", "labels": [d[5:] for d, _r, _n in day_rates],
                   "values": [r for _d, r, _n in day_rates], "target": target,
                   "title": _("Daily real-time online rate (%)")}
    sections.append(trend)

    # Top failing devices and fault categories.
    per_device: dict[int, list] = {}
    for o in outages:
        per_device.setdefault(o.device_id, []).append(o)
    devices = queries.devices_by_id(session, per_device)
    ranked = sorted(per_device.items(), key=lambda kv: (-len(kv[1]), -sum(figures.outage_seconds(o, upto)
                                                                           for o in kv[1])))
    top = Section("top_devices", _("Most frequently failing devices"), [
        _("Rank"), _("Device code"), _("Device name"), _("Site"), _("Kind"), _("Outages"), _("Offline (h)"),
        _("Main cause")])
    for i, (device_id, outs) in enumerate(ranked[:top_n], 1):
        d = devices[device_id]
        cause = Counter(o.cause for o in outs).most_common(1)[0][0]
        top.rows.append([i, d.code, d.name, d.site.name, _.kind(d.kind), len(outs),
                         hours(sum(figures.outage_seconds(o, upto) for o in outs)), _.cause(cause)])
    sections.append(top)

    cats = Counter(t.category for t in tickets)
    cat_sec = Section("fault_categories", _("Fault categories"), [_("Fault category"), _("Tickets"), _("Share (%)")])
    total_cats = sum(cats.values())
    for cat, n in cats.most_common():
        cat_sec.rows.append([_.fault(cat), n, pct(100 * n / total_cats)])
    cat_sec.chart = {"kind": "bar", "labels": [r[0] for r in cat_sec.rows[:8]],
                     "values": [r[1] for r in cat_sec.rows[:8]], "target": None,
                     "title": _("Tickets by fault category")}
    sections.append(cat_sec)

    sla_sec = Section("sla", _("Service deadlines"), [_("Indicator"), _("Value")])
    sla_sec.rows = [[_("Tickets"), sla["tickets"]], [_("Arrived on time"), sla["arrival_on_time"]],
                    [_("Arrivals assessed"), sla["arrival_decided"]], [_("On-time arrival (%)"), sla["arrival_pct"]],
                    [_("Repaired on time"), sla["repair_on_time"]], [_("Repairs assessed"), sla["repair_decided"]],
                    [_("On-time repair (%)"), sla["repair_pct"]], [_("Mean time to repair (h)"), sla["mttr_h"]],
                    [_("Arrivals still within their deadline"), sla["arrival_pending"]],
                    [_("Repairs still within their deadline"), sla["repair_pending"]]]
    breach_sec = Section("breaches", _("Deadline breaches"), [
        _("Ticket no."), _("Device/site"), _("Deadline"), _("Due"), _("Recorded")])
    for b, t in queries.breaches_due(session, start, end):
        breach_sec.rows.append([t.id, t.device.code if t.device else t.site.code, _.deadline(b.which),
                                local_text(b.due_at), local_text(b.recorded_at)])
    breach_sec.pdf_limit = 40
    if len(breach_sec.rows) > 40:
        breach_sec.note = _("%(n)s in all; the PDF lists the first 40, the full list is in the XLSX.",
                            n=len(breach_sec.rows))
    sections += [sla_sec, breach_sec]

    spares = spare_usage(session, start, end)
    sections.append(Section("spares", _("Spare parts used"), [
        _("Part code"), _("Part name"), _("Times issued"), _("Units issued"), _("On hand"), _("Minimum"),
        _("Below minimum")], [[s["code"], s["name"], s["times"], s["units"], s["on_hand"], s["minimum"],
                               _.yes_no(s["below"])] for s in spares]))

    q_sec = Section("quality", _("Image quality"), [_("Problem"), _("New"), _("Cleared"),
                                                    _("Still open at month end")])
    found, cleared, still = queries.finding_kind_counts(session, start, end)
    for kind in sorted(set(found) | set(cleared) | set(still)):
        q_sec.rows.append([_.finding(kind), found[kind], cleared[kind], still[kind]])
    sections.append(q_sec)
    sections.append(plate_section(_, session, month))

    today = clock.to_local(upto - timedelta(seconds=1)).date()  # the site's local date
    certs = figures.metrology(session, today)
    sections.append(Section("metrology", _("Metrology verification"), [
        _("Device code"), _("Device name"), _("Kind"), _("Certificate no."), _("Valid until"), _("State")],
        [[c["code"], c["name"], _.kind(c["kind"]), c["certificate_no"], c["valid_until"].isoformat(),
          metrology_state(_, c)] for c in certs],
        note=_("State as of %(day)s, soonest expiry first; the PDF lists the first 40 devices, the full list is in "
               "the XLSX.", day=today.isoformat()), pdf_limit=40))
    sections.append(metrology_records.evidence_section(_, session, start, upto))  # F5: the evidence flag

    sections += penalty_sections(_, pen)
    sections.append(exclusion_section(_, session, start, end))
    sections += inspections.report_sections(_, session, start, end, now, Section)  # P3: inspection completion

    sections.append(suggestions(session, _, end=upto, contractual=contractual, target=target, sla=sla, ranked=ranked,
                                devices=devices, cats=cats, site_rows=by_rows["site"],
                                district_rows=by_rows["district"], spares=spares, certs=certs))
    return Report(_("Traffic enforcement equipment maintenance monthly report"), month, start, end, sections, now,
                  _.locale)


def _yuan(value) -> float | str:
    return float(value) if value is not None else "—"


def penalty_sections(_: Words, pen: dict) -> list[Section]:
    """T9/P4: the estimate as the contract counts it, and the cases not to spec with the tickets behind them."""
    rules = pen["rules"]
    rows = [
        [_("Contract total (yuan)"), _yuan(pen["contract_total"]) if pen["contract_total"] else _("Not set")],
        [_("Days late (calendar days, overlapping delays counted once)"), pen["days_late"]],
        [_("Lateness penalty (yuan)"), _yuan(pen["late_amount"])],
        [_("Times not to spec (charged)"), pen["not_to_spec_cases"]],
        [_("Not-to-spec penalty (yuan)"), _yuan(pen["not_to_spec_amount"])],
        [_("Total (yuan)"), _yuan(pen["total"])]]
    if pen["extension"]["applies"]:
        rows.append([_("Service period extended by (h)"), pen["extension"]["hours"]])
    th = pen.get("threshold") or {}
    if th.get("applies") and th.get("cumulative") is not None:
        rows.append([_("Cumulative penalties / termination threshold (yuan)"),
                     f"{th['cumulative']} / {th['threshold']} ({th['share_pct']} %)"])
    note = " ".join([
        _("Each day late costs %(pct)s%% of %(basis)s.", pct=f"{rules['late_daily_pct']:g}",
          basis=_(pen["late_basis_text"])),
        _(pen["day_rule_text"]),
        _(pen["not_to_spec_rule_text"]) if rules.get("not_to_spec_pct") is not None else "",
        _("The contract total is not set: no amount can be estimated.") if pen["missing"] else _("An estimate only.")])
    out = [Section("penalty", _("Penalty estimate"), [_("Item"), _("Value")], rows, note=note.strip())]
    from fleetops.services.tickets.penalties import NOT_TO_SPEC_KINDS

    cases = Section("not_to_spec", _("Service not to specification"), [_("When"), _("Case"), _("Ticket numbers")],
                    [[local_text(c["at"]), _(NOT_TO_SPEC_KINDS[c["kind"]]),
                      " ".join(f"#{t}" for t in c["ticket_ids"])] for c in pen["not_to_spec"]],
                    note=_("Derived from the tickets: failed verifications, late replacements, image problems not "
                           "cleared in time."))
    out.append(cases)
    return out


def exclusion_section(_: Words, session: Session, start: datetime, end: datetime) -> Section:
    """U3: every exclusion request for an outage in the month, with its evidence and the decision."""
    from fleetops.services.monitoring import exclusions

    states = {"pending": _("Waiting"), "approved": _("Approved"), "rejected": _("Rejected")}
    rows = []
    for r in map(exclusions.request_row, exclusions.requests_in(session, start, end)):
        evidence = [render_stored(r["note"], _.locale)]
        if r["photo"]:
            evidence.append(_("photo attached"))
        if r["evidence"].get("input_voltage_v") is not None:
            evidence.append(_("cabinet mains input %(v)s V", v=r["evidence"]["input_voltage_v"]))
        rows.append([r["site"], r["device"] or _("Whole site"), local_text(r["started_at"]),
                     local_text(r["ended_at"]) if r["ended_at"] else "", _.cause(r["cause"]),
                     _("the system") if r["source"] == "system" else r["requested_by"], "; ".join(e for e in evidence if e),
                     states.get(r["state"], r["state"]), r["decided_by"]])
    return Section("exclusions", _("Exclusion requests"), [
        _("Site"), _("Device"), _("Outage from"), _("Outage until"), _("Cause"), _("Requested by"), _("Evidence"),
        _("Decision"), _("Decided by")], rows,
        note=_("Only approved requests are left out of the contractual online rate."))
