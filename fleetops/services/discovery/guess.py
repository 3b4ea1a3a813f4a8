"""Guessing an answering device's vendor (by enterprise OID prefix) and kind (by words in sysDescr), and judging
whether an inventory device's answer contradicts its recorded vendor or model — all from `signatures.json`."""
from __future__ import annotations

import json
import re
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

from fleetops.domain.text import Msg

SIGNATURES = Path(__file__).with_name("signatures.json")


@dataclass(frozen=True)
class Vendor:
    prefix: str
    name: str
    words: tuple[str, ...]
    model: re.Pattern | None


@lru_cache(maxsize=1)
def _data():
    raw = json.loads(SIGNATURES.read_text(encoding="utf-8"))
    vendors = [Vendor(v["prefix"].strip("."), v["vendor"], tuple(w.lower() for w in v.get("words", ())),
                      re.compile(v["model"], re.I) if v.get("model") else None) for v in raw["vendors"]]
    vendors.sort(key=lambda v: -len(v.prefix.split(".")))  # the longest prefix wins
    kinds = [(k["kind"], tuple(w.lower() for w in k["words"])) for k in raw["kinds"]]
    return vendors, kinds


def vendor_of(sys_object_id: str | None, sys_descr: str | None = "") -> Vendor | None:
    vendors, _ = _data()
    oid = (sys_object_id or "").strip(".")
    for v in vendors:
        if oid == v.prefix or oid.startswith(v.prefix + "."):
            return v
    text = (sys_descr or "").lower()
    for v in vendors:
        if any(w in text for w in v.words):
            return v
    return None


def kind_of(sys_descr: str | None) -> str:
    text = (sys_descr or "").lower()
    for kind, words in _data()[1]:
        if any(_has_word(text, w) for w in words):
            return kind
    return ""


def _has_word(text: str, word: str) -> bool:
    if not word.isascii():
        return word in text
    return re.search(r"(?<![a-z0-9])" + re.escape(word) + r"(?![a-z0-9])", text) is not None


def _norm(s: str) -> str:
    return re.sub(r"[^0-9A-Z]", "", (s or "").upper())


def _vendor_name(recorded: str) -> Vendor | None:
    low = (recorded or "").strip().lower()
    if not low:
        return None
    for v in _data()[0]:
        if low == v.name.lower() or any(w in low for w in v.words):
            return v
    return None


def contradiction(recorded_vendor: str, recorded_model: str, sys_descr: str | None,
                  sys_object_id: str | None) -> Msg | None:
    """Why the answer contradicts the record (a Msg), or None. Only what the data can tell: a vendor known from
    the OID (or sysDescr) other than the recorded one; a model number of that vendor in sysDescr other than the
    recorded model."""
    seen = vendor_of(sys_object_id, sys_descr)
    recorded = _vendor_name(recorded_vendor)
    if seen is not None and recorded is not None and seen.name != recorded.name and seen.name != "net-snmp":
        return Msg("Recorded vendor %(recorded)s, but the device reports %(seen)s.", recorded=recorded_vendor,
                   seen=seen.name)
    if seen is not None and recorded is None and recorded_vendor and seen.name != "net-snmp" and \
            seen.name.lower() not in recorded_vendor.lower():
        return Msg("Recorded vendor %(recorded)s, but the device reports %(seen)s.", recorded=recorded_vendor,
                   seen=seen.name)
    if recorded_model and sys_descr:
        pattern = (seen or recorded).model if (seen or recorded) is not None else None
        models = [m.group(0) for m in pattern.finditer(sys_descr)] if pattern is not None else []
        want = _norm(recorded_model)
        if models and not any(want and (want in _norm(m) or _norm(m) in want) for m in models):
            return Msg("Recorded model %(recorded)s, but the device reports %(seen)s.", recorded=recorded_model,
                       seen=", ".join(models[:3]))
    return None
