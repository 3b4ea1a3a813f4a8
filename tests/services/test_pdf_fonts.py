"""The monthly PDF prints anywhere (issue 13 part 11): its Chinese font is a TrueType CJK font from the install,
embedded as a subset (poppler's `pdffonts` says emb yes), the Chinese text comes back out with `pdftotext`, and
device codes in the tables are never broken across lines."""
import re
import shutil
import subprocess
from datetime import datetime, timezone

import pytest

from fleetops.services.reports import export_pdf
from fleetops.services.reports.sections import Report, Section

pytestmark = pytest.mark.skipif(not shutil.which("pdffonts") or not shutil.which("pdftotext"),
                                reason="poppler-utils is not installed (scripts/setup.sh --test installs it)")

CODES = [f"K{100 + i}-CAM{i % 4 + 1}" for i in range(40)] + ["KK-2025-0815-CAM12", "JD-2026-000123-XJ"]


def _report() -> Report:
    utc = timezone.utc
    rows = [[code, f"北门卡口相机{i}号", "卡口", "克拉玛依区", 99.12, 98.5, 3, "供电部门停电，已批准剔除"]
            for i, code in enumerate(CODES)]
    return Report(title="运维月报", period_label="2026年11月", start=datetime(2026, 10, 31, 16, tzinfo=utc),
                  end=datetime(2026, 11, 30, 16, tzinfo=utc), generated_at=datetime(2026, 12, 1, 1, tzinfo=utc),
                  sections=[Section("devices", "设备在线率", ["设备编号", "设备名称", "类型", "辖区", "在线率(%)",
                                                          "合同在线率(%)", "停机次数", "备注"], rows)])


@pytest.fixture(scope="module")
def pdf(tmp_path_factory):
    path = tmp_path_factory.mktemp("pdf") / "monthly.pdf"
    path.write_bytes(export_pdf.to_pdf(_report()))
    return path


def test_a_truetype_cjk_font_is_found_on_the_install():
    path = export_pdf.find_cjk_truetype()
    assert path is not None, "no TrueType CJK font: scripts/setup.sh installs fonts-wqy-zenhei"
    assert path.lower().endswith((".ttf", ".ttc"))


def test_the_chinese_font_is_embedded_as_a_subset(pdf):
    out = subprocess.run(["pdffonts", str(pdf)], capture_output=True, text=True, check=True).stdout
    rows = out.splitlines()[2:]
    assert rows, out
    cjk = [r for r in rows if re.match(r"[A-Z]{6}\+", r) and "TrueType" in r]  # a subset (AAAAAA+Name)
    assert cjk, out
    for r in cjk:
        assert r.split()[-5:-3] == ["yes", "yes"], r  # emb yes, sub yes
    base14 = ("Helvetica", "Times", "Courier", "Symbol", "ZapfDingbats")
    for r in rows:  # anything else is one of the 14 fonts every viewer has, or embedded too
        assert r.startswith(base14) or r.split()[-5] == "yes", r
    assert "STSong" not in out


def test_pdftotext_gives_back_the_chinese_and_whole_codes(pdf):
    text = subprocess.run(["pdftotext", "-layout", str(pdf), "-"], capture_output=True, text=True,
                          check=True).stdout
    for words in ("运维月报", "设备在线率", "北门卡口相机3号", "克拉玛依区"):
        assert words in text, words
    for code in CODES:
        assert re.search(rf"(?<![\w-]){re.escape(code)}(?![\w-])", text), code  # on one line, never split


def test_without_a_truetype_font_it_falls_back_to_stsong_with_a_warning(monkeypatch, caplog):
    monkeypatch.setattr(export_pdf, "_chosen", None)
    monkeypatch.setattr(export_pdf, "_candidates", lambda: [])
    with caplog.at_level("WARNING", logger=export_pdf.__name__):
        assert export_pdf._register_font() == export_pdf.FALLBACK_FONT
    assert "embedded=no" in caplog.text
    monkeypatch.setattr(export_pdf, "_chosen", None)  # the next PDF looks again
