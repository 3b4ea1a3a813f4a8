"""`fleetops agent`: the probe agent program (issue 14) — the same package, no web UI, no database.

It fetches its device list and probe settings from the centre (`GET /api/v1/agent/config`, refreshed only
when their version changes), probes on its own schedule with the central poll's probes
(`services/agents/probing`), and pushes result batches with its token to `POST /api/v1/probe-results`.
When the centre cannot be reached it spools batches to a local SQLite file and replays them in order when the
centre is back (the next run flushes the spool first); the spool is bounded, the oldest batches are dropped
first and the drop is reported to the centre. It imports nothing that reaches the database (import-linter).

Modules: spool (the SQLite spool and the cached config), client (HTTP to the centre), runner (the cycle),
command (the click command, added by wiring).
"""
AGENT_VERSION = "fleetops-agent/0.1.0"
