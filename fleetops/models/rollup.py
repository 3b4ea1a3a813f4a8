"""The uptime rollup (issue 14): per device and closed local day, the up, down and excluded seconds of the uptime
computation (services/monitoring/uptime.py), exact to the second, with running sums so that a report over many
days reads two rows per device instead of every interval.

A device's rows are consecutive days from `from_s` on; `cum_*` are sums from `from_s` to the row's day end. The
rows depend on status_intervals, outages (cause, excluded_before_s) and service_periods only (which devices, and
how they are grouped, is decided when reading), so database triggers on those three tables delete a device's rows
from the first day a change touches onward (a suffix: the rest stays consecutive) — whichever code path writes
(ORM, bulk UPDATE, COPY). services/monitoring/rollup.py rolls the missing days up again.
"""
from sqlalchemy import BigInteger, Date, DDL, ForeignKey, Index, event
from sqlalchemy.orm import Mapped, mapped_column

from fleetops.models.base import Base


class UptimeDay(Base):
    __tablename__ = "uptime_days"
    device_id: Mapped[int] = mapped_column(ForeignKey("devices.id", ondelete="CASCADE"), primary_key=True)
    day_end_s: Mapped[int] = mapped_column(BigInteger, primary_key=True)  # the local day's end, epoch seconds
    day_start_s: Mapped[int] = mapped_column(BigInteger)
    day = mapped_column(Date)  # the local day, for people reading the table
    from_s: Mapped[int] = mapped_column(BigInteger)  # the start of this device's consecutive rows
    up_s: Mapped[int] = mapped_column(BigInteger)
    down_s: Mapped[int] = mapped_column(BigInteger)
    excluded_s: Mapped[int] = mapped_column(BigInteger)  # part of down_s
    cum_up_s: Mapped[int] = mapped_column(BigInteger)
    cum_down_s: Mapped[int] = mapped_column(BigInteger)
    cum_excluded_s: Mapped[int] = mapped_column(BigInteger)
    __table_args__ = (Index("ix_uptime_days_end", "day_end_s"),)


# What a change invalidates, from which instant on (epoch seconds): an interval from its start (from its old or
# new end when only its end moved, as a live interval does every poll); a cause or excluded part from the first
# interval of that outage; a service period: all the device's days.
_SI_FROM_UPD = ("CASE WHEN o.device_id = n.device_id AND o.start_s = n.start_s AND o.state = n.state "
                "AND {same_outage} THEN {least}(o.end_s, n.end_s) ELSE {least}(o.start_s, n.start_s) END")

SQLITE_TRIGGERS = (
    """CREATE TRIGGER IF NOT EXISTS uptime_days_si_ins AFTER INSERT ON status_intervals BEGIN
        DELETE FROM uptime_days WHERE device_id = NEW.device_id AND day_end_s > NEW.start_s; END""",
    """CREATE TRIGGER IF NOT EXISTS uptime_days_si_del AFTER DELETE ON status_intervals BEGIN
        DELETE FROM uptime_days WHERE device_id = OLD.device_id AND day_end_s > OLD.start_s; END""",
    """CREATE TRIGGER IF NOT EXISTS uptime_days_si_upd AFTER UPDATE ON status_intervals BEGIN
        DELETE FROM uptime_days WHERE device_id = OLD.device_id AND day_end_s > """
    + _SI_FROM_UPD.format(same_outage="o.outage_id IS n.outage_id", least="min")
    .replace("o.", "OLD.").replace("n.", "NEW.") + """;
        DELETE FROM uptime_days WHERE device_id = NEW.device_id AND NEW.device_id <> OLD.device_id; END""",
    """CREATE TRIGGER IF NOT EXISTS uptime_days_outage_upd AFTER UPDATE OF cause, excluded_before_s ON outages
        WHEN OLD.cause IS NOT NEW.cause OR OLD.excluded_before_s IS NOT NEW.excluded_before_s BEGIN
        DELETE FROM uptime_days WHERE device_id IN (SELECT device_id FROM status_intervals WHERE outage_id = NEW.id)
            AND day_end_s > (SELECT min(start_s) FROM status_intervals WHERE outage_id = NEW.id); END""",
    """CREATE TRIGGER IF NOT EXISTS uptime_days_sp_ins AFTER INSERT ON service_periods BEGIN
        DELETE FROM uptime_days WHERE device_id = NEW.device_id; END""",
    """CREATE TRIGGER IF NOT EXISTS uptime_days_sp_upd AFTER UPDATE ON service_periods BEGIN
        DELETE FROM uptime_days WHERE device_id IN (OLD.device_id, NEW.device_id); END""",
    """CREATE TRIGGER IF NOT EXISTS uptime_days_sp_del AFTER DELETE ON service_periods BEGIN
        DELETE FROM uptime_days WHERE device_id = OLD.device_id; END""",
)

