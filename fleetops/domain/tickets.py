"""The ticket's life: states and legal transitions, resolutions, the roadside safety checklist (T7), the height gate (T8)."""
from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from fleetops.domain.choices import LabelledEnum
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
    "new": ("新建", "New"),
    "dispatched": ("已派单", "Dispatched"),
    "on_the_way": ("在途", "On the way"),
    "arrived": ("已到场", "Arrived"),
    "repairing": ("维修中", "Repairing"),
    "resolved": ("已处理", "Resolved"),
    "verified": ("已验证", "Verified"),
    "closed": ("已关闭", "Closed"),
    "cancelled": ("已取消", "Cancelled"),
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
    "repaired": ("现场修复", "Repaired on site"),
    "part_swapped": ("更换备件", "Part swapped"),
    "device_replaced": ("更换整机", "Device replaced"),
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


FaultCategory._LABELS = {
    "offline": ("设备离线", "Device offline"),
    "site_dark": ("点位整体断电/断网", "Whole site dark"),
    "hung": ("设备假死", "Device hung"),
    "no_records": ("无过车数据上传", "No pass records"),
    "image_blur": ("图像模糊/镜头脏污", "Blurred image / dirty lens"),
    "fill_light": ("补光灯故障", "Fill light fault"),
    "strobe": ("爆闪灯故障", "Strobe fault"),
    "exposure": ("曝光异常/眩光", "Wrong exposure / glare"),
    "aim": ("相机角度偏移", "Camera out of aim"),
    "inspection": ("巡检发现", "Inspection finding"),
    "other": ("其他", "Other"),
}

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
}

ACTION_LABELS = {
    "dispatch": ("派单", "Dispatch"),
    "depart": ("出发", "Set off"),
    "arrive": ("到场签到", "Check in on site"),
    "start_repair": ("开始维修", "Start repair"),
    "resolve": ("处理完成", "Resolve"),
    "verify": ("验证恢复", "Verify"),
    "close": ("关闭工单", "Close"),
    "reopen": ("重新维修", "Reopen"),
    "cancel": ("取消工单", "Cancel"),
}

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
        raise IllegalTransition(f"未知操作 {action!r} / Unknown action {action!r}.")
    sources, target = TRANSITIONS[action]
    if state not in sources:
        allowed = [a for a, (src, _t) in TRANSITIONS.items() if state in src]
        zh_state, en_state = TicketState._LABELS.get(state, (state, state))
        zh_act, en_act = ACTION_LABELS[action]
        raise IllegalTransition(
            f"工单处于“{zh_state}”，不能“{zh_act}” / A ticket that is {en_state.lower()} cannot be "
            f"moved by “{en_act}”. Allowed: {', '.join(allowed) or 'nothing'}.",
            state=state, action=action, allowed=allowed,
        )
    return target


# ---------------------------------------------------------------- T7: roadside safety checklist

SAFETY_CHECKLIST = (
    ("vest", "穿戴反光背心", "Reflective vests on"),
    ("warning_lights", "开启警示灯", "Warning lights on"),
    ("cone_10m", "10 米处摆放锥桶", "Cone at 10 m"),
    ("cone_30m", "30 米处摆放锥桶", "Cone at 30 m"),
    ("cone_50m", "50 米处摆放锥桶", "Cone at 50 m"),
    ("cone_100m", "100 米处摆放锥桶", "Cone at 100 m"),
    ("cone_200m", "200 米处摆放警示牌", "Sign at 200 m"),
)
CHECKLIST_KEYS = tuple(k for k, _zh, _en in SAFETY_CHECKLIST)


class ChecklistIncomplete(FleetopsError):
    status_code = 409


def validate_checklist_items(items) -> list[str]:
    unknown = [i for i in items if i not in CHECKLIST_KEYS]
    if unknown:
        raise FleetopsError(f"未知安全检查项 / Unknown checklist item(s): {', '.join(unknown)}")
    return [k for k in CHECKLIST_KEYS if k in set(items)]


def require_checklist_complete(ticked) -> None:
    """T7: no work on the roadside before every safety step is ticked."""
    missing = [zh for k, zh, _en in SAFETY_CHECKLIST if k not in set(ticked or ())]
    if missing:
        raise ChecklistIncomplete("开始维修前请完成安全检查：" + "、".join(missing)
                                  + " / Tick every roadside safety step before starting work.", missing=missing)


# ---------------------------------------------------------------- T8: qualifications

class QualificationKind(LabelledEnum):
    WORK_AT_HEIGHT = "work_at_height"
    ELECTRICIAN = "electrician"
    SECURITY_SYSTEMS = "security_systems"


QualificationKind._LABELS = {
    "work_at_height": ("高处作业证", "Work at height"),
    "electrician": ("电工证", "Electrician"),
    "security_systems": ("安防系统资格", "Security systems"),
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


def require_qualified(qualifications, needs_height: bool, on: date, who: str = "") -> None:
    """T8: work at height needs a technician whose certificate is valid on that day."""
    if needs_height and not holds_valid(qualifications, QualificationKind.WORK_AT_HEIGHT, on):
        raise NotQualified(f"{who} 没有 {on.isoformat()} 有效的高处作业证，不能进行高处作业 / "
                           f"{who or 'This technician'} holds no work-at-height certificate valid on "
                           f"{on.isoformat()} (T8).")
