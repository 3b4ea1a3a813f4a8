"""Field parsing shared by the spreadsheet import, the forms and the API: what people type in F6 exports."""
from datetime import date, datetime

import pytest

from fleetops.services import inventory as inv
from fleetops.services.inventory.spreadsheet import cell_text as _cell_text, decode_csv


@pytest.mark.parametrize("text,kind", [("卡口", "checkpoint_camera"), ("卡口相机", "checkpoint_camera"),
                                       ("电子警察", "epolice_camera"), ("Fixed speed camera", "speed_camera"),
                                       ("speed_radar", "speed_radar"), ("雷达", "speed_radar"), ("交换机", "switch"),
                                       (" 光纤收发器 ", "fibre_transceiver"), ("SWITCH", "switch")])
def test_device_kinds_are_read_in_chinese_english_or_stored_form(text, kind):
    assert inv.parse_kind(text) == kind


def test_an_unknown_kind_names_the_text():
    with pytest.raises(ValueError, match="飞碟"):
        inv.parse_kind("飞碟")


@pytest.mark.parametrize("text,ok", [("127.20.0.1", True), ("10.65.1.11", True), ("fe80::1", True),
                                     ("10.65.1", False), ("10.65.1.256", False), ("0.0.0.0", False),
                                     ("224.0.0.1", False), ("10.0.0.255", False), ("abc", False)])
def test_ip_addresses(text, ok):
    if ok:
        assert inv.parse_ip(text) == text
    else:
        with pytest.raises(ValueError):
            inv.parse_ip(text)


def test_swapped_coordinates_are_caught_as_outside_china():
    assert inv.parse_latitude("45.6012") == 45.6012 and inv.parse_longitude(84.87) == 84.87
    with pytest.raises(ValueError, match="填反"):
        inv.parse_latitude("84.87")
    with pytest.raises(ValueError, match="不在中国境内"):
        inv.parse_longitude("45.6")
    with pytest.raises(ValueError, match="不是数字"):
        inv.parse_latitude("北纬45度")


@pytest.mark.parametrize("text,value", [("2023-05-01", date(2023, 5, 1)), ("2023/5/1", date(2023, 5, 1)),
                                        ("2023.05.01", date(2023, 5, 1)), ("20230501", date(2023, 5, 1)),
                                        ("2023年5月1日", date(2023, 5, 1)), (datetime(2023, 5, 1, 8), date(2023, 5, 1)),
                                        ("", None)])
def test_dates_in_the_forms_people_use(text, value):
    assert inv.parse_date(text) == value


@pytest.mark.parametrize("text", ["2023-02-30", "01/05/2023", "1899-01-01", "明天"])
def test_bad_dates(text):
    with pytest.raises(ValueError):
        inv.parse_date(text)


@pytest.mark.parametrize("text,value", [("是", True), ("否", False), ("yes", True), ("", False), ("1", True),
                                        ("TRUE", True), ("重点", True)])
def test_yes_no(text, value):
    assert inv.parse_bool(text) is value


def test_snmp_settings():
    assert inv.parse_snmp_version("2c") == "v2c" and inv.parse_snmp_version("V3") == "v3"
    assert inv.parse_snmp_version("") == "" and inv.parse_port("161.0") == 161
    for bad in ("v1", "snmp"):
        with pytest.raises(ValueError):
            inv.parse_snmp_version(bad)
    with pytest.raises(ValueError):
        inv.parse_port("70000")
    assert list(inv.check_device_rules({"snmp_version": "v2c"})) == ["snmp_community"]
    assert inv.check_device_rules({"snmp_version": "v2c"}, {"snmp_community": "stored"}) == {}


def test_snapshot_url_must_not_carry_a_password():
    assert inv.parse_url("http://127.0.0.1:5082/cam/K1/picture").startswith("http://")
    with pytest.raises(ValueError, match="密码"):
        inv.parse_url("http://admin:pw@127.0.0.1/cam")
    with pytest.raises(ValueError):
        inv.parse_url("ftp://x/y")


def test_spreadsheet_cells_read_as_typed():
    assert _cell_text(45.6) == "45.6" and _cell_text(161.0) == "161" and _cell_text(None) == ""
    assert _cell_text(datetime(2023, 5, 1)) == "2023-05-01" and _cell_text(True) == "是"


def test_encodings_are_detected_strictly():
    text = "设备编号,设备类型\nK105-CAM1,卡口相机\n"
    assert decode_csv(text.encode("gbk")) == (text, "gb18030")
    assert decode_csv(text.encode("utf-8")) == (text, "utf-8")
    assert decode_csv(b"\xef\xbb\xbf" + text.encode("utf-8")) == (text, "utf-8-bom")


def test_an_import_problem_reads_the_same_in_chinese_and_english():
    from fleetops.platform import i18n
    from fleetops.services.inventory.import_check import RowError

    i18n.install()
    with pytest.raises(ValueError) as err:
        inv.parse_latitude("北纬45度")
    problem = RowError(5, "纬度", err.value.args[0])
    assert str(problem) == "第 5 行，列「纬度」：纬度 '北纬45度' 不是数字"
    assert problem.msg().render("en") == "Line 5, column “纬度”: Latitude '北纬45度' is not a number."
    assert problem.to_json() == {"line": 5, "column": "纬度", "message": "纬度 '北纬45度' 不是数字"}
