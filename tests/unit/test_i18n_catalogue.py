"""The UI is Chinese by default (brief, non-negotiable 7): every English msgid used in templates and code has a
Chinese translation in some fleetops/translations/zh/*.po, and the catalogues compile."""
import re
from pathlib import Path

from babel.messages.pofile import read_po

from fleetops.config import PROJECT_ROOT
from fleetops.i18n import SOURCE_DIR, compile_catalogs

CALL = re.compile(r"""(?<![\w.])(?:_|gettext|lazy_gettext|_l)\(\s*(?P<q>['"])(?P<msg>(?:(?!(?P=q)).)+)(?P=q)\s*[,)]""")
NAV = re.compile(r"""nav\.register\(\s*['"][^'"]+['"]\s*,\s*(?P<q>['"])(?P<msg>[^'"]+)(?P=q)""")


def _translated() -> dict[str, str]:
    out = {}
    for po in (SOURCE_DIR / "zh").glob("*.po"):
        with po.open("rb") as fh:
            for msg in read_po(fh, locale="zh"):
                if msg.id and msg.string:
                    out[msg.id] = msg.string
    return out


def _used() -> dict[str, str]:
    used = {}
    files = list((PROJECT_ROOT / "templates").rglob("*.html")) + list((PROJECT_ROOT / "fleetops").rglob("*.py"))
    for path in files:
        text = path.read_text("utf-8")
        for rx in (CALL, NAV):
            for m in rx.finditer(text):
                msg = m.group("msg")
                if "{{" in msg or not re.search(r"[A-Za-z]", msg):
                    continue
                used.setdefault(msg, str(path.relative_to(PROJECT_ROOT)))
    return used


def test_every_ui_string_has_a_chinese_translation():
    translated = _translated()
    missing = sorted(f"{where}: {msg!r}" for msg, where in _used().items() if msg not in translated)
    assert not missing, f"{len(missing)} UI strings have no Chinese translation:\n" + "\n".join(missing[:80])


def test_catalogues_compile_into_one(tmp_path: Path):
    out = compile_catalogs(tmp_path)
    assert (out / "zh" / "LC_MESSAGES" / "messages.mo").stat().st_size > 100
