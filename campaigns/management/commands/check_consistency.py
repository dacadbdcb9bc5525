from __future__ import annotations

from django.core.management.base import CommandError

from campaigns.consistency import consistency_violations
from campaigns.management.cli import CampaignCommand


class Command(CampaignCommand):
    help = (
        "Check the campaigns' invariants (status vs. history, versions, counters, jobs, rows without their"
        " campaign); list every violation."
    )

    def handle(self, *args, **options):
        violations = consistency_violations()
        if self.as_json:
            self.write_json({"ok": not violations, "violations": violations})
        elif violations:
            self.stdout.write("\n".join(violations))
        else:
            self.stdout.write("ok")
        if violations:
            noun = "violation" if len(violations) == 1 else "violations"
            raise CommandError(f"{len(violations)} consistency {noun} found.")
