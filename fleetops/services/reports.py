"""Supervisors' figures (A2, U4, T9): the dashboard, the monthly acceptance report and the weekly quality summary,
exported as XLSX (one sheet per section, Chinese headers) and PDF (A4, Chinese CID font, charts), and /metrics."""
import io
import re
import statistics
from collections import Counter
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta, timezone
from zoneinfo import ZoneInfo

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from fleetops.domain.choices import IN_SERVICE, DeviceKind
from fleetops.domain.errors import ValidationFailed
from fleetops.models import Device, MetrologyCertificate
from fleetops.models.alerts import Alert, AlertDelivery
from fleetops.models.base import utcnow
from fleetops.models.monitoring import OnlineRateSample, Outage, SiteIncident
from fleetops.models.quality import QualityFinding, SnapshotSample
from fleetops.models.tickets import PartType, StockMovement, Ticket, TicketBreach
from fleetops.platform import parameters

from fleetops.services import uptime

TZ = "Asia/Shanghai"
# Contract numbers this area reads (key → default, description); registered by fleetops.wiring.
PARAMETERS = {
    "report_top_n": (10,
        "A2: how many devices and fault categories the report ranks"),
    "report_recurring_outages": (3,
        "A2: a device with at least N outages in a month is named in the suggestions"),
}


@dataclass
class Section:
    """One part of a report: a sheet in the XLSX, a heading + table in the PDF."""

    key: str
    title: str
    headers: list[str]
    rows: list[list] = field(default_factory=list)
    note: str = ""
    chart: dict | None = None  # {"kind": "bar"|"line", "labels": [...], "values": [...], "target": float|None}
    pdf_limit: int | None = None  # the PDF shows the first N rows; the XLSX has them all


@dataclass
class Report:
    title: str
    period_label: str
    start: datetime
    end: datetime
    sections: list[Section]
    generated_at: datetime

    def section(self, key: str) -> Section:
        return next(s for s in self.sections if s.key == key)


def _pct(v: float | None) -> float | None:
    return None if v is None else round(v, 2)


def _hours(seconds: float | None) -> float | None:
    return None if seconds is None else round(seconds / 3600, 2)


def _kind_label(kind: str) -> str:
    try:
        return DeviceKind(kind).label("zh")
    except ValueError:
        return kind


def _local(dt: datetime | None) -> str:
    return dt.astimezone(ZoneInfo(TZ)).strftime("%Y-%m-%d %H:%M") if dt else ""


def _label(enum_module: str, enum_name: str, value: str) -> str:
    """A stored value's Chinese label from another area's enum, or the value itself."""
    import importlib

    try:
        enum = getattr(importlib.import_module(enum_module), enum_name)
        return enum(value).label("zh")
    except (ImportError, AttributeError, ValueError):
        return value


# Q3: the quality area's finding kinds, in the report's language.
FINDING_LABELS = {"blur": "图像模糊/镜头脏污", "dark": "画面过暗/补光失效", "overexposed": "过曝/眩光",
                  "colour_cast": "偏色", "frozen": "画面冻结", "scene_shift": "相机角度偏移",
                  "plate_illegible": "号牌不可辨认", "faces_not_visible": "人脸不清晰（Q2）",
                  "accuracy_low": "号牌识别率不达标"}


def _finding_label(kind: str) -> str:
    return FINDING_LABELS.get(kind, kind)


def month_bounds(month: str) -> tuple[datetime, datetime]:
    if not re.fullmatch(r"\d{4}-(0[1-9]|1[0-2])", month or ""):
        raise ValidationFailed(f"月份格式应为 YYYY-MM / The month must look like 2026-10, not {month!r}.")
    return uptime.period_bounds("month", month, TZ)


def week_bounds(week: str) -> tuple[datetime, datetime]:
    m = re.fullmatch(r"(\d{4})-W(\d{2})", week or "")
    if not m:
        raise ValidationFailed(f"周格式应为 YYYY-Www / The week must look like 2026-W44, not {week!r}.")
    try:
        monday = date.fromisocalendar(int(m.group(1)), int(m.group(2)), 1)
    except ValueError:
        raise ValidationFailed(f"没有这一周 / There is no week {week}.") from None
    start = datetime(monday.year, monday.month, monday.day, tzinfo=ZoneInfo(TZ))
    return start.astimezone(timezone.utc), (start + timedelta(days=7)).astimezone(timezone.utc)


# --------------------------------------------------------------------------------------------------------------
# Figures
# --------------------------------------------------------------------------------------------------------------
def sla_figures(session: Session, start: datetime, end: datetime) -> dict:
    """T2/T3: on-time arrival and repair shares and mean time to repair, for tickets opened in [start, end).

    A deadline counts once it is decided: met or missed, or passed by the end of the period without being met."""
    tickets = session.scalars(select(Ticket).where(Ticket.opened_at >= start, Ticket.opened_at < end,
                                                   Ticket.state != "cancelled")).all()

    def share(pairs):
        decided = [(due, done) for due, done in pairs if due is not None and (done is not None or due < end)]
        on_time = [1 for due, done in decided if done is not None and done <= due]
        return len(on_time), len(decided)

    arr_ok, arr_n = share([(t.arrive_by, t.arrived_at) for t in tickets])
    rep_ok, rep_n = share([(t.repair_by, t.resolved_at) for t in tickets])
    repairs = [(t.resolved_at - (t.detected_at or t.opened_at)).total_seconds() for t in tickets
               if t.resolved_at is not None]
    return {"tickets": len(tickets), "arrival_on_time": arr_ok, "arrival_decided": arr_n,
            "arrival_pct": _pct(100 * arr_ok / arr_n) if arr_n else None,
            "repair_on_time": rep_ok, "repair_decided": rep_n,
            "repair_pct": _pct(100 * rep_ok / rep_n) if rep_n else None,
            "mttr_h": _hours(statistics.mean(repairs)) if repairs else None, "resolved": len(repairs)}


