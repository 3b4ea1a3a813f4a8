"""The generated demo fleet around Karamay (克拉玛依): one deterministic generator, any size, loopback IPs for the simulator."""
import ipaddress
import random
from dataclasses import dataclass, field
from datetime import date, timedelta

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from fleetops.domain.choices import DeviceKind, Lifecycle
from fleetops.domain.text import Msg
from fleetops.models import AuditLog, Cabinet, ContractParameter, Depot, Device, MetrologyCertificate, Site, User
from fleetops.models.base import utcnow
from fleetops.platform import audit, netpolicy, parameters
from fleetops.platform.clock import local_today

FIRST_IP = ipaddress.IPv4Address("127.20.0.1")  # the simulator answers for 127.20.0.0/14 on loopback
SNAPSHOT_URL = "http://127.0.0.1:5082/cam/{code}/ISAPI/Streaming/channels/101/picture"
# Contract numbers the demo database runs with, so a demo user sees things happen in minutes, not hours
# (the production defaults stay as registered: e.g. one snapshot per camera an hour). Set once, when the
# demo fleet is loaded, and audited with the actor "demo"; a value already stored is left alone.
# The demo's simulated cameras, robots and brokers live on loopback, so its allow-lists name it (platform.netpolicy).
DEMO_PARAMETERS = {"quality_sample_interval_min": 2,
                   netpolicy.CAMERAS: netpolicy.PRIVATE + netpolicy.LOOPBACK,
                   netpolicy.ALERTS: netpolicy.PRIVATE + netpolicy.LOOPBACK,
                   netpolicy.PLATFORMS: netpolicy.PRIVATE + netpolicy.LOOPBACK}

# district → (centre lat, lon, spread in degrees, share of sites)
DISTRICTS = {
    "克拉玛依区": (45.595, 84.880, 0.045, 0.58),
    "独山子区": (44.328, 84.886, 0.030, 0.16),
    "白碱滩区": (45.690, 85.130, 0.030, 0.14),
    "乌尔禾区": (46.090, 85.690, 0.040, 0.12),
}
ROADS = {
    "克拉玛依区": ["世纪大道", "友谊路", "准噶尔路", "迎宾大道", "昆仑路", "天山路", "塔河路", "油建南路", "胜利路",
                "长征路", "南新路", "克拉玛依大道", "阿山路", "银河路", "朝阳路", "西环路", "北京路", "延安路"],
    "独山子区": ["大庆路", "独山子大道", "天北路", "乌鲁木齐西路", "北京路", "金山路", "泉水路"],
    "白碱滩区": ["平北路", "三平路", "中兴路", "汇智路", "白碱滩大道", "金龙路"],
    "乌尔禾区": ["乌尔禾路", "魔鬼城路", "和平路", "G217国道", "S201省道", "沙漠路"],
}
DIRECTIONS = ["由东向西", "由西向东", "由南向北", "由北向南", "双向"]
DEPOTS = [("克拉玛依区运维驻点", "克拉玛依区", 45.601, 84.873), ("独山子区运维驻点", "独山子区", 44.326, 84.882),
          ("乌尔禾区运维驻点", "乌尔禾区", 46.088, 85.688)]
