"""Infrastructure configuration: defaults, then an instance file, then FLEETOPS_* environment variables.

Contract numbers (SLA windows, targets, thresholds) are data in the database, not here (STYLE §4).
"""
import json
import os
from pathlib import Path

PROJECT_ROOT = Path(__file__).resolve().parent.parent

DEFAULTS = {
    "DATABASE_URL": None,  # default: sqlite in the instance folder
    "SECRET_KEY": None,  # default: generated once into the instance folder
    # Fernet key(s) for the secrets stored in the database ("new,old" while rotating); default: the instance
    # file secrets_key, made once. Keep a copy apart from database backups: without it the secrets are lost.
    "SECRETS_KEY": None,
    "TIMEZONE": "Asia/Shanghai",
    "DEFAULT_LOCALE": "zh_Hans_CN",
    "POLL_INTERVAL_S": 60,
    "POLL_CONCURRENCY": 512,
    "PING_TIMEOUT_S": 1.0,
    "SNMP_TIMEOUT_S": 2.0,
    "ICMP_MODE": "auto",  # auto: raw ICMP, else unprivileged ICMP datagrams; raw | dgram | off (ICMP forbidden)
    "TCP_TIMEOUT_S": 1.0,  # TCP liveness connect (liveness "tcp", or "ping" on a host without ICMP)
    "LIVENESS_TCP_FALLBACK": True,  # ping devices are checked by TCP connect when this host may not send ICMP
    "PROBE_HOST_PROBLEM_SHARE": 0.2,  # above this share of devices failing for a local reason: one host alert
    "DOWN_AFTER_FAILURES": 3,
    "ONLINE_RATE_SAMPLE_S": 300,
    "SMTP_HOST": "",
    "SMTP_PORT": 25,
    "UPLOAD_DIR": None,  # default: instance/uploads
    "MAX_CONTENT_LENGTH": 32 * 1024 * 1024,
    "SIMULATOR_API": "",  # e.g. http://127.0.0.1:5081 when `fleetops simulate` runs
    "POLL_INTERVAL_BY_KIND": {},  # e.g. {"fill_light": 300}; JSON in FLEETOPS_POLL_INTERVAL_BY_KIND
    "RESULT_RETENTION_DAYS": 30,
    "FLAP_WINDOW_S": 1800,
    "FLAP_THRESHOLD": 6,
    "METRICS_TOKEN": "",  # when set, /metrics needs `Authorization: Bearer <token>`
    "BIND_HOST": "",  # the address the web server listens on (`fleetops run` sets it); /metrics is open only on loopback
    "ALERT_RETRY_BASE_S": 30,
    "ALERT_RETRY_MAX_S": 3600,
    "ALERT_DELIVER_INTERVAL_S": 10,
    "SESSION_COOKIE_SECURE": False,  # set true (FLEETOPS_SESSION_COOKIE_SECURE=1) when served over HTTPS
    "SESSION_COOKIE_SAMESITE": "Lax",
    # Sign-in throttling (Flask-Limiter notation); only failed attempts count. Storage: fleetops-db:// (counters
    # in our own database, platform/throttle_store.py: every web process on one database counts the same failures),
    # or memory:// (one process only: N processes would allow N times the attempts), or e.g. redis://….
    "LOGIN_LIMIT_PER_ACCOUNT": "5 per 5 minutes",
    "LOGIN_LIMIT_PER_ADDRESS": "30 per 10 minutes",
    "RATELIMIT_STORAGE_URI": "fleetops-db://",
    # Issue 13, the fleet map: an internal tile server or PGIS as a Leaflet URL template, e.g.
    # "http://tiles.police.local/{z}/{x}/{y}.png" (WGS-84 sites are drawn on Web Mercator tiles); "" = the
    # tile-less map (district outlines and roads from the inventory). Never a public tile server.
    "MAP_TILE_URL": "",
    "MAP_TILE_ATTRIBUTION": "",
    "MAP_TILE_MAX_ZOOM": 18,
    "MAP_TILE_DATUM": "wgs84",  # gcj02 when the tiles mirror a Chinese map service (markers drawn at GCJ-02)
    "WALL_POLL_S": 15,  # the wall screen's refresh (seconds)

    # Fault reports from the pole (web/public.py): the absolute address printed in the QR labels
    # ("" = the address the labels page was opened with), and the per-address limit of the public form.
    "PUBLIC_BASE_URL": "",
    "PUBLIC_REPORT_LIMIT": "5 per 10 minutes",

    # SNMP traps (issue 17): `fleetops traps`, and `fleetops run` when TRAP_RECEIVER is on. TRAP_PORT empty: 162 as
    # root, else 1162. Communities and v3 users of the inventory are accepted; these add more (JSON in FLEETOPS_…:
    # ["public"], [{"name": "u", "auth_protocol": "SHA", "auth_key": "…", "priv_protocol": "AES", "priv_key": "…"}]).
    "TRAP_RECEIVER": False,
    "TRAP_PORT": None,
    "TRAP_BIND": "0.0.0.0",
    "TRAP_COMMUNITIES": [],
    "TRAP_USERS": [],
    "TRAP_DEFINITIONS_FILE": "",  # extra trap definitions (JSON, as fleetops/services/traps/definitions.json)
    # Discovery sweeps (issue 12, F4): the largest range one sweep may cover, and its concurrency
    "DISCOVERY_MAX_PREFIX": 20,
    "DISCOVERY_CONCURRENCY": 64,
    "DISCOVERY_TIMEOUT_S": 1.0,
}