def penalty(session: Session, start: datetime, end: datetime, fleet_contractual: float | None) -> dict:
    """T9: days late priced per the contract; a month below the uptime target counts as one not-to-spec case."""
    from fleetops.services import tickets

    below = fleet_contractual is not None and fleet_contractual < uptime.target_pct(session)
    return tickets.penalty_estimate(session, since=start, until=end, not_to_spec_cases=1 if below else 0, now=end)


def metrology_rows(session: Session, today: date) -> list[list]:
    warn = int(parameters.get(session, "alerts.certificate_warn_days") or 30)
    newest = (select(MetrologyCertificate.device_id, func.max(MetrologyCertificate.valid_until).label("until"))
              .group_by(MetrologyCertificate.device_id).subquery())
    rows = session.execute(select(Device, MetrologyCertificate).join(newest, newest.c.device_id == Device.id).join(
        MetrologyCertificate, (MetrologyCertificate.device_id == Device.id)
        & (MetrologyCertificate.valid_until == newest.c.until)).where(
        Device.lifecycle.in_([s.value for s in IN_SERVICE])).order_by(MetrologyCertificate.valid_until)).all()
    out, seen = [], set()
    for device, cert in rows:
        if device.id in seen:
            continue
        seen.add(device.id)
        if cert.result == "fail":
            status = "检定不合格（须更换）"
        elif cert.valid_until < today:
            status = "已过期"
        elif cert.valid_until <= today + timedelta(days=warn):
            status = f"{warn} 天内到期"
        else:
            status = "有效"
        out.append([device.code, device.name, _kind_label(device.kind), cert.certificate_no,
                     cert.valid_until.isoformat(), status])
    return out


def _uptime_section(session, key, title, by, start, end, target) -> tuple[Section, list]:
    rows = uptime.uptime_rows(session, start, end, by=by)
    headers = {"device": ["设备编号", "设备名称"], "site": ["点位编号", "点位名称"], "kind": ["设备类型", "类型名称"],
               "district": ["辖区", "辖区名称"]}[by]
    sec = Section(key, title, headers + ["设备数", "在役时长(小时)", "在线时长(小时)", "离线时长(小时)",
                                         "剔除时长(小时)", "无数据时长(小时)", "原始在线率(%)", "合同在线率(%)",
                                         f"达标(≥{target:g}%)"])
    for r in rows:
        c = r.contractual_pct
        sec.rows.append([r.key, r.label, r.devices, _hours(r.in_service_s), _hours(r.up_s), _hours(r.down_s),
                         _hours(r.excluded_s), _hours(r.unknown_s), _pct(r.raw_pct), _pct(c),
                         "—" if c is None else ("是" if c >= target else "否")])
    return sec, rows