# site type → (code prefix, name suffix, camera kind, share)
SITE_TYPES = [
    ("K", "卡口", DeviceKind.CHECKPOINT_CAMERA, 0.40),
    ("D", "电子警察", DeviceKind.EPOLICE_CAMERA, 0.30),
    ("Z", "治安卡口", DeviceKind.SECURITY_CHECKPOINT, 0.15),
    ("C", "固定测速", DeviceKind.SPEED_CAMERA, 0.15),
]
VENDORS = {
    "camera": [("海康威视", "iDS-2CD9396"), ("大华", "DH-ITC952"), ("宇视", "HC121@TS8CR")],
    "switch": [("华为", "S5735-L8T4S"), ("海康威视", "DS-3E1310P"), ("H3C", "S5130S-10P")],
    "fibre_transceiver": [("烽火", "FH-MC1000"), ("海康威视", "DS-3D01R")],
    "terminal": [("研华", "ARK-3532"), ("海康威视", "DS-TP2200")],
    "capture_unit": [("海康威视", "DS-TP3200"), ("大华", "DH-ITSE0804")],
    "speed_radar": [("川速微波", "CSR-IN"), ("森思泰克", "STJ1-3")],
    "fill_light": [("海康威视", "DS-TL2000"), ("大华", "DH-ITALE")],
    "strobe_light": [("海康威视", "DS-TL3000"), ("中智", "ZZ-SL200")],
    "cabinet": [("威图", "TS8-IoT"), ("中天", "ZT-ITS-800")],
    "power_supply": [("华为", "ETP4830"), ("科华", "KR-1000")],
}
SNMP_KINDS = {DeviceKind.SWITCH, DeviceKind.TERMINAL, DeviceKind.CAPTURE_UNIT, DeviceKind.CABINET,
              DeviceKind.CHECKPOINT_CAMERA, DeviceKind.EPOLICE_CAMERA, DeviceKind.SECURITY_CHECKPOINT,
              DeviceKind.SPEED_CAMERA}
NO_IP_KINDS = {DeviceKind.FILL_LIGHT, DeviceKind.STROBE_LIGHT, DeviceKind.FIBRE_TRANSCEIVER, DeviceKind.POWER_SUPPLY}


@dataclass
class Fleet:
    """Plain records (dicts) of a generated fleet; references are by code."""

    depots: list[dict] = field(default_factory=list)
    sites: list[dict] = field(default_factory=list)
    cabinets: list[dict] = field(default_factory=list)
    devices: list[dict] = field(default_factory=list)
    certificates: list[dict] = field(default_factory=list)


def ip_for(index: int) -> str:
    """The index-th loopback address from 127.20.0.1, skipping .0 and .255 (127.20.x.y, then 127.21.x.y …)."""
    per_block = 254
    third, host = divmod(index, per_block)
    return str(ipaddress.IPv4Address(int(FIRST_IP) - 1 + third * 256 + host + 1))


