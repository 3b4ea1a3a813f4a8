"""Set-based writes and reads for the ingest (issue 14): many rows per statement, never an ORM object per row.

PostgreSQL: rows go in by COPY (psycopg 3's `cursor.copy`) into a temporary staging table, then one
INSERT … SELECT / UPDATE … FROM moves them; id lists travel as one array (`= ANY(:ids)`). SQLite: one
`executemany` of a plain statement (in-process, already fast; values converted by the columns' own bind
processors) and id lists as one JSON array (`IN (SELECT value FROM json_each(:ids))`). Everything runs on the
session's own connection, inside the caller's transaction.
"""
import json
import zlib
from collections.abc import Iterable, Sequence

from sqlalchemy import ARRAY, BigInteger, Table, any_, bindparam, func, literal_column, select, text
from sqlalchemy.orm import Session

from fleetops.services.monitoring.settings import chunks

ID_CHUNK = 20000  # ids per query: one parameter however many, so only memory bounds it
STAGE_MIN = 50  # fewer rows than this: a plain executemany beats creating the staging table


def is_pg(session: Session) -> bool:
    return session.get_bind().dialect.name == "postgresql"


def id_chunks(session: Session, ids: Iterable) -> Iterable[list]:
    return chunks(sorted(ids), ID_CHUNK)


def in_ids(session: Session, column, ids: Sequence, item_type=BigInteger):
    """`column IN ids` with the whole list as one parameter (`item_type`: String for codes)."""
    if is_pg(session):
        return column == any_(bindparam(None, list(ids), type_=ARRAY(item_type)))
    return column.in_(select(literal_column("value")).select_from(
        func.json_each(bindparam(None, json.dumps(list(ids))))))


def _processors(session: Session, table: Table, columns: Sequence[str]):
    dialect = session.get_bind().dialect
    return [table.c[c].type.dialect_impl(dialect).bind_processor(dialect) for c in columns]


def _plain(session: Session, table: Table, columns: Sequence[str], rows: Iterable[Sequence]) -> list[tuple]:
    """Rows as the driver takes them (each value through its column's bind processor)."""
    procs = _processors(session, table, columns)
    if not any(procs):
        return [tuple(r) for r in rows]
    return [tuple(p(v) if p is not None and v is not None else v for p, v in zip(procs, r)) for r in rows]


def _stage(session: Session, table: Table, columns: Sequence[str], rows: Sequence[Sequence]) -> str:
    """PostgreSQL: COPY `rows` (tuples in the order of `columns`) into a temporary table shaped like those columns
    of `table`; returns its name. It lives as long as the connection, emptied before use and at every commit."""
    name = f"_fo_stage_{table.name}_{zlib.crc32(','.join(columns).encode()):08x}"
    cols = ", ".join(columns)
    conn = session.connection()
    conn.execute(text(f"CREATE TEMP TABLE IF NOT EXISTS {name} ON COMMIT DELETE ROWS AS "
                      f"SELECT {cols} FROM {table.name} WITH NO DATA"))
    conn.execute(text(f"TRUNCATE {name}"))
    raw = conn.connection.driver_connection
    with raw.cursor() as cur:
        with cur.copy(f"COPY {name} ({cols}) FROM STDIN") as copy:
            for row in rows:
                copy.write_row(row)
    return name