def monthly_report(session: Session, month: str, now: datetime | None = None) -> Report:
    """A2: the monthly monitoring report for the contract's acceptance."""
    start, end = month_bounds(month)
    now = now or utcnow()
    target = uptime.target_pct(session)
    top_n = int(parameters.get(session, "report_top_n"))
    sections: list[Section] = []

    fleet = uptime.uptime_rows(session, start, end, by="fleet")
    fleet_row = fleet[0] if fleet else None
    raw = fleet_row.raw_pct if fleet_row else None
    contractual = fleet_row.contractual_pct if fleet_row else None
    sla = sla_figures(session, start, end)
    pen = penalty(session, start, end, contractual)
    outages = session.scalars(select(Outage).where(Outage.started_at >= start, Outage.started_at < end,
                                                   Outage.retracted_at.is_(None))).all()
    incidents = session.scalar(select(func.count()).select_from(SiteIncident).where(
        SiteIncident.started_at >= start, SiteIncident.started_at < end, SiteIncident.retracted_at.is_(None)))

    summary = Section("summary", "概要", ["指标", "数值", "说明"])
    summary.rows = [
        ["统计周期", f"{month}（{_local(start)} 至 {_local(end)}，北京时间）", ""],
        ["考核设备数", fleet_row.devices if fleet_row else 0, "卡口、电子警察、治安卡口、固定测速（U3）"],
        ["原始在线率(%)", _pct(raw), "在线时长 ÷（在线 + 离线）"],
        ["合同在线率(%)", _pct(contractual), "剔除供电部门、网络运营商原因的离线（U3）"],
        ["在线率目标(%)", target, "达标" if contractual is not None and contractual >= target else
         ("未达标" if contractual is not None else "无数据")],
        ["离线次数", len(outages), ""],
        ["点位整体离线次数", incidents or 0, "U5"],
        ["工单数", sla["tickets"], ""],
        ["到场及时率(%)", sla["arrival_pct"], f"{sla['arrival_on_time']}/{sla['arrival_decided']}（T2）"],
        ["修复及时率(%)", sla["repair_pct"], f"{sla['repair_on_time']}/{sla['repair_decided']}（T3）"],
        ["平均修复时长(小时)", sla["mttr_h"], f"已修复 {sla['resolved']} 单，自发现起算"],
        ["罚款估算(元)", float(pen["total"]), f"超时 {pen['days_late']} 天；不达标 {pen['not_to_spec_cases']} 次（T9）"],
    ]
    sections.append(summary)

    dev_sec, dev_rows = _uptime_section(session, "uptime_device", "在线率-设备", "device", start, end, target)
    dev_sec.rows.sort(key=lambda r: (r[9] is None, r[9] if r[9] is not None else 0))
    dev_sec.pdf_limit = 25
    dev_sec.note = "按合同在线率从低到高排列；PDF 仅列前 25 台，完整清单见 XLSX。"
    for key, title, by in (("uptime_site", "在线率-点位", "site"), ("uptime_kind", "在线率-设备类型", "kind"),
                           ("uptime_district", "在线率-辖区", "district")):
        sec, rows = _uptime_section(session, key, title, by, start, end, target)
        if by == "district":
            sec.chart = {"kind": "bar", "labels": [r.label or "（未分区）" for r in rows],
                         "values": [round(r.contractual_pct or 0, 2) for r in rows], "target": target,
                         "title": "各辖区合同在线率(%)"}
        if by == "site":
            sec.pdf_limit = 25
        sections.append(sec)
    sections.insert(1, dev_sec)

    # Daily fleet online rate for the chart (U4), from the sampled real-time rate.
    day_rates = _daily_online_rate(session, start, end)
    trend = Section("online_trend", "每日实时在线率", ["日期", "平均在线率(%)", "采样数"],
                    [[d, r, n] for d, r, n in day_rates])
    trend.pdf_limit, trend.note = 0, "逐日数值见 XLSX。"
    trend.chart = {"kind": "line", "labels": [d[5:] for d, _r, _n in day_rates],
                   "values": [r for _d, r, _n in day_rates], "target": target, "title": "每日实时在线率(%)"}
    sections.append(trend)

    # Top failing devices and fault categories.
    per_device: dict[int, list[Outage]] = {}
    for o in outages:
        per_device.setdefault(o.device_id, []).append(o)
    devices = {d.id: d for d in session.scalars(select(Device).where(Device.id.in_(list(per_device) or [0])))}
    ranked = sorted(per_device.items(), key=lambda kv: (-len(kv[1]), -sum(_dur(o, end) for o in kv[1])))
    top = Section("top_devices", "高频故障设备", ["排名", "设备编号", "设备名称", "点位", "类型", "离线次数",
                                                  "离线时长(小时)", "主要原因"])
    for i, (device_id, outs) in enumerate(ranked[:top_n], 1):
        d = devices[device_id]
        cause = Counter(o.cause for o in outs).most_common(1)[0][0]
        top.rows.append([i, d.code, d.name, d.site.name, _kind_label(d.kind), len(outs),
                         _hours(sum(_dur(o, end) for o in outs)),
                         _label("fleetops.domain.uptime", "OutageCause", cause)])
    sections.append(top)

    cats = Counter(t.category for t in session.scalars(select(Ticket).where(
        Ticket.opened_at >= start, Ticket.opened_at < end, Ticket.state != "cancelled")))
    cat_sec = Section("fault_categories", "故障类别", ["故障类别", "工单数", "占比(%)"])
    total_cats = sum(cats.values())
    for cat, n in cats.most_common():
        cat_sec.rows.append([_label("fleetops.domain.tickets", "FaultCategory", cat), n,
                             _pct(100 * n / total_cats)])
    cat_sec.chart = {"kind": "bar", "labels": [r[0] for r in cat_sec.rows[:8]],
                     "values": [r[1] for r in cat_sec.rows[:8]], "target": None, "title": "各故障类别工单数"}
    sections.append(cat_sec)

    sla_sec = Section("sla", "服务时限", ["指标", "数值"])
    sla_sec.rows = [["工单数", sla["tickets"]], ["到场及时(单)", sla["arrival_on_time"]],
                    ["到场应考核(单)", sla["arrival_decided"]], ["到场及时率(%)", sla["arrival_pct"]],
                    ["修复及时(单)", sla["repair_on_time"]], ["修复应考核(单)", sla["repair_decided"]],
                    ["修复及时率(%)", sla["repair_pct"]], ["平均修复时长(小时)", sla["mttr_h"]]]
    breaches = session.execute(select(TicketBreach, Ticket).join(Ticket, Ticket.id == TicketBreach.ticket_id).where(
        TicketBreach.kind == "breached", TicketBreach.due_at >= start, TicketBreach.due_at < end)
        .order_by(TicketBreach.due_at)).all()
    breach_sec = Section("breaches", "超时记录", ["工单号", "设备/点位", "时限", "截止时间", "记录时间"])
    which = {"respond": "响应", "arrive": "到场", "repair": "修复"}
    for b, t in breaches:
        breach_sec.rows.append([t.id, t.device.code if t.device else t.site.code, which.get(b.which, b.which),
                                _local(b.due_at), _local(b.recorded_at)])
    breach_sec.pdf_limit = 40
    if len(breach_sec.rows) > 40:
        breach_sec.note = f"共 {len(breach_sec.rows)} 条，PDF 列出前 40 条，完整清单见 XLSX。"
    sections += [sla_sec, breach_sec]

    usage = session.execute(select(PartType.code, PartType.name, func.count(StockMovement.id),
                                   func.sum(-StockMovement.quantity))
                            .join(PartType, PartType.id == StockMovement.part_type_id)
                            .where(StockMovement.kind == "issued", StockMovement.at >= start, StockMovement.at < end)
                            .group_by(PartType.code, PartType.name).order_by(func.sum(-StockMovement.quantity).desc()))
    spare_sec = Section("spares", "备件使用", ["备件编号", "备件名称", "领用次数", "领用数量", "当前库存", "最低库存",
                                               "是否低于最低"])
    stock = {r["part_type"].code: r for r in _stock(session)}
    used = set()
    for code, name, times, qty in usage:
        s = stock.get(code, {})
        used.add(code)
        spare_sec.rows.append([code, name, times, int(qty or 0), s.get("on_hand"), s.get("minimum"),
                               "是" if s.get("below") else "否"])
    for code, s in sorted(stock.items()):
        if code not in used:
            spare_sec.rows.append([code, s["part_type"].name, 0, 0, s["on_hand"], s["minimum"],
                                   "是" if s["below"] else "否"])
    sections.append(spare_sec)

    q_sec = Section("quality", "图像质量", ["问题类型", "新发现", "已消除", "月末仍未消除"])
    found = Counter(k for (k,) in session.execute(select(QualityFinding.kind).where(
        QualityFinding.first_seen_at >= start, QualityFinding.first_seen_at < end)))
    cleared = Counter(k for (k,) in session.execute(select(QualityFinding.kind).where(
        QualityFinding.cleared_at >= start, QualityFinding.cleared_at < end)))
    still = Counter(k for (k,) in session.execute(select(QualityFinding.kind).where(
        QualityFinding.first_seen_at < end, (QualityFinding.cleared_at.is_(None)) | (QualityFinding.cleared_at >= end))))
    for kind in sorted(set(found) | set(cleared) | set(still)):
        q_sec.rows.append([_finding_label(kind), found[kind], cleared[kind],
                           still[kind]])
    sections.append(q_sec)
    sections.append(_plate_section(session, month))

    today = (end - timedelta(seconds=1)).astimezone(ZoneInfo(TZ)).date()
    met = Section("metrology", "计量检定", ["设备编号", "设备名称", "类型", "证书编号", "有效期至", "状态"],
                  metrology_rows(session, today), note=f"状态按 {today.isoformat()} 计算（F5），按有效期先后排列；"
                                                       "PDF 列出前 40 台，完整清单见 XLSX。", pdf_limit=40)
    sections.append(met)

    pen_sec = Section("penalty", "罚款估算", ["项目", "数值"], [
        ["合同总额(元)", float(pen["contract_total"])], ["超时天数合计", pen["days_late"]],
        ["超时罚款(元)", float(pen["late_amount"])], ["服务不达标次数", pen["not_to_spec_cases"]],
        ["不达标罚款(元)", float(pen["not_to_spec_amount"])], ["合计(元)", float(pen["total"])]],
        note="T9：每超时一天按合同总额 0.5% 计；合同在线率低于目标计为一次服务不达标（5%）。仅为估算。")
    sections.append(pen_sec)

    sections.append(suggestions(session, month, sections, contractual, target, sla, ranked, devices, cats))
    return Report("交通技术监控设备运维月报", month, start, end, sections, now)