def generate_fleet(n_devices: int = 600, seed: int = 7, today: date | None = None) -> Fleet:
    """Sites with their cabinet and equipment, added until there are at least `n_devices` devices."""
    rng = random.Random(seed)
    today = today or local_today()
    fleet = Fleet(depots=[{"name": n, "district": d, "latitude": la, "longitude": lo} for n, d, la, lo in DEPOTS])
    names = {d: set() for d in DISTRICTS}
    counters = {prefix: 100 for prefix, *_ in SITE_TYPES}
    n_ip = 0
    expired_done = False
    while len(fleet.devices) < n_devices:
        district = rng.choices(list(DISTRICTS), weights=[v[3] for v in DISTRICTS.values()])[0]
        lat0, lon0, spread, _ = DISTRICTS[district]
        prefix, suffix, camera_kind, _ = rng.choices(SITE_TYPES, weights=[t[3] for t in SITE_TYPES])[0]
        counters[prefix] += 1
        site_code = f"{prefix}{counters[prefix]}"
        roads = ROADS[district]
        road = rng.choice(roads)
        cross = rng.choice([r for r in roads if r != road])
        place = f"{road}与{cross}路口" if rng.random() < 0.7 else f"{road}{rng.randint(1, 60) * 100}米处"
        if place in names[district]:
            place = f"{road}{counters[prefix]}号"
        names[district].add(place)
        key_site = rng.random() < 0.18
        site = {"code": site_code, "name": f"{place}{suffix}", "road": road, "direction": rng.choice(DIRECTIONS),
                "district": district, "latitude": round(lat0 + rng.uniform(-spread, spread), 6),
                "longitude": round(lon0 + rng.uniform(-spread * 1.4, spread * 1.4), 6), "key_site": key_site,
                "depot": next(d for d in DEPOTS if d[1] == district)[0] if district != "白碱滩区" else DEPOTS[0][0]}
        fleet.sites.append(site)
        cabinet_code = f"{site_code}-JG"
        fleet.cabinets.append({"code": cabinet_code, "site_code": site_code,
                               "power_feed": f"市电 户号 6502{rng.randint(10**7, 10**8 - 1)}",
                               "power_account": f"国网克拉玛依供电公司 {rng.randint(1000, 9999)}",
                               "network_circuit": f"{rng.choice(['电信', '联通', '移动'])} KLMY-{rng.randint(100000, 999999)}"})
        installed = today - timedelta(days=rng.randint(200, 2400))

        def add(kind: DeviceKind, suffix_code: str, label: str, parent: str | None, group: str | None = None):
            nonlocal n_ip
            vendor, model = rng.choice(VENDORS[group or kind.value])
            code = f"{site_code}-{suffix_code}"
            dev = {"code": code, "name": f"{site_code} {place}{suffix} {label}", "kind": kind.value,
                   "site_code": site_code, "cabinet_code": cabinet_code, "parent_code": parent or "",
                   "vendor": vendor, "model": model, "serial": f"{model[:2].upper()}{rng.randint(10**9, 10**10 - 1)}",
                   "ip_address": None, "lifecycle": Lifecycle.ONLINE.value, "installed_on": installed,
                   "snmp_version": "", "snmp_port": 161, "snmp_community": "", "snapshot_url": "",
                   "snapshot_username": "", "snapshot_password": ""}
            roll = rng.random()
            if roll < 0.02:
                dev["lifecycle"] = Lifecycle.PLANNED.value
                dev["installed_on"] = None
            elif roll < 0.06:
                dev["lifecycle"] = Lifecycle.INSTALLED.value
            if kind not in NO_IP_KINDS:
                n_ip += 1
                dev["ip_address"] = ip_for(n_ip - 1)
            if kind in SNMP_KINDS:
                dev["snmp_version"] = "v2c"
                dev["snmp_community"] = "".join(rng.choices("abcdefghjkmnpqrstuvwxyz23456789", k=16))
            if kind in {DeviceKind.CHECKPOINT_CAMERA, DeviceKind.EPOLICE_CAMERA, DeviceKind.SECURITY_CHECKPOINT,
                        DeviceKind.SPEED_CAMERA}:
                dev["snapshot_url"] = SNAPSHOT_URL.format(code=code)
                dev["snapshot_username"] = "admin"
                dev["snapshot_password"] = "".join(rng.choices("ABCDEFGHJKLMNPQRSTUVWXYZabcdefghjkmnpqrstuvwxyz23456789", k=14))
            fleet.devices.append(dev)
            return code

        # Fibre uplink at about half the sites: the switch hangs off the transceiver (U5).
        uplink = add(DeviceKind.FIBRE_TRANSCEIVER, "GX", "光纤收发器", None) if rng.random() < 0.3 else None
        switch = add(DeviceKind.SWITCH, "SW", "交换机", uplink)
        if rng.random() < 0.2 or key_site:
            add(DeviceKind.POWER_SUPPLY, "PS", "电源", None)
        if key_site:
            add(DeviceKind.CABINET, "JG", "智能机柜", switch)
        n_cams = rng.choices([1, 2, 3, 4], weights=[62, 27, 7, 4])[0]
        for i in range(1, n_cams + 1):
            cam = add(camera_kind, f"CAM{i}", f"{camera_kind.label('zh')}{i}", switch, group="camera")
            if (i == 1 and rng.random() < 0.85) or rng.random() < 0.1:
                add(DeviceKind.FILL_LIGHT, f"BG{i}", f"补光灯{i}", cam)
            if camera_kind in (DeviceKind.EPOLICE_CAMERA, DeviceKind.CHECKPOINT_CAMERA) and rng.random() < 0.2:
                add(DeviceKind.STROBE_LIGHT, f"BS{i}", f"爆闪灯{i}", cam)
            if camera_kind == DeviceKind.SPEED_CAMERA:
                # F5: speed-measuring devices need a yearly 检定 certificate.
                if not expired_done:
                    valid_until, expired_done = today - timedelta(days=12), True
                elif rng.random() < 0.2:
                    valid_until = today + timedelta(days=rng.randint(3, 30))
                else:
                    valid_until = today + timedelta(days=rng.randint(31, 330))
                fleet.certificates.append({
                    "device_code": cam, "regulation": "JJG 527-2015 机动车超速自动监测系统",
                    "certificate_no": f"XJJL-{today.year}-{rng.randint(10000, 99999)}",
                    "issued_on": valid_until - timedelta(days=365), "valid_until": valid_until, "result": "pass"})
        if camera_kind == DeviceKind.EPOLICE_CAMERA and rng.random() < 0.6:
            add(DeviceKind.CAPTURE_UNIT, "ZP", "抓拍单元", switch)
        if camera_kind == DeviceKind.SPEED_CAMERA:
            add(DeviceKind.SPEED_RADAR, "LD", "测速雷达", switch)
        if rng.random() < (0.45 if camera_kind == DeviceKind.EPOLICE_CAMERA else 0.15):
            add(DeviceKind.TERMINAL, "ZD", "终端机", switch)
    _add_records(fleet, seed, today, n_ip)
    return fleet


