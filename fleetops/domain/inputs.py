"""Reading what a person or a client typed: times, dates and whole numbers within sane bounds.

Each reader raises `ValidationFailed` naming the field, so a year-1 time, a 5,000-digit number or a list where a
code belongs is a 4xx with a sentence, never an OverflowError deep in a query."""
from __future__ import annotations

import math
from datetime import date, datetime, timezone, tzinfo

from fleetops.domain.errors import ValidationFailed
from fleetops.domain.text import Msg

# Far enough either way for any contract, near enough that ±14 h offsets, ±1 year periods and UTC conversion never
# leave the calendar Python (and PostgreSQL) can hold.
EARLIEST_YEAR, LATEST_YEAR = 1970, 2199
MAX_DIGITS = 18  # a whole number typed by a person or a client: at most 18 digits (below 2^63)


def _out_of_range(field: str) -> ValidationFailed:
    return ValidationFailed(Msg("%(field)s must lie between the years %(first)s and %(last)s.", field=field,
                                first=EARLIEST_YEAR, last=LATEST_YEAR), field=field)


def check_time(at: datetime, field: str) -> datetime:
    """`at` itself when its year (in its own zone and in UTC) is within the bounds."""
    try:
        utc_year = at.astimezone(timezone.utc).year if at.tzinfo is not None else at.year
    except OverflowError:
        raise _out_of_range(field) from None
    if not (EARLIEST_YEAR <= at.year <= LATEST_YEAR and EARLIEST_YEAR <= utc_year <= LATEST_YEAR):
        raise _out_of_range(field)
    return at


def check_date(d: date, field: str) -> date:
    if not EARLIEST_YEAR <= d.year <= LATEST_YEAR:
        raise _out_of_range(field)
    return d


def parse_time(value, field: str, default_zone: tzinfo | None = None) -> datetime:
    """An ISO 8601 time ('Z' allowed); a naive one takes `default_zone` (kept naive when that is None)."""
    if not isinstance(value, str) or not value.strip():
        raise ValidationFailed(Msg("%(field)s must be an ISO 8601 time, e.g. 2026-06-21T14:00:00+08:00.",
                                   field=field), field=field)
    try:
        at = datetime.fromisoformat(value.strip().replace("Z", "+00:00"))
    except ValueError:
        raise ValidationFailed(Msg("%(field)s must be an ISO 8601 time, e.g. 2026-06-21T14:00:00+08:00.",
                                   field=field), field=field) from None
    if at.tzinfo is None and default_zone is not None:
        at = at.replace(tzinfo=default_zone)
    return check_time(at, field)


def parse_date(value, field: str) -> date:
    """A YYYY-MM-DD date within the bounds."""
    try:
        d = datetime.strptime(value.strip(), "%Y-%m-%d").date() if isinstance(value, str) else None
    except ValueError:
        d = None
    if d is None:
        raise ValidationFailed(Msg("%(field)s must be a date written like 2026-06-21.", field=field), field=field)
    return check_date(d, field)


def whole_number(value, field: str, lowest: int = 0, highest: int = 10**9) -> int:
    """A whole number (int, or digits in a string) from `lowest` to `highest`."""
    if isinstance(value, str):
        text = value.strip()
        digits = text[1:] if text[:1] in "+-" else text
        if not digits.isascii() or not digits.isdigit() or len(digits) > MAX_DIGITS:
            value = None
        else:
            value = int(text)
    if isinstance(value, bool) or not isinstance(value, int) or not lowest <= value <= highest:
        raise ValidationFailed(Msg("%(field)s must be a whole number from %(lowest)s to %(highest)s.", field=field,
                                   lowest=lowest, highest=highest), field=field)
    return value


def number(value, field: str, lowest: float, highest: float) -> float:
    """A finite JSON number (not a boolean) from `lowest` to `highest`."""
    if isinstance(value, bool) or not isinstance(value, (int, float)) or \
            not math.isfinite(float(value)) or not lowest <= value <= highest:
        raise ValidationFailed(Msg("%(field)s must be a number from %(lowest)s to %(highest)s.", field=field,
                                   lowest=lowest, highest=highest), field=field)
    return float(value)


def text(value, field: str, max_length: int = 2000, required: bool = False) -> str:
    """A string (None → ""), at most `max_length` characters."""
    if value is None:
        value = ""
    if not isinstance(value, str) or len(value) > max_length or (required and not value.strip()):
        raise ValidationFailed(Msg("%(field)s must be text of at most %(n)s characters.", field=field,
                                   n=max_length), field=field)
    return value


def optional_text(value, field: str, max_length: int = 200) -> str | None:
    """A string or None (JSON null)."""
    return None if value is None else text(value, field, max_length)