def _dur(o: Outage, end: datetime) -> float:
    return ((o.ended_at or end) - o.started_at).total_seconds()


def _stock(session: Session) -> list[dict]:
    from fleetops.services import spares

    out = []
    for pt in session.scalars(select(PartType).order_by(PartType.code)):
        n = spares.on_hand(session, pt.id)
        out.append({"part_type": pt, "on_hand": n, "minimum": pt.minimum_stock, "below": n < pt.minimum_stock})
    return out


def _plate_section(session: Session, month: str) -> Section:
    sec = Section("plates", "号牌识别准确率", ["设备编号", "时段", "正确", "已判定", "待判定", "准确率(%)", "目标(%)",
                                               "不达标"])
    try:
        from fleetops.services import quality
    except ModuleNotFoundError:  # the quality area is not installed: say so rather than invent figures
        sec.note = "图像质量模块未启用，本节无数据。"
        return sec
    for r in quality.accuracy_table(session, month):
        sec.rows.append([r["device_code"], "白天" if r["period"] == "day" else "夜间", r["correct"], r["judged"],
                         r["pending"], None if r["rate"] is None else round(100 * r["rate"], 2),
                         round(100 * r["target"], 2), "是" if r["flagged"] else "否"])
    # Worst first: the cameras below target, then by accuracy (unjudged last).
    sec.rows.sort(key=lambda r: (r[7] != "是", r[5] is None, r[5] if r[5] is not None else 0))
    sec.pdf_limit = 30
    sec.note = "Q1：白天 ≥ 98%，夜间 ≥ 95%；抽样复核结果，按准确率从低到高排列；PDF 列出前 30 行，完整清单见 XLSX。"
    return sec


def _daily_online_rate(session: Session, start: datetime, end: datetime) -> list[tuple[str, float, int]]:
    tz = ZoneInfo(TZ)
    per_day: dict[str, list[float]] = {}
    for s in session.scalars(select(OnlineRateSample).where(OnlineRateSample.at >= start,
                                                            OnlineRateSample.at < end)):
        total, online = (s.contract_in_service, s.contract_online) if s.contract_in_service else (s.in_service,
                                                                                                   s.online)
        if total:
            per_day.setdefault(s.at.astimezone(tz).date().isoformat(), []).append(100 * online / total)
    return [(d, round(statistics.mean(v), 2), len(v)) for d, v in sorted(per_day.items())]


