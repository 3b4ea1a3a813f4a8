"""Test data for the tickets area: a depot, key and ordinary sites far west of Beijing time, cameras, crews, parts."""
import re
from contextlib import contextmanager
from datetime import date, datetime, timedelta, timezone
from zoneinfo import ZoneInfo

import pytest

from fleetops.domain.text import Msg
from fleetops.models import Depot, Device, Site
from fleetops.services import accounts, spares, tickets

BJ = ZoneInfo("Asia/Shanghai")


def bj(*args) -> datetime:
    return datetime(*args, tzinfo=BJ)


def make_fleet(db, crew=None):
    """Depot in 克拉玛依-like coordinates; K-105 北门卡口 10 km away; a 'far' site 150 km away by road."""
    depot = Depot(name="一号驻点", district="白碱滩区", latitude=45.6, longitude=84.9)
    db.add(depot)
    db.flush()
    near = Site(code="K-105", name="K-105 北门卡口", road="迎宾大道", direction="北向", district="白碱滩区",
                latitude=45.65, longitude=84.95, key_site=True, depot_id=depot.id)
    far = Site(code="K-230", name="K-230 独山子卡口", road="G217", direction="南向", district="白碱滩区",
               latitude=44.33, longitude=84.87, depot_id=depot.id, road_distance_km=150.0)
    db.add_all([near, far])
    db.flush()
    cam = Device(code="K105-CAM1", name="北门卡口相机1", kind="checkpoint_camera", site_id=near.id,
                 ip_address="127.0.0.51", status="down")
    cam2 = Device(code="K105-CAM2", name="北门卡口相机2", kind="checkpoint_camera", site_id=near.id,
                  ip_address="127.0.0.52", status="down")
    cabinet = Device(code="K105-CAB", name="北门机柜", kind="cabinet", site_id=near.id, ip_address="127.0.0.53")
    far_cam = Device(code="K230-CAM1", name="独山子相机1", kind="speed_camera", site_id=far.id,
                     ip_address="127.0.0.61", status="down")
    db.add_all([cam, cam2, cabinet, far_cam])
    if crew is not None:
        crew.district, crew.depot_id = "白碱滩区", depot.id
    db.flush()
    return {"depot": depot, "near": near, "far": far, "cam": cam, "cam2": cam2, "cabinet": cabinet,
            "far_cam": far_cam}


def qualify(db, user, until=date(2099, 1, 1), electrician=True):
    """Work at height (and, for cabinet and power jobs, electrician) valid until `until`: auto-dispatch gives a job
    only to crew holding every certificate it needs (T8)."""
    if electrician:
        tickets.add_qualification(db, user.id, "electrician", until, valid_from=date(2020, 1, 1),
                                  certificate_no="E-2024-0815", actor="test")
    return tickets.add_qualification(db, user.id, "work_at_height", until, valid_from=date(2020, 1, 1),
                                     certificate_no="T-2024-0815", actor="test")


def walk_to_repairing(db, ticket, crew, at):
    """arrive → full checklist → start repair, as the crew."""
    tickets.record_arrival(db, ticket.id, actor=crew, at=at, lat=45.65, lon=84.95)
    tickets.tick_checklist(db, ticket.id, [k for k in tickets.rules.CHECKLIST_KEYS], actor=crew)
    tickets.start_repair(db, ticket.id, actor=crew, at=at + timedelta(minutes=5))
    return ticket


def stock(db, *, on_hand=3, serialised=False):
    pt = spares.create_part_type(db, "FL-01", "补光灯", device_kind="fill_light", serialised=serialised, actor="test")
    loc = spares.create_location(db, "WH", "中心仓库", actor="test")
    if serialised:
        spares.receive(db, pt.id, loc.id, serials=[f"SN{i:04d}" for i in range(on_hand)], actor="test")
    elif on_hand:
        spares.receive(db, pt.id, loc.id, on_hand, actor="test")
    return pt, loc


def second_crew(db, district="白碱滩区"):
    user, _ = accounts.create_user(db, "crew2", "crew", "crew2-pass-123", display_name="李强", district=district)
    return user


UTC = timezone.utc


@contextmanager
def raises_en(exc_type, match: str):
    """pytest.raises with `match` checked against the English rendering of the error's message (its Msg)."""
    with pytest.raises(exc_type) as info:
        yield info
    msg = getattr(info.value, "msg", None)
    text = msg.render("en") if isinstance(msg, Msg) else str(info.value)
    assert re.search(match, text), f"{match!r} not in {text!r}"


def after_photo_jpeg() -> bytes:
    """A small real JPEG for the after-repair photo that some fault kinds need before resolving (T7)."""
    import cv2
    import numpy as np

    img = np.zeros((60, 80, 3), np.uint8)
    img[:, :40] = (40, 160, 220)
    return cv2.imencode(".jpg", img)[1].tobytes()
