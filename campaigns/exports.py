"""A campaign's results as lines of CSV or JSON Lines, streamed from a server-side cursor.

`export_rows` is shared by `manage.py export_results` and the web console:
both consume the same generator, so memory stays flat however many rows
there are. Rows are read through `.iterator()`, which on PostgreSQL is a
named cursor; outside a transaction Django declares it WITH HOLD, so no
transaction stays open while a slow consumer (a pipe, a browser) drains it.
"""
from __future__ import annotations

import csv
import io
import json
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass

from campaigns.models import Campaign, CampaignType, GeneratedDomain
from campaigns.services.errors import CampaignError

FORMATS = ("csv", "jsonl")
CONTENT_TYPES = {"csv": "text/csv; charset=utf-8", "jsonl": "application/x-ndjson"}
CHUNK_SIZE = 5000  # rows per fetch from the server-side cursor
TEXT_CHUNK = 64 * 1024  # characters per yielded chunk


class ExportNotAvailable(CampaignError):
    """This campaign type's results cannot be exported yet."""

    def __init__(self, campaign_type: str) -> None:
        super().__init__(f"Exporting the results of a {campaign_type} campaign is not available yet.")


@dataclass(frozen=True)
class ExportSource:
    columns: tuple[str, ...]
    rows: Callable[[Campaign], Iterable[tuple]]


def _generated_domains(campaign: Campaign) -> Iterable[tuple]:
    return (
        GeneratedDomain.objects.filter(campaign=campaign)
        .order_by("offset_index")
        .values_list("offset_index", "domain_name")
        .iterator(chunk_size=CHUNK_SIZE)
    )


# One entry per campaign type; DNS and HTTP results join here when their models exist.
SOURCES: dict[str, ExportSource] = {
    CampaignType.DOMAIN_GENERATION: ExportSource(("offset_index", "domain_name"), _generated_domains),
}


def export_rows(campaign: Campaign, fmt: str) -> Iterator[str]:
    """The campaign's results as text chunks of whole lines (~64 KB each).

    Type and format are checked when called, before any row is read, so a
    caller can refuse cleanly before it writes anything.
    """
    if fmt not in FORMATS:
        raise ValueError(f"format must be one of {', '.join(FORMATS)}; got {fmt!r}")
    source = SOURCES.get(campaign.campaign_type)
    if source is None:
        raise ExportNotAvailable(campaign.campaign_type)
    writer = _csv_lines if fmt == "csv" else _jsonl_lines
    return writer(source.columns, source.rows(campaign))


def _csv_lines(columns: tuple[str, ...], rows: Iterable[tuple]) -> Iterator[str]:
    # csv's quoting, not a hand-made join: later sources carry scraped text (titles, snippets).
    buffer = io.StringIO()
    out = csv.writer(buffer, lineterminator="\n")
    out.writerow(columns)
    for row in rows:
        out.writerow(row)
        if buffer.tell() >= TEXT_CHUNK:
            yield buffer.getvalue()
            buffer.seek(0)
            buffer.truncate()
    if buffer.tell():
        yield buffer.getvalue()


def _jsonl_lines(columns: tuple[str, ...], rows: Iterable[tuple]) -> Iterator[str]:
    lines: list[str] = []
    size = 0
    for row in rows:
        line = json.dumps(dict(zip(columns, row)), ensure_ascii=False, default=str) + "\n"
        lines.append(line)
        size += len(line)
        if size >= TEXT_CHUNK:
            yield "".join(lines)
            lines.clear()
            size = 0
    if lines:
        yield "".join(lines)