def _add_records(fleet: Fleet, seed: int, today: date, n_ip: int) -> None:
    """Issue 12: the command centre with the two platforms, monitored as devices of their own kinds (U7), and a
    certificate for every e-police camera (F5, red-light enforcement). Its own random stream, so the fleet above
    stays the same for a given seed."""
    rng = random.Random(seed * 1009 + 12)
    lat0, lon0, _spread, _ = DISTRICTS["克拉玛依区"]
    fleet.sites.append({"code": "ZX001", "name": "公安交警支队集成指挥中心", "road": "世纪大道", "direction": "",
                        "district": "克拉玛依区", "latitude": lat0, "longitude": lon0, "key_site": True,
                        "depot": DEPOTS[0][0]})
    fleet.cabinets.append({"code": "ZX001-JG", "site_code": "ZX001", "power_feed": "指挥中心机房 UPS",
                           "power_account": "", "network_circuit": "公安视频专网"})
    for i, (kind, suffix, label, vendor, model) in enumerate((
            (DeviceKind.SWITCH, "SW", "核心交换机", "华为", "S5735-L8T4S"),
            (DeviceKind.PLATFORM_SERVER, "PT", "集成指挥平台服务器", "华为", "RH2288H V5"),
            (DeviceKind.VIDEO_PLATFORM, "SP", "视频专网平台", "海康威视", "iVMS-8700"))):
        fleet.devices.append({
            "code": f"ZX001-{suffix}", "name": f"ZX001 {label}", "kind": kind.value, "site_code": "ZX001",
            "cabinet_code": "ZX001-JG", "parent_code": "ZX001-SW" if i else "", "vendor": vendor, "model": model,
            "serial": f"{model[:2].upper()}{rng.randint(10**9, 10**10 - 1)}", "ip_address": ip_for(n_ip + i),
            "lifecycle": Lifecycle.ONLINE.value, "installed_on": today - timedelta(days=900),
            "snmp_version": "v2c" if kind == DeviceKind.SWITCH else "", "snmp_port": 161,
            "snmp_community": "".join(rng.choices("abcdefghjkmnpqrstuvwxyz23456789", k=16))
            if kind == DeviceKind.SWITCH else "", "snapshot_url": "", "snapshot_username": "",
            "snapshot_password": ""})
    for dev in fleet.devices:
        if dev["kind"] == DeviceKind.EPOLICE_CAMERA.value and dev["lifecycle"] != Lifecycle.PLANNED.value:
            valid_until = today + timedelta(days=rng.randint(20, 330))
            fleet.certificates.append({
                "device_code": dev["code"], "regulation": "JJG 1123-2016 机动车闯红灯自动记录系统",
                "certificate_no": f"XJJL-HD-{today.year}-{rng.randint(10000, 99999)}",
                "issued_on": valid_until - timedelta(days=365), "valid_until": valid_until, "result": "pass"})


