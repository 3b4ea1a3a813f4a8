"""Contrast (issue 13 part 10): every status badge — above all 在线 (.badge-up) and 警告 (.sev-badge-warning) — is
readable in sunlight: WCAG 2.x contrast ratio ≥ 4.5:1 between its text colour and its background, computed from the
colours in the CSS files themselves (CSS variables resolved from :root), with WCAG's relative luminance."""
import re

import pytest

from fleetops.config import PROJECT_ROOT

CSS_DIR = PROJECT_ROOT / "static" / "css"
RULE = re.compile(r"([^{}]+)\{([^{}]*)\}")
HEX = re.compile(r"#([0-9a-fA-F]{3}|[0-9a-fA-F]{6})\b")


def relative_luminance(hex_colour: str) -> float:
    """WCAG 2.x relative luminance of an sRGB colour (#rgb or #rrggbb)."""
    h = hex_colour.lstrip("#")
    if len(h) == 3:
        h = "".join(c * 2 for c in h)
    channels = [int(h[i:i + 2], 16) / 255 for i in (0, 2, 4)]
    lin = [c / 12.92 if c <= 0.04045 else ((c + 0.055) / 1.055) ** 2.4 for c in channels]
    return 0.2126 * lin[0] + 0.7152 * lin[1] + 0.0722 * lin[2]


def contrast(a: str, b: str) -> float:
    la, lb = sorted((relative_luminance(a), relative_luminance(b)), reverse=True)
    return (la + 0.05) / (lb + 0.05)


def _variables() -> dict[str, str]:
    text = (CSS_DIR / "app.css").read_text("utf-8")
    root = re.search(r":root\s*\{([^}]*)\}", text).group(1)
    return dict(re.findall(r"(--[\w-]+)\s*:\s*([^;]+);", root))


def _resolve(value: str, variables: dict) -> str | None:
    value = value.strip()
    m = re.fullmatch(r"var\((--[\w-]+)\)", value)
    if m:
        value = variables.get(m.group(1), "").strip()
    m = HEX.fullmatch(value)
    return value if m else None


def badge_rules() -> dict[str, tuple[str, str]]:
    """{selector: (text colour, background)} for every rule of a badge class that sets both colours."""
    variables = _variables()
    out = {}
    for css in sorted(CSS_DIR.glob("*.css")):
        for selectors, body in RULE.findall(re.sub(r"/\*.*?\*/", "", css.read_text("utf-8"), flags=re.S)):
            decl = dict((k.strip(), v) for k, v in re.findall(r"([\w-]+)\s*:\s*([^;]+)", body))
            fg, bg = decl.get("color"), decl.get("background") or decl.get("background-color")
            if not fg or not bg:
                continue
            fg, bg = _resolve(fg, variables), _resolve(bg, variables)
            if fg is None or bg is None:
                continue
            for sel in selectors.split(","):
                sel = sel.strip()
                if "badge" in sel:
                    out[f"{css.name}: {sel}"] = (fg, bg)
    return out


def test_wcag_formula_on_known_pairs():
    assert contrast("#000000", "#ffffff") == pytest.approx(21.0)
    assert contrast("#777777", "#ffffff") == pytest.approx(4.48, abs=0.01)  # the classic just-fails grey
    assert contrast("#1b7f3b", "#d7f0df") < 4.5  # the old 在线 badge: too faint in sunlight


def test_online_and_warning_badges_reach_4_5_to_1():
    rules = badge_rules()
    online = [v for k, v in rules.items() if k.endswith(".badge-up")]
    warning = [v for k, v in rules.items() if k.endswith(".sev-badge-warning")]
    assert online and warning, sorted(rules)
    for fg, bg in online + warning:
        assert contrast(fg, bg) >= 4.5, (fg, bg, round(contrast(fg, bg), 2))


def test_every_badge_reaches_4_5_to_1():
    low = {k: round(contrast(*v), 2) for k, v in badge_rules().items() if contrast(*v) < 4.5}
    assert not low, low
