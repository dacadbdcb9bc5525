from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

from django.core.management.base import CommandError

from campaigns.management.cli import ActingCommand
from campaigns.services.config_io import config_import


class _NotJson(ValueError):
    pass


def _no_constant(token: str) -> Any:
    raise _NotJson(f"{token} is not allowed")


def read_document(name: str) -> Any:
    """The parsed JSON of FILE ("-" is stdin); a CommandError of one line when it cannot be read."""
    try:
        text = sys.stdin.read() if name == "-" else Path(name).read_text(encoding="utf-8")
    except FileNotFoundError:
        raise CommandError(f"{name}: no such file") from None
    except IsADirectoryError:
        raise CommandError(f"{name}: is a directory, not a JSON file") from None
    except UnicodeDecodeError:
        raise CommandError(f"{name}: not UTF-8 text") from None
    except OSError as exc:
        raise CommandError(f"{name}: cannot read: {exc.strerror or exc}") from None
    try:
        # NaN and Infinity are Python's extension, not JSON.
        return json.loads(text, parse_constant=_no_constant)
    except json.JSONDecodeError as exc:
        raise CommandError(f"{name}: not valid JSON: {exc.msg} (line {exc.lineno}, column {exc.colno})") from None
    except _NotJson as exc:
        raise CommandError(f"{name}: not valid JSON: {exc}") from None
    except RecursionError:
        raise CommandError(f"{name}: nested too deeply to be a configuration document") from None


class Command(ActingCommand):
    help = (
        "Import DNS/HTTP personas, proxies and keyword sets from a JSON document (as written by export_config; "
        "docs/CONFIGURATION.md describes every field): upsert by name, all or nothing."
    )

    def add_arguments(self, parser):
        parser.add_argument("file", metavar="FILE.json", help='The document; "-" reads stdin.')
        self.add_actor_argument(parser)

    def handle(self, *args, **options):
        actor, label = self.actor_from(options)
        name = options["file"]
        document = read_document(name)
        summary = config_import(
            actor=actor, actor_label=label, document=document, source="stdin" if name == "-" else str(Path(name).resolve())
        ).as_dict()
        if self.as_json:
            self.write_json(summary)
            return
        kinds = ", ".join(
            f"{kind} {counts['created']}/{counts['updated']}/{counts['unchanged']}" for kind, counts in summary["by_kind"].items()
        )
        self.stdout.write(
            f"Imported {name}: {summary['created']} created, {summary['updated']} updated, {summary['unchanged']} unchanged"
            f" (created/updated/unchanged: {kinds})"
        )
