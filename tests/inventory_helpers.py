"""Helpers for the inventory and admin tests: spreadsheets built in memory, a small realistic fleet."""
import csv
import io

from fleetops.services.inventory.demo import fleet_rows, generate_fleet, write_fleet
from fleetops.services.inventory.columns import COLUMNS

ZH = {c.en: c.zh for c in COLUMNS}

SITE = {"site_code": "K105", "site_name": "世纪大道与友谊路口卡口", "road": "世纪大道", "direction": "由东向西",
        "district": "克拉玛依区", "longitude": "84.8731", "latitude": "45.6012", "key_site": "是"}


def device_row(code="K105-CAM1", kind="卡口相机", ip="10.65.1.11", **extra) -> dict:
    row = dict(SITE)
    row.update({"code": code, "name": f"K105 世纪大道与友谊路口 {code}", "kind": kind, "ip_address": ip,
                "vendor": "海康威视", "model": "iDS-2CD9396", "serial": "DS12345", "lifecycle": "已联网",
                "installed_on": "2023-05-01", "snmp_version": "v2c", "snmp_community": "s3cret-community"})
    row.update(extra)
    return row


def csv_bytes(rows: list[dict], chinese: bool = True, encoding: str = "utf-8", headers=None) -> bytes:
    """Rows (English field names) → CSV bytes with Chinese or English headers in `encoding`."""
    headers = headers or list(dict.fromkeys(k for r in rows for k in r))
    buf = io.StringIO(newline="")
    w = csv.writer(buf)
    w.writerow([ZH[h] if chinese else h for h in headers])
    for r in rows:
        w.writerow([r.get(h, "") for h in headers])
    return buf.getvalue().encode(encoding)


def xlsx_bytes(rows: list[dict], chinese: bool = True) -> bytes:
    from openpyxl import Workbook

    headers = list(dict.fromkeys(k for r in rows for k in r))
    wb = Workbook()
    ws = wb.active
    ws.append([ZH[h] if chinese else h for h in headers])
    for r in rows:
        ws.append([r.get(h, "") for h in headers])
    buf = io.BytesIO()
    wb.save(buf)
    return buf.getvalue()


def load_small_fleet(db, n_devices=60, seed=3) -> dict:
    """A generated fleet written to the test database and committed; returns the Fleet's records."""
    fleet = generate_fleet(n_devices, seed)
    write_fleet(db, fleet)
    db.commit()
    return fleet


def small_fleet_csv(n_devices=40, seed=5) -> bytes:
    return csv_bytes(fleet_rows(generate_fleet(n_devices, seed)), chinese=False)
