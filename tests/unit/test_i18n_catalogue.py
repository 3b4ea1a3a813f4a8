"""The UI is Chinese by default (brief, non-negotiable 7): every English msgid used in templates and code has a
Chinese translation in some fleetops/translations/zh/*.po, and the catalogues compile."""
import re
from pathlib import Path

from babel.messages.pofile import read_po

from fleetops.config import PROJECT_ROOT
from fleetops.platform.i18n import SOURCE_DIR, compile_catalogs

CALL = re.compile(r"""(?<![\w.])(?:_|gettext|lazy_gettext|_l|N_|Msg|translate)\(\s*(?P<q>['"])(?P<msg>(?:(?!(?P=q)).)+)(?P=q)\s*[,)]""")
NAV = re.compile(r"""NavItem\.of\(\s*['"][^'"]+['"]\s*,\s*(?P<q>['"])(?P<msg>[^'"]+)(?P=q)""")


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


def test_one_msgid_means_one_thing():
    """All .po files merge into one catalogue: the same msgid (and msgctxt) may not get two translations."""
    seen, clashes = {}, []
    for po in sorted((SOURCE_DIR / "zh").glob("*.po")):
        with po.open("rb") as fh:
            for msg in read_po(fh, locale="zh"):
                if not msg.id:
                    continue
                key = (msg.context, msg.id)
                if key in seen and seen[key][1] != msg.string:
                    clashes.append(f"{msg.id!r} (ctx {msg.context}): {seen[key]} vs {(po.name, msg.string)}")
                seen.setdefault(key, (po.name, msg.string))
    assert not clashes, "use another msgid or a msgctxt:\n" + "\n".join(clashes)


BILINGUAL = re.compile(r"[\u4e00-\u9fff][^\"'\n]*? / [A-Za-z]")


def test_no_bilingual_literals_in_code():
    """One translation system: no Chinese-slash-English sentence written into Python; msgids and catalogues instead."""
    hits = []
    for root in ("fleetops", "probes"):
        for path in sorted((PROJECT_ROOT / root).rglob("*.py")):
            for n, line in enumerate(path.read_text("utf-8").splitlines(), 1):
                if BILINGUAL.search(line):
                    hits.append(f"{path.relative_to(PROJECT_ROOT)}:{n}: {line.strip()[:100]}")
    assert not hits, f"{len(hits)} bilingual literals:\n" + "\n".join(hits[:60])
