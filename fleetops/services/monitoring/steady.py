"""The steady majority of a batch, judged by PostgreSQL itself (issue 14: ≥ 10,000 results/s).

Most results of a cycle repeat the previous one: an up device answered again, a device already in its open outage
failed again. `quiet.py` proves such a device changes nothing but its saved counter, the end of its last status
interval and Device.last_seen_at — with a Python pass per device. Here the same proof is made for the whole batch
in a few statements joining the new rows (the `_fo_new` staging table filled by the insert) with the saved states,
stored results, outages and intervals; no row travels to Python. Only the two plainest cases qualify, each exactly as
`Quiet._jobs`/`Quiet._liveness` would judge it:

* up after up: the device's only new results are of its liveness probe (ping or tcp), all ok, after a saved state
  whose last result was a success with no failure pending; no outage open or ended after it; Device.status is up;
* down inside its outage: all new liveness results failed, the saved counter is in a detected run, and its one
  open outage starts and was detected where the counter says.

Both also need every stored result from the anchor on to agree (the anchor itself present, no gap longer than a
result covers) and exactly one stored status interval reaching the anchor, in the state and outage expected — then
that interval's end moves to cover the new results. SNMP, a first result, a late result, a gap, a change of state:
anything else is left to `quiet.py` and the full recompute, which stay the single source of truth for everything
that opens, closes or moves an outage, reboot, hung period, flap or site incident.
"""
from sqlalchemy import text
from sqlalchemy.orm import Session

from fleetops.domain import availability as av
from fleetops.models.monitoring import MonitorState, StatusInterval
from fleetops.services.monitoring.settings import BULK_LOOKBACK, LAST_SEEN_STEP, SAME_POLL_SLACK, IngestConfig

NEW = "_fo_new"  # the batch's new results (device_id, probe, at, ok, sys_uptime_s), filled by ingest._insert_new
CAND = "_fo_cand"  # the candidates: devices whose new results and saved state fit one of the two cases
STEADY = "_fo_steady"
HASH_MIN = 5000  # new results from which the candidates' devices and states are joined whole (hash), not by index,
HASH_SHARE = 0.25  # … when they are also at least this share of all devices (a poll of the fleet, not one district's)


def ensure_tables(session: Session) -> None:
    conn = session.connection()
    conn.execute(text(
        f"CREATE TEMP TABLE IF NOT EXISTS {NEW} (device_id bigint, probe varchar(8), at timestamptz, ok boolean, "
        f"sys_uptime_s double precision) ON COMMIT DELETE ROWS"))
    conn.execute(text(
        f"CREATE TEMP TABLE IF NOT EXISTS {CAND} (device_id bigint, probe varchar(8), up boolean, max_at timestamptz, "
        f"anchor timestamptz, has_snmp boolean, snmp_max_at timestamptz, snmp_t0 timestamptz, anchor_s bigint, "
        f"run_start timestamptz, run_count integer, run_detected_at timestamptz, cover interval) "
        f"ON COMMIT DELETE ROWS"))
    conn.execute(text(
        f"CREATE TEMP TABLE IF NOT EXISTS {STEADY} (device_id bigint PRIMARY KEY, probe varchar(8), up boolean, "
        f"max_at timestamptz, n integer, last_value double precision, interval_id bigint, end_s bigint, "
        f"run_count integer, snmp_at timestamptz, snmp_value double precision) ON COMMIT DELETE ROWS"))


def _cover_sql(cfg: IngestConfig) -> tuple[str, dict]:
    """max_cover(kind) in seconds as SQL over `d.kind` (2 poll intervals; per-kind overrides)."""
    params: dict = {"cover_default": int(cfg.max_cover("").total_seconds())}
    if not cfg.interval_by_kind:
        return ":cover_default", params
    whens = []
    for i, kind in enumerate(sorted(cfg.interval_by_kind)):
        params[f"cover_k{i}"], params[f"cover_v{i}"] = kind, int(cfg.max_cover(kind).total_seconds())
        whens.append(f"WHEN :cover_k{i} THEN :cover_v{i}")
    return f"(CASE d.kind {' '.join(whens)} ELSE :cover_default END)", params


