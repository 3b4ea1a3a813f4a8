"""The ticket's life: states and legal transitions, resolutions, the roadside safety checklist (T7), the height gate (T8)."""
from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from fleetops.domain.choices import LabelledEnum
from fleetops.domain.text import Msg, N_
from fleetops.domain.errors import FleetopsError, IllegalTransition


class TicketState(LabelledEnum):
    NEW = "new"
    DISPATCHED = "dispatched"
    ON_THE_WAY = "on_the_way"
    ARRIVED = "arrived"
    REPAIRING = "repairing"
    RESOLVED = "resolved"
    VERIFIED = "verified"
    CLOSED = "closed"
    CANCELLED = "cancelled"


TicketState._LABELS = {
    "new": N_("New"),
    "dispatched": N_("Dispatched"),
    "on_the_way": N_("On the way"),
    "arrived": N_("Arrived"),
    "repairing": N_("Repairing"),
    "resolved": N_("Resolved"),
    "verified": N_("Verified"),
    "closed": N_("Closed"),
    "cancelled": N_("Cancelled"),
}

OPEN_STATES = frozenset({"new", "dispatched", "on_the_way", "arrived", "repairing", "resolved", "verified"})
# Before arrival the arrive-by clock runs; before resolution the repair-by clock runs.
NOT_ARRIVED = frozenset({"new", "dispatched", "on_the_way"})
NOT_RESOLVED = frozenset({"new", "dispatched", "on_the_way", "arrived", "repairing"})


class Resolution(LabelledEnum):
    REPAIRED = "repaired"
    PART_SWAPPED = "part_swapped"
    DEVICE_REPLACED = "device_replaced"


Resolution._LABELS = {
    "repaired": N_("Repaired on site"),
    "part_swapped": N_("Part swapped"),
    "device_replaced": N_("Device replaced"),
}


class FaultCategory(LabelledEnum):
    """What is wrong; image-quality categories are opened by the quality area with evidence (Q3)."""

    OFFLINE = "offline"
    SITE_DARK = "site_dark"
    HUNG = "hung"
    NO_RECORDS = "no_records"
    IMAGE_BLUR = "image_blur"
    FILL_LIGHT = "fill_light"
    STROBE = "strobe"
    EXPOSURE = "exposure"
    AIM = "aim"
    INSPECTION = "inspection"
    OTHER = "other"
    ROUTINE_INSPECTION = "routine_inspection"  # P1–P3: planned inspection work, not a fault

    METROLOGY_RENEWAL = "metrology_renewal"  # F5: a certificate to renew (opened by inventory/certificates.py)


FaultCategory._LABELS = {
    "offline": N_("Device offline"),
    "site_dark": N_("Whole site dark"),
    "hung": N_("Device hung"),
    "no_records": N_("No pass records"),
    "image_blur": N_("Blurred image / dirty lens"),
    "fill_light": N_("Fill light fault"),
    "strobe": N_("Strobe fault"),
    "exposure": N_("Wrong exposure / glare"),
    "aim": N_("Camera out of aim"),
    "inspection": N_("Inspection finding"),
    "other": N_("Other"),
    "routine_inspection": N_("Routine inspection"),

    "metrology_renewal": N_("Metrology certificate renewal"),
}

# P3: categories of planned work that are not faults: never counted in fault statistics, the online rate or
# penalties, never opened by hand (the inspections area generates them).
NOT_FAULT_CATEGORIES = frozenset({"routine_inspection"})
FAULT_CATEGORIES = tuple(c for c in FaultCategory if c.value not in NOT_FAULT_CATEGORIES)
# F5: desk work opened by the system (a certificate to renew): a ticket like others, but neither a fault in the
# statistics nor a job the repair deadlines and penalties apply to.
DESK_WORK_CATEGORIES = frozenset({"metrology_renewal"})
NOT_COUNTED_CATEGORIES = NOT_FAULT_CATEGORIES | DESK_WORK_CATEGORIES

# The device kinds mounted on poles and gantries: working on them is work at height (T8).
AT_HEIGHT_KINDS = frozenset({
    "checkpoint_camera", "epolice_camera", "security_checkpoint", "speed_camera",
    "fill_light", "strobe_light", "capture_unit", "speed_radar",
})

