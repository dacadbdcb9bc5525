from __future__ import annotations

import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from django.core.management.base import CommandError
from rich.console import Console
from rich.progress import BarColumn, Progress, TaskProgressColumn, TextColumn, TimeRemainingColumn

from campaigns import vocabulary as words
from campaigns.management.cli import CampaignCommand, campaign_id, the_only_superuser, user_named
from campaigns.models import Campaign, CampaignStatus, CampaignType
from campaigns.selectors import campaign_get, campaign_history
from campaigns.services.campaigns import campaign_create
from campaigns.services.errors import InvalidCampaignParams
from campaigns.services.params import SOURCE_TYPE, build_params

ENDED = {CampaignStatus.COMPLETED, CampaignStatus.FAILED, CampaignStatus.CANCELLED}


def tld_list(values: list[str] | None) -> list[str] | None:
    """--tld com --tld net,org → ['com', 'net', 'org'] (blank items dropped)."""
    if values is None:
        return None
    return [item.strip() for value in values for item in value.split(",") if item.strip()]


@dataclass(frozen=True)
class TypeOptions:
    """The command-line options of one campaign type and how they become its params."""

    title: str
    options: tuple[tuple[tuple[str, ...], dict[str, Any]], ...]  # (flags, add_argument kwargs)
    params: Callable[[dict[str, Any]], dict[str, Any]]

    def dests(self) -> list[str]:
        return [kwargs["dest"] for _, kwargs in self.options]


def _described(phase: Campaign) -> str:
    """A progress bar's label: the phase's type and status, e.g. "DNS validation running"."""
    return f"{words.type_label(phase.campaign_type)} {words.status_label(phase.status).lower()}"


def _counts(phase: Campaign) -> str:
    """Processed of total; a later phase's total is unknown ("?") until its source feeds it or it ends."""
    known = phase.total_items or phase.status in ENDED
    return f"{phase.processed_items:,}/{phase.total_items:,}" if known else f"{phase.processed_items:,}/?"


def _given(options: dict[str, Any], *names: str) -> dict[str, Any]:
    return {name: options[name] for name in names if options.get(name) is not None}


def _generation_params(options: dict[str, Any]) -> dict[str, Any]:
    params = _given(options, "pattern", "prefix_length", "suffix_length", "charset", "constant", "count")
    tlds = tld_list(options.get("tlds"))
    if tlds is not None:
        params["tlds"] = tlds
    return params


def _dns_params(options: dict[str, Any]) -> dict[str, Any]:
    return {"personas": options.get("personas") or []}


def _http_params(options: dict[str, Any]) -> dict[str, Any]:
    params = {"persona": options.get("personas") or []}  # the service wants exactly one
    params.update(
        _given(options, "keyword_sets", "adhoc_keywords", "proxies", "proxy_strategy", "target_ports", "retries", "max_in_flight")
    )
    return params


Option = tuple[tuple[str, ...], dict[str, Any]]


def _option(flag: str, dest: str, help: str, **kwargs: Any) -> Option:
    return (flag,), dict(dest=dest, help=help, **kwargs)


SOURCE = _option("--source", "source", "The campaign whose output this one reads (required).", type=campaign_id, metavar="ID")
PERSONA = _option(
    "--persona", "personas", "DNS: a persona; repeat it, they are tried in order. HTTP: the one persona.",
    action="append", metavar="NAME",
)
# Chaining: the params of the later phases of the pipeline (README, "Pipelines").
CHAIN_DNS = (
    _option("--chain-dns-persona", "chain_dns_personas", "With --chain-next: the DNS phase's personas, in order.",
            action="append", metavar="NAME"),
)
CHAIN_HTTP = (
    _option("--chain-http-persona", "chain_http_persona", "With --chain-next: the HTTP phase's persona.", metavar="NAME"),
    _option("--chain-keyword-set", "chain_keyword_sets", "The HTTP phase's keyword set; repeat it.", action="append", metavar="NAME"),
    _option("--chain-keyword", "chain_adhoc_keywords", "The HTTP phase's ad-hoc keyword (case-insensitive); repeat it.",
            action="append", metavar="WORD"),
    _option("--chain-port", "chain_target_ports", "The HTTP phase's target port, in order (default: 443 then 80); repeat it.",
            action="append", type=int, metavar="N"),
)
HTTP_OPTIONS = (
    _option("--keyword-set", "keyword_sets", "A keyword set; repeat it.", action="append", metavar="NAME"),
    _option("--keyword", "adhoc_keywords", "An ad-hoc keyword (case-insensitive); repeat it.", action="append", metavar="WORD"),
    _option("--proxy", "proxies", "A proxy; repeat it.", action="append", metavar="NAME"),
    _option("--proxy-strategy", "proxy_strategy", "How proxies are picked.", metavar="round_robin|random|least_used"),
    _option("--port", "target_ports", "A target port, in order (default: 443 then 80).", action="append", type=int, metavar="N"),
    _option("--retries", "retries", "Retries per domain (default 1).", type=int, metavar="N"),
    _option("--max-in-flight", "max_in_flight", "Concurrent requests per batch (default 50); a worker's idle lanes add theirs to a running batch (docs/DECISIONS.md).", type=int, metavar="N"),
)