def write_fleet(session: Session, fleet: Fleet) -> dict:
    """Insert a generated fleet (no audit per row: it is generated data, audited once by the caller)."""
    depots = {}
    for d in fleet.depots:
        depots[d["name"]] = session.scalar(select(Depot).where(Depot.name == d["name"])) or Depot(**d)
        session.add(depots[d["name"]])
    sites = {}
    for s in fleet.sites:
        values = dict(s)
        depot = values.pop("depot", None)
        sites[s["code"]] = Site(**values, depot=depots.get(depot))
    session.add_all(sites.values())
    cabinets = {c["code"]: Cabinet(**{k: v for k, v in c.items() if k != "site_code"}, site=sites[c["site_code"]])
                for c in fleet.cabinets}
    session.add_all(cabinets.values())
    session.flush()
    now = utcnow()
    devices = {}
    for d in fleet.devices:
        values = {k: v for k, v in d.items() if k not in ("site_code", "cabinet_code", "parent_code")}
        dev = Device(**values, site_id=sites[d["site_code"]].id, cabinet_id=cabinets[d["cabinet_code"]].id,
                     in_service_from=now if d["lifecycle"] != Lifecycle.PLANNED.value else None)
        devices[d["code"]] = dev
    session.add_all(devices.values())
    session.flush()
    for d in fleet.devices:
        if d["parent_code"]:
            devices[d["code"]].parent_id = devices[d["parent_code"]].id
    session.add_all(MetrologyCertificate(device_id=devices[c["device_code"]].id,
                                         **{k: v for k, v in c.items() if k != "device_code"})
                    for c in fleet.certificates)
    session.flush()
    return {"depots": len(fleet.depots), "sites": len(fleet.sites), "cabinets": len(fleet.cabinets),
            "devices": len(fleet.devices), "certificates": len(fleet.certificates)}


def load_demo_fleet(session: Session, seed: int = 7, n_devices: int = 600, today: date | None = None,
                    liveness: str = "ping") -> dict:
    """Load the demo fleet into an empty inventory; does nothing (returns {}) when any site exists. Caller commits.

    `liveness` is the method every demo device with an address is checked by: "ping", or "tcp" when the simulator
    cannot drop ICMP (no root) — then a simulated "dead" device closes its TCP port and goes red as it should.

    The demo's contract numbers (DEMO_PARAMETERS) are stored with it, and also added to a database the demo fleet
    was loaded into earlier (it has the "demo_fleet_loaded" audit row), never to any other inventory.
    """
    if session.scalar(select(func.count(Site.id))):
        if session.scalar(select(AuditLog.id).where(AuditLog.action == "demo_fleet_loaded").limit(1)) is not None:
            set_demo_parameters(session)
        return {}
    fleet = generate_fleet(n_devices, seed, today)
    for d in fleet.devices:
        d["liveness_probe"] = liveness
    summary = write_fleet(session, fleet)
    audit.record(session, "system", "demo_fleet_loaded", "inventory", "demo",
                 summary=Msg("seed %(seed)s: %(sites)s sites, %(devices)s devices", seed=seed, sites=summary["sites"],
                             devices=summary["devices"]), after=summary)
    set_demo_parameters(session)
    from fleetops.services.inspections import load_preset  # P1–P3: the checkpoint contract's inspection plans

    load_preset(session, "checkpoint_om", actor="demo")
    summary["crew"] = add_demo_crew(session, today or local_today())
    return summary


def add_demo_crew(session: Session, today: date) -> list[str]:
    """T8 in the demo: one crew member per district at its depot, holding work at height and electrician, so that
    auto-dispatch has someone qualified to give each job to. Their passwords are random and shown to nobody: an
    admin sets one (管理 › 用户, or `fleetops set-password NAME`) to sign in as crew. Returns the user names."""
    from fleetops.services import accounts, tickets

    names = []
    for i, district in enumerate(DISTRICTS, 1):
        name = f"demo-crew-{i}"
        if session.scalar(select(User.id).where(User.username == name)) is not None:
            continue
        depot_name = next((d[0] for d in DEPOTS if d[1] == district), DEPOTS[0][0])
        user, _password = accounts.create_user(session, name, "crew", display_name=f"{district}维护组",
                                               district=district, actor="demo")
        user.depot_id = session.scalar(select(Depot.id).where(Depot.name == depot_name))
        for kind in ("work_at_height", "electrician"):
            tickets.add_qualification(session, user.id, kind, today + timedelta(days=730),
                                      valid_from=today - timedelta(days=365), certificate_no=f"DEMO-{kind}-{i}",
                                      actor="demo")
        names.append(name)
    session.flush()
    return names


