from __future__ import annotations

import argparse
import json
from functools import partial
from uuid import UUID

from django.core.management.base import BaseCommand, CommandError

from txmetrics.report import OperationStats, performance_stats

# (header, attribute, format) of each column after the operation's name.
COLUMNS = (
    ("total", "total", "{:,}"),
    ("ok", "succeeded", "{:,}"),
    ("failed", "failed", "{:,}"),
    ("avg ms", "avg_ms", "{:,.2f}"),
    ("min ms", "min_ms", "{:,.2f}"),
    ("p50 ms", "p50_ms", "{:,.2f}"),
    ("p95 ms", "p95_ms", "{:,.2f}"),
    ("max ms", "max_ms", "{:,.2f}"),
    ("avg retries", "avg_retries", "{:.2f}"),
)


# Further back than this, "now - hours" leaves the range of a timestamp.
MAX_HOURS = 100 * 366 * 24


def _positive_hours(value: str) -> float:
    try:
        hours = float(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"must be a number of hours; got {value!r}") from None
    if not hours > 0 or hours == float("inf"):
        raise argparse.ArgumentTypeError(f"must be a positive number of hours; got {value!r}")
    if hours > MAX_HOURS:
        raise argparse.ArgumentTypeError(f"must be at most {MAX_HOURS:,} hours (100 years); got {value!r}")
    return hours


def _uuid(value: str) -> UUID:
    try:
        return UUID(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{value!r} is not a campaign id (a UUID)") from None


def _one_line_error(parser, message: str) -> None:
    """argparse's error without the usage block: one line, exit status 2."""
    if parser.called_from_command_line:
        parser.exit(2, f"{parser.prog}: error: {message}\n")
    raise CommandError(f"Error: {message}")


def stats_table(stats: list[OperationStats]) -> str:
    """An aligned text table: the operation left-aligned, numbers right-aligned."""
    header = ["operation", *(title for title, _, _ in COLUMNS)]
    rows = [[s.operation, *(fmt.format(getattr(s, attr)) for _, attr, fmt in COLUMNS)] for s in stats]
    widths = [max(len(row[i]) for row in [header, *rows]) for i in range(len(header))]

    def line(cells: list[str]) -> str:
        first = cells[0].ljust(widths[0])
        return "  ".join([first, *(cell.rjust(width) for cell, width in zip(cells[1:], widths[1:]))])

    return "\n".join(line(cells) for cells in [header, *rows])


class Command(BaseCommand):
    help = "Transaction statistics per operation (from get_transaction_performance_stats)."

    def add_arguments(self, parser):
        parser.add_argument("--hours", type=_positive_hours, default=24.0, metavar="H", help="Look back this far (default 24).")
        parser.add_argument("--operation", metavar="OP", help="Only this operation, e.g. campaign.pause.")
        parser.add_argument("--campaign", type=_uuid, metavar="ID", help="Only transactions of this campaign.")
        parser.add_argument("--json", action="store_true", help="Print one JSON object on stdout.")

    def create_parser(self, prog_name, subcommand, **kwargs):
        parser = super().create_parser(prog_name, subcommand, **kwargs)
        parser.error = partial(_one_line_error, parser)
        return parser

    def handle(self, *args, **options):
        hours, operation, campaign = options["hours"], options["operation"], options["campaign"]
        stats = performance_stats(operation=operation, campaign_id=campaign, hours=hours)
        if options["json"]:
            data = {
                "hours": hours,
                "operation": operation,
                "campaign": str(campaign) if campaign else None,
                "operations": [s.as_dict() for s in stats],
            }
            self.stdout.write(json.dumps(data))
            return
        if not stats:
            scope = (f" of {operation}" if operation else "") + (f" for campaign {campaign}" if campaign else "")
            self.stdout.write(f"No transactions{scope} recorded in the last {hours:g} hours.")
            return
        self.stdout.write(stats_table(stats))

