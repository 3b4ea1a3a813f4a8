"""The dialect-specific SQL pieces of the uptime query: epoch seconds, GREATEST and LEAST on SQLite and PostgreSQL."""
from sqlalchemy import BigInteger
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.sql.functions import FunctionElement


class epoch_s(FunctionElement):
    """Seconds since 1970 of a UTCDateTime or Date column — the one dialect-specific piece of the uptime SQL."""

    type = BigInteger()
    inherit_cache = True


@compiles(epoch_s, "sqlite")
def _epoch_sqlite(element, compiler, **kw):
    return "CAST(strftime('%%s', %s) AS INTEGER)" % compiler.process(element.clauses, **kw)


@compiles(epoch_s, "postgresql")
def _epoch_pg(element, compiler, **kw):
    return "CAST(FLOOR(EXTRACT(EPOCH FROM %s)) AS BIGINT)" % compiler.process(element.clauses, **kw)


class greatest(FunctionElement):
    """GREATEST(a, b) — spelled max(a, b) on SQLite, whose scalar max() takes several arguments."""

    type = BigInteger()
    inherit_cache = True


class least(FunctionElement):
    type = BigInteger()
    inherit_cache = True


@compiles(greatest, "sqlite")
def _greatest_sqlite(element, compiler, **kw):
    return "max(%s)" % compiler.process(element.clauses, **kw)


@compiles(greatest)
def _greatest_default(element, compiler, **kw):
    return "GREATEST(%s)" % compiler.process(element.clauses, **kw)


@compiles(least, "sqlite")
def _least_sqlite(element, compiler, **kw):
    return "min(%s)" % compiler.process(element.clauses, **kw)


@compiles(least)
def _least_default(element, compiler, **kw):
    return "LEAST(%s)" % compiler.process(element.clauses, **kw)
