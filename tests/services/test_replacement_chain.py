"""S2, T4 (issue 12 part 5): replacing a device on its ticket issues the new unit from stock by serial, retires the
old serial and records the chain (shown on the device page); acceptance checks serial/box/batch against the
delivery record (matches and mismatches); delivery import is all or nothing."""
from datetime import timedelta

import pytest
from sqlalchemy import func, select

from fleetops.domain.errors import ValidationFailed
from fleetops.models.records import DeliveryItem
from fleetops.models.tickets import SerialPart
from fleetops.services import spares, tickets
from fleetops.services.spares import replacement
from tests.tickets_fixtures import bj, make_fleet, qualify, walk_to_repairing


@pytest.fixture
def setup(db, users):
    f = make_fleet(db, users["crew"])
    qualify(db, users["crew"])
    f["cam"].serial = "OLD-001"
    pt = spares.create_part_type(db, "CAM-CP", "卡口相机整机", device_kind="checkpoint_camera", serialised=True,
                                 actor="test")
    loc = spares.create_location(db, "WH", "中心仓库", actor="test")
    spares.receive(db, pt.id, loc.id, serials=["NEW-101", "NEW-102"], actor="test")
    db.commit()
    return f, pt, loc


def _ticket(db, users, device, at, category="offline"):
    t = tickets.open_ticket(db, device_id=device.id, category=category, source="supervisor", opened_by="system",
                            detected_at=at)
    walk_to_repairing(db, t, users["crew"], at + timedelta(minutes=30))
    db.commit()
    return t


def test_replacement_issues_by_serial_and_records_the_chain(app, db, users, setup, client_as):
    f, pt, loc = setup
    t1 = _ticket(db, users, f["cam"], bj(2026, 6, 1, 10, 0))
    replacement.replace_device(db, t1.id, part_type_id=pt.id, location_id=loc.id, new_serial="NEW-101",
                               actor=users["crew"])
    db.commit()
    unit = db.scalar(select(SerialPart).where(SerialPart.serial == "NEW-101"))
    assert (unit.status, unit.ticket_id) == ("installed", t1.id)
    assert spares.on_hand(db, pt.id, loc.id) == 1
    assert f["cam"].serial == "NEW-101"
    tickets.resolve(db, t1.id, "device_replaced", actor=users["crew"], at=bj(2026, 6, 1, 12, 0))
    db.commit()
    t2 = _ticket(db, users, f["cam"], bj(2026, 6, 10, 10, 0), "hung")
    replacement.replace_device(db, t2.id, part_type_id=pt.id, location_id=loc.id, new_serial="NEW-102",
                               actor=users["crew"])
    db.commit()
    chain = replacement.serial_chain(db, f["cam"].id)
    assert [(c.old_serial, c.new_serial) for c in chain] == [("OLD-001", "NEW-101"), ("NEW-101", "NEW-102")]
    # a serial no longer in stock cannot be issued again; nothing changes
    t3 = _ticket(db, users, f["cam2"], bj(2026, 6, 11, 10, 0))
    with pytest.raises(ValidationFailed):
        replacement.replace_device(db, t3.id, part_type_id=pt.id, location_id=loc.id, new_serial="NEW-101",
                                   actor=users["crew"])
    db.rollback()
    assert len(replacement.serial_chain(db, f["cam2"].id)) == 0
    html = client_as("supervisor").get("/devices/K105-CAM1").get_data(as_text=True)
    chain_html = html[html.index('id="serial-chain"'):]
    assert chain_html.index("OLD-001") < chain_html.index("NEW-101") < chain_html.index("NEW-102")


def test_replacement_refuses_a_part_type_for_another_kind(db, users, setup):
    f, _pt, loc = setup
    other = spares.create_part_type(db, "CAB-1", "机柜", device_kind="cabinet", serialised=True, actor="test")
    spares.receive(db, other.id, loc.id, serials=["CAB-9"], actor="test")
    db.commit()
    t = _ticket(db, users, f["cam"], bj(2026, 6, 1, 10, 0))
    with pytest.raises(ValidationFailed) as err:
        replacement.replace_device(db, t.id, part_type_id=other.id, location_id=loc.id, new_serial="CAB-9",
                                   actor=users["crew"])
    assert "part_type_id" in err.value.details["errors"]


DELIVERY = ("送货单号,序列号,箱号,批次号,型号\n"
            "DN-7,SN-1,BOX-1,B2026-05,iDS-9396\n"
            "DN-7,SN-2,BOX-1,B2026-05,iDS-9396\n"
            "DN-7,SN-3,BOX-2,B2026-05,iDS-9396\n").encode()


def test_acceptance_lists_matches_and_mismatches(db, users):
    assert replacement.import_delivery(db, DELIVERY, "dn7.csv", users["supervisor"]) == 3
    db.commit()
    scanned = replacement.parse_scanned("SN-1,BOX-1,B2026-05\nSN-2,BOX-9,B2026-05\nSN-X,BOX-1,B2026-05\n")
    result = replacement.accept_delivery(db, "DN-7", scanned, users["supervisor"])
    db.commit()
    assert result.matched == ["SN-1"]
    assert result.mismatched == [{"serial": "SN-2", "field": "box_no", "expected": "BOX-1", "got": "BOX-9"}]
    assert result.unexpected == ["SN-X"] and result.missing == ["SN-3"] and not result.ok
    accepted = {i.serial for i in db.scalars(select(DeliveryItem).where(DeliveryItem.accepted_at.is_not(None)))}
    assert accepted == {"SN-1"}


def test_delivery_import_bad_rows_write_nothing(db, users):
    bad = "送货单号,序列号,箱号,批次号\nDN-8,SN-1,BOX-1,B1\nDN-8,,BOX-1,B1\nDN-8,SN-1,BOX-2,B1\n".encode()
    with pytest.raises(ValidationFailed) as err:
        replacement.import_delivery(db, bad, "dn8.csv", users["supervisor"])
    db.rollback()
    text = " ".join(err.value.details["errors"])
    assert "3" in text and "4" in text and len(err.value.details["errors"]) == 2
    assert db.scalar(select(func.count()).select_from(DeliveryItem)) == 0


def test_replace_page_from_the_ticket(app, db, users, setup, client_as):
    f, pt, loc = setup
    t = _ticket(db, users, f["cam"], bj(2026, 6, 1, 10, 0))
    crew = client_as("crew")
    assert 'id="replace-device"' in crew.get(f"/tickets/{t.id}").get_data(as_text=True)
    bad = crew.post(f"/records/tickets/{t.id}/replace", data={"part_type_id": pt.id, "location_id": loc.id,
                                                               "serial": "NOPE-1"})
    assert bad.status_code == 422
    ok = crew.post(f"/records/tickets/{t.id}/replace", data={"part_type_id": pt.id, "location_id": loc.id,
                                                              "serial": "NEW-102"})
    assert ok.status_code == 302
    db.expire_all()
    assert [c.new_serial for c in replacement.serial_chain(db, f["cam"].id)] == ["NEW-102"]
