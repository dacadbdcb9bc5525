from __future__ import annotations

from campaigns import vocabulary as words
from campaigns.live import live_progress, live_queryset
from campaigns.management.cli import ActingCommand, campaign_id, to_json, user_named, whole_number
from campaigns.models import Campaign, CampaignStatus, CampaignType
from campaigns.pipelines import pipeline_phases
from campaigns.selectors import CampaignProgress, campaign_get, campaign_list, campaigns_progress


class Command(ActingCommand):
    help = "List campaigns, newest first: ID, type, status, progress, owner, source and name."
    json_flag = False  # --json here is one object per line

    def add_arguments(self, parser):
        filters = parser.add_argument_group("filters (combine them; each repeatable one matches any of its values)")
        filters.add_argument("--status", action="append", choices=CampaignStatus.values, metavar="STATUS",
                             help=f"Only this status: {', '.join(CampaignStatus.values)}.")
        filters.add_argument("--type", dest="campaign_type", action="append", choices=CampaignType.values,
                             metavar="TYPE", help=f"Only this type: {', '.join(CampaignType.values)}.")
        filters.add_argument("--owner", metavar="USERNAME", help="Only campaigns this user owns.")
        filters.add_argument("--pipeline", type=campaign_id, metavar="ID",
                             help="Only the phases of the pipeline whose first phase is ID.")
        output = parser.add_argument_group("output")
        output.add_argument("--limit", type=whole_number, default=100, metavar="N", help="At most N campaigns (default 100).")
        output.add_argument("--json", action="store_true", help="One JSON object per campaign, one per line.")
        self.add_actor_argument(parser)

    def handle(self, *args, **options):
        actor, _ = self.actor_from(options)
        campaigns = campaign_list(actor=actor).select_related("owner")
        if options["pipeline"] is not None:
            root = campaign_get(actor=actor, campaign_id=options["pipeline"])
            campaigns = campaigns.filter(pk__in=[phase.pk for phase in pipeline_phases(actor=actor, root=root)])
        if options["status"]:
            campaigns = campaigns.filter(status__in=options["status"])
        if options["campaign_type"]:
            campaigns = campaigns.filter(campaign_type__in=options["campaign_type"])
        if options["owner"]:
            campaigns = campaigns.filter(owner=user_named(options["owner"], option="--owner"))
        found = list(campaigns[: options["limit"]])
        if options["json"]:
            shown = campaigns_progress(live_queryset(Campaign.objects.filter(pk__in=[c.pk for c in found])))
            progress = {p.id: p for p in shown}
            for campaign in found:
                self.stdout.write(to_json(self._row(campaign, progress[str(campaign.pk)])))
            return
        if not found:
            self.stderr.write("No campaigns match.")
            return
        # The console's words: its derived states (one query for all rows), numbers, times with their zone.
        live = live_progress(live_queryset(Campaign.objects.filter(pk__in=[c.pk for c in found])))
        header = ("ID", "TYPE", "STATUS", "PROGRESS", "OWNER", "CREATED", "SOURCE", "NAME")
        rows = [header] + [
            (
                str(c.pk), words.type_label(c.campaign_type), live[str(c.pk)].state_text,
                f"{words.number(c.processed_items)}/{words.number(c.total_items)}",
                c.owner.get_username(), words.moment(c.created_at),
                str(c.source_campaign_id)[:8] if c.source_campaign_id else "—", c.name,
            )
            for c in found
        ]
        widths = [max(len(row[i]) for row in rows) for i in range(len(header) - 1)]
        for row in rows:
            self.stdout.write("  ".join([*(cell.ljust(w) for cell, w in zip(row, widths)), row[-1]]).rstrip())

    @staticmethod
    def _row(campaign: Campaign, progress: CampaignProgress) -> dict:
        return {
            **progress.as_dict(),
            "owner": campaign.owner.get_username(),
            "source_campaign_id": str(campaign.source_campaign_id) if campaign.source_campaign_id else None,
            "created_at": campaign.created_at.isoformat(),
        }
