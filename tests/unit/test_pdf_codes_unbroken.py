"""Device codes are never broken mid-code in the PDF tables: each column is as wide as its longest code."""
from reportlab.lib.styles import ParagraphStyle
from reportlab.platypus import Paragraph

from fleetops.services.reports.export_pdf import _register_font, column_widths


def test_codes_stay_on_one_line_in_a_wide_table():
    font = _register_font()
    headers = ["设备编号", "设备名称", "类型", "证书编号", "有效期至", "状态", "在线(h)", "离线(h)", "剔除(h)", "备注"]
    rows = [["KK-2025-0815-CAM12", "北门卡口相机一号位置很长的名字", "卡口", "JD-2026-000123-XJ", "2026-12-08",
             "有效", 700.5, 3.25, 0.0, "供电部门停电，已批准"]] * 3
    widths = column_widths(headers, rows, font, 7.5, 510)
    assert abs(sum(widths) - 510) < 0.01
    cell = ParagraphStyle("cell", fontName=font, fontSize=7.5, leading=9.5)
    for col in (0, 3, 4):
        p = Paragraph(rows[0][col], cell)
        p.wrap(widths[col] - 6, 1000)  # the table's cell padding
        assert len(p.blPara.lines) == 1, (rows[0][col], widths[col])
