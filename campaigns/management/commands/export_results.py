from __future__ import annotations

import os
import sys
from pathlib import Path

from django.core.management.base import CommandError

from campaigns.exports import FORMATS, export_rows
from campaigns.management.cli import ActingCommand, campaign_id, open_partial_file
from campaigns.pipelines import PHASE_NAMES, pipeline_phase
from campaigns.selectors import campaign_get
from campaigns.services.access import audit_record


class Command(ActingCommand):
    help = "Stream a campaign's results as CSV or JSON Lines to stdout or a file (recorded in the audit log)."
    json_flag = False  # the output is the data itself

    def add_arguments(self, parser):
        parser.add_argument("campaign_id", type=campaign_id, metavar="ID", help="A campaign, or with --phase its pipeline.")
        parser.add_argument(
            "--phase", choices=tuple(PHASE_NAMES),
            help="Export this phase of ID's pipeline (generated names, DNS results or HTTP results) instead of ID itself.",
        )
        parser.add_argument("--format", dest="fmt", required=True, choices=FORMATS)
        parser.add_argument("-o", "--output", metavar="FILE", help="Write here (replaced when complete) instead of stdout.")
        self.add_actor_argument(parser)

    def handle(self, *args, **options):
        actor, label = self.actor_from(options)
        campaign = campaign_get(actor=actor, campaign_id=options["campaign_id"])
        if options["phase"]:
            campaign = pipeline_phase(actor=actor, campaign=campaign, phase=options["phase"])
        fmt, output = options["fmt"], options["output"]
        chunks = export_rows(campaign, fmt)  # refuses an unsupported type before anything is written
        destination = str(Path(output).resolve()) if output else "stdout"
        if output is None:
            self._audit(actor, label, campaign.pk, fmt, destination)
            self._to_stdout(chunks)
            return
        target = open_partial_file(output)
        try:
            with target:
                self._audit(actor, label, campaign.pk, fmt, destination)
                for chunk in chunks:
                    target.write(chunk)
            os.replace(target.name, output)
        except BaseException:
            # Never leave half a file where a complete one is expected.
            Path(target.name).unlink(missing_ok=True)
            raise
        self.stdout.write(f"Exported campaign {campaign.pk} ({fmt}) to {output}")

    @staticmethod
    def _audit(actor, label: str, campaign_pk, fmt: str, destination: str) -> None:
        audit_record(
            actor=actor,
            actor_label=label,
            action="campaign.export",
            entity_type="campaign",
            entity_id=campaign_pk,
            details={"format": fmt, "output": destination},
        )

    def _to_stdout(self, chunks) -> None:
        try:
            for chunk in chunks:
                self.stdout.write(chunk, ending="")
            self.stdout.flush()
        except BrokenPipeError:
            # The reader left (`| head`): silence the interpreter's own flush at exit, then say so once.
            if self.stdout._out is sys.stdout:
                os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
            raise CommandError("The output was closed before the export finished.") from None
