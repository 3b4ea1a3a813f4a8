"""Translations: each area keeps its own .po (zh); at start-up they are merged into one compiled catalog.

Source strings are English; Simplified Chinese is the default locale (brief, non-negotiable 7).
"""
from pathlib import Path

from babel.messages.catalog import Catalog
from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po

SOURCE_DIR = Path(__file__).resolve().parent / "translations"
LOCALES = ("zh", "en")
DEFAULT_LOCALE = "zh"


def compile_catalogs(out_dir: Path, source_dir: Path = SOURCE_DIR) -> Path:
    """Merge every `<source>/<locale>/*.po` into `<out>/<locale>/LC_MESSAGES/messages.mo`; skip when fresh."""
    for locale_dir in sorted(p for p in source_dir.iterdir() if p.is_dir()):
        po_files = sorted(locale_dir.glob("*.po"))
        target = out_dir / locale_dir.name / "LC_MESSAGES" / "messages.mo"
        newest = max((p.stat().st_mtime for p in po_files), default=0)
        if target.exists() and target.stat().st_mtime >= newest:
            continue
        merged = Catalog(locale=locale_dir.name)
        for po in po_files:
            with po.open("rb") as fh:
                cat = read_po(fh, locale=locale_dir.name)
            for msg in cat:
                if msg.id and msg.string and not msg.fuzzy:
                    merged[msg.id] = msg
        target.parent.mkdir(parents=True, exist_ok=True)
        tmp = target.with_suffix(".tmp")
        with tmp.open("wb") as fh:
            write_mo(fh, merged)
        tmp.replace(target)
    return out_dir
