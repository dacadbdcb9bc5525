from __future__ import annotations

import json
import os
from pathlib import Path

from campaigns.management.cli import ActingCommand, open_partial_file
from campaigns.services.config_io import SECTIONS, config_export


class Command(ActingCommand):
    help = (
        "Write the DNS/HTTP personas, proxies and keyword sets as one JSON document (for import_config); "
        "proxy passwords only with --include-secrets. Recorded in the audit log."
    )
    json_flag = False  # the output is the document itself

    def add_arguments(self, parser):
        parser.add_argument("-o", "--output", metavar="FILE", help="Write here (replaced when complete, mode 0600) instead of stdout.")
        parser.add_argument(
            "--include-secrets", action="store_true", help="Include proxy passwords: the document then holds secrets."
        )
        self.add_actor_argument(parser)

    def handle(self, *args, **options):
        actor, label = self.actor_from(options)
        output, secrets = options["output"], options["include_secrets"]
        if output is None:
            text = config_export(actor=actor, actor_label=label, include_secrets=secrets, destination="stdout")
            self.stdout.write(text, ending="")
            return
        target = open_partial_file(output)
        try:
            with target:
                text = config_export(
                    actor=actor, actor_label=label, include_secrets=secrets, destination=str(Path(output).resolve())
                )
                target.write(text)
            os.replace(target.name, output)
        except BaseException:
            Path(target.name).unlink(missing_ok=True)  # never half a file where a complete one is expected
            raise
        document = json.loads(text)
        counts = ", ".join(f"{len(document[section.key])} {section.key}" for section in SECTIONS)
        with_secrets = ", with proxy passwords," if secrets else ""
        self.stdout.write(f"Exported config ({counts}){with_secrets} to {output}")
