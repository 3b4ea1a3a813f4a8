"""Secrets at rest: SNMP communities and v3 keys, camera passwords, alert channels' passwords and tokens are
stored encrypted with Fernet (AES-128-CBC + HMAC-SHA256, from `cryptography`).

The key is never in the database: FLEETOPS_SECRETS_KEY (one key, or "new,old" while rotating) or the instance file
`secrets_key` (one key a line, the first encrypts), made once at first start. `configure()` is called by create_app;
a process that never called it reads the key from the default instance folder on first use. A value is stored as
"fernet:<token>"; a value without the prefix is an old plain one (migration 0007 encrypts them) and is read as is.
"""
from __future__ import annotations

import json
import logging
import os
import threading
from pathlib import Path

from sqlalchemy import JSON, Text, TypeDecorator

log = logging.getLogger(__name__)

PREFIX = "fernet:"
KEY_FILE = "secrets_key"
_CACHE_MAX = 100_000  # decrypted tokens (a poll cycle reads every device's community; Fernet costs ~20 µs each)


class SecretsKeyError(RuntimeError):
    """The stored secrets cannot be read with the configured key(s)."""


class _Keyring:
    def __init__(self):
        self.lock = threading.Lock()
        self.current = None  # MultiFernet: the first key encrypts
        self.known: list[bytes] = []  # every key this process was given, to read values written before a rotation
        self.source = None  # where configure() read the keys, to re-read them once when a token does not open
        self.cache: dict[str, str] = {}

    def configure(self, keys: list[bytes], source=None) -> None:
        from cryptography.fernet import Fernet, MultiFernet

        keys = [k if isinstance(k, bytes) else k.encode() for k in keys if k]
        if not keys:
            raise SecretsKeyError("no secrets key given")
        with self.lock:
            self.known = list(dict.fromkeys(keys + self.known))
            self.current = MultiFernet([Fernet(k) for k in keys])
            self._reader = MultiFernet([Fernet(k) for k in self.known])
            self.source = source

    def _ensure(self):
        if self.current is None:
            from fleetops.config import default_instance_path, load_config

            path = default_instance_path()
            self.configure(keys_from_config(load_config(path), path), source=path)

    def encrypt(self, plain: str) -> str:
        self._ensure()
        return PREFIX + self.current.encrypt(plain.encode("utf-8")).decode("ascii")

    def decrypt(self, stored: str) -> str:
        if not stored.startswith(PREFIX):
            return stored  # an old plain value, until migration 0007 has run
        hit = self.cache.get(stored)
        if hit is not None:
            return hit
        self._ensure()
        from cryptography.fernet import InvalidToken

        token = stored[len(PREFIX):].encode("ascii")
        try:
            plain = self._reader.decrypt(token).decode("utf-8")
        except InvalidToken:
            plain = self._reread(token)
        if len(self.cache) >= _CACHE_MAX:
            self.cache.clear()
        self.cache[stored] = plain
        return plain

    def _reread(self, token: bytes) -> str:
        """The key may have been rotated by `fleetops rotate-secret-key` in another process: read it again, once."""
        from cryptography.fernet import InvalidToken

        if self.source is not None:
            from fleetops.config import load_config

            self.configure(keys_from_config(load_config(Path(self.source)), self.source), self.source)
            try:
                return self._reader.decrypt(token).decode("utf-8")
            except InvalidToken:
                pass
        raise SecretsKeyError("a stored secret cannot be decrypted with the configured secrets key: was "
                              "FLEETOPS_SECRETS_KEY or the instance file secrets_key changed or lost?")

    def rotate(self, stored: str) -> str:
        """The value encrypted with the current first key (plain values are encrypted)."""
        return self.encrypt(self.decrypt(stored))


KEYRING = _Keyring()


def configure(keys: list, source=None) -> None:
    KEYRING.configure(keys, source)


def ensure_configured() -> None:
    """Outside create_app (migrations): the keys of the default instance folder / environment."""
    KEYRING._ensure()


def new_key() -> bytes:
    from cryptography.fernet import Fernet

    return Fernet.generate_key()


def keys_from_config(cfg: dict, instance_path) -> list[bytes]:
    """FLEETOPS_SECRETS_KEY ("key" or "new,old"), else the instance file (made once, mode 0600)."""
    if cfg.get("SECRETS_KEY"):
        return [k.strip().encode() for k in str(cfg["SECRETS_KEY"]).split(",") if k.strip()]
    return read_key_file(Path(instance_path) / KEY_FILE, create=True)


def read_key_file(path: Path, create: bool = False) -> list[bytes]:
    if not path.exists():
        if not create:
            return []
        write_key_file(path, [new_key()])
    return [line.strip().encode() for line in path.read_text("ascii").splitlines() if line.strip()]


def write_key_file(path: Path, keys: list[bytes]) -> None:
    """Replace the key file atomically (a crash leaves the old or the new file, never half of one)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as f:
        f.write("".join(k.decode() + "\n" for k in keys))
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path)


class EncryptedText(TypeDecorator):
    """A text column whose non-empty values are stored encrypted; Python sees the plain text."""

    impl = Text
    cache_ok = True

    def process_bind_param(self, value, dialect):
        if value is None or value == "":
            return value
        return KEYRING.encrypt(str(value))

    def process_result_value(self, value, dialect):
        if not value:
            return value
        return KEYRING.decrypt(value)


class EncryptedJSON(TypeDecorator):
    """A JSON column (a dict of secrets) stored as {"fernet": "<token of the JSON>"}; Python sees the dict."""

    impl = JSON
    cache_ok = True

    def process_bind_param(self, value, dialect):
        if not value:
            return value
        if isinstance(value, dict) and set(value) == {"fernet"}:
            return value
        return {"fernet": KEYRING.encrypt(json.dumps(value, ensure_ascii=False, sort_keys=True))}

    def process_result_value(self, value, dialect):
        if isinstance(value, dict) and set(value) == {"fernet"}:
            return json.loads(KEYRING.decrypt(value["fernet"]))
        return value  # empty, or an old plain dict until migration 0007 has run
