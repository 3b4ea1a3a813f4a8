"""A2: the weekly image-quality summary — snapshots sampled, findings by kind and by camera, plate accuracy."""
from collections import Counter
from datetime import datetime, timedelta

from sqlalchemy.orm import Session

from fleetops.models.base import utcnow
from fleetops.platform import parameters
from fleetops.services.reports import queries
from fleetops.services.reports.monthly import plate_section
from fleetops.services.reports.periods import month_of, week_bounds
from fleetops.services.reports.sections import Report, Section
from fleetops.services.reports.words import Words, local_text


def weekly_quality_report(session: Session, week: str, now: datetime | None = None, locale: str = "zh") -> Report:
    """The weekly image-quality analysis for ISO week `week` ("2026-W44"), in `locale` (zh by default)."""
    _ = Words(locale)
    start, end = week_bounds(week)
    now = now or utcnow()
    sections = []
    samples = queries.snapshot_samples(session, start, end)
    n_ok = sum(1 for s in samples if s.ok)
    n_problem = sum(1 for s in samples if s.ok and s.problems)
    sections.append(Section("summary", _("Summary"), [_("Indicator"), _("Value")], [
        [_("Period"), _("%(period)s (%(start)s to %(end)s)", period=week, start=local_text(start),
                        end=local_text(end))],
        [_("Snapshots sampled"), len(samples)], [_("Snapshots taken"), n_ok],
        [_("Snapshots failed"), len(samples) - n_ok], [_("Snapshots with problems"), n_problem],
        [_("Daytime snapshots"), sum(1 for s in samples if s.period == "day")],
        [_("Night snapshots"), sum(1 for s in samples if s.period == "night")]]))

    found = queries.findings_first_seen(session, start, end)
    by_kind = Counter(f.kind for f in found)
    kinds = Section("findings", _("Problem types"), [_("Problem"), _("New"), _("Cleared this week")])
    cleared = Counter(f.kind for f in found if f.cleared_at is not None and f.cleared_at < end)
    for kind, n in by_kind.most_common():
        kinds.rows.append([_.finding(kind), n, cleared[kind]])
    kinds.chart = {"kind": "bar", "labels": [r[0] for r in kinds.rows[:8]], "values": [r[1] for r in kinds.rows[:8]],
                   "target": None, "title": _("Image problems this week by kind")}
    sections.append(kinds)

    per_dev = Counter(f.device_id for f in found)
    devices = queries.devices_by_id(session, per_dev)
    cams = Section("cameras", _("Cameras with problems"), [_("Device code"), _("Device name"), _("Site"),
                                                           _("Problems"), _("Problem types")])
    for device_id, n in per_dev.most_common(int(parameters.get(session, "report_top_n"))):
        d = devices[device_id]
        kinds_of = sorted({_.finding(f.kind) for f in found if f.device_id == device_id})
        cams.rows.append([d.code, d.name, d.site.name, n, _.join(kinds_of)])
    sections.append(cams)

    month = month_of(end - timedelta(seconds=1))
    plates = plate_section(_, session, month)
    plates.title = _("Plate recognition accuracy (%(month)s, month to date)", month=month)
    sections.append(plates)
    return Report(_("Image quality weekly report"), week, start, end, sections, now, _.locale)
