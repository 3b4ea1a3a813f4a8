"""A2: improvement suggestions drawn from the month's data — recurring devices, a dominant fault, replacements,
key sites and districts below target, late arrivals and repairs, low stock, certificates to renew."""
from datetime import datetime

from sqlalchemy.orm import Session

from fleetops.domain.text import render_stored
from fleetops.platform import parameters
from fleetops.services.reports import queries
from fleetops.services.reports.figures import pct
from fleetops.services.reports.sections import Section
from fleetops.services.reports.words import Words


def suggestions(session: Session, _: Words, *, end: datetime, contractual, target: float, sla: dict, ranked,
                devices: dict, cats, site_rows, district_rows, spares: list[dict], certs: list[dict]) -> Section:
    """One row per suggestion (number, what to do, why), in the report's language."""
    sec = Section("suggestions", _("Suggestions"), [_("No."), _("Suggestion"), _("Basis")])
    recurring = int(parameters.get(session, "report_recurring_outages"))
    items = []
    for device_id, outs in ranked:  # T4: the same fault repaired twice means replacement
        if len(outs) < recurring:
            break
        d = devices[device_id]
        items.append((_("Overhaul or replace %(code)s (%(site)s) and check its power and network connection",
                        code=d.code, site=d.site.name),
                      _("%(n)s outages this month (the same fault repaired twice means replacement)", n=len(outs))))
    if cats:
        cat, n = cats.most_common(1)[0]
        total = sum(cats.values())
        if n / total >= 0.3:
            items.append((_("Targeted checks and preventive maintenance for “%(category)s”", category=_.fault(cat)),
                          _("%(share)s%% of this month's tickets (%(n)s/%(total)s)", share=f"{100 * n / total:.0f}",
                            n=n, total=total)))
    for code, reason in queries.replacements_before(session, end)[:10]:  # T4
        items.append((_("Replace %(code)s (a new unit, no more repairs)", code=code),
                      render_stored(reason, _.locale) if reason
                      else _("The same fault came back after two repairs in a row")))
    key_sites = queries.key_site_codes(session)  # F2: key assessment sites first
    for r in site_rows:
        rate = pct(r.contractual_pct)
        if r.key in key_sites and rate is not None and rate < target:
            items.append((_("Key site %(code)s %(name)s missed the target: give it priority and inspect it more often",
                            code=r.key, name=r.label),
                          _("Contractual online rate %(rate)s%% < %(target)s%% (key assessment site)", rate=rate,
                            target=f"{target:g}")))
    for r in district_rows:
        rate = pct(r.contractual_pct)
        if rate is not None and rate < target:
            items.append((_("The %(district)s district missed the online-rate target: inspect more often and check "
                            "fibre and power", district=r.label or _("No district")),
                          _("Contractual online rate %(rate)s%% < %(target)s%%", rate=rate, target=f"{target:g}")))
    if sla["arrival_pct"] is not None and sla["arrival_pct"] < 100:  # T2
        items.append((_("Rearrange depots and night duty to shorten arrival times"),
                      _("On-time arrival %(pct)s%%", pct=sla["arrival_pct"])))
    if sla["repair_pct"] is not None and sla["repair_pct"] < 100:  # T3
        items.append((_("Carry more spares in the vans; swap the part when it cannot be repaired on site"),
                      _("On-time repair %(pct)s%%", pct=sla["repair_pct"])))
    low = [s["name"] for s in spares if s["below"]]
    if low:  # S1: at least 3 of each kind
        items.append((_("Restock spare parts: %(parts)s", parts=_.join(low[:6])),
                      _("Stock below the minimum (at least 3 of each kind)")))
    due = [c["code"] for c in certs if c["state"] != "valid"]
    if due:  # F5
        listed = _.join(due[:6])
        items.append((_("Schedule metrology verification: %(devices)s and others", devices=listed) if len(due) > 6
                      else _("Schedule metrology verification: %(devices)s", devices=listed),
                      _("%(n)s devices have certificates expired, failed or about to expire", n=len(due))))
    if not items:
        items.append((_("All figures normal this month: keep the current inspection plan"),
                      _("Contractual online rate %(rate)s%%", rate=pct(contractual))))
    sec.rows = [[i, text, why] for i, (text, why) in enumerate(items, 1)]
    return sec