# The transitions (action → (from states, to state)); anything else is refused.
TRANSITIONS: dict[str, tuple[frozenset, str]] = {
    "dispatch": (frozenset({"new", "dispatched"}), "dispatched"),
    "depart": (frozenset({"dispatched"}), "on_the_way"),
    "arrive": (frozenset({"dispatched", "on_the_way"}), "arrived"),
    "start_repair": (frozenset({"arrived"}), "repairing"),
    "resolve": (frozenset({"repairing"}), "resolved"),
    "verify": (frozenset({"resolved"}), "verified"),
    "close": (frozenset({"verified"}), "closed"),
    "reopen": (frozenset({"resolved", "verified"}), "repairing"),
    "cancel": (frozenset(OPEN_STATES - {"verified"}), "cancelled"),
    # P3: an inspection order is done on site in one step (its checklist is the inspection's own).
    "complete_inspection": (frozenset({"arrived", "repairing"}), "closed"),
}

ACTION_LABELS = {
    "dispatch": N_("Dispatch"),
    "depart": N_("Set off"),
    "arrive": N_("Check in on site"),
    "start_repair": N_("Start repair"),
    "resolve": N_("Resolve"),
    "verify": N_("Verify"),
    "close": N_("Close"),
    "reopen": N_("Reopen"),
    "cancel": N_("Cancel"),
    "complete_inspection": N_("Complete inspection"),
}

# History lines that are not a transition (shown with msgctxt "TicketAction" like the transitions above), so no
# raw action code (checklist_ticked, part_used …) ever reaches the page.
EVENT_LABELS = {
    "opened": N_("Ticket opened"),
    "checklist_ticked": N_("Safety checklist saved"),
    "part_used": N_("Part used"),
    "part_undone": N_("Part taken back"),
    "photo_added": N_("Photo added"),
    "note_added": N_("Note added"),
    "swap_started": N_("Spare swap started"),
    "back_online": N_("Device back online"),
    "finding_repeated": N_("Finding seen again"),
    "deadline_approaching": N_("Deadline approaching"),
    "deadline_breached": N_("Deadline missed"),
    "device_outage_joined": N_("Another device of the site went down"),
    "inspection_finding": N_("Inspection found a fault"),
    "device_replaced": N_("Device replaced"),
    "no_qualified_crew": N_("Nobody qualified to assign"),
}


def event_label_msgid(action: str) -> str | None:
    """The msgid of a history line's action (transition or event); None for an unknown code."""
    return ACTION_LABELS.get(action) or EVENT_LABELS.get(action)


# ---------------------------------------------------------------- an after-repair photo, per fault category (T7)

# Faults whose repair a photo proves (a light that shines again, a camera back in aim, a cleaned lens): the crew
# cannot resolve without an "after" photo. Offline/hung devices prove themselves by coming back online.
AFTER_PHOTO_REQUIRED = frozenset({"fill_light", "strobe", "aim", "image_blur"})


def needs_after_photo(category: str) -> bool:
    return category in AFTER_PHOTO_REQUIRED


# The crew's one big button: the next step from each state.
NEXT_CREW_ACTION = {
    "dispatched": "depart",
    "on_the_way": "arrive",
    "arrived": "start_repair",
    "repairing": "resolve",
}


def transition(state: str, action: str) -> str:
    """The state after `action`, or IllegalTransition saying what is allowed from here."""
    if action not in TRANSITIONS:
        raise IllegalTransition(Msg("Unknown action %(action)s.", action=repr(action)))
    sources, target = TRANSITIONS[action]
    if state not in sources:
        allowed = [a for a, (src, _t) in TRANSITIONS.items() if state in src]
        state_label = Msg(TicketState._LABELS[state], context="TicketState") if state in TicketState._LABELS else state
        raise IllegalTransition(
            Msg("A ticket in state “%(state)s” cannot be moved by “%(action)s”.", state=state_label,
                action=Msg(ACTION_LABELS[action], context="TicketAction")),
            state=state, action=action, allowed=allowed,
        )
    return target


# ---------------------------------------------------------------- T7: roadside safety checklist