def suggestions(session, month, sections, contractual, target, sla, ranked, devices, cats) -> Section:
    """A2: improvement suggestions drawn from this month's data — recurring devices, dominant faults, misses."""
    sec = Section("suggestions", "改进建议", ["序号", "建议", "依据"])
    recurring = int(parameters.get(session, "report_recurring_outages"))
    items = []
    for device_id, outs in ranked:
        if len(outs) < recurring:
            break
        d = devices[device_id]
        items.append((f"对 {d.code}（{d.site.name}）进行整机检修或更换，排查供电与网络接入",
                      f"本月离线 {len(outs)} 次（T4：同一故障两次维修后须更换）"))
    if cats:
        cat, n = cats.most_common(1)[0]
        total = sum(cats.values())
        if n / total >= 0.3:
            items.append((f"针对「{_label('fleetops.domain.tickets', 'FaultCategory', cat)}」开展专项排查和预防性维护",
                          f"占本月工单 {100 * n / total:.0f}%（{n}/{total}）"))
    replace = session.execute(select(Device.code, Ticket.replacement_reason).join(
        Ticket, Ticket.device_id == Device.id).where(Ticket.requires_replacement.is_(True),
                                                     Ticket.opened_at < _month_end(month))
        .where(Ticket.state != "cancelled").distinct()).all()
    for code, reason in replace[:10]:
        items.append((f"更换 {code}（整机换新，不再维修）", f"T4：{reason or '同一故障连续两次维修后再次发生'}"))
    from fleetops.models import Site

    key_sites = {c for (c,) in session.execute(select(Site.code).where(Site.key_site.is_(True)))}
    site_sec = next((s for s in sections if s.key == "uptime_site"), None)
    for row in (site_sec.rows if site_sec else []):
        if row[0] in key_sites and row[9] is not None and row[9] < target:
            items.append((f"重点点位 {row[0]} {row[1]} 未达标，列为优先保障对象并加密巡检",
                          f"合同在线率 {row[9]}% < {target:g}%（F2 考核重要点位）"))
    excl = next((s for s in sections if s.key == "uptime_district"), None)
    if excl:
        for row in excl.rows:
            if row[9] is not None and row[9] < target:
                items.append((f"{row[1] or '未分区'} 辖区在线率未达标，建议增派巡检并核查光纤与供电",
                              f"合同在线率 {row[9]}% < {target:g}%"))
    if sla["arrival_pct"] is not None and sla["arrival_pct"] < 100:
        items.append(("优化驻点布局与夜间值班安排，缩短到场时间",
                      f"到场及时率 {sla['arrival_pct']}%（T2）"))
    if sla["repair_pct"] is not None and sla["repair_pct"] < 100:
        items.append(("提高车载备件配置，无法现场修复的及时换件",
                      f"修复及时率 {sla['repair_pct']}%（T3）"))
    spare = next(s for s in sections if s.key == "spares")
    low = [r[1] for r in spare.rows if r[6] == "是"]
    if low:
        items.append((f"补充备件：{'、'.join(low[:6])}", "库存低于最低保有量（S1：每类至少 3 套）"))
    met = next(s for s in sections if s.key == "metrology")
    due = [r[0] for r in met.rows if r[5] != "有效"]
    if due:
        items.append((f"安排计量检定：{'、'.join(due[:6])}" + ("等" if len(due) > 6 else ""),
                      f"{len(due)} 台设备证书过期、不合格或即将到期（F5）"))
    if not items:
        items.append(("本月各项指标正常，保持现有巡检计划", f"合同在线率 {_pct(contractual)}%"))
    sec.rows = [[i, text, why] for i, (text, why) in enumerate(items, 1)]
    return sec


def _month_end(month: str) -> datetime:
    return month_bounds(month)[1]


def weekly_quality_report(session: Session, week: str, now: datetime | None = None) -> Report:
    """A2: the weekly image-quality analysis — samples, findings by kind and by camera, plate accuracy."""
    start, end = week_bounds(week)
    now = now or utcnow()
    sections = []
    samples = session.execute(select(SnapshotSample.device_id, SnapshotSample.period, SnapshotSample.ok,
                                     SnapshotSample.problems).where(
        SnapshotSample.taken_at >= start, SnapshotSample.taken_at < end)).all()
    n_ok = sum(1 for s in samples if s.ok)
    n_problem = sum(1 for s in samples if s.ok and s.problems)
    summ = Section("summary", "概要", ["指标", "数值"], [
        ["统计周期", f"{week}（{_local(start)} 至 {_local(end)}）"],
        ["抽检快照数", len(samples)], ["取图成功", n_ok], ["取图失败", len(samples) - n_ok],
        ["发现问题的快照", n_problem],
        ["白天快照", sum(1 for s in samples if s.period == "day")],
        ["夜间快照", sum(1 for s in samples if s.period == "night")]])
    sections.append(summ)
    found = session.scalars(select(QualityFinding).where(QualityFinding.first_seen_at >= start,
                                                         QualityFinding.first_seen_at < end)).all()
    by_kind = Counter(f.kind for f in found)
    kinds = Section("findings", "问题类型", ["问题类型", "新发现", "本周已消除"])
    cleared = Counter(f.kind for f in found if f.cleared_at is not None and f.cleared_at < end)
    for kind, n in by_kind.most_common():
        kinds.rows.append([_finding_label(kind), n, cleared[kind]])
    kinds.chart = {"kind": "bar", "labels": [r[0] for r in kinds.rows[:8]], "values": [r[1] for r in kinds.rows[:8]],
                   "target": None, "title": "本周各类图像问题数"}
    sections.append(kinds)
    per_dev = Counter(f.device_id for f in found)
    devices = {d.id: d for d in session.scalars(select(Device).where(Device.id.in_(list(per_dev) or [0])))}
    cams = Section("cameras", "问题相机", ["设备编号", "设备名称", "点位", "问题数", "问题类型"])
    for device_id, n in per_dev.most_common(int(parameters.get(session, "report_top_n"))):
        d = devices[device_id]
        kinds_of = sorted({_finding_label(f.kind) for f in found
                           if f.device_id == device_id})
        cams.rows.append([d.code, d.name, d.site.name, n, "、".join(kinds_of)])
    sections.append(cams)
    month = (end - timedelta(seconds=1)).astimezone(ZoneInfo(TZ)).strftime("%Y-%m")
    plates = _plate_section(session, month)
    plates.title = f"号牌识别准确率（{month} 月累计）"
    sections.append(plates)
    return Report("图像质量周报", week, start, end, sections, now)


