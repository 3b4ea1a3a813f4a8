"""Which ingests may run at once on PostgreSQL (issue 14): locks on what a batch touches, not one for all.

A batch recomputes its devices (their states, outages, intervals, events) and the site incidents of their sites,
which group every device of a site — so two batches conflict exactly when they share a site. Each batch takes
transaction-scoped advisory locks before it stores anything:

* a batch of at most `SITE_LOCKS_MAX` sites: a shared lock on each of their districts, then an exclusive lock on
  each site;
* a larger batch (a central poll of a whole city): an exclusive lock on each of its districts — a bounded number
  of locks however big the fleet (PostgreSQL's lock table is shared and finite).

So agents (or polls) of different districts run in parallel, two batches sharing a site wait for each other, and a
district-wide batch waits for, and holds off, every batch touching that district. Every batch takes its locks in one
global order — districts before sites, each by key — so no two ingests can wait for each other in a cycle. Districts
are keyed by `hashtext` of the name: two names on one key only serialise a little more, never less.
The order holds for one ingest per transaction, as every caller does (poll, agent batch, API, file replay): a
second ingest in the same transaction would take its locks after the first's, outside that order.
SQLite needs none of this: its writer lock already serialises ingests.
"""
from collections.abc import Iterable

from sqlalchemy import ARRAY, BigInteger, bindparam, text
from sqlalchemy.orm import Session

DISTRICT_NS = 0x466C  # advisory lock key spaces (first key of the two-key form)
SITE_NS = 0x466D
SITE_LOCKS_MAX = 500  # × concurrent batches, well inside the lock table (64 × max_connections by default)


def lock_sites(session: Session, site_ids: Iterable[int]) -> None:
    """Take the locks of a batch touching the devices of `site_ids` (PostgreSQL; no-op elsewhere). Held until the
    transaction ends."""
    if session.get_bind().dialect.name != "postgresql":
        return
    sites = sorted({int(s) for s in site_ids})
    if not sites:
        return
    per_site = len(sites) <= SITE_LOCKS_MAX
    ids = bindparam("sites", sites, type_=ARRAY(BigInteger))
    fn = "pg_advisory_xact_lock_shared" if per_site else "pg_advisory_xact_lock"
    conn = session.connection()
    # OFFSET 0 keeps the ordered subquery whole, so the locks are taken row by row in key order.
    conn.execute(text(
        f"SELECT count({fn}(:ns, k)) FROM (SELECT DISTINCT hashtext(coalesce(district, '')) AS k FROM sites "
        f"WHERE id = ANY(:sites) ORDER BY k OFFSET 0) AS keys").bindparams(ids), {"ns": DISTRICT_NS})
    if per_site:
        conn.execute(text(
            "SELECT count(pg_advisory_xact_lock(:ns, CAST(k AS integer))) FROM "
            "(SELECT DISTINCT k FROM unnest(:sites) AS k ORDER BY k OFFSET 0) AS keys").bindparams(ids),
            {"ns": SITE_NS})
