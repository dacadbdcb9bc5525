"""What every campaign command shares: who acts, one-line errors, one JSON object.

A command's failure is one line on stderr and a non-zero exit; with --json
stdout also carries exactly one object (the result, or {"error": ...}).
"""
from __future__ import annotations

import argparse
import getpass
import json
import os
import tempfile
from functools import partial
from pathlib import Path
from typing import Any
from uuid import UUID

from django.contrib.auth import get_user_model
from django.contrib.auth.models import AbstractBaseUser
from django.core.management.base import BaseCommand, CommandError, CommandParser

from campaigns.models import Campaign
from campaigns.pipelines import later_versions, phases_moved
from campaigns.selectors import campaign_progress
from campaigns.services.errors import CampaignError
from campaigns.services.transitions import campaign_transition
from txmetrics.errors import TransactionRetriesExhausted, TransactionTimeout

# Refusals a person can act on: shown as their message, never as a traceback.
USER_FACING_ERRORS = (CampaignError, TransactionRetriesExhausted, TransactionTimeout)


def cli_actor_label() -> str:
    """`cli:<os user>`: who ran manage.py, for commands acting as the system."""
    try:
        name = getpass.getuser()
    except Exception:  # noqa: BLE001 - no login name (containers): the uid still identifies the caller
        name = str(os.getuid())
    return f"cli:{name}"


def user_named(username: str, *, option: str) -> AbstractBaseUser:
    """The active user with this username, or a CommandError naming the option."""
    User = get_user_model()
    try:
        user = User._default_manager.get_by_natural_key(username)
    except User.DoesNotExist:
        user = None
    if user is None or not user.is_active:
        raise CommandError(f"{option}: no active user named {username!r}")
    return user


def the_only_superuser() -> AbstractBaseUser:
    """The single active superuser, the default owner; with none or several the caller must choose."""
    superusers = get_user_model()._default_manager.filter(is_superuser=True, is_active=True)
    found = list(superusers[:2])
    if len(found) == 1:
        return found[0]
    if not found:
        raise CommandError("No active superuser exists to own the campaign; choose its owner with --owner USERNAME.")
    raise CommandError(f"There are {superusers.count()} superusers; choose the campaign's owner with --owner USERNAME.")


def campaign_id(value: str) -> UUID:
    """argparse type of a campaign ID argument."""
    try:
        return UUID(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{value!r} is not a campaign id (a UUID)") from None


def whole_number(value: str, *, minimum: int = 1, why: str = "") -> int:
    """argparse type of a whole-number option of at least `minimum`; `why` explains the minimum."""
    try:
        number = int(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"must be a whole number; got {value!r}") from None
    if number < minimum:
        raise argparse.ArgumentTypeError(f"must be at least {minimum}{why}; got {number}")
    return number


def version_number(value: str) -> int:
    """argparse type of --expected-version: a campaign's version, 1 or more."""
    return whole_number(value, why=" (a campaign starts at version 1)")


def open_partial_file(output: str):
    """A private temporary file beside `output`, for the caller to rename over it once complete.

    Readers of `output` then see the old file or the whole new one, never half of it.
    """
    path = Path(output)
    if path.is_dir():
        raise CommandError(f"-o: {output} is a directory")
    try:
        return tempfile.NamedTemporaryFile(
            "w", encoding="utf-8", newline="", dir=path.parent, prefix=f".{path.name}.", suffix=".partial", delete=False
        )
    except OSError as exc:
        raise CommandError(f"-o: cannot write {output}: {exc.strerror or exc}") from exc


def to_json(data: Any) -> str:
    return json.dumps(data, default=str, sort_keys=False)


def _one_line_error(parser: CommandParser, message: str) -> None:
    """argparse's error, without the usage block: one line, exit status 2."""
    if parser.called_from_command_line:
        parser.exit(2, f"{parser.prog}: error: {message}\n")
    raise CommandError(f"Error: {message}")


class CampaignCommand(BaseCommand):
    """A command whose errors are one line and whose --json output is one object."""

    json_flag = True

    def create_parser(self, prog_name, subcommand, **kwargs):
        parser = super().create_parser(prog_name, subcommand, **kwargs)
        parser.error = partial(_one_line_error, parser)
        if self.json_flag:
            parser.add_argument("--json", action="store_true", help="Print one JSON object on stdout.")
        return parser

    def execute(self, *args, **options):
        self.as_json = bool(options.get("json"))
        self._json_written = False
        try:
            return super().execute(*args, **options)
        except USER_FACING_ERRORS as exc:
            error = CommandError(str(exc))
            self._json_error(error)
            raise error from exc
        except CommandError as exc:
            self._json_error(exc)
            raise

    def write_json(self, data: dict[str, Any]) -> None:
        self._json_written = True
        self.stdout.write(to_json(data))

    def write_phases(self, phases: list[Campaign], *, every_line: bool = True, **extra: Any) -> None:
        """A campaign and the later phases a command created or changed: in JSON the campaign's progress
        with `extra` and `phases` (each phase's); in text a line per phase, or the campaign's alone."""
        if self.as_json:
            progress = [campaign_progress(phase).as_dict() for phase in phases]
            self.write_json({**progress[0], **extra, "phases": progress})
        else:
            shown = phases if every_line else phases[:1]
            self.stdout.write("\n".join(f"{p.pk} {p.status} (version {p.version})" for p in shown))

    def _json_error(self, exc: CommandError) -> None:
        if self.as_json and not self._json_written:
            self.write_json({"error": str(exc)})


class ActingCommand(CampaignCommand):
    """A command acting on a campaign: `--as USERNAME`, or the system labelled cli:<os user>."""

    def add_actor_argument(self, parser) -> None:
        parser.add_argument(
            "--as",
            dest="as_user",
            metavar="USERNAME",
            help="Act as this user (their access applies); default: the system, recorded as cli:<os user>.",
        )

    def actor_from(self, options: dict[str, Any]) -> tuple[AbstractBaseUser | None, str]:
        """(actor, actor_label) for the services."""
        username = options.get("as_user")
        if username:
            user = user_named(username, option="--as")
            return user, ""
        return None, cli_actor_label()


class TransitionCommand(ActingCommand):
    """start_campaign, pause_campaign …: one named transition through campaign_transition."""

    transition = ""

    def add_arguments(self, parser):
        parser.add_argument("campaign_id", type=campaign_id, metavar="ID")
        self.add_actor_argument(parser)
        parser.add_argument(
            "--expected-version", type=version_number, metavar="N",
            help="Refuse if the campaign is no longer at this version (campaign_status shows it).",
        )
        parser.add_argument("--reason", default="", help="Recorded with the state event.")

    def handle(self, *args, **options):
        actor, label = self.actor_from(options)
        # A start or a cancel goes on to the later phases of the pipeline (services/transitions): the
        # ones it changed are shown after the campaign, so an operator sees everything it did.
        before = later_versions(actor=actor, campaign_id=options["campaign_id"])
        campaign = campaign_transition(
            campaign_id=options["campaign_id"],
            transition=self.transition,
            actor=actor,
            actor_label=label,
            expected_version=options["expected_version"],
            reason=options["reason"],
        )
        self.write_phases([campaign, *phases_moved(actor=actor, campaign_id=campaign.pk, versions=before)])
