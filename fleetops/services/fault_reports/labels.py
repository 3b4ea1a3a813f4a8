"""QR labels for the pole (T1, T7): every device — cabinets included — carries a code that opens
`<PUBLIC_BASE_URL>/r/<device-code>`: the device's page on a logged-in tablet, the public fault report otherwise.
Encoded with segno (pure Python) as inline SVG, so the A4 sheet prints from the browser without any download."""
from __future__ import annotations

from urllib.parse import quote, urlsplit

import segno
from sqlalchemy import select
from sqlalchemy.orm import Session

from fleetops.domain.errors import NotFound, ValidationFailed
from fleetops.domain.text import Msg
from fleetops.models import Cabinet, Device, Site


def check_base_url(base: str) -> str:
    """PUBLIC_BASE_URL must be absolute (http or https with a host): the label is read by a phone outside."""
    parts = urlsplit((base or "").strip())
    if parts.scheme not in ("http", "https") or not parts.netloc or parts.query or parts.fragment:
        raise ValidationFailed(Msg("The public address must be an absolute http(s) URL, e.g. "
                                   "https://fleet.example.gov.cn"), field="PUBLIC_BASE_URL")
    return f"{parts.scheme}://{parts.netloc}{parts.path.rstrip('/')}"


def device_url(base: str, code: str) -> str:
    return f"{check_base_url(base)}/r/{quote(code, safe='')}"


def qr_svg(url: str, scale: int = 3) -> str:
    """The QR code of `url` as an inline <svg> element (error correction M: survives some dirt on the label)."""
    return segno.make(url, error="m", micro=False).svg_inline(scale=scale, border=2)


def site_labels(session: Session, site_code: str, base: str) -> dict:
    """The labels sheet of one site: every device not retired, with its code, name, site and QR."""
    site = session.scalar(select(Site).where(Site.code == site_code))
    if site is None:
        raise NotFound(Msg("No site %(code)s.", code=site_code))
    base = check_base_url(base)
    devices = session.scalars(select(Device).where(Device.site_id == site.id, Device.lifecycle != "retired")
                              .order_by(Device.kind == "cabinet", Device.code)).all()
    labels = []
    for d in devices:
        url = device_url(base, d.code)
        labels.append({"code": d.code, "name": d.name, "kind": d.kind, "url": url, "svg": qr_svg(url)})
    codes = {d.code for d in devices}
    for cab in session.scalars(select(Cabinet).where(Cabinet.site_id == site.id).order_by(Cabinet.code)):
        if cab.code not in codes and _cabinet_device(session, cab) is not None:  # a cabinet known only as a cabinet
            url = device_url(base, cab.code)
            labels.append({"code": cab.code, "name": cab.power_feed, "kind": "cabinet", "url": url,
                           "svg": qr_svg(url)})
    return {"site": {"code": site.code, "name": site.name, "road": site.road, "district": site.district},
            "labels": labels}


def _cabinet_device(session: Session, cab: Cabinet) -> Device | None:
    """The device that stands for a cabinet: its own cabinet-kind device, else the first device on its feed."""
    q = select(Device).where(Device.cabinet_id == cab.id, Device.lifecycle != "retired")
    return session.scalar(q.where(Device.kind == "cabinet").order_by(Device.code).limit(1)) or \
        session.scalar(q.order_by(Device.code).limit(1))


def device_for_code(session: Session, code: str) -> Device:
    """What a label's code names: a device, or a cabinet (its cabinet device); NotFound otherwise."""
    if isinstance(code, str) and len(code) <= 60:
        device = session.scalar(select(Device).where(Device.code == code))
        if device is not None:
            return device
        cab = session.scalar(select(Cabinet).where(Cabinet.code == code))
        device = _cabinet_device(session, cab) if cab is not None else None
        if device is not None:
            return device
    raise NotFound(Msg("No device %(code)s.", code=str(code)[:60]))
