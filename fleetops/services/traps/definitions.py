"""Trap definitions as data (issue 17): `definitions.json` beside this module (OID → meaning, severity, effect,
label), plus an optional site file named by the TRAP_DEFINITIONS_FILE setting, whose entries come first."""
from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

log = logging.getLogger(__name__)

SHIPPED = Path(__file__).with_name("definitions.json")
EFFECTS = ("", "mains_lost", "reboot", "reprobe")
SEVERITIES = ("info", "warning", "critical")


@dataclass(frozen=True)
class TrapDefinition:
    oid: str
    meaning: str
    severity: str
    effect: str
    label: str  # an English msgid (its Chinese in translations/zh/discovery.po)
    when_varbind: str = ""
    when_value: str = ""


def _parse(entries) -> list[TrapDefinition]:
    out = []
    for e in entries:
        when = e.get("when") or {}
        d = TrapDefinition(str(e["oid"]).strip("."), str(e["meaning"]), str(e.get("severity", "info")),
                           str(e.get("effect", "")), str(e.get("label", e["meaning"])),
                           str(when.get("varbind", "")).strip("."), str(when.get("value", "")))
        if d.effect not in EFFECTS or d.severity not in SEVERITIES:
            raise ValueError(f"trap definition {d.oid}: unknown effect or severity")
        out.append(d)
    return out


@lru_cache(maxsize=8)
def load(extra_file: str = "") -> tuple[TrapDefinition, ...]:
    """The definitions: the site file's first (when given and readable), then the shipped ones."""
    defs = []
    if extra_file:
        try:
            defs += _parse(json.loads(Path(extra_file).read_text(encoding="utf-8"))["definitions"])
        except (OSError, ValueError, KeyError, TypeError) as err:
            log.warning("trap definitions file %s not used: %s", extra_file, err)
    defs += _parse(json.loads(SHIPPED.read_text(encoding="utf-8"))["definitions"])
    return tuple(defs)


def match(trap_oid: str, varbinds: list[dict], extra_file: str = "") -> TrapDefinition | None:
    """The definition of a trap (those with a `when` that matches first); None for an unknown trap."""
    plain = None
    for d in load(extra_file):
        if d.oid != trap_oid:
            continue
        if not d.when_varbind:
            plain = plain or d
            continue
        for vb in varbinds:
            if (vb["oid"] == d.when_varbind or vb["oid"].startswith(d.when_varbind + ".")) and \
                    str(vb["value"]).strip(".") == d.when_value:
                return d
    return plain


def labels(extra_file: str = "") -> dict[str, str]:
    """meaning key → English label (for filters)."""
    out: dict[str, str] = {}
    for d in load(extra_file):
        out.setdefault(d.meaning, d.label)
    return out
