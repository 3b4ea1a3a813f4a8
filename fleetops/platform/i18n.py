"""The one translation system: Babel catalogues, Chinese by default, English (the msgids) as the fallback.

Each area keeps its own `fleetops/translations/zh/<area>.po`. At start-up they are merged into one
compiled catalogue for Flask-Babel (pages), and the same files are read here for everything rendered
outside a template: errors, flashes, ticket history, alerts, audit summaries, report cells, CLI lines.
`install()` (called by `fleetops.wiring.wire`) makes `domain.text.Msg` render through these catalogues.
"""
from __future__ import annotations

import threading
from functools import lru_cache
from pathlib import Path

from babel.messages.catalog import Catalog
from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po

from fleetops.domain.text import Msg, N_, install_renderer, render_stored, stored  # noqa: F401 - re-exported

SOURCE_DIR = Path(__file__).resolve().parent.parent / "translations"
LOCALES = ("zh", "en")
DEFAULT_LOCALE = "zh"
_default = threading.local()


def compile_catalogs(out_dir: Path, source_dir: Path = SOURCE_DIR) -> Path:
    """Merge every `<source>/<locale>/*.po` into `<out>/<locale>/LC_MESSAGES/messages.mo`; skip when fresh."""
    for locale_dir in sorted(p for p in source_dir.iterdir() if p.is_dir()):
        po_files = sorted(locale_dir.glob("*.po"))
        target = out_dir / locale_dir.name / "LC_MESSAGES" / "messages.mo"
        newest = max((p.stat().st_mtime for p in po_files), default=0)
        if target.exists() and target.stat().st_mtime >= newest:
            continue
        merged = Catalog(locale=locale_dir.name)
        for msg in _messages(locale_dir.name, source_dir).values():
            merged.add(msg.id, msg.string, context=msg.context)
        target.parent.mkdir(parents=True, exist_ok=True)
        tmp = target.with_suffix(".tmp")
        with tmp.open("wb") as fh:
            write_mo(fh, merged)
        tmp.replace(target)
    return out_dir


def _messages(locale: str, source_dir: Path = SOURCE_DIR) -> dict:
    out = {}
    for po in sorted((source_dir / locale).glob("*.po")):
        with po.open("rb") as fh:
            cat = read_po(fh, locale=locale)
        for msg in cat:
            if msg.id and msg.string and not msg.fuzzy:
                out[(msg.context, msg.id)] = msg
    return out


@lru_cache(maxsize=None)
def catalogue(locale: str) -> dict:
    """msgid (or (msgctxt, msgid)) → translation for `locale` ("en" is the msgids themselves)."""
    if locale.startswith("en"):
        return {}
    out = {}
    for m in _messages(locale).values():
        if isinstance(m.id, str):
            out[(m.context, m.id) if m.context else m.id] = m.string
    return out


def normalise(locale) -> str:
    code = str(locale or "").replace("-", "_").lower()
    return "en" if code.startswith("en") else DEFAULT_LOCALE


def current_locale() -> str:
    """The reader's language: the web request's choice, else this thread's default, else Chinese."""
    try:
        from flask import has_request_context
        from flask_babel import get_locale

        if has_request_context():
            return normalise(get_locale())
    except ImportError:  # pragma: no cover - flask is a core dependency
        pass
    return getattr(_default, "locale", None) or DEFAULT_LOCALE


class use_locale:
    """`with use_locale("en"):` render Msg in English outside a request (an alert to an English reader)."""

    def __init__(self, locale: str):
        self.locale = normalise(locale)

    def __enter__(self):
        self.saved = getattr(_default, "locale", None)
        _default.locale = self.locale
        return self

    def __exit__(self, *exc):
        _default.locale = self.saved


def gettext(msgid: str, locale: str | None = None, context: str | None = None) -> str:
    """A constant msgid (a label, a heading) in `locale` (default: the reader's)."""
    loc = normalise(locale) if locale else current_locale()
    if loc == "en":
        return msgid
    cat = catalogue(loc)
    if context and (context, msgid) in cat:
        return cat[(context, msgid)]
    return cat.get(msgid, msgid)


def translate(text, locale: str | None = None, **params) -> str:
    """A msgid, a Msg, or a stored Msg in `locale`; free text is returned unchanged."""
    if isinstance(text, Msg):
        return render(text, locale)
    if params:
        return render(Msg(text, **params), locale)
    msg = Msg.from_stored(text)
    if msg is not None:
        return render(msg, locale)
    return gettext(text, locale) if isinstance(text, str) else ("" if text is None else str(text))


def render(msg: Msg, locale: str | None = None) -> str:
    loc = normalise(locale) if locale else current_locale()
    template = gettext(msg.msgid, loc, msg.context)
    return msg.format(template, lambda m: render(m, loc))


def install() -> None:
    """Route every Msg through these catalogues (idempotent)."""
    install_renderer(render)