# Each type declares its own options; an option given for another type is refused.
TYPE_OPTIONS: dict[str, TypeOptions] = {
    CampaignType.DOMAIN_GENERATION: TypeOptions(
        title="domain_generation options",
        options=(
            (("--pattern",), dict(dest="pattern", metavar="prefix|suffix|both", help="Where the variable part goes.")),
            (("--prefix-length",), dict(dest="prefix_length", type=int, metavar="N", help="Variable characters before the constant.")),
            (("--suffix-length",), dict(dest="suffix_length", type=int, metavar="N", help="Variable characters after the constant.")),
            (("--charset",), dict(dest="charset", metavar="CHARS", help="Characters of the variable part (a-z, 0-9, '-').")),
            (("--constant",), dict(dest="constant", metavar="TEXT", help="The fixed part of every label.")),
            (("--tld",), dict(dest="tlds", action="append", metavar="TLD", help="A TLD; repeat it or separate with commas.")),
            (("--count",), dict(dest="count", type=int, metavar="N", help="How many domains to generate.")),
            *CHAIN_DNS,
            *CHAIN_HTTP,
        ),
        params=_generation_params,
    ),
    CampaignType.DNS_VALIDATION: TypeOptions(
        title="dns_validation options",
        options=(SOURCE, PERSONA, *CHAIN_HTTP),
        params=_dns_params,
    ),
    CampaignType.HTTP_KEYWORD_VALIDATION: TypeOptions(
        title="http_keyword_validation options",
        options=(SOURCE, PERSONA, *HTTP_OPTIONS),
        params=_http_params,
    ),
}

# Which phase the chain options build, and how the service's field names read as chain flags.
CHAIN_FLAGS: dict[str, dict[str, str]] = {
    CampaignType.DNS_VALIDATION: {"personas": "--chain-dns-persona"},
    CampaignType.HTTP_KEYWORD_VALIDATION: {
        "persona": "--chain-http-persona",
        "keyword_sets": "--chain-keyword-set",
        "adhoc_keywords": "--chain-keyword",
        "target_ports": "--chain-port",
    },
}


def _option_groups() -> list[tuple[str, list[Option]]]:
    """Every option once, grouped by the types that take it (options shared by types get a group of their own)."""
    takers: dict[str, list[str]] = {}
    specs: dict[str, Option] = {}
    for campaign_type, spec in TYPE_OPTIONS.items():
        for option in spec.options:
            takers.setdefault(option[1]["dest"], []).append(campaign_type)
            specs.setdefault(option[1]["dest"], option)
    groups: dict[tuple[str, ...], list[Option]] = {}
    for dest, types in takers.items():
        groups.setdefault(tuple(types), []).append(specs[dest])
    return [
        (TYPE_OPTIONS[types[0]].title if len(types) == 1 else f"{' and '.join(types)} options", options)
        for types, options in groups.items()
    ]


# Options every type understands.
COMMON_OPTIONS: tuple[tuple[tuple[str, ...], dict[str, Any]], ...] = (
    (("--batch-size",), dict(dest="batch_size", type=int, metavar="N", help="Items per job (default: the type's).")),
)

# How the service's field names read on this command line.
FLAGS = {
    "campaign_type": "--type",
    "tlds": "--tld",
    "owner": "--owner",
    "source": "--source",
    "source_campaign": "--source",
    "personas": "--persona",
    "persona": "--persona",
    "keyword_sets": "--keyword-set",
    "adhoc_keywords": "--keyword",
    "proxies": "--proxy",
    "target_ports": "--port",
}


def flag_of(field: str) -> str:
    return FLAGS.get(field, "--" + field.replace("_", "-"))


