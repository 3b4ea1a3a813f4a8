"""A report as a printable A4 PDF: period line, one heading and table per section, bar and line charts, page
footer. The Chinese font is a TrueType CJK font that the install brings (Debian's fonts-wqy-zenhei, installed by
scripts/setup.sh), embedded as a subset so the PDF prints on any viewer, also on a closed network without an Asian
font pack. ReportLab reads only TrueType outlines (not the CFF-based Noto CJK .otf/.ttc); with no usable font on
the host it falls back to the built-in, non-embedded STSong-Light and logs a warning."""
import io
import logging
import re
import shutil
import subprocess
from pathlib import Path
from xml.sax.saxutils import escape

from fleetops.services.reports.sections import Report
from fleetops.services.reports.words import Words, local_text

log = logging.getLogger(__name__)

FALLBACK_FONT = "STSong-Light"
EMBEDDED_FONT = "FleetopsCJK"
# TrueType CJK fonts from Debian packages, tried first (the install brings fonts-wqy-zenhei); then whatever
# fontconfig lists for Chinese.
KNOWN_TTF = (
    "/usr/share/fonts/truetype/wqy/wqy-zenhei.ttc",
    "/usr/share/fonts/truetype/wqy/wqy-microhei.ttc",
    "/usr/share/fonts/truetype/arphic/uming.ttc",
    "/usr/share/fonts/truetype/arphic/ukai.ttc",
    "/usr/share/fonts/truetype/droid/DroidSansFallbackFull.ttf",
)
_chosen: str | None = None


def _candidates() -> list[str]:
    paths = [p for p in KNOWN_TTF if Path(p).is_file()]
    if shutil.which("fc-list"):
        try:
            out = subprocess.run(["fc-list", ":lang=zh", "file"], capture_output=True, text=True, timeout=10).stdout
        except (OSError, subprocess.SubprocessError):
            out = ""
        for line in sorted(out.splitlines()):
            path = line.split(":", 1)[0].strip()
            if path.lower().endswith((".ttf", ".ttc")) and path not in paths:
                paths.append(path)
    return paths


def find_cjk_truetype() -> str | None:
    """The first CJK font file on this host that ReportLab can embed (TrueType outlines, with CJK glyphs)."""
    from reportlab.pdfbase.ttfonts import TTFError, TTFont

    for path in _candidates():
        try:
            font = TTFont("probe", path, subfontIndex=0)
        except (TTFError, OSError, ValueError, KeyError):
            continue  # CFF outlines (Noto CJK), a broken file: not usable by ReportLab
        if 0x4E2D in font.face.charToGlyph:  # 中
            return path
    return None


def _register_font() -> str:
    """Register (once) and name the font the PDF is set in: an embedded TrueType CJK font, else STSong-Light."""
    global _chosen
    from reportlab.pdfbase import pdfmetrics
    from reportlab.pdfbase.cidfonts import UnicodeCIDFont
    from reportlab.pdfbase.ttfonts import TTFont

    if _chosen is not None:
        return _chosen
    path = find_cjk_truetype()
    if path:
        pdfmetrics.registerFont(TTFont(EMBEDDED_FONT, path, subfontIndex=0))
        _chosen = EMBEDDED_FONT
        log.info("pdf font=%s file=%s embedded=subset", EMBEDDED_FONT, path)
    else:
        if FALLBACK_FONT not in pdfmetrics.getRegisteredFontNames():
            pdfmetrics.registerFont(UnicodeCIDFont(FALLBACK_FONT))
        _chosen = FALLBACK_FONT
        log.warning("pdf font=%s embedded=no: no TrueType CJK font found (install fonts-wqy-zenhei); viewers "
                    "without an Asian font pack will show blanks", FALLBACK_FONT)
    return _chosen


CODE = re.compile(r"[0-9A-Za-z][0-9A-Za-z\-_./:#·]*")
CELL_PADDING = 6.5  # reportlab's default cell padding (left + right) and a hair


def column_widths(headers, rows, font: str, size: float, width: float) -> list[float]:
    """Widths that keep every code (K105-CAM1, a certificate number, a time) on one line: each column is at least as
    wide as its longest unbreakable token; what is left goes to the columns whose text would wrap most."""
    from reportlab.pdfbase.pdfmetrics import stringWidth

    n = len(headers)
    need, natural = [0.0] * n, [0.0] * n
    for r in [list(headers), *rows]:
        for i, v in enumerate(r[:n]):
            text = "—" if v is None else str(v)
            longest = max((stringWidth(tok, font, size) for tok in CODE.findall(text)), default=0.0)
            need[i] = max(need[i], longest + CELL_PADDING)
            natural[i] = max(natural[i], stringWidth(text, font, size) + CELL_PADDING)
    if sum(need) >= width:  # cannot honour them all: shrink in proportion (rare: very many columns)
        return [w * width / sum(need) for w in need]
    out = list(need)
    spare = width - sum(out)
    wants = [max(0.0, natural[i] - need[i]) for i in range(n)]
    if sum(wants) > 0:
        give = min(spare, sum(wants))
        out = [out[i] + give * wants[i] / sum(wants) for i in range(n)]
        spare -= give
    return [w + spare / n for w in out]


def _text(value) -> str:
    """A value as a Paragraph's text: ReportLab reads Paragraph text as markup, so a name like `<img src=…/>`
    would embed a server file (or `<` alone break the page); every interpolated value is escaped."""
    return escape("—" if value is None else str(value))


