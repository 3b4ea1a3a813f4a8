"""Spreadsheet and CSV cells that stay data (formula injection, OWASP "CSV injection").

Every file the system writes for a spreadsheet program (inventory CSV/XLSX, uptime CSV/XLSX, report XLSX) passes
its cells through `safe_cell`: a text beginning with `= + - @`, a tab or a carriage return gets a leading
apostrophe, so Excel, LibreOffice and WPS show it as text instead of running it. Numbers stay numbers, and a text
that is only a number ("-12.5") is left as it is. `unsafe_cell` undoes it when such a file is imported back."""
import re

TRIGGERS = ("=", "+", "-", "@", "\t", "\r")
_PLAIN_NUMBER = re.compile(r"[+-]?(\d+(\.\d*)?|\.\d+)([eE][+-]?\d+)?")


def safe_cell(value):
    """The value to write into a cell: text that a spreadsheet would take for a formula is quoted with `'`."""
    if isinstance(value, str) and value.startswith(TRIGGERS) and not _PLAIN_NUMBER.fullmatch(value):
        return "'" + value
    return value


def safe_row(values) -> list:
    return [safe_cell(v) for v in values]


def unsafe_cell(value):
    """Read back a cell `safe_cell` wrote: "'=x" → "=x"; any other value unchanged."""
    if isinstance(value, str) and value.startswith("'") and value[1:].startswith(TRIGGERS) \
            and safe_cell(value[1:]) == value:
        return value[1:]
    return value