class Command(CampaignCommand):
    help = "Create a campaign (and optionally start it and wait for it to end)."

    def add_arguments(self, parser):
        parser.add_argument("--type", dest="campaign_type", required=True, metavar="|".join(CampaignType.values))
        parser.add_argument("--name", required=True)
        parser.add_argument(
            "--owner", metavar="USERNAME",
            help="Owner, and the user who acts (default: the only active superuser; required when there is none or several).",
        )
        parser.add_argument("--start", action="store_true", help="Start the campaign right away (a refused start exits 1).")
        parser.add_argument(
            "--wait", action="store_true",
            help="With --start: wait until it and the later phases it creates (--chain-next) have each completed, "
                 "failed or been cancelled; exit 1 unless all completed.",
        )
        parser.add_argument("--poll-interval", type=float, default=1.0, metavar="SECONDS", help="How often --wait looks.")
        for flags, kwargs in COMMON_OPTIONS:
            parser.add_argument(*flags, **kwargs)
        chained = {kwargs["dest"] for _, kwargs in (*CHAIN_DNS, *CHAIN_HTTP)}
        for title, options in _option_groups():
            options = [option for option in options if option[1]["dest"] not in chained]
            if options:
                group = parser.add_argument_group(title)
                for flags, kwargs in options:
                    group.add_argument(*flags, **kwargs)
        pipeline = parser.add_argument_group(
            "pipeline options (the later phases: generation → DNS → HTTP; a dns_validation campaign chains only HTTP)"
        )
        pipeline.add_argument(
            "--chain-next", action="store_true",
            help="Create the later phases with this campaign; each is fed batch by batch as the one before runs (campaign_status ID lists them).",
        )
        for flags, kwargs in (*CHAIN_DNS, *CHAIN_HTTP):
            pipeline.add_argument(*flags, **kwargs)

    def handle(self, *args, **options):
        campaign_type = options["campaign_type"]
        if campaign_type not in CampaignType.values:
            raise CommandError(f"--type: must be one of {', '.join(CampaignType.values)}; got {campaign_type!r}")
        if options["wait"] and not options["start"]:
            raise CommandError("--wait needs --start: a campaign that is not started never ends.")
        if options["poll_interval"] <= 0:
            raise CommandError("--poll-interval: must be a positive number of seconds")
        params = self._params(campaign_type, options)
        chain_params = self._chain_params(campaign_type, options)
        if campaign_type in SOURCE_TYPE and options["source"] is None:
            wanted = SOURCE_TYPE[campaign_type]
            raise CommandError(f"--source: a {campaign_type} campaign needs a {wanted} source campaign (its ID)")
        owner = user_named(options["owner"], option="--owner") if options["owner"] else the_only_superuser()

        try:
            outcome = campaign_create(
                actor=owner,
                name=options["name"],
                campaign_type=campaign_type,
                params=params,
                owner_id=owner.pk,
                source_campaign_id=options.get("source"),
                chain_next=options["chain_next"],
                chain_params=chain_params,
                start=options["start"],
            )
        except InvalidCampaignParams as exc:
            field, message = next(iter(exc.errors.items()))
            raise CommandError(message if field == "__all__" else f"{flag_of(field)}: {message}") from exc
        campaign, warnings = outcome.campaign, list(outcome.warnings)
        phases = [campaign, *outcome.phases]
        if options["start"] and campaign.status == CampaignStatus.PENDING:
            why = f": {'; '.join(warnings).rstrip('.')}" if warnings else ""
            raise CommandError(
                f"Campaign {campaign.pk} was created but its start was refused{why}."
                f" It is pending: start it with `start_campaign {campaign.pk}` once that is fixed."
            )
        if options["wait"]:
            phases = self._wait(phases, options["poll_interval"])
            campaign = phases[0]
            last = campaign_history(campaign=campaign).last()
            if campaign.status == CampaignStatus.COMPLETED and last is not None and last.reason:
                warnings.append(last.reason)  # e.g. "offset space exhausted: generated 0 of 1000 …"
        self._warn(warnings)
        # Once waited for, a line per phase; a campaign just created or started is one line.
        self.write_phases(phases, every_line=options["wait"], warnings=warnings)
        unfinished = [phase for phase in phases if phase.status != CampaignStatus.COMPLETED]
        if options["wait"] and unfinished:
            # The first phase that did not complete says why: the phases after it stopped with it.
            phase = unfinished[0]
            detail = f": {phase.error_message}" if phase.error_message else ""
            raise CommandError(f"Campaign {phase.pk} ended {phase.status}{detail}", returncode=1)

    def _params(self, campaign_type: str, options: dict[str, Any]) -> dict[str, Any]:
        own = TYPE_OPTIONS.get(campaign_type)
        for other_type, spec in TYPE_OPTIONS.items():
            if other_type == campaign_type:
                continue
            for flags, kwargs in spec.options:
                if options.get(kwargs["dest"]) is not None and (own is None or kwargs["dest"] not in own.dests()):
                    raise CommandError(f"{flags[0]} is a {other_type} option, not a {campaign_type} one.")
        params = own.params(options) if own is not None else {}
        params.update(_given(options, *(kwargs["dest"] for _, kwargs in COMMON_OPTIONS)))
        return params

    def _chain_params(self, campaign_type: str, options: dict[str, Any]) -> dict[str, Any]:
        """chain_params from the --chain-* options, checked here so an error names the chain flag."""
        given = [flags[0] for flags, kwargs in (*CHAIN_DNS, *CHAIN_HTTP) if options.get(kwargs["dest"]) is not None]
        if not given:
            if options["chain_next"]:
                needed = "--chain-dns-persona" if campaign_type == CampaignType.DOMAIN_GENERATION else "--chain-http-persona"
                raise CommandError(f"--chain-next needs {needed}: the next phase is created now, with its persona.")
            return {}
        if not options["chain_next"]:
            raise CommandError(f"{given[0]} needs --chain-next.")
        http_extra = [flags[0] for flags, kwargs in CHAIN_HTTP[1:] if options.get(kwargs["dest"]) is not None]
        if http_extra and options.get("chain_http_persona") is None:
            raise CommandError(f"{http_extra[0]} needs --chain-http-persona.")
        chain: dict[str, Any] = {}
        if options.get("chain_dns_personas"):
            chain[CampaignType.DNS_VALIDATION] = {"personas": options["chain_dns_personas"]}
        if options.get("chain_http_persona") is not None:
            if campaign_type == CampaignType.DOMAIN_GENERATION and not chain:
                raise CommandError(
                    "--chain-http-persona needs --chain-dns-persona: the HTTP phase reads the DNS phase's results."
                )
            chain[CampaignType.HTTP_KEYWORD_VALIDATION] = {"persona": options["chain_http_persona"]}
            for key in ("keyword_sets", "adhoc_keywords", "target_ports"):
                if options.get(f"chain_{key}"):
                    chain[CampaignType.HTTP_KEYWORD_VALIDATION][key] = options[f"chain_{key}"]
        for next_type, params in chain.items():
            try:
                build_params(next_type, params)
            except InvalidCampaignParams as exc:
                field, message = next(iter(exc.errors.items()))
                raise CommandError(f"{CHAIN_FLAGS[next_type].get(field, '--chain-next')}: {message}") from exc
        return chain

    def _warn(self, warnings: list[str]) -> None:
        if not self.as_json:
            for warning in warnings:
                self.stderr.write(f"warning: {warning}")

    def _wait(self, phases: list[Campaign], interval: float) -> list[Campaign]:
        """Poll until every phase has ended; a progress bar per phase only when a person watches stderr."""
        out = getattr(self.stderr, "_out", sys.stderr)
        try:
            if not self.stderr.isatty():
                return self._poll(phases, interval, lambda _: None)
            bar = Progress(
                TextColumn("{task.description}"),
                BarColumn(),
                TaskProgressColumn(),
                TextColumn("{task.fields[counts]}"),
                TimeRemainingColumn(),
                console=Console(file=out),
            )
            with bar:
                tasks = [bar.add_task(_described(phase), total=phase.total_items or None, counts=_counts(phase))
                         for phase in phases]

                def show(now: list[Campaign]) -> None:
                    for task, phase in zip(tasks, now):
                        bar.update(task, completed=phase.processed_items, total=phase.total_items or None,
                                   description=_described(phase), counts=_counts(phase))

                return self._poll(phases, interval, show)
        except KeyboardInterrupt:
            raise CommandError(
                f"Stopped waiting; campaign {phases[0].pk} keeps going without us.", returncode=130
            ) from None

    @staticmethod
    def _poll(phases: list[Campaign], interval: float, show: Callable[[list[Campaign]], None]) -> list[Campaign]:
        while True:
            phases = [campaign_get(actor=None, campaign_id=phase.pk) for phase in phases]
            show(phases)
            if all(phase.status in ENDED for phase in phases):
                return phases
            time.sleep(interval)