def to_pdf(report: Report) -> bytes:
    from reportlab.lib import colors
    from reportlab.lib.pagesizes import A4
    from reportlab.lib.styles import ParagraphStyle
    from reportlab.lib.units import mm
    from reportlab.platypus import KeepTogether, Paragraph, SimpleDocTemplate, Spacer, Table, TableStyle

    _ = Words(report.locale)
    font = _register_font()
    h1 = ParagraphStyle("h1", fontName=font, fontSize=18, leading=24, spaceAfter=6)
    h2 = ParagraphStyle("h2", fontName=font, fontSize=13, leading=18, spaceBefore=10, spaceAfter=4)
    body = ParagraphStyle("body", fontName=font, fontSize=9, leading=12)
    cell = ParagraphStyle("cell", fontName=font, fontSize=7.5, leading=9.5)
    head = ParagraphStyle("head", fontName=font, fontSize=7.5, leading=9.5, textColor=colors.white)
    width = A4[0] - 30 * mm
    story = [Paragraph(_text(report.title), h1),
             Paragraph(_text(_("Period: %(period)s (%(start)s to %(end)s, Beijing time); generated %(at)s",
                         period=report.period_label, start=local_text(report.start), end=local_text(report.end),
                         at=local_text(report.generated_at))), body), Spacer(1, 4 * mm)]
    for sec in report.sections:
        if sec.chart and sec.chart.get("values"):  # keep the heading on the chart's page
            story.append(KeepTogether([Paragraph(_text(sec.title), h2), _chart(_, sec.chart, width, font),
                                       Spacer(1, 3 * mm)]))
        else:
            story.append(Paragraph(_text(sec.title), h2))
        rows = sec.rows if sec.pdf_limit is None else sec.rows[:sec.pdf_limit]
        if sec.pdf_limit == 0 and sec.rows:
            pass  # the chart says it; the figures are in the XLSX
        elif rows:
            data = [[Paragraph(_text(h), head) for h in sec.headers]]
            data += [[Paragraph(_text(v), cell) for v in r] for r in rows]
            t = Table(data, repeatRows=1, colWidths=column_widths(sec.headers, rows, font, 7.5, width))
            t.setStyle(TableStyle([
                ("BACKGROUND", (0, 0), (-1, 0), colors.HexColor("#12263f")),
                ("GRID", (0, 0), (-1, -1), 0.3, colors.HexColor("#9aa4b2")),
                ("ROWBACKGROUNDS", (0, 1), (-1, -1), [colors.white, colors.HexColor("#f1f4f8")]),
                ("VALIGN", (0, 0), (-1, -1), "MIDDLE")]))
            story.append(t)
        else:
            story.append(Paragraph(_text(_("No data for this period.")), body))
        if sec.note:
            story.append(Paragraph(_text(sec.note), body))

    def footer(canvas, doc):
        canvas.saveState()
        canvas.setFont(font, 8)
        canvas.drawRightString(A4[0] - 15 * mm, 10 * mm, _("%(title)s %(period)s, page %(page)s", title=report.title,
                                                            period=report.period_label, page=doc.page))
        canvas.restoreState()

    out = io.BytesIO()
    doc = SimpleDocTemplate(out, pagesize=A4, leftMargin=15 * mm, rightMargin=15 * mm, topMargin=15 * mm,
                            bottomMargin=18 * mm, title=f"{report.title} {report.period_label}", author="fleetops")
    doc.build(story, onFirstPage=footer, onLaterPages=footer)
    return out.getvalue()


def _chart(_: Words, spec: dict, width: float, font: str):
    from reportlab.graphics.charts.barcharts import VerticalBarChart
    from reportlab.graphics.charts.linecharts import HorizontalLineChart
    from reportlab.graphics.shapes import Drawing, Line, String
    from reportlab.lib import colors

    height = 150
    d = Drawing(width, height)
    d.add(String(0, height - 12, spec.get("title", ""), fontName=font, fontSize=9))
    chart = VerticalBarChart() if spec["kind"] == "bar" else HorizontalLineChart()
    chart.x, chart.y, chart.width, chart.height = 40, 30, width - 60, height - 55
    values = [float(v or 0) for v in spec["values"]]
    chart.data = [values]
    chart.categoryAxis.categoryNames = [str(x)[:10] for x in spec["labels"]]
    chart.categoryAxis.labels.fontName = font
    chart.categoryAxis.labels.fontSize = 7
    chart.categoryAxis.labels.angle = 30 if len(values) > 8 else 0
    chart.categoryAxis.labels.boxAnchor = "ne" if len(values) > 8 else "n"
    chart.valueAxis.labels.fontName = font
    chart.valueAxis.labels.fontSize = 7
    target = spec.get("target")
    top = max(values + [target or 0]) or 1
    low = min(values + [target or top])
    if target is not None and low > 50:  # an uptime chart: zoom on the interesting band
        chart.valueAxis.valueMin = max(0, int(low) - 5)
    else:
        chart.valueAxis.valueMin = 0
    chart.valueAxis.valueMax = top * 1.05 if target is None else min(100, max(top, target) + 1)
    if spec["kind"] == "bar":
        chart.bars[0].fillColor = colors.HexColor("#0b5cad")
        chart.groupSpacing = max(5, chart.width / max(1, len(values)) * 0.6 if len(values) < 4 else 5)
    else:
        chart.lines[0].strokeColor = colors.HexColor("#0b5cad")
        chart.lines[0].strokeWidth = 1.5
    d.add(chart)
    if target is not None:
        vmin, vmax = chart.valueAxis.valueMin, chart.valueAxis.valueMax
        y = chart.y + chart.height * (target - vmin) / ((vmax - vmin) or 1)
        d.add(Line(chart.x, y, chart.x + chart.width, y, strokeColor=colors.HexColor("#b3261e"),
                   strokeDashArray=[3, 2]))
        d.add(String(chart.x + 2, y + 2, _("Target %(target)s%%", target=f"{target:g}"), fontName=font, fontSize=7,
                     fillColor=colors.HexColor("#b3261e")))
    return d
