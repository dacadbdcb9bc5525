"""Writing a batch's result rows: one COPY, with every value made storable first.

PostgreSQL refuses NUL in text and JSON, and text that is not valid UTF-8;
servers send both. Every string is cleaned before the COPY (HTTP outcomes come
cleaned from campaigns.http). A batch is written as COPY text built in one
pass (copy_lines, copy_chunks and the field helpers below). Should a row still
be refused, the batch is written again row by row from tuples
(record_or_isolate, copy_rows_isolated), and the refused row is replaced by an
error row for its domain, so one hostile server never fails the others' results.
"""
from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from typing import Any

from django.db import DataError, connection, transaction
from psycopg import Copy
from psycopg.types.json import Jsonb


def storable(value: Any) -> Any:
    """The value with NUL removed and unencodable characters replaced, in strings, lists and dicts."""
    if isinstance(value, str):
        if "\x00" in value:
            value = value.replace("\x00", "")
        try:
            value.encode("utf-8")
        except UnicodeEncodeError:
            value = value.encode("utf-8", "replace").decode("utf-8")
        return value
    if isinstance(value, (list, tuple)):
        return [storable(item) for item in value]
    if isinstance(value, dict):
        return {storable(key): storable(item) for key, item in value.items()}
    if isinstance(value, Jsonb):
        return Jsonb(storable(value.obj))
    return value


# COPY's text format: a field's backslash, tab, newline and carriage return are escaped; \N is NULL.
COPY_NULL = "\\N"
# An array whose elements are all addresses (hex digits, dots, colons) needs no quoting: none of
# them is empty, spells NULL or holds a character the array syntax gives a meaning to.
_PLAIN_ARRAY = re.compile(r"[0-9A-Fa-f.:]+(?:,[0-9A-Fa-f.:]+)*")


def copy_escape(text: str) -> str:
    """A storable string as one field of COPY's text format.

    Four scans that rarely find anything cost less than one str.translate, which maps character by
    character (and is slowest of all on non-ASCII text)."""
    if "\\" in text:
        text = text.replace("\\", "\\\\")
    if "\t" in text:
        text = text.replace("\t", "\\t")
    if "\n" in text:
        text = text.replace("\n", "\\n")
    if "\r" in text:
        text = text.replace("\r", "\\r")
    return text


def copy_text(value: str) -> str:
    """Any string, made storable, as one field of COPY's text format."""
    return copy_escape(storable(value))


def copy_array(items: Sequence[str]) -> str:
    """A text array as one field of COPY's text format: a PostgreSQL array literal, its elements
    double-quoted (backslash and quote escaped) unless they are plain addresses."""
    if not items:
        return "{}"
    joined = ",".join(items)
    if _PLAIN_ARRAY.fullmatch(joined):
        return f"{{{joined}}}"
    quoted = ",".join('"' + item.replace("\\", "\\\\").replace('"', '\\"') + '"' for item in items)
    return copy_escape(f"{{{quoted}}}")


@contextmanager
def _copy(table: str, columns: Sequence[str]) -> Iterator[Copy]:
    """A COPY into table in the caller's transaction; the raw psycopg cursor's errors reach callers
    as Django's, like every other statement's."""
    with connection.cursor() as cursor, connection.wrap_database_errors:
        with cursor.cursor.copy(f"COPY {table} ({', '.join(columns)}) FROM STDIN") as copy:
            yield copy


def copy_lines(table: str, columns: Sequence[str], lines: str) -> None:
    """COPY rows already written as COPY text lines (the fast path of a large batch)."""
    if lines:
        copy_chunks(table, columns, [lines])


def copy_chunks(table: str, columns: Sequence[str], chunks: Iterable[str]) -> None:
    """COPY rows written as chunks of COPY text lines, each sent as it comes: PostgreSQL parses and
    stores one chunk while the next is built, as it does with psycopg's own rows."""
    with _copy(table, columns) as copy:
        for chunk in chunks:
            copy.write(chunk)


def copy_rows(table: str, columns: Sequence[str], rows: Sequence[tuple]) -> None:
    """COPY rows given as tuples of Python values."""
    if rows:
        with _copy(table, columns) as copy:
            for row in rows:
                copy.write_row(row)


def record_or_isolate(record: Callable[..., int], /, **kwargs: Any) -> int:
    """Record a batch; should PostgreSQL refuse one of its values, record it again row by row, so
    that only the refused row becomes an error (each call is its own transaction)."""
    try:
        return record(**kwargs)
    except DataError:
        return record(isolate=True, **kwargs)


def copy_rows_isolated(
    table: str, columns: Sequence[str], rows: Sequence[tuple], *, error_row: Callable[[tuple, str], tuple]
) -> list[str]:
    """COPY rows one by one, each in a savepoint; a refused row becomes error_row. Returns each stored status."""
    status = columns.index("status")
    stored = []
    for row in rows:
        try:
            with transaction.atomic():
                copy_rows(table, columns, [row])
        except DataError as exc:
            row = error_row(row, f"result could not be stored: {str(exc).splitlines()[0]}")
            copy_rows(table, columns, [row])
        stored.append(row[status])
    return stored
