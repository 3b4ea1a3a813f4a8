"""F6: the inventory spreadsheet's columns — Chinese and English headers and the other spellings seen in
police-platform exports. The headers are file data (both languages are read; export picks one)."""
from dataclasses import dataclass


@dataclass(frozen=True)
class Column:
    field: str  # "site.<f>" for site fields, else a device field
    en: str
    zh: str
    aliases: tuple = ()
    secret: bool = False

    def header(self, language: str) -> str:
        return self.zh if language == "zh" else self.en


# Export order. Aliases are the other spellings seen in police-platform exports (F6).
COLUMNS = (
    Column("code", "code", "设备编号", ("device_code", "设备代码", "编号")),
    Column("name", "name", "设备名称", ("device_name", "名称")),
    Column("kind", "kind", "设备类型", ("device_kind", "类型", "type")),
    Column("site.code", "site_code", "点位编号", ("site", "点位代码")),
    Column("site.name", "site_name", "点位名称", ("点位",)),
    Column("site.road", "road", "道路", ("道路名称", "所在道路")),
    Column("site.direction", "direction", "方向", ("行驶方向",)),
    Column("site.district", "district", "辖区", ("所属辖区", "区县", "行政区")),
    Column("site.longitude", "longitude", "经度", ("lon", "lng")),
    Column("site.latitude", "latitude", "纬度", ("lat",)),
    Column("site.key_site", "key_site", "重要点位", ("考核重要点位", "重点点位")),
    Column("cabinet_code", "cabinet", "机柜编号", ("cabinet_code", "机柜")),
    Column("ip_address", "ip_address", "IP地址", ("ip", "ip地址", "IP")),
    Column("parent_code", "parent", "上级设备", ("parent_code", "上级设备编号")),
    Column("vendor", "vendor", "厂商", ("品牌", "生产厂家")),
    Column("model", "model", "型号", ("设备型号",)),
    Column("serial", "serial", "序列号", ("serial_no", "sn")),
    Column("lifecycle", "lifecycle", "状态", ("设备状态", "lifecycle_state", "state")),
    Column("installed_on", "installed_on", "安装日期", ("install_date", "安装时间")),
    # Uptime counts from here; empty for a device imported as in service means its install date.
    Column("in_service_from", "in_service_from", "投运日期", ("in_service_date", "投运时间", "投入使用日期")),
    Column("liveness_probe", "liveness_probe", "探测方式", ("probe",)),
    Column("snmp_version", "snmp_version", "SNMP版本", ()),
    Column("snmp_port", "snmp_port", "SNMP端口", ()),
    Column("snmp_community", "snmp_community", "SNMP团体名", ("community",), secret=True),
    Column("snmp_v3_user", "snmp_v3_user", "SNMPv3用户", ()),
    Column("snmp_v3_auth_protocol", "snmp_v3_auth_protocol", "SNMPv3认证协议", ()),
    Column("snmp_v3_auth_key", "snmp_v3_auth_key", "SNMPv3认证密钥", (), secret=True),
    Column("snmp_v3_priv_protocol", "snmp_v3_priv_protocol", "SNMPv3加密协议", ()),
    Column("snmp_v3_priv_key", "snmp_v3_priv_key", "SNMPv3加密密钥", (), secret=True),
    Column("snapshot_url", "snapshot_url", "抓图地址", ()),
    Column("snapshot_username", "snapshot_username", "抓图用户", ("抓图用户名",)),
    Column("snapshot_password", "snapshot_password", "抓图密码", (), secret=True),
    Column("notes", "notes", "备注", ()),
)
REQUIRED = ("code", "kind", "site.code")


def column(field: str) -> Column:
    return next(c for c in COLUMNS if c.field == field)


def norm(header) -> str:
    return "".join(str(header or "").split()).replace("\ufeff", "").replace("_", "").lower()


HEADER_INDEX: dict[str, Column] = {}
for _c in COLUMNS:
    for _h in (_c.en, _c.zh, _c.field, *_c.aliases):
        HEADER_INDEX.setdefault(norm(_h), _c)


def export_columns() -> list[Column]:
    """Secrets are never exported (STYLE §4); an empty secret cell on import keeps the stored one."""
    return [c for c in COLUMNS if not c.secret]