# --------------------------------------------------------------------------------------------------------------
# Dashboard and /metrics
# --------------------------------------------------------------------------------------------------------------
def dashboard(session: Session, now: datetime | None = None) -> dict:
    """U4 and A2 at a glance: online rate now and today, who is down, tickets by deadline, breaches, stock,
    quality findings, open alerts, and the last 24 h of the sampled online rate for the chart."""
    now = now or utcnow()
    status = uptime.fleet_status(session)
    day_start = now.astimezone(ZoneInfo(TZ)).replace(hour=0, minute=0, second=0, microsecond=0)
    today_rows = uptime.uptime_rows(session, day_start.astimezone(timezone.utc), now, by="fleet") \
        if now > day_start else []
    open_states = ("new", "dispatched", "on_the_way", "arrived", "repairing")
    open_tickets = session.scalars(select(Ticket).where(Ticket.state.in_(open_states))).all()
    buckets = {"overdue": 0, "within_1h": 0, "later": 0, "no_deadline": 0}
    for t in open_tickets:
        due = t.arrive_by if t.arrived_at is None else t.repair_by
        if due is None:
            buckets["no_deadline"] += 1
        elif due <= now:
            buckets["overdue"] += 1
        elif due - now <= timedelta(hours=1):
            buckets["within_1h"] += 1
        else:
            buckets["later"] += 1
    month_start = day_start.replace(day=1).astimezone(timezone.utc)
    breaches = session.scalar(select(func.count()).select_from(TicketBreach).where(
        TicketBreach.kind == "breached", TicketBreach.recorded_at >= month_start))
    samples = session.scalars(select(OnlineRateSample).where(OnlineRateSample.at >= now - timedelta(hours=24))
                              .order_by(OnlineRateSample.at)).all()
    down = session.scalars(select(Device).where(Device.status.in_(("down", "hung", "unreachable")),
                                                Device.lifecycle.in_([s.value for s in IN_SERVICE]))
                           .order_by(Device.status_since).limit(20)).all()
    findings = session.scalar(select(func.count()).select_from(QualityFinding).where(QualityFinding.state == "open"))
    month = now.astimezone(ZoneInfo(TZ)).strftime("%Y-%m")
    plates = _plate_section(session, month)
    judged = sum(r[3] for r in plates.rows)
    correct = sum(r[2] for r in plates.rows)
    return {
        "now": now, "status": status,
        "today_pct": _pct(today_rows[0].contractual_pct) if today_rows else None,
        "today_raw_pct": _pct(today_rows[0].raw_pct) if today_rows else None,
        "target_pct": uptime.target_pct(session),
        "devices_down": sum(n for k, n in status["by_status"].items() if k in ("down", "hung", "unreachable")),
        "down_list": down, "open_tickets": len(open_tickets), "tickets_by_deadline": buckets,
        "breaches_this_month": breaches or 0,
        "stock_below_minimum": [s for s in _stock(session) if s["below"]],
        "open_findings": findings or 0,
        "plate_accuracy_pct": _pct(100 * correct / judged) if judged else None, "plate_judged": judged,
        "open_alerts": session.scalar(select(func.count()).select_from(Alert).where(
            Alert.state == "open", Alert.group_id.is_(None))) or 0,
        "pending_deliveries": session.scalar(select(func.count()).select_from(AlertDelivery).where(
            AlertDelivery.state == "pending")) or 0,
        "series": [(s.at, s.rate_pct) for s in samples if s.rate_pct is not None],
        "open_incidents": len(uptime.open_incidents(session)),
    }


def metrics_text(session: Session, poll_interval_s: int = 60) -> str:
    """Prometheus text exposition (version 0.0.4) for an existing Grafana."""
    status = uptime.fleet_status(session)
    now = utcnow()
    open_tickets = session.scalar(select(func.count()).select_from(Ticket).where(
        Ticket.state.in_(("new", "dispatched", "on_the_way", "arrived", "repairing"))))
    overdue = session.scalar(select(func.count()).select_from(Ticket).where(
        Ticket.state.in_(("new", "dispatched", "on_the_way")), Ticket.arrive_by < now))
    breaches = dict(session.execute(select(TicketBreach.which, func.count()).where(
        TicketBreach.kind == "breached").group_by(TicketBreach.which)).all())
    alerts_open = dict(session.execute(select(Alert.severity, func.count()).where(
        Alert.open_key.is_not(None), Alert.group_id.is_(None)).group_by(Alert.severity)).all())
    outbox = dict(session.execute(select(AlertDelivery.state, func.count()).group_by(AlertDelivery.state)).all())
    poll = last_poll(session, poll_interval_s, now)
    lines = []

    def metric(name, kind, help_, samples):
        lines.append(f"# HELP {name} {help_}")
        lines.append(f"# TYPE {name} {kind}")
        for labels, value in samples:
            lab = ",".join(f'{k}="{_esc(v)}"' for k, v in labels.items())
            lines.append(f"{name}{{{lab}}} {_num(value)}" if lab else f"{name} {_num(value)}")

    metric("fleetops_devices_in_service", "gauge", "In-service devices with an address.",
           [({}, status["in_service"])])
    metric("fleetops_devices", "gauge", "Devices by monitoring status.",
           [({"status": k}, v) for k, v in sorted(status["by_status"].items())])
    metric("fleetops_devices_down", "gauge", "Devices down, hung or unreachable now.",
           [({}, sum(v for k, v in status["by_status"].items() if k in ("down", "hung", "unreachable")))])
    metric("fleetops_online_ratio", "gauge", "Share of in-service devices online now (0-1).",
           [({"scope": "all"}, _ratio(status["online_rate_pct"])),
            ({"scope": "contract"}, _ratio(status["contract_online_rate_pct"]))])
    metric("fleetops_tickets_open", "gauge", "Open tickets.", [({}, open_tickets or 0)])
    metric("fleetops_tickets_arrival_overdue", "gauge", "Open tickets past their arrival deadline.",
           [({}, overdue or 0)])
    metric("fleetops_deadline_breaches_total", "counter", "Recorded deadline breaches.",
           [({"which": w}, breaches.get(w, 0)) for w in ("respond", "arrive", "repair")])
    metric("fleetops_alerts_open", "gauge", "Open alerts by severity.",
           [({"severity": s}, alerts_open.get(s, 0)) for s in ("info", "warning", "critical")])
    metric("fleetops_alert_deliveries", "gauge", "Alert outbox messages by state.",
           [({"state": s}, outbox.get(s, 0)) for s in ("pending", "delivered", "failed", "cancelled")])
    if poll is not None:
        metric("fleetops_poll_cycle_duration_seconds", "gauge",
               "Probe phase of the latest poll cycle: spread of its results' probe times.", [({}, poll["duration_s"])])
        metric("fleetops_poll_last_result_age_seconds", "gauge", "Seconds since the newest probe result.",
               [({}, poll["age_s"])])
    return "\n".join(lines) + "\n"


