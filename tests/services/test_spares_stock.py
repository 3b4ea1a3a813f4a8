"""Spare parts: the ledger, minimum stock (S1), serial numbers (S2), and stock that never goes negative, even in a race."""
import threading
from datetime import timedelta

import pytest
from sqlalchemy import select

from fleetops.domain.errors import InsufficientStock, ValidationFailed
from fleetops.models import AuditLog
from fleetops.models.tickets import SerialPart, StockLevel, StockMovement
from fleetops.platform import events
from fleetops.services import spares, tickets
from tests.tickets_fixtures import bj, make_fleet, qualify, raises_en, second_crew, stock, walk_to_repairing


@pytest.fixture
def repairing(db, users):
    """A ticket in repair on K105-CAM1, the crew qualified for height."""
    fleet = make_fleet(db, users["crew"])
    qualify(db, users["crew"])
    at = bj(2026, 6, 21, 10, 0)
    t = tickets.open_ticket(db, device_id=fleet["cam"].id, category="fill_light", source="quality",
                            opened_by="q", detected_at=at, now=at)
    walk_to_repairing(db, t, users["crew"], at + timedelta(minutes=30))
    db.commit()
    return t


@pytest.fixture
def below_min():
    got = []

    def handler(session, **payload):
        got.append(payload)

    events.connect("stock_below_minimum", handler)
    yield got
    events.disconnect("stock_below_minimum", handler)


def test_issuing_to_a_ticket_is_in_the_ledger_the_history_and_the_audit(db, users, repairing):
    pt, loc = stock(db, on_hand=4)
    spares.issue_to_ticket(db, repairing.id, pt.id, loc.id, 1, actor=users["crew"])
    db.commit()
    assert spares.on_hand(db, pt.id, loc.id) == 3
    kinds = [(m.kind, m.quantity, m.ticket_id) for m in spares.ledger(db, part_type_id=pt.id)]
    assert kinds == [("issued", -1, repairing.id), ("received", 4, None)]
    assert repairing.events[-1].action == "part_used"
    assert db.scalar(select(AuditLog).where(AuditLog.action == "stock_issued")).after["ticket_id"] == repairing.id


def test_stock_cannot_go_below_zero(db, users, repairing):
    pt, loc = stock(db, on_hand=1)
    db.commit()
    with raises_en(InsufficientStock, "Not enough stock: 1"):
        spares.issue_to_ticket(db, repairing.id, pt.id, loc.id, 2, actor=users["crew"])
    db.rollback()
    assert spares.on_hand(db, pt.id, loc.id) == 1
    assert db.scalars(select(StockMovement).where(StockMovement.kind == "issued")).all() == []


def test_falling_below_the_minimum_of_three_announces_it(db, users, repairing, below_min):
    pt, loc = stock(db, on_hand=3)
    assert pt.minimum_stock == 3  # S1 default
    spares.issue_to_ticket(db, repairing.id, pt.id, loc.id, 1, actor=users["crew"])
    assert below_min == [{"part_type_id": pt.id, "location_id": loc.id, "on_hand": 2, "minimum": 3}]
    assert [r["part_type"].code for r in spares.below_minimum(db)] == ["FL-01"]


def test_serialised_parts_are_issued_by_serial_and_failed_ones_go_to_repair(db, users, repairing):
    pt, loc = stock(db, on_hand=3, serialised=True)
    spares.issue_to_ticket(db, repairing.id, pt.id, loc.id, serial="SN0001", actor=users["crew"])
    with pytest.raises(ValidationFailed):
        spares.issue_to_ticket(db, repairing.id, pt.id, loc.id, serial="SN0001", actor=users["crew"])
    spares.send_for_repair(db, pt.id, loc.id, serial="SN0001", actor=users["crew"], note="灯珠损坏")
    db.commit()
    unit = db.scalar(select(SerialPart).where(SerialPart.serial == "SN0001"))
    assert unit.status == "in_repair" and spares.on_hand(db, pt.id) == 2
    spares.return_to_stock(db, pt.id, loc.id, serial="SN0001", actor="test", note="修好返库")
    db.commit()
    assert spares.on_hand(db, pt.id) == 3 and sorted(spares.serial_in_stock(db, pt.id, loc.id)) == [
        "SN0000", "SN0001", "SN0002"]


