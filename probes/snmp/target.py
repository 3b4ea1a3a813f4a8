"""Where and how to ask one device over SNMP (v2c or v3); a bad configuration raises ConfigError at build time."""
from __future__ import annotations

import ipaddress
from dataclasses import dataclass, field

from probes.base import ConfigError
from probes.snmp.oids import HEALTH_OIDS, IF_NUMBER, IF_OPER_STATUS, SYS_DESCR, SYS_OBJECT_ID, SYS_UPTIME, check_oid

V2C, V3 = "v2c", "v3"
AUTH_PROTOCOLS = ("MD5", "SHA", "SHA224", "SHA256", "SHA384", "SHA512")
PRIV_PROTOCOLS = ("DES", "3DES", "AES", "AES192", "AES256")


@dataclass(frozen=True)
class SnmpTarget:
    """Where and how to ask one device. Secrets are left out of repr so they never reach a log."""

    key: str  # what the result is about (the device code)
    address: str
    port: int = 161
    version: str = V2C
    community: str = field(default="", repr=False)
    user: str = ""
    auth_protocol: str = ""
    auth_key: str = field(default="", repr=False)
    priv_protocol: str = ""
    priv_key: str = field(default="", repr=False)
    kind: str = ""  # selects HEALTH_OIDS
    interfaces: int = 2  # ifOperStatus.1..N are read in the same GET

    def __post_init__(self):
        try:
            object.__setattr__(self, "address", str(ipaddress.IPv4Address(str(self.address).strip())))
        except ValueError:
            raise ConfigError("bad_address", f"not an IPv4 address: {self.address!r}", address=str(self.address)) from None
        if not isinstance(self.port, int) or not 0 < self.port < 65536:
            raise ConfigError("bad_port", f"SNMP port must be 1–65535, not {self.port!r}", port=str(self.port))
        version = {"2c": V2C, "v2": V2C, "v2c": V2C, "3": V3, "v3": V3}.get(str(self.version).lower())
        if version is None:
            raise ConfigError("bad_snmp_version", f"unsupported SNMP version {self.version!r} (v2c or v3)",
                              version=str(self.version))
        object.__setattr__(self, "version", version)
        if not 0 <= self.interfaces <= 64:
            raise ConfigError("bad_interfaces", "interfaces must be 0–64", interfaces=str(self.interfaces))
        if version == V2C and not self.community:
            raise ConfigError("missing_community", "v2c needs a community")
        if version == V3:
            if not self.user:
                raise ConfigError("missing_user", "v3 needs a user name")
            auth, priv = self.auth_protocol.upper(), self.priv_protocol.upper()
            if auth and auth not in AUTH_PROTOCOLS:
                raise ConfigError("unknown_auth_protocol", f"unknown v3 auth protocol {self.auth_protocol!r}",
                                  protocol=self.auth_protocol)
            if priv and priv not in PRIV_PROTOCOLS:
                raise ConfigError("unknown_priv_protocol", f"unknown v3 privacy protocol {self.priv_protocol!r}",
                                  protocol=self.priv_protocol)
            if auth and len(self.auth_key) < 8:
                raise ConfigError("auth_key_short", "v3 auth key must be at least 8 characters")
            if priv and not auth:
                raise ConfigError("priv_needs_auth", "v3 privacy needs authentication too")
            if priv and len(self.priv_key) < 8:
                raise ConfigError("priv_key_short", "v3 privacy key must be at least 8 characters")
            object.__setattr__(self, "auth_protocol", auth)
            object.__setattr__(self, "priv_protocol", priv)

    def oids(self, extra: dict[str, str] | None = None) -> list[str]:
        """The OIDs one GET asks this device for, in order."""
        out = [SYS_UPTIME, SYS_DESCR, SYS_OBJECT_ID, IF_NUMBER]
        out += [f"{IF_OPER_STATUS}.{i}" for i in range(1, self.interfaces + 1)]
        out += [h.oid for h in HEALTH_OIDS.get(self.kind, ())]
        out += [check_oid(o) for o in (extra or {}).values()]
        return out


