"""Issue 14 part 4 and issue 13 part 8: the busy pages are paged in SQL, worst first, with the full list in the
exports; their number of SQL statements does not grow with the fleet; the uptime report says when a month has no
data; bad paging parameters are a 400, never a 500. Runs on SQLite and on PostgreSQL."""
import csv
import io
from datetime import datetime, timedelta, timezone

import pytest
from openpyxl import load_workbook
from sqlalchemy import event, insert, select

from fleetops.models import Device, Site
from fleetops.models.monitoring import OnlineRateSample, Outage, StatusInterval
from fleetops.models.tickets import Ticket
from fleetops.platform import clock
from fleetops.services.monitoring import uptime

UTC = timezone.utc


def _month_start() -> datetime:
    today = clock.local_now()
    return today.replace(day=1, hour=0, minute=0, second=0, microsecond=0).astimezone(UTC)


def seed(db, n: int, crew=None, down_every: int = 3) -> list[Device]:
    """n cameras at n // 4 + 1 sites in two districts, in service since the month began. Device i was down i minutes
    (so the worst has the highest i); every `down_every`-th device is down now with an open outage and ticket."""
    start = _month_start()
    sites = [Site(code=f"P{i:03d}", name=f"点位{i}", district="天山区" if i % 2 else "新市区", latitude=43.8,
                  longitude=87.6) for i in range(n // 4 + 1)]
    db.add_all(sites)
    db.flush()
    devs = [Device(code=f"P-CAM{i:03d}", name=f"卡口{i}", kind="checkpoint_camera", site_id=sites[i // 4].id,
                   lifecycle="online", ip_address=f"127.30.{i // 250}.{i % 250 + 1}", in_service_from=start)
            for i in range(n)]
    db.add_all(devs)
    db.flush()
    s0 = int(start.timestamp())
    now = int(datetime.now(UTC).timestamp())
    rows, tickets = [], []
    for i, d in enumerate(devs):
        o = Outage(device_id=d.id, started_at=datetime.fromtimestamp(s0 + 60, UTC),
                   detected_at=datetime.fromtimestamp(s0 + 120, UTC),
                   ended_at=datetime.fromtimestamp(s0 + 60 + 60 * (i + 1), UTC), cause="device_fault")
        db.add(o)
        db.flush()
        rows += [{"device_id": d.id, "start_s": s0, "end_s": s0 + 60, "state": "up", "outage_id": None},
                 {"device_id": d.id, "start_s": s0 + 60, "end_s": s0 + 60 + 60 * (i + 1), "state": "down",
                  "outage_id": o.id},
                 {"device_id": d.id, "start_s": s0 + 60 + 60 * (i + 1), "end_s": now, "state": "up",
                  "outage_id": None}]
        if i % down_every == 0:
            open_o = Outage(device_id=d.id, started_at=datetime.fromtimestamp(now - 30, UTC),
                            detected_at=datetime.fromtimestamp(now - 20, UTC), cause="device_fault")
            db.add(open_o)
            db.flush()
            d.status, d.status_since = "down", open_o.started_at
            tickets.append(Ticket(device_id=d.id, site_id=d.site_id, outage_id=open_o.id, source="outage",
                                  category="offline", state="dispatched", assignee_id=crew.id if crew else None,
                                  arrive_by=datetime.now(UTC) + timedelta(minutes=i)))
        else:
            d.status = "up"
    db.execute(insert(StatusInterval), rows)
    db.add_all(tickets)
    db.add(OnlineRateSample(at=datetime.now(UTC), in_service=n, online=n - n // down_every, contract_in_service=n,
                            contract_online=n - n // down_every))
    db.commit()
    return devs


# ------------------------------------------------------------------------------------------ uptime paging

def test_uptime_pages_are_worst_first_and_page_two_continues(db, client_as):
    seed(db, 60)
    start, end = _month_start(), datetime.now(UTC)
    first = uptime.uptime_page(db, start, end, "device", limit=50, offset=0)
    second = uptime.uptime_page(db, start, end, "device", limit=50, offset=50)
    assert first.total == second.total == 60
    codes = [r.key for r in first.rows + second.rows]
    assert codes == [f"P-CAM{i:03d}" for i in reversed(range(60))]  # device 59 was down longest: first
    ratios = [r.contractual_pct for r in first.rows + second.rows]
    assert ratios == sorted(ratios)
    # the page equals the unpaged computation, row by row
    full = {r.key: r for r in uptime.uptime_rows(db, start, end, "device")}
    assert all(full[r.key] == r for r in first.rows + second.rows)

    c = client_as("supervisor")
    p1 = c.get("/monitoring/uptime?period=this_month&by=device").get_data(as_text=True)
    p2 = c.get("/monitoring/uptime?period=this_month&by=device&page=2").get_data(as_text=True)
    assert "P-CAM059" in p1 and "P-CAM010" in p1 and "P-CAM009" not in p1
    assert "P-CAM009" in p2 and "P-CAM000" in p2 and "P-CAM059" not in p2
    assert p1.index("P-CAM059") < p1.index("P-CAM058") < p1.index("P-CAM010")
    assert "共 60 行" in p1 and "2 / 2" in p2


def test_uptime_by_district_names_each_district_once_with_clear_headings(db, client_as):
    seed(db, 12)
    html = client_as("supervisor").get("/monitoring/uptime?period=this_month&by=district").get_data(as_text=True)
    body = html[html.index("<tbody>"):html.index("</tbody>")]
    assert body.count("天山区") == 1 and body.count("新市区") == 1
    head = html[html.index("<thead>"):html.index("</thead>")]
    assert "辖区" in head and "考核在线率" in head and "Key" not in head and "键" not in head
    assert "探测代理" in html  # unknown time is explained


def test_exports_hold_every_row_not_one_page(db, client_as):
    seed(db, 60)
    c = client_as("supervisor")
    text = c.get("/monitoring/uptime?period=this_month&by=device&page=2&format=csv").get_data(as_text=True)
    rows = list(csv.reader(io.StringIO(text.lstrip("\ufeff"))))
    assert rows[0][0] == "设备编号"
    assert sorted(r[0] for r in rows[1:]) == [f"P-CAM{i:03d}" for i in range(60)]
    x = c.get("/monitoring/uptime?period=this_month&by=device&format=xlsx")
    ws = load_workbook(io.BytesIO(x.data)).active
    keys = [r[0] for r in ws.iter_rows(min_row=2, values_only=True) if r[0] and str(r[0]).startswith("P-CAM")]
    assert len(keys) == 60


def test_an_empty_month_says_so_instead_of_a_dash_percent(db, client_as):
    seed(db, 5)
    c = client_as("supervisor")
    html = c.get("/monitoring/uptime?period=last_month&by=device").get_data(as_text=True)
    assert "本月暂无数据" in html and "— %" not in html
    html = c.get("/monitoring/uptime?period=this_month&by=device").get_data(as_text=True)
    assert "本月暂无数据" not in html and "P-CAM004" in html


def test_period_presets_cover_the_named_ranges(db, client_as):
    seed(db, 3)
    c = client_as("supervisor")
    for preset in ("this_month", "last_month", "last_7_days", "this_quarter"):
        html = c.get(f"/monitoring/uptime?period={preset}").get_data(as_text=True)
        assert f'value="{preset}" selected' in html, preset
    today = clock.local_now().date()
    html = c.get(f"/monitoring/uptime?period=custom&from={today.replace(day=1)}&to={today}").get_data(as_text=True)
    assert f"{today.replace(day=1)} – {today}" in html


# ------------------------------------------------------------------------------------------ tickets paging

def test_ticket_list_is_paged_in_sql_without_a_cap(db, users, client_as):
    site = Site(code="T001", name="工单点位", district="天山区", latitude=43.8, longitude=87.6)
    db.add(site)
    db.flush()
    now = datetime.now(UTC)
    # 520 tickets: more than the old cap of 500. Ticket 7 is overdue (it must lead page 1); 40 are closed (last).
    db.execute(insert(Ticket), [
        {"site_id": site.id, "source": "supervisor", "category": "offline",
         "state": "closed" if i >= 480 else "dispatched", "checklist": [],
         "arrive_by": now - timedelta(hours=1) if i == 7 else now + timedelta(minutes=10 + i)}
        for i in range(520)])
    db.commit()
    c = client_as("supervisor")
    p1 = c.get("/tickets/").get_data(as_text=True)
    assert "(520)" in p1 and "1 / 11" in p1
    first_ids = [int(x) for x in __import__("re").findall(r'/tickets/(\d+)"', p1)]
    ids = sorted(db.scalars(select(Ticket.id)))
    assert len(first_ids) == 50 and first_ids[0] == ids[7] and first_ids[1] == ids[0]
    last = c.get("/tickets/?page=11").get_data(as_text=True)
    last_ids = [int(x) for x in __import__("re").findall(r'/tickets/(\d+)"', last)]
    assert len(last_ids) == 20 and set(last_ids) <= set(ids[480:])  # the closed ones come last
    assert c.get("/tickets/?page=11&open=1").status_code == 200
    overdue = c.get("/tickets/?overdue=1").get_data(as_text=True)
    assert "(1)" in overdue


def test_my_tickets_are_paged_nearest_deadline_first(db, users, client_as):
    seed(db, 75, crew=users["crew"])  # 25 tickets, all assigned to the crew member
    c = client_as("crew")
    p1 = c.get("/tickets/mine").get_data(as_text=True)
    p2 = c.get("/tickets/mine?page=2").get_data(as_text=True)
    assert "(25)" in p1 and p1.count('data-ticket=') == 20 and p2.count('data-ticket=') == 5
    assert p1.index("P-CAM000") < p1.index("P-CAM003")  # the nearer arrival deadline first
    assert "P-CAM072" in p2 and "P-CAM072" not in p1


def test_status_page_lists_devices_down_in_pages_with_the_true_total(db, client_as):
    seed(db, 180)  # 60 devices down
    c = client_as("supervisor")
    p1 = c.get("/monitoring/").get_data(as_text=True)
    assert 'id="devices-down">60<' in p1 and "1 / 2" in p1
    p2 = c.get("/monitoring/?page=2").get_data(as_text=True)
    assert p2.count("/monitoring/outages/") < p1.count("/monitoring/outages/")



def test_status_page_past_the_last_page_still_counts_every_device_down(db, client_as):
    """The page and the total come from one statement (a window count); a page with no rows counts on its own."""
    seed(db, 180)  # 60 devices down
    html = client_as("supervisor").get("/monitoring/?page=5").get_data(as_text=True)
    assert 'id="devices-down">60<' in html and "/monitoring/outages/" not in html.split('id="devices-down"')[1]


def test_a_device_search_is_paged_with_its_total_and_a_page_past_the_end_is_the_last(db, client_as):
    """Issue 14 part 4: a search gathers its matches in one pass (a window count gives the total); the pages follow
    the code order, and a page past the end shows the last page, as before."""
    from fleetops.services import inventory

    devs = seed(db, 120)
    expected = sorted(d.code for d in devs if "卡口1" in d.name)  # 卡口1, 卡口10–19, 卡口100–119
    assert len(expected) == 31
    pages = [inventory.list_devices(db, q="卡口1", per_page=10, page=p) for p in (1, 2, 3, 4)]
    assert [p.total for p in pages] == [31] * 4 and [p.pages for p in pages] == [4] * 4
    assert [d.code for p in pages for d in p.items] == expected
    past = inventory.list_devices(db, q="卡口1", per_page=10, page=99)
    assert (past.page, past.total, [d.code for d in past.items]) == (4, 31, expected[30:])
    none = inventory.list_devices(db, q="没有这个", per_page=10, page=3)
    assert (none.page, none.total, none.items) == (1, 0, [])
    narrowed = inventory.list_devices(db, q="卡口1", district="天山区", per_page=50)
    assert [d.code for d in narrowed.items] == [d.code for d in devs if "卡口1" in d.name and d.site.district == "天山区"]
    html = client_as("supervisor").get("/devices?q=%E5%8D%A1%E5%8F%A31&per_page=10&page=99").get_data(as_text=True)
    assert "(31)" in html and expected[30] in html and expected[29] not in html


# ------------------------------------------------------------------------------------------ bad parameters

@pytest.mark.parametrize("bad", ["abc", "0", "-1", "1.5", "9" * 30, "%00"])
def test_bad_page_numbers_are_a_400_naming_the_field(db, client_as, bad):
    seed(db, 3)
    for role, path in (("supervisor", "/monitoring/uptime?by=device&page="), ("supervisor", "/tickets/?page="),
                       ("supervisor", "/monitoring/?page="), ("crew", "/tickets/mine?page=")):
        r = client_as(role).get(path + bad)
        assert r.status_code == 400, (path, bad, r.status_code)
        assert "page" in r.get_data(as_text=True)


def test_a_page_past_the_end_is_empty_not_an_error(db, client_as):
    seed(db, 3)
    html = client_as("supervisor").get("/monitoring/uptime?period=this_month&by=device&page=99")
    assert html.status_code == 200 and "P-CAM000" not in html.get_data(as_text=True)


# ------------------------------------------------------------------------------------------ statements per page

PAGES = [("supervisor", "/reports/"), ("supervisor", "/monitoring/"), ("supervisor", "/devices"),
         ("supervisor", "/devices?q=CAM"), ("supervisor", "/monitoring/uptime?by=district"),
         ("supervisor", "/monitoring/uptime?by=device"), ("supervisor", "/tickets/"), ("crew", "/tickets/mine")]


def _statements(app, client, path) -> int:
    engine = app.extensions["fleetops.engine"]
    seen = []

    def count(conn, cursor, statement, parameters, context, executemany):
        seen.append(statement)

    event.listen(engine, "before_cursor_execute", count)
    try:
        assert client.get(path).status_code == 200, path
    finally:
        event.remove(engine, "before_cursor_execute", count)
    return len(seen)


def test_statements_per_page_do_not_grow_with_the_fleet(app, db, users, client_as):
    """An N+1 (a lazy load per row) makes the count grow with the devices listed; paging in Python does not
    change the count but is caught by the paging tests above."""
    clients = {"supervisor": client_as("supervisor"), "crew": client_as("crew")}
    small = {}
    seed(db, 10, crew=users["crew"], down_every=2)
    for role, path in PAGES:
        _statements(app, clients[role], path)  # warm: first-use queries (parameters, catalogues) are not per row
        small[path] = _statements(app, clients[role], path)
    db.execute(Ticket.__table__.delete())
    db.commit()
    for t in (StatusInterval, Outage):
        db.execute(t.__table__.delete())
    db.execute(Device.__table__.delete().where(Device.code.like("P-CAM%")))
    db.commit()
    from fleetops.models.service import ServicePeriod

    db.execute(ServicePeriod.__table__.delete())
    db.execute(Site.__table__.delete())
    db.commit()
    seed(db, 100, crew=users["crew"], down_every=2)
    for role, path in PAGES:
        _statements(app, clients[role], path)
        big = _statements(app, clients[role], path)
        assert big == small[path], (path, small[path], big)