def test_scrapping_needs_a_reason_and_bad_quantities_are_refused(db, users):
    pt, loc = stock(db, on_hand=3)
    with raises_en(ValidationFailed, "Say why"):
        spares.scrap(db, pt.id, loc.id, 1, actor=users["supervisor"])
    with raises_en(ValidationFailed, "more than 0"):
        spares.receive(db, pt.id, loc.id, -2, actor=users["supervisor"])
    with raises_en(ValidationFailed, "whole number"):
        spares.receive(db, pt.id, loc.id, "two", actor=users["supervisor"])
    spares.scrap(db, pt.id, loc.id, 1, actor=users["supervisor"], note="进水")
    assert spares.on_hand(db, pt.id) == 2


def test_the_same_receipt_sent_twice_is_counted_once(db, users):
    pt, loc = stock(db, on_hand=0)
    db.commit()
    spares.receive(db, pt.id, loc.id, 5, actor="test", request_id="rcv-0001")
    db.commit()
    with pytest.raises(tickets.DuplicateRequest):
        spares.receive(db, pt.id, loc.id, 5, actor="test", request_id="rcv-0001")
    db.rollback()
    assert spares.on_hand(db, pt.id) == 5


def test_two_crews_taking_the_last_unit_at_once_only_one_gets_it(app, db, users, repairing):
    """The race the contract cares about, on whichever database the suite runs (SQLite or PostgreSQL)."""
    crew2 = second_crew(db)
    pt, loc = stock(db, on_hand=1)
    db.commit()
    maker = app.extensions["fleetops.sessionmaker"]
    barrier = threading.Barrier(2)
    outcome = {}

    def take(name, user_id):
        s = maker()
        try:
            from fleetops.models import User

            user = s.get(User, user_id)
            barrier.wait()
            spares.issue_to_ticket(s, repairing.id, pt.id, loc.id, 1, actor=user, request_id=f"take-{name}")
            s.commit()
            outcome[name] = "took"
        except InsufficientStock:
            s.rollback()
            outcome[name] = "refused"
        finally:
            s.close()

    threads = [threading.Thread(target=take, args=("a", users["crew"].id)),
               threading.Thread(target=take, args=("b", crew2.id))]
    for th in threads:
        th.start()
    for th in threads:
        th.join(60)
    assert sorted(outcome.values()) == ["refused", "took"]
    db.expire_all()
    assert db.scalar(select(StockLevel.on_hand).where(StockLevel.part_type_id == pt.id)) == 0
    assert len(db.scalars(select(StockMovement).where(StockMovement.kind == "issued")).all()) == 1


def test_parts_are_taken_only_on_site(db, users):
    fleet = make_fleet(db, users["crew"])
    t = tickets.open_ticket(db, device_id=fleet["cam"].id, category="offline", source="outage", opened_by="m")
    pt, loc = stock(db)
    with raises_en(Exception, "on site"):
        spares.issue_to_ticket(db, t.id, pt.id, loc.id, 1, actor=users["crew"])


def test_transfer_to_a_van_moves_stock_and_never_more_than_is_there(db, users):
    pt, wh = stock(db, on_hand=3)
    van = spares.create_location(db, "VAN-1", "一号运维车", kind="van", actor="test")
    spares.transfer(db, pt.id, wh.id, van.id, 2, actor=users["supervisor"])
    assert (spares.on_hand(db, pt.id, wh.id), spares.on_hand(db, pt.id, van.id), spares.on_hand(db, pt.id)) == (1, 2, 3)
    with pytest.raises(InsufficientStock):
        spares.transfer(db, pt.id, wh.id, van.id, 2, actor=users["supervisor"])
    rows = [(m.kind, m.location.code, m.quantity) for m in spares.ledger(db, part_type_id=pt.id)][:2]
    assert rows == [("transferred", "VAN-1", 2), ("transferred", "WH", -2)]