# PostgreSQL: one statement-level trigger per statement (a poll's COPY of 10,000 rows fires it once), reading the
# transition tables; nothing more than one index lookup while no rollup row ends after the changes (a poll moves
# today's interval ends only). The devices a change reaches back into are handled one by one (index deletes), so
# no plan ever scans the rollup or the intervals whole.
_PG_FUNC = """CREATE OR REPLACE FUNCTION {name}() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE top bigint; r record;
BEGIN
    SELECT max(day_end_s) INTO top FROM uptime_days;
    IF top IS NULL THEN RETURN NULL; END IF;
    FOR r IN {loop} LOOP
        DELETE FROM uptime_days WHERE device_id = r.device_id AND day_end_s > {from_s};
    END LOOP;
    RETURN NULL;
END $$"""
_DEVICES = "SELECT device_id, min(from_s) AS from_s FROM ({changes}) c WHERE from_s < top GROUP BY device_id"
_PG_CHANGES = {
    "uptime_days_si_ins": ("INSERT", "status_intervals", "NEW TABLE AS n",
                           _DEVICES.format(changes="SELECT device_id, start_s AS from_s FROM n"), "r.from_s"),
    "uptime_days_si_del": ("DELETE", "status_intervals", "OLD TABLE AS o",
                           _DEVICES.format(changes="SELECT device_id, start_s AS from_s FROM o"), "r.from_s"),
    "uptime_days_si_upd": ("UPDATE", "status_intervals", "OLD TABLE AS o NEW TABLE AS n",
                           _DEVICES.format(changes="SELECT o.device_id, " + _SI_FROM_UPD.format(
                               same_outage="o.outage_id IS NOT DISTINCT FROM n.outage_id", least="LEAST")
                               + " AS from_s FROM o JOIN n ON n.id = o.id "
                               "UNION ALL SELECT n.device_id, -1 FROM o JOIN n ON n.id = o.id "
                               "WHERE n.device_id <> o.device_id"), "r.from_s"),
    "uptime_days_outage_upd": ("UPDATE", "outages", "OLD TABLE AS o NEW TABLE AS n",
                               "SELECT n.id, n.device_id FROM o JOIN n ON n.id = o.id "
                               "WHERE o.cause IS DISTINCT FROM n.cause "
                               "OR o.excluded_before_s IS DISTINCT FROM n.excluded_before_s",
                               "(SELECT min(start_s) FROM status_intervals WHERE outage_id = r.id)"),
    "uptime_days_sp_ins": ("INSERT", "service_periods", "NEW TABLE AS n", "SELECT DISTINCT device_id FROM n", "-1"),
    "uptime_days_sp_upd": ("UPDATE", "service_periods", "OLD TABLE AS o NEW TABLE AS n",
                           "SELECT device_id FROM o UNION SELECT device_id FROM n", "-1"),
    "uptime_days_sp_del": ("DELETE", "service_periods", "OLD TABLE AS o", "SELECT DISTINCT device_id FROM o", "-1"),
}
PG_TRIGGERS = tuple(
    stmt for name, (op, table, refs, loop, from_s) in _PG_CHANGES.items() for stmt in (
        _PG_FUNC.format(name=name, loop=loop, from_s=from_s),
        f"DROP TRIGGER IF EXISTS {name} ON {table}",
        f"CREATE TRIGGER {name} AFTER {op} ON {table} REFERENCING {refs} FOR EACH STATEMENT "
        f"EXECUTE FUNCTION {name}()",
    ))
PG_DROP = tuple(f"DROP FUNCTION IF EXISTS {name}() CASCADE" for name in _PG_CHANGES)
SQLITE_DROP = tuple(f"DROP TRIGGER IF EXISTS {name}" for name in _PG_CHANGES)


def trigger_statements(dialect_name: str) -> tuple[str, ...]:
    return PG_TRIGGERS if dialect_name == "postgresql" else SQLITE_TRIGGERS


# create_all (tests, a new embedded database) creates the triggers once every table exists; migration 0021 too.
for _stmt in SQLITE_TRIGGERS:
    event.listen(Base.metadata, "after_create", DDL(_stmt).execute_if(dialect="sqlite"))
for _stmt in PG_TRIGGERS:
    event.listen(Base.metadata, "after_create", DDL(_stmt).execute_if(dialect="postgresql"))
