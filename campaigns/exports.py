"""A campaign's results as lines of CSV or JSON Lines, streamed from a server-side cursor.

A CSV's header row is for people (campaigns/vocabulary: "Business status");
its cells, and JSON Lines' keys and values, stay the stored values
(docs/DECISIONS.md, "One vocabulary in exports and commands").

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
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from campaigns import vocabulary as words
from campaigns.models import Campaign, CampaignType, DnsResult, GeneratedDomain, HttpResult
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
    rows: Callable[[Campaign], Iterable[tuple]]  # values as JSON Lines shows them (lists stay lists)
    csv_text: dict[str, Callable[[Any], str]] = field(default_factory=dict)  # column -> its CSV cell, for lists


def _generated_domains(campaign: Campaign) -> Iterable[tuple]:
    return (
        GeneratedDomain.objects.filter(campaign=campaign)
        .order_by("offset_index")
        .values_list("offset_index", "domain_name")
        .iterator(chunk_size=CHUNK_SIZE)
    )


DNS_FIELDS = (
    "domain_name", "status", "business_status", "ips", "rcode", "resolver", "persona", "attempts", "latency_ms", "checked_at",
)
HTTP_FIELDS = (
    "domain_name", "status", "business_status", "status_code", "final_url", "redirect_count", "title", "server",
    "content_length", "body_sha256", "keyword_count", "keyword_hits", "persona", "proxy", "attempts",
    "response_time_ms", "error", "checked_at",
)


def _results(model: type[DnsResult] | type[HttpResult], fields: tuple[str, ...]) -> Callable[[Campaign], Iterable[tuple]]:
    """A validation campaign's result rows by domain, times in ISO 8601."""

    def rows(campaign: Campaign) -> Iterable[tuple]:
        found = (
            model.objects.filter(campaign=campaign)
            .order_by("domain_name")
            .values_list(*fields)
            .iterator(chunk_size=CHUNK_SIZE)
        )
        return (tuple(v.isoformat() if isinstance(v, datetime) else v for v in row) for row in found)

    return rows


def _hits_text(hits: list[dict[str, Any]]) -> str:
    return ";".join(f"{hit['keyword']}:{hit['count']}" for hit in hits)


# One entry per campaign type.
SOURCES: dict[str, ExportSource] = {
    CampaignType.DOMAIN_GENERATION: ExportSource(("offset_index", "domain_name"), _generated_domains),
    CampaignType.DNS_VALIDATION: ExportSource(
        ("domain", *DNS_FIELDS[1:]), _results(DnsResult, DNS_FIELDS), {"ips": " ".join}
    ),
    CampaignType.HTTP_KEYWORD_VALIDATION: ExportSource(
        ("domain", *HTTP_FIELDS[1:]), _results(HttpResult, HTTP_FIELDS), {"keyword_hits": _hits_text}
    ),
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
    rows = source.rows(campaign)
    if fmt == "jsonl":
        return _jsonl_lines(source.columns, rows)
    if source.csv_text:
        as_text = {source.columns.index(column): text for column, text in source.csv_text.items()}
        rows = (tuple(as_text[i](v) if i in as_text else v for i, v in enumerate(row)) for row in rows)
    return _csv_lines(source.columns, rows)


# A spreadsheet runs a cell that starts with one of these as a formula (CSV injection).
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def csv_safe(value: object) -> object:
    """A text cell as a spreadsheet must read it: never a formula, never broken into rows.

    A formula gets a leading quote. A carriage return becomes a line feed: the csv
    module quotes a field holding "\n" but, with "\n" line endings, not one holding a
    lone "\r", which a reader would take for the end of the row.
    """
    if not isinstance(value, str):
        return value
    if value.startswith(FORMULA_STARTS):
        value = "'" + value
    if "\r" in value:
        value = value.replace("\r\n", "\n").replace("\r", "\n")
    return value


def _csv_lines(columns: tuple[str, ...], rows: Iterable[tuple]) -> Iterator[str]:
    # csv's quoting, not a hand-made join: the rows carry scraped text (titles, servers, URLs).
    buffer = io.StringIO()
    out = csv.writer(buffer, lineterminator="\n")
    out.writerow([words.header_label(column) for column in columns])  # for people; JSONL keys stay snake_case
    for row in rows:
        out.writerow([csv_safe(value) for value in row])
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