def run(session: Session, cfg: IngestConfig, size: int = 0) -> tuple[set[int], set[int]]:
    """Judge and write the steady devices of the batch in `_fo_new` (`size` new results); returns (up ids, down ids).
    The down ones still need their Device.status checked after the site incidents (a loud neighbour may just have
    grouped its outage into one): the caller hands them to `device_status` with the quiet devices."""
    conn = session.connection()
    cover, params = _cover_sql(cfg)
    params.update(lookback=BULK_LOOKBACK, slack=SAME_POLL_SLACK, wrap=av.TIMETICKS_WRAP_S)
    conn.execute(text(f"TRUNCATE {STEADY}"))
    conn.execute(text(f"TRUNCATE {CAND}"))
    # First the candidates: the batch's new rows per device, with its Device row and saved states. A big batch (a
    # poll of the fleet) joins those tables whole by hash: the planner, knowing nothing of the temporary table,
    # would otherwise look 100,000 devices up one by one (measured at 100,000 devices: 1.2–1.7 s of database CPU
    # by index, 0.3–0.45 s by hash). A batch of a small share of the fleet (one district's agent) keeps the index
    # lookups: reading 1,000,000 devices whole for 20,000 of them would cost more than looking them up.
    hash_join = size >= HASH_MIN and size >= HASH_SHARE * conn.execute(text(
        "SELECT greatest(reltuples, 0) FROM pg_class WHERE oid = CAST('devices' AS regclass)")).scalar_one()
    if hash_join:
        conn.execute(text("SELECT set_config('enable_nestloop', 'off', true)"))
    conn.execute(text(f"""
        INSERT INTO {CAND} (device_id, probe, up, max_at, anchor, has_snmp, snmp_max_at, snmp_t0, anchor_s,
                            run_start, run_count, run_detected_at, cover)
        WITH g AS (
            SELECT device_id, min(probe) FILTER (WHERE probe <> 'snmp') AS probe,
                   -- one probe besides SNMP (not count(DISTINCT …): that sorts every group)
                   min(probe) FILTER (WHERE probe <> 'snmp') = max(probe) FILTER (WHERE probe <> 'snmp') AS one,
                   bool_or(probe = 'snmp') AS has_snmp,
                   min(at) FILTER (WHERE probe <> 'snmp') AS min_at, max(at) FILTER (WHERE probe <> 'snmp') AS max_at,
                   bool_and(ok) FILTER (WHERE probe <> 'snmp') AS all_ok,
                   bool_or(ok) FILTER (WHERE probe <> 'snmp') AS any_ok,
                   min(at) FILTER (WHERE probe = 'snmp') AS snmp_min_at,
                   max(at) FILTER (WHERE probe = 'snmp') AS snmp_max_at,
                   bool_and(ok) FILTER (WHERE probe = 'snmp') AS snmp_ok
            FROM {NEW} GROUP BY device_id
        ), c AS (
            SELECT g.device_id, g.probe, g.all_ok AS up, g.max_at, a.anchor, g.has_snmp, g.snmp_max_at,
                   least(g.snmp_min_at, g.min_at - CAST(:slack AS interval)) AS snmp_t0,
                   CAST(floor(extract(epoch FROM a.anchor)) AS bigint) AS anchor_s,
                   s.run_start, s.run_count, s.run_detected_at, {cover} * interval '1 second' AS cover
            FROM g JOIN devices d ON d.id = g.device_id AND d.liveness_probe = g.probe
            JOIN monitor_states s ON s.device_id = g.device_id AND s.probe = g.probe
            CROSS JOIN LATERAL (SELECT CASE WHEN g.all_ok THEN s.last_ok_at ELSE s.last_at END AS anchor) AS a
            WHERE g.probe IN ('ping', 'tcp') AND s.last_at < g.min_at
              AND g.one AND (NOT g.has_snmp OR (g.probe = 'ping' AND g.all_ok AND g.snmp_ok
                                                AND d.snmp_version <> ''))
              AND a.anchor >= (SELECT max(at) FROM {NEW}) - CAST(:lookback AS interval)
              AND ((g.all_ok AND s.run_count = 0 AND s.run_detected_at IS NULL AND s.run_start IS NULL
                    AND s.last_ok_at = s.last_at AND d.status = 'up'
                    AND (d.snmp_version = '' OR NOT EXISTS (
                        SELECT 1 FROM device_events e WHERE e.device_id = g.device_id AND e.kind = 'hung'
                        AND e.ended_at IS NULL)))
                OR (NOT g.any_ok AND s.run_detected_at IS NOT NULL AND s.run_start IS NOT NULL))
              -- no SNMP results and no SNMP job (recompute._snmp_todo): no stored SNMP result the new pings
              -- would pair with; or, below, an SNMP job that changes nothing but its counter
              AND (g.has_snmp OR g.probe <> 'ping' OR d.snmp_version = '' OR NOT EXISTS (
                  SELECT 1 FROM monitor_states s2 WHERE s2.device_id = g.device_id AND s2.probe = 'snmp'
                  AND s2.last_at >= g.min_at - CAST(:slack AS interval)))
        )
        SELECT * FROM c"""), params)
    if hash_join:
        conn.execute(text("SELECT set_config('enable_nestloop', 'on', true)"))
    # Then each candidate's stored results, outages and intervals, looked up by index (LATERAL), one device at a
    # time: the plan stays the same whatever the statistics say about the temporary tables.
    conn.execute(text(f"""
        INSERT INTO {STEADY} (device_id, probe, up, max_at, n, last_value, interval_id, end_s, run_count,
                              snmp_at, snmp_value)
        SELECT c.device_id, c.probe, c.up, c.max_at, oa.n, oa.last_value, iv.id,
               CAST(floor(extract(epoch FROM c.max_at + c.cover)) AS bigint),
               CASE WHEN c.up THEN 0 ELSE c.run_count + oa.n END, c.snmp_max_at, sn.last_value
        FROM {CAND} AS c
        LEFT JOIN LATERAL (  -- the SNMP job of a device up and answering (quiet._snmp with everything ok)
            SELECT s.last_at AS anchor, s.last_at < c.snmp_t0
                   AND s.run_count = 0 AND s.run_detected_at IS NULL AND s.run_start IS NULL
                   AND s.last_ok_at = s.last_at AS fits
            FROM monitor_states s WHERE c.has_snmp AND s.device_id = c.device_id AND s.probe = 'snmp'
        ) AS ss ON true
        LEFT JOIN LATERAL (  -- its stored SNMP results from the anchor on: all ok, each with an uptime, no reboot
            SELECT min(at) AS first_at, max(at) AS last_at, bool_and(ok) AS all_ok, count(v) = count(*) AS valued,
                   max(v) FILTER (WHERE last) AS last_value,  -- the latest one's (no sort per device)
                   -- availability.reboots: the boot time moved later by more than 30 s (modulo the 32-bit wrap)
                   bool_or((jump + :wrap / 2) - :wrap * floor((jump + :wrap / 2) / :wrap) - :wrap / 2 > 30)
                       AS rebooted
            FROM (SELECT r.at, r.ok, r.sys_uptime_s AS v,
                         (CAST(extract(epoch FROM r.at) AS double precision) - r.sys_uptime_s)
                         - lag(CAST(extract(epoch FROM r.at) AS double precision) - r.sys_uptime_s)
                           OVER (ORDER BY r.at) AS jump, lead(r.at) OVER (ORDER BY r.at) IS NULL AS last
                  FROM probe_results r
                  WHERE ss.fits AND r.device_id = c.device_id AND r.probe = 'snmp' AND r.at >= ss.anchor) AS x
        ) AS sn ON true
        CROSS JOIN LATERAL (  -- every stored result from the anchor on
            SELECT min(at) AS first_at, max(at) AS last_at, count(*) AS n, bool_and(ok) AS all_ok,
                   bool_or(ok) AS any_ok, max(gap) AS gap, max(v) FILTER (WHERE last) AS last_value
            FROM (SELECT r.at, r.ok, r.sys_uptime_s AS v, r.at - lag(r.at) OVER (ORDER BY r.at) AS gap,
                         lead(r.at) OVER (ORDER BY r.at) IS NULL AS last
                  FROM probe_results r
                  WHERE r.device_id = c.device_id AND r.probe = c.probe AND r.at >= c.anchor) AS x
        ) AS oa
        CROSS JOIN LATERAL (  -- the outages the recompute would match (open, or ended after the anchor)
            SELECT count(*) AS n, min(x.id) AS id, bool_and(x.ended_at IS NULL AND x.started_at = c.run_start
                   AND x.detected_at = c.run_detected_at) AS same
            FROM outages x
            WHERE x.device_id = c.device_id AND x.retracted_at IS NULL
              AND (x.ended_at IS NULL OR x.ended_at > c.anchor)
        ) AS ou
        CROSS JOIN LATERAL (  -- the stored intervals reaching the anchor
            SELECT count(*) AS n, min(i.id) AS id, min(i.start_s) AS start_s, min(i.state) AS state,
                   min(i.outage_id) AS outage_id, bool_and(i.outage_id IS NULL) AS no_outage
            FROM (SELECT * FROM status_intervals i WHERE i.device_id = c.device_id AND i.end_s >= c.anchor_s
                  ORDER BY i.end_s DESC LIMIT 2) AS i  -- two are enough to tell "exactly one"
        ) AS iv
        WHERE oa.first_at = c.anchor AND oa.last_at = c.max_at AND (oa.gap IS NULL OR oa.gap <= c.cover)
          AND (NOT c.has_snmp OR (ss.fits AND ss.anchor >= (SELECT max(at) FROM {NEW}) - CAST(:lookback AS interval)
               AND sn.first_at = ss.anchor AND sn.last_at = c.snmp_max_at AND sn.all_ok AND sn.valued
               AND NOT coalesce(sn.rebooted, false)
               AND NOT EXISTS (SELECT 1 FROM device_events e WHERE e.device_id = c.device_id
                   AND ((e.kind = 'rebooted' AND e.at > ss.anchor)
                     OR (e.kind = 'hung' AND (e.ended_at IS NULL OR e.ended_at > ss.anchor))))))
          AND iv.n = 1 AND iv.start_s <= c.anchor_s
          AND ((c.up AND oa.all_ok AND ou.n = 0 AND iv.state = 'up' AND iv.no_outage)
            OR (NOT c.up AND NOT oa.any_ok AND ou.n = 1 AND ou.same AND iv.state = 'down'
                AND iv.outage_id = ou.id))
    """), params)
    ids = conn.execute(text(f"SELECT device_id, up FROM {STEADY}")).all()
    if not ids:
        return set(), set()
    conn.execute(text(f"""
        UPDATE monitor_states AS t SET last_at = s.snmp_at, last_ok_at = s.snmp_at, last_ok_value = s.snmp_value
        FROM {STEADY} AS s WHERE s.snmp_at IS NOT NULL AND t.device_id = s.device_id AND t.probe = 'snmp'"""))
    # quiet._saved on these values: up → the last result is the last success; down → the counter runs on.
    conn.execute(text(f"""
        UPDATE monitor_states AS t SET last_at = s.max_at,
            last_ok_at = CASE WHEN s.up THEN s.max_at ELSE t.last_ok_at END,
            last_ok_value = CASE WHEN s.up THEN s.last_value ELSE t.last_ok_value END,
            run_count = s.run_count
        FROM {STEADY} AS s WHERE t.device_id = s.device_id AND t.probe = s.probe"""))
    conn.execute(text(f"UPDATE status_intervals AS t SET end_s = s.end_s FROM {STEADY} AS s "
                      f"WHERE t.id = s.interval_id AND t.end_s <> s.end_s"))
    # device_status for an up device still up: only last_seen_at, kept to LAST_SEEN_STEP.
    conn.execute(text(f"""
        UPDATE devices AS d SET last_seen_at = s.max_at FROM {STEADY} AS s
        WHERE d.id = s.device_id AND s.up
          AND (d.last_seen_at IS NULL OR s.max_at - d.last_seen_at >= CAST(:step AS interval))"""),
                 {"step": LAST_SEEN_STEP})
    up = {d for d, u in ids if u}
    down = {d for d, u in ids if not u}
    both = up | down
    # ORM copies of what was just written (an earlier ingest in this session) must not be read stale.
    for obj in list(session.identity_map.values()):
        if isinstance(obj, (MonitorState, StatusInterval)) and obj.device_id in both:
            session.expire(obj)
    return up, down