# Keys that must never be printed or logged.
SECRET_KEYS = frozenset({"SECRET_KEY", "SECRETS_KEY", "DATABASE_URL", "METRICS_TOKEN",
                         "TRAP_COMMUNITIES", "TRAP_USERS"})


class ConfigError(RuntimeError):
    pass


def _coerce(default, raw: str):
    if isinstance(default, (dict, list)):
        try:
            value = json.loads(raw)
        except json.JSONDecodeError as err:
            raise ValueError(str(err)) from err
        if not isinstance(value, type(default)):
            raise ValueError(f"expected a JSON {type(default).__name__}")
        return value
    if isinstance(default, bool):
        return raw.lower() in ("1", "true", "yes", "on")
    if isinstance(default, int):
        return int(raw)
    if isinstance(default, float):
        return float(raw)
    return raw


def load_config(instance_path: Path, overrides: dict | None = None, environ=None) -> dict:
    """Defaults ← instance/fleetops.json ← FLEETOPS_* environment ← explicit overrides."""
    environ = os.environ if environ is None else environ
    cfg = dict(DEFAULTS)
    inst_file = instance_path / "fleetops.json"
    if inst_file.exists():
        try:
            cfg.update(json.loads(inst_file.read_text("utf-8")))
        except json.JSONDecodeError as err:
            raise ConfigError(f"{inst_file}: not valid JSON ({err})") from err
    for key, default in DEFAULTS.items():
        env = environ.get(f"FLEETOPS_{key}")
        if env is not None and env != "":
            try:
                cfg[key] = _coerce(default, env) if default is not None else env
            except ValueError as err:
                raise ConfigError(f"FLEETOPS_{key}={env!r} is not a valid value") from err
    if overrides:
        cfg.update(overrides)
    if not cfg["DATABASE_URL"]:
        cfg["DATABASE_URL"] = f"sqlite:///{instance_path / 'fleetops.sqlite3'}"
    if not cfg["UPLOAD_DIR"]:
        cfg["UPLOAD_DIR"] = str(instance_path / "uploads")
    if not cfg["SECRET_KEY"]:
        cfg["SECRET_KEY"] = _instance_secret(instance_path)
    return cfg


def default_instance_path() -> Path:
    return Path(os.environ.get("FLEETOPS_INSTANCE_PATH") or PROJECT_ROOT / "instance")


def _instance_secret(instance_path: Path) -> str:
    """A random secret kept in the instance folder, so sessions survive restarts."""
    path = instance_path / "secret_key"
    if not path.exists():
        instance_path.mkdir(parents=True, exist_ok=True)
        path.write_text(os.urandom(32).hex())
        path.chmod(0o600)
    return path.read_text().strip()
