"""Words a person reads, as data: a msgid (English) with parameters, translated only when shown.

One translation system: every user-visible sentence is a Babel msgid whose Chinese lives in
`fleetops/translations/zh/<area>.po`. The domain cannot read catalogues (no I/O), so it builds `Msg`
values; `fleetops.platform.i18n` installs the renderer that looks them up in the reader's language.

- `N_("Checkpoint camera")` marks a constant msgid (labels, table headings); it returns it unchanged.
- `Msg("Error: %(message)s", message=text)` is a sentence with parameters. `str(msg)` renders
  it in the current language; `msg.render("en")` in a given one; `msg.english()` for logs.
- `msg.stored()` is the form kept in a text column (JSON with the msgid and parameters), so a history
  page can show an old row in either language; `Msg.from_stored(text)` reads it back (or None for
  free text a person typed).
"""
from __future__ import annotations

import json
from typing import Callable

_renderer: Callable[["Msg", str | None], str] | None = None


def N_(msgid: str) -> str:
    """Mark a constant msgid for the catalogue; translated where it is shown."""
    return msgid


def install_renderer(render: Callable[["Msg", str | None], str]) -> None:
    """Called once by the platform layer (`fleetops.platform.i18n.install`)."""
    global _renderer
    _renderer = render


class Msg:
    """A translatable sentence: `msgid` uses %(name)s placeholders; parameters may be Msg themselves."""

    __slots__ = ("msgid", "params", "context")

    def __init__(self, msgid: str, *, context: str | None = None, **params):
        self.msgid = msgid
        self.params = params
        self.context = context  # msgctxt: the same English word may need different Chinese in two places

    def render(self, locale: str | None = None) -> str:
        if _renderer is None:
            return self.english()
        return _renderer(self, locale)

    def english(self) -> str:
        return self.format(self.msgid, lambda m: m.english())

    def format(self, template: str, render_param: Callable[["Msg"], str]) -> str:
        if not self.params:
            return template
        values = {k: (render_param(v) if isinstance(v, Msg) else v) for k, v in self.params.items()}
        try:
            return template % values
        except (KeyError, ValueError, TypeError):
            return self.msgid % values if template is not self.msgid else template

    def __str__(self) -> str:
        return self.render()

    def __html__(self) -> str:  # Jinja and Flask's JSON provider call this
        from html import escape

        return escape(self.render())

    def __repr__(self) -> str:
        return f"Msg({self.msgid!r}, **{self.params!r})"

    def __eq__(self, other) -> bool:
        return isinstance(other, Msg) and (self.msgid, self.context, self.params) == (
            other.msgid, other.context, other.params)

    def __hash__(self) -> int:
        return hash(self.msgid)

    def __add__(self, other) -> str:
        return str(self) + str(other)

    def __radd__(self, other) -> str:
        return str(other) + str(self)

    def __contains__(self, item) -> bool:
        return item in str(self)

    # ------------------------------------------------------------------ stored form

    def to_json(self) -> dict:
        out = {"msgid": self.msgid,
               "params": {k: (v.to_json() if isinstance(v, Msg) else _plain(v)) for k, v in self.params.items()}}
        if self.context:
            out["ctx"] = self.context
        return out

    def stored(self) -> str:
        return json.dumps(self.to_json(), ensure_ascii=False)

    @classmethod
    def from_json(cls, data) -> "Msg | None":
        if not isinstance(data, dict) or not isinstance(data.get("msgid"), str):
            return None
        params = {}
        for k, v in (data.get("params") or {}).items():
            params[k] = cls.from_json(v) or v if isinstance(v, dict) else v
        return cls(data["msgid"], context=data.get("ctx"), **params)

    @classmethod
    def from_stored(cls, text) -> "Msg | None":
        if isinstance(text, Msg):
            return text
        if not isinstance(text, str) or not text.startswith('{"msgid"'):
            return None
        try:
            return cls.from_json(json.loads(text))
        except ValueError:
            return None


def stored(text) -> str:
    """The value to keep in a text column: a Msg as JSON, anything else as it is."""
    return text.stored() if isinstance(text, Msg) else ("" if text is None else str(text))


def render_stored(text, locale: str | None = None) -> str:
    """A stored column value shown to a person: a stored Msg in `locale`, free text unchanged."""
    msg = Msg.from_stored(text)
    if msg is not None:
        return msg.render(locale)
    return "" if text is None else str(text)


def _plain(value):
    if value is None or isinstance(value, (str, int, float, bool)):
        return value
    if hasattr(value, "isoformat"):
        return value.isoformat()
    return str(value)