# (key, label msgid); labels are shown with msgctxt "SafetyChecklist".
SAFETY_CHECKLIST = (
    ("vest", N_("Reflective vests on")),
    ("warning_lights", N_("Warning lights on")),
    ("cone_10m", N_("Cone at 10 m")),
    ("cone_30m", N_("Cone at 30 m")),
    ("cone_50m", N_("Cone at 50 m")),
    ("cone_100m", N_("Cone at 100 m")),
    ("cone_200m", N_("Sign at 200 m")),
)
CHECKLIST_CONTEXT = "SafetyChecklist"
CHECKLIST_KEYS = tuple(k for k, _label in SAFETY_CHECKLIST)


def checklist_label(key: str) -> Msg:
    return Msg(dict(SAFETY_CHECKLIST)[key], context=CHECKLIST_CONTEXT)


class ChecklistIncomplete(FleetopsError):
    status_code = 409


def validate_checklist_items(items) -> list[str]:
    unknown = [i for i in items if i not in CHECKLIST_KEYS]
    if unknown:
        raise FleetopsError(Msg("Unknown checklist item(s): %(items)s", items=", ".join(unknown)))
    return [k for k in CHECKLIST_KEYS if k in set(items)]


def require_checklist_complete(ticked) -> None:
    """T7: no work on the roadside before every safety step is ticked."""
    missing = [k for k, _label in SAFETY_CHECKLIST if k not in set(ticked or ())]
    if missing:
        params = {f"m{i}": checklist_label(k) for i, k in enumerate(missing)}
        steps = Msg(", ".join(f"%(m{i})s" for i in range(len(missing))), **params)
        raise ChecklistIncomplete(Msg("Tick every roadside safety step before starting work: %(steps)s", steps=steps),
                                  missing=[str(checklist_label(k)) for k in missing])


# ---------------------------------------------------------------- T8: qualifications

class QualificationKind(LabelledEnum):
    WORK_AT_HEIGHT = "work_at_height"
    ELECTRICIAN = "electrician"
    SECURITY_SYSTEMS = "security_systems"


QualificationKind._LABELS = {
    "work_at_height": N_("Work at height"),
    "electrician": N_("Electrician"),
    "security_systems": N_("Security systems"),
}


@dataclass(frozen=True)
class Qualification:
    kind: str
    valid_from: date | None
    valid_until: date


class NotQualified(FleetopsError):
    status_code = 403


def holds_valid(qualifications, kind: str, on: date) -> bool:
    return any(q.kind == kind and (q.valid_from is None or q.valid_from <= on) and on <= q.valid_until
               for q in qualifications)


# T8: the certificates a job needs, by the device's kind (pole-mounted → work at height; cabinets and power →
# electrician) and by the job's kind for a ticket without a device (a dark site is a power job).
QUALIFICATIONS_BY_DEVICE_KIND: dict[str, tuple[str, ...]] = {
    **{k: ("work_at_height",) for k in AT_HEIGHT_KINDS},
    "cabinet": ("electrician",), "power_supply": ("electrician",),
}
QUALIFICATIONS_BY_CATEGORY: dict[str, tuple[str, ...]] = {"site_dark": ("electrician",)}


def required_qualifications(device_kind: str | None, category: str) -> tuple[str, ...]:
    """T8: every certificate a crew member must hold, valid on the day, to be given this job."""
    need = list(QUALIFICATIONS_BY_DEVICE_KIND.get(device_kind or "", ()))
    need += [q for q in QUALIFICATIONS_BY_CATEGORY.get(category, ()) if q not in need]
    return tuple(need)


def missing_qualifications(qualifications, needed, on: date) -> list[str]:
    return [k for k in needed if not holds_valid(qualifications, k, on)]


def require_qualified(qualifications, needs_height: bool, on: date, who: str = "") -> None:
    """T8: work at height needs a technician whose certificate is valid on that day."""
    if needs_height and not holds_valid(qualifications, QualificationKind.WORK_AT_HEIGHT, on):
        raise NotQualified(Msg("%(who)s holds no work-at-height certificate valid on %(day)s.",
                               who=who or Msg("This technician"), day=on.isoformat()))


class DeadlineKind(LabelledEnum):
    """T2, T3, T5: the clocks a ticket runs against."""

    RESPOND = "respond"
    ARRIVE = "arrive"
    REPAIR = "repair"
    SWAP = "swap"


DeadlineKind._LABELS = {"respond": N_("Response"), "arrive": N_("Arrival"), "repair": N_("Repair"),
                        "swap": N_("Spare swap")}
