"""The agent's local spool: result batches the centre has not acknowledged, in order, in one SQLite file
(standard library `sqlite3`), plus the last device list it fetched (so it keeps probing while the centre is away).

Bounded by a number of results: when a new batch would exceed it, the oldest batches are dropped first and the
drop (how many results, from when to when) is kept until the centre has been told."""
import json
import os
import sqlite3
import zlib
from datetime import datetime, timezone

SCHEMA = """
CREATE TABLE IF NOT EXISTS batches (seq INTEGER PRIMARY KEY AUTOINCREMENT, batch_id TEXT NOT NULL UNIQUE,
  created_at TEXT NOT NULL, first_at TEXT NOT NULL, n INTEGER NOT NULL, body BLOB NOT NULL);
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
"""


class Spool:
    def __init__(self, path: str, max_results: int = 1_000_000):
        self.path = path
        self.max_results = max(1, int(max_results))
        new = not os.path.exists(path)
        self.db = sqlite3.connect(path, timeout=30, isolation_level=None)
        if new:
            try:
                os.chmod(path, 0o600)  # the cached config carries SNMP credentials
            except OSError:
                pass
        self.db.execute("PRAGMA journal_mode=WAL")
        self.db.executescript(SCHEMA)

    def close(self) -> None:
        self.db.close()

    # -- batches -------------------------------------------------------------------------------------------
    def depth(self) -> int:
        """Results waiting."""
        return int(self.db.execute("SELECT COALESCE(SUM(n), 0) FROM batches").fetchone()[0])

    def batches(self) -> int:
        return int(self.db.execute("SELECT COUNT(*) FROM batches").fetchone()[0])

    def add(self, batch_id: str, results: list[dict]) -> int:
        """Keep a batch; drop the oldest ones beyond the bound. Returns how many results were dropped."""
        first_at = min((r["at"] for r in results), default=_now())
        body = zlib.compress(json.dumps(results, separators=(",", ":")).encode(), 6)
        dropped = 0
        self.db.execute("BEGIN IMMEDIATE")
        try:
            self.db.execute("INSERT OR IGNORE INTO batches (batch_id, created_at, first_at, n, body) "
                            "VALUES (?, ?, ?, ?, ?)", (batch_id, _now(), first_at, len(results), body))
            total = int(self.db.execute("SELECT COALESCE(SUM(n), 0) FROM batches").fetchone()[0])
            while total > self.max_results:
                row = self.db.execute("SELECT seq, n, first_at, created_at FROM batches ORDER BY seq LIMIT 1"
                                      ).fetchone()
                if row is None or row[0] == self._last_seq():  # never drop the batch just added
                    break
                self.db.execute("DELETE FROM batches WHERE seq = ?", (row[0],))
                self._note_drop(row[1], row[2], row[3])
                dropped += row[1]
                total -= row[1]
            self.db.execute("COMMIT")
        except BaseException:
            self.db.execute("ROLLBACK")
            raise
        return dropped

    def _last_seq(self):
        return self.db.execute("SELECT MAX(seq) FROM batches").fetchone()[0]

    def oldest(self):
        """(seq, batch_id, results) of the oldest batch, or None."""
        row = self.db.execute("SELECT seq, batch_id, body FROM batches ORDER BY seq LIMIT 1").fetchone()
        if row is None:
            return None
        return row[0], row[1], json.loads(zlib.decompress(row[2]))

    def remove(self, seq: int) -> None:
        self.db.execute("DELETE FROM batches WHERE seq = ?", (seq,))

    # -- the drop report -----------------------------------------------------------------------------------
    def _note_drop(self, n: int, first_at: str, last_at: str) -> None:
        d = self.dropped()
        d["results"] = d.get("results", 0) + n
        d["from"] = min(x for x in (d.get("from"), first_at) if x)
        d["to"] = max(x for x in (d.get("to"), last_at) if x)
        self.set_meta("dropped", json.dumps(d))

    def dropped(self) -> dict:
        """{"results", "from", "to"} not yet reported to the centre ({} when nothing was dropped)."""
        raw = self.get_meta("dropped")
        return json.loads(raw) if raw else {}

    def dropped_reported(self, reported: dict) -> None:
        """The centre has been told about `reported`; keep only what was dropped since."""
        d = self.dropped()
        left = d.get("results", 0) - reported.get("results", 0)
        if left > 0:
            self.set_meta("dropped", json.dumps({**d, "results": left}))
        else:
            self.db.execute("DELETE FROM meta WHERE key = 'dropped'")

    def delete_meta(self, key: str) -> None:
        self.db.execute("DELETE FROM meta WHERE key = ?", (key,))

    # -- the cached config ---------------------------------------------------------------------------------
    def get_meta(self, key: str) -> str | None:
        row = self.db.execute("SELECT value FROM meta WHERE key = ?", (key,)).fetchone()
        return row[0] if row else None

    def set_meta(self, key: str, value: str) -> None:
        self.db.execute("INSERT INTO meta (key, value) VALUES (?, ?) ON CONFLICT(key) DO UPDATE SET value = "
                        "excluded.value", (key, value))

    def config(self) -> dict | None:
        raw = self.get_meta("config")
        return json.loads(raw) if raw else None

    def save_config(self, config: dict) -> None:
        self.set_meta("config", json.dumps(config, separators=(",", ":")))


def _now() -> str:
    return datetime.now(timezone.utc).isoformat()