def last_poll(session: Session, poll_interval_s: int = 60, now: datetime | None = None) -> dict | None:
    """The latest poll cycle as the stored results show it (the poller runs in another process): each result carries
    its own probe time, so the spread of the times within the last cycle is how long probing the fleet took."""
    from fleetops.models.monitoring import ProbeResultRow

    now = now or utcnow()
    latest = session.scalar(select(func.max(ProbeResultRow.at)).where(ProbeResultRow.at >= now - timedelta(days=1)))
    if latest is None:
        return None
    first = session.scalar(select(func.min(ProbeResultRow.at)).where(
        ProbeResultRow.at > latest - timedelta(seconds=poll_interval_s / 2)))
    return {"duration_s": round((latest - first).total_seconds(), 3), "age_s": round((now - latest).total_seconds(), 3),
            "at": latest.timestamp()}


def _esc(v) -> str:
    return str(v).replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")


def _num(v) -> str:
    if v is None:
        return "NaN"
    return repr(float(v)) if isinstance(v, float) else str(int(v))


def _ratio(pct_value) -> float | None:
    return None if pct_value is None else round(pct_value / 100, 6)


# --------------------------------------------------------------------------------------------------------------
# Export: XLSX and PDF
# --------------------------------------------------------------------------------------------------------------
def to_xlsx(report: Report) -> bytes:
    """One sheet per section, Chinese headers, frozen header row; numbers stay numbers."""
    from openpyxl import Workbook
    from openpyxl.styles import Alignment, Font, PatternFill
    from openpyxl.utils import get_column_letter

    wb = Workbook()
    wb.remove(wb.active)
    bold, fill = Font(bold=True), PatternFill("solid", fgColor="DDE6F0")
    for sec in report.sections:
        ws = wb.create_sheet(sec.title[:31])
        ws.append(sec.headers)
        for c in ws[1]:
            c.font, c.fill = bold, fill
            c.alignment = Alignment(wrap_text=True, vertical="center")
        for row in sec.rows:
            ws.append([_cell(v) for v in row])
        if sec.note:
            ws.append([])
            ws.append([sec.note])
        ws.freeze_panes = "A2"
        for i, h in enumerate(sec.headers, 1):
            width = max([len(str(h)) * 2] + [len(str(r[i - 1])) * 1.6 for r in sec.rows[:200] if i - 1 < len(r)])
            ws.column_dimensions[get_column_letter(i)].width = min(60, max(8, width))
    wb.properties.title = f"{report.title} {report.period_label}"
    out = io.BytesIO()
    wb.save(out)
    return out.getvalue()


def _cell(v):
    if v is None:
        return "—"
    if hasattr(v, "as_integer_ratio") or isinstance(v, (int, str)):
        return v
    try:
        from decimal import Decimal

        if isinstance(v, Decimal):
            return float(v)
    except ImportError:  # pragma: no cover
        pass
    return str(v)


PDF_FONT = "STSong-Light"


def _register_font() -> str:
    """reportlab's built-in CID font for Simplified Chinese: no font file needed (robust on any host)."""
    from reportlab.pdfbase import pdfmetrics
    from reportlab.pdfbase.cidfonts import UnicodeCIDFont

    if PDF_FONT not in pdfmetrics.getRegisteredFontNames():
        pdfmetrics.registerFont(UnicodeCIDFont(PDF_FONT))
    return PDF_FONT


