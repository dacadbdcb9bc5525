from __future__ import annotations

from django.db.models import Count

from campaigns.management.cli import ActingCommand, campaign_id
from campaigns.models import Campaign, CampaignJob, JobStatus
from campaigns.pipelines import pipeline_phases, pipeline_root
from campaigns.selectors import CampaignProgress, campaign_get, campaign_history, campaign_progress


def _time(value) -> str:
    return value.strftime("%Y-%m-%d %H:%M:%S") if value else "-"


class Command(ActingCommand):
    help = (
        "Show a campaign's progress and its pipeline's phases (ids, states, counts); "
        "in text mode also its state history and its jobs by status."
    )

    def add_arguments(self, parser):
        parser.add_argument("campaign_id", type=campaign_id, metavar="ID", help="Any phase of the pipeline.")
        self.add_actor_argument(parser)

    def handle(self, *args, **options):
        actor, _ = self.actor_from(options)
        campaign = campaign_get(actor=actor, campaign_id=options["campaign_id"])
        progress = campaign_progress(campaign)
        root = pipeline_root(campaign)
        phases = pipeline_phases(actor=actor, root=root)
        if self.as_json:
            pipeline = {"id": str(root.pk), "phases": [campaign_progress(phase).as_dict() for phase in phases]}
            self.write_json({**progress.as_dict(), "pipeline": pipeline})
            return
        lines = self._summary(progress)
        lines += ["", f"Pipeline {root.pk}:"]
        lines += [
            f"  {'*' if phase.pk == campaign.pk else ' '} {phase.pk}  {phase.campaign_type:<23} {phase.status:<9}"
            f" {phase.processed_items:,}/{phase.total_items:,}  successful {phase.successful_items:,}"
            f"  failed {phase.failed_items:,}"
            for phase in phases
        ]
        lines += ["", "History:"]
        lines += [
            f"  #{event.sequence:<3} {_time(event.created_at)}  {event.from_status or '-'} -> {event.to_status}"
            f"  ({event.transition}) by {event.actor_label or '-'}" + (f": {event.reason}" if event.reason else "")
            for event in campaign_history(campaign=campaign)
        ]
        lines += ["", "Jobs: " + self._jobs(campaign)]
        self.stdout.write("\n".join(lines))

    @staticmethod
    def _summary(p: CampaignProgress) -> list[str]:
        rate = f"{p.rate_per_s:,.1f}/s" if p.rate_per_s is not None else "-"
        eta = f"{p.eta_s:,.0f}s" if p.eta_s is not None else "-"
        lines = [
            f"Campaign {p.id}  {p.name}",
            f"  type      {p.campaign_type}",
            f"  status    {p.status} (version {p.version})",
            f"  progress  {p.processed_items:,}/{p.total_items:,} ({p.percent}%)"
            f"  successful {p.successful_items:,}  failed {p.failed_items:,}",
            f"  rate      {rate}  eta {eta}",
            f"  started   {_time(p.started_at)}  finished {_time(p.finished_at)}",
        ]
        if p.error_message:
            lines.append(f"  error     {p.error_message}")
        return lines

    @staticmethod
    def _jobs(campaign: Campaign) -> str:
        counts = dict(
            CampaignJob.objects.filter(campaign=campaign)
            .order_by()
            .values("status")
            .annotate(n=Count("id"))
            .values_list("status", "n")
        )
        if not counts:
            return "none"
        return "  ".join(f"{status} {counts.get(status, 0)}" for status in JobStatus.values)
