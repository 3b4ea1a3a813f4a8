"""Every user-visible string of the inventory and admin areas has a Chinese translation (the UI is Chinese by default)."""
import re
from pathlib import Path

from babel.messages.pofile import read_po

ROOT = Path(__file__).resolve().parents[2]
SOURCES = [ROOT / "fleetops/web/inventory.py", ROOT / "fleetops/web/admin.py",
           *sorted((ROOT / "templates/inventory").glob("*.html")), *sorted((ROOT / "templates/admin").glob("*.html"))]
CALL = re.compile(r"""\b_\(\s*(['"])((?:\\.|(?!\1).)+)\1""")
LABEL = re.compile(r"""\b(?:StringField|SelectField|PasswordField|TextAreaField|BooleanField)\(\s*"([^"]+)\"""")
NAV = re.compile(r"""nav\.register\(\s*"[^"]+",\s*"([^"]+)\"""")
SECRET_LABEL = re.compile(r""""snmp_[a-z0-9_]+": "([^"]+)"|"snapshot_password": "([^"]+)\"""")


def used_msgids() -> set[str]:
    ids = set()
    for path in SOURCES:
        text = path.read_text("utf-8")
        ids |= {m.group(2) for m in CALL.finditer(text)}
        if path.suffix == ".py":
            ids |= set(LABEL.findall(text)) | set(NAV.findall(text))
            ids |= {a or b for a, b in SECRET_LABEL.findall(text)}
    return ids


def test_every_inventory_and_admin_string_has_a_chinese_translation():
    with (ROOT / "fleetops/translations/zh/inventory.po").open("rb") as fh:
        ours = {m.id: m.string for m in read_po(fh) if m.id}
    shared = {}
    for po in (ROOT / "fleetops/translations/zh").glob("*.po"):
        with po.open("rb") as fh:
            shared.update({m.id: m.string for m in read_po(fh) if m.id and m.string})
    used = used_msgids()
    assert len(used) > 100
    missing = sorted(i for i in used if not (ours.get(i) or shared.get(i)))
    assert missing == []
    assert all(re.search(r"[\u4e00-\u9fff]", s) or s in ("Ping", "SNMP", "IP", "API") for s in ours.values() if s)