def insert_new(session: Session, table: Table, columns: Sequence[str], key: Sequence[str],
               rows: Sequence[Sequence], copy_to: tuple[str, Sequence[str]] | None = None) -> set[tuple]:
    """Insert `rows` (tuples in `columns` order, no two with the same key), skipping those whose `key` is already
    stored; returns the keys of the rows skipped (already stored), as the rows give them. PostgreSQL: `copy_to`
    (a table, its columns) also receives the new rows, in the same statement (emptied first); then only a count
    comes back, and the skipped keys are read only when there are any (a replay), not 120,000 keys every poll."""
    if not rows:
        return set()
    conn = session.connection()
    cols, keys = ", ".join(columns), ", ".join(key)
    at = [columns.index(k) for k in key]
    if is_pg(session):
        name = _stage(session, table, columns, rows)
        insert = (f"INSERT INTO {table.name} ({cols}) SELECT {cols} FROM {name} "
                  f"ON CONFLICT ({keys}) DO NOTHING RETURNING ")
        if copy_to is None:
            new = {tuple(r) for r in conn.execute(text(insert + keys))}
            skipped = {k for k in (tuple(r[i] for i in at) for r in rows) if k not in new}
        else:
            other, other_cols = copy_to[0], ", ".join(copy_to[1])
            conn.execute(text(f"TRUNCATE {other}"))
            count = conn.execute(text(
                f"WITH ins AS ({insert}{', '.join(dict.fromkeys([*key, *copy_to[1]]))}), "
                f"cp AS (INSERT INTO {other} ({other_cols}) SELECT {other_cols} FROM ins) "
                f"SELECT count(*) FROM ins")).scalar_one()
            skipped = set()
            if count < len(rows):  # timestamptz come back aware: equal (and hashing equal) to the rows'
                skipped = {tuple(r) for r in conn.execute(text(
                    f"SELECT {keys} FROM {name} EXCEPT ALL SELECT {keys} FROM {other}"))}
        conn.execute(text(f"TRUNCATE {name}"))
        return skipped
    # SQLite: the writer holds the database lock, so "not there yet" read first stays true until the insert.
    plain = _plain(session, table, columns, rows)
    stored = _stored_keys(session, table, key, [tuple(p[i] for i in at) for p in plain])
    todo = [p for p in plain if tuple(p[i] for i in at) not in stored]
    marks = ", ".join("?" for _ in columns)
    for chunk in chunks(todo, 5000):
        conn.exec_driver_sql(f"INSERT OR IGNORE INTO {table.name} ({cols}) VALUES ({marks})", chunk)
    return {tuple(r[i] for i in at) for r, p in zip(rows, plain) if tuple(p[i] for i in at) in stored}


def _stored_keys(session: Session, table: Table, key: Sequence[str], wanted: list[tuple]) -> set[tuple]:
    """SQLite: which of `wanted` (driver-level key tuples: first column an id, last a time) are stored."""
    conn = session.connection()
    first, last = key[0], key[-1]
    by_first: dict = {}
    for k in wanted:
        by_first.setdefault(k[0], []).append(k)
    found = set()
    for chunk in chunks(sorted(by_first), ID_CHUNK):
        keys = [k for i in chunk for k in by_first[i]]
        lo, hi = min(k[-1] for k in keys), max(k[-1] for k in keys)
        sql = (f"SELECT {', '.join(key)} FROM {table.name} WHERE {first} IN (SELECT value FROM json_each(?)) "
               f"AND {last} >= ? AND {last} <= ?")
        want = set(keys)
        for r in conn.exec_driver_sql(sql, (json.dumps(chunk), lo, hi)):
            if tuple(r) in want:
                found.add(tuple(r))
    return found


def update_rows(session: Session, table: Table, key: Sequence[str], columns: Sequence[str],
                rows: Sequence[Sequence]) -> None:
    """UPDATE `table` SET columns WHERE key — rows are tuples of the key values, then the column values."""
    if not rows:
        return
    conn = session.connection()
    if is_pg(session) and len(rows) >= STAGE_MIN:
        name = _stage(session, table, [*key, *columns], rows)
        sets = ", ".join(f"{c} = s.{c}" for c in columns)
        where = " AND ".join(f"t.{k} = s.{k}" for k in key)
        conn.execute(text(f"UPDATE {table.name} AS t SET {sets} FROM {name} AS s WHERE {where}"))
        conn.execute(text(f"TRUNCATE {name}"))
        return
    mark = "%s" if is_pg(session) else "?"
    sets = ", ".join(f"{c} = {mark}" for c in columns)
    where = " AND ".join(f"{k} = {mark}" for k in key)
    n = len(key)
    plain = [(*r[n:], *r[:n]) for r in _plain(session, table, [*key, *columns], rows)]
    for chunk in chunks(plain, 5000):
        conn.exec_driver_sql(f"UPDATE {table.name} SET {sets} WHERE {where}", chunk)


def insert_rows(session: Session, table: Table, columns: Sequence[str], rows: Sequence[Sequence]) -> None:
    if not rows:
        return
    conn = session.connection()
    if is_pg(session) and len(rows) >= STAGE_MIN:
        raw = conn.connection.driver_connection
        with raw.cursor() as cur:
            with cur.copy(f"COPY {table.name} ({', '.join(columns)}) FROM STDIN") as copy:
                for row in rows:
                    copy.write_row(row)
        return
    conn.execute(table.insert(), [dict(zip(columns, r)) for r in rows])


def delete_ids(session: Session, table: Table, ids: Sequence[int]) -> None:
    for chunk in id_chunks(session, ids):
        session.connection().execute(table.delete().where(in_ids(session, table.c.id, chunk)))