def to_pdf(report: Report) -> bytes:
    """A printable A4 report: title page facts, one heading + table per section, bar and line charts."""
    from reportlab.lib import colors
    from reportlab.lib.pagesizes import A4
    from reportlab.lib.styles import ParagraphStyle
    from reportlab.lib.units import mm
    from reportlab.platypus import KeepTogether, Paragraph, SimpleDocTemplate, Spacer, Table, TableStyle

    font = _register_font()
    h1 = ParagraphStyle("h1", fontName=font, fontSize=18, leading=24, spaceAfter=6)
    h2 = ParagraphStyle("h2", fontName=font, fontSize=13, leading=18, spaceBefore=10, spaceAfter=4)
    body = ParagraphStyle("body", fontName=font, fontSize=9, leading=12)
    cell = ParagraphStyle("cell", fontName=font, fontSize=7.5, leading=9.5)
    head = ParagraphStyle("head", fontName=font, fontSize=7.5, leading=9.5, textColor=colors.white)
    width = A4[0] - 30 * mm
    story = [Paragraph(report.title, h1),
             Paragraph(f"统计周期：{report.period_label}（{_local(report.start)} 至 {_local(report.end)}，北京时间）"
                       f"　生成时间：{_local(report.generated_at)}", body), Spacer(1, 4 * mm)]
    for sec in report.sections:
        if sec.chart and sec.chart.get("values"):  # keep the heading on the chart's page
            story.append(KeepTogether([Paragraph(sec.title, h2), _chart(sec.chart, width, font),
                                       Spacer(1, 3 * mm)]))
        else:
            story.append(Paragraph(sec.title, h2))
        rows = sec.rows if sec.pdf_limit is None else sec.rows[:sec.pdf_limit]
        if sec.pdf_limit == 0 and sec.rows:
            pass  # the chart says it; the figures are in the XLSX
        elif rows:
            data = [[Paragraph(str(h), head) for h in sec.headers]]
            data += [[Paragraph("—" if v is None else str(v), cell) for v in r] for r in rows]
            t = Table(data, repeatRows=1, colWidths=[width / len(sec.headers)] * len(sec.headers))
            t.setStyle(TableStyle([
                ("BACKGROUND", (0, 0), (-1, 0), colors.HexColor("#12263f")),
                ("GRID", (0, 0), (-1, -1), 0.3, colors.HexColor("#9aa4b2")),
                ("ROWBACKGROUNDS", (0, 1), (-1, -1), [colors.white, colors.HexColor("#f1f4f8")]),
                ("VALIGN", (0, 0), (-1, -1), "MIDDLE")]))
            story.append(t)
        else:
            story.append(Paragraph("本期无数据。", body))
        if sec.note:
            story.append(Paragraph(sec.note, body))

    def footer(canvas, doc):
        canvas.saveState()
        canvas.setFont(font, 8)
        canvas.drawRightString(A4[0] - 15 * mm, 10 * mm, f"{report.title} {report.period_label}　第 {doc.page} 页")
        canvas.restoreState()

    out = io.BytesIO()
    doc = SimpleDocTemplate(out, pagesize=A4, leftMargin=15 * mm, rightMargin=15 * mm, topMargin=15 * mm,
                            bottomMargin=18 * mm, title=f"{report.title} {report.period_label}", author="fleetops")
    doc.build(story, onFirstPage=footer, onLaterPages=footer)
    return out.getvalue()


def _chart(spec: dict, width: float, font: str):
    from reportlab.graphics.charts.barcharts import VerticalBarChart
    from reportlab.graphics.charts.linecharts import HorizontalLineChart
    from reportlab.graphics.shapes import Drawing, Line, String
    from reportlab.lib import colors

    height = 150
    d = Drawing(width, height)
    d.add(String(0, height - 12, spec.get("title", ""), fontName=font, fontSize=9))
    chart = VerticalBarChart() if spec["kind"] == "bar" else HorizontalLineChart()
    chart.x, chart.y, chart.width, chart.height = 40, 30, width - 60, height - 55
    values = [float(v or 0) for v in spec["values"]]
    chart.data = [values]
    chart.categoryAxis.categoryNames = [str(x)[:10] for x in spec["labels"]]
    chart.categoryAxis.labels.fontName = font
    chart.categoryAxis.labels.fontSize = 7
    chart.categoryAxis.labels.angle = 30 if len(values) > 8 else 0
    chart.categoryAxis.labels.boxAnchor = "ne" if len(values) > 8 else "n"
    chart.valueAxis.labels.fontName = font
    chart.valueAxis.labels.fontSize = 7
    target = spec.get("target")
    top = max(values + [target or 0]) or 1
    low = min(values + [target or top])
    if target is not None and low > 50:  # an uptime chart: zoom on the interesting band
        chart.valueAxis.valueMin = max(0, int(low) - 5)
    else:
        chart.valueAxis.valueMin = 0
    chart.valueAxis.valueMax = top * 1.05 if target is None else min(100, max(top, target) + 1)
    if spec["kind"] == "bar":
        chart.bars[0].fillColor = colors.HexColor("#0b5cad")
        chart.groupSpacing = max(5, chart.width / max(1, len(values)) * 0.6 if len(values) < 4 else 5)
    else:
        chart.lines[0].strokeColor = colors.HexColor("#0b5cad")
        chart.lines[0].strokeWidth = 1.5
    d.add(chart)
    if target is not None:
        vmin, vmax = chart.valueAxis.valueMin, chart.valueAxis.valueMax
        y = chart.y + chart.height * (target - vmin) / ((vmax - vmin) or 1)
        d.add(Line(chart.x, y, chart.x + chart.width, y, strokeColor=colors.HexColor("#b3261e"),
                   strokeDashArray=[3, 2]))
        d.add(String(chart.x + 2, y + 2, f"目标 {target:g}%", fontName=font, fontSize=7,
                     fillColor=colors.HexColor("#b3261e")))
    return d


def export(report: Report, fmt: str) -> bytes:
    if fmt == "xlsx":
        return to_xlsx(report)
    if fmt == "pdf":
        return to_pdf(report)
    raise ValidationFailed(f"只支持 .xlsx 或 .pdf / Only .xlsx or .pdf, not {fmt!r}.")