def set_demo_parameters(session: Session) -> dict:
    """Store the demo's contract numbers (DEMO_PARAMETERS) where none is stored yet; returns those set. Caller commits."""
    changed = {}
    for key, value in DEMO_PARAMETERS.items():
        if session.get(ContractParameter, key) is None:
            parameters.set_value(session, key, value, "demo")
            changed[key] = value
    return changed


def fleet_rows(fleet: Fleet) -> list[dict]:
    """The fleet as import rows (English field names), e.g. to benchmark the importer at 10,000 devices."""
    sites = {s["code"]: s for s in fleet.sites}
    rows = []
    for d in fleet.devices:
        s = sites[d["site_code"]]
        rows.append({"code": d["code"], "name": d["name"], "kind": d["kind"], "site_code": s["code"],
                     "site_name": s["name"], "road": s["road"], "direction": s["direction"],
                     "district": s["district"], "longitude": s["longitude"], "latitude": s["latitude"],
                     "key_site": "yes" if s["key_site"] else "no", "cabinet": d["cabinet_code"],
                     "ip_address": d["ip_address"] or "", "parent": d["parent_code"], "vendor": d["vendor"],
                     "model": d["model"], "serial": d["serial"], "lifecycle": d["lifecycle"],
                     "installed_on": d["installed_on"].isoformat() if d["installed_on"] else "",
                     "snmp_version": d["snmp_version"], "snmp_port": d["snmp_port"],
                     "snmp_community": d["snmp_community"], "snapshot_url": d["snapshot_url"],
                     "snapshot_username": d["snapshot_username"], "snapshot_password": d["snapshot_password"]})
    return rows


def record_simulated_ports(session: Session, ports: dict[str, tuple[int | None, int | None]]) -> int:
    """Store the SNMP and TCP liveness ports the simulator really serves (code → (snmp, tcp); None = not served),
    e.g. 1161 instead of 161 when it runs without root, so the poll asks where the simulated devices answer.
    Only loopback devices change; each change is audited (actor "simulator"). Returns how many changed. Caller
    commits."""
    from fleetops.domain.choices import liveness_tcp_port

    changed = 0
    for chunk in _chunks(sorted(ports)):
        for dev in session.scalars(select(Device).where(Device.code.in_(chunk))):
            if not dev.ip_address or ipaddress.IPv4Address(dev.ip_address) not in LOOPBACK:
                continue
            snmp_port, tcp_port = ports[dev.code]
            before = {"snmp_port": dev.snmp_port, "liveness_port": dev.liveness_port}
            if snmp_port and dev.snmp_version and dev.snmp_port != snmp_port:
                dev.snmp_port = snmp_port
            if tcp_port and liveness_tcp_port(dev.kind, dev.liveness_port) != tcp_port:
                dev.liveness_port = tcp_port
            after = {"snmp_port": dev.snmp_port, "liveness_port": dev.liveness_port}
            if after != before:
                changed += 1
                audit.record(session, "simulator", "device_ports_simulated", "device", dev.code,
                             summary=Msg("The simulator serves this device on SNMP port %(snmp)s, TCP port %(tcp)s",
                                         snmp=after["snmp_port"], tcp=after["liveness_port"] or "-"),
                             before=before, after=after)
    return changed


LOOPBACK = ipaddress.IPv4Network("127.0.0.0/8")


def _chunks(seq, n=900):
    for i in range(0, len(seq), n):
        yield seq[i:i + n]
