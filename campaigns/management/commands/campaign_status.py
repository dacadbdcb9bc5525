from __future__ import annotations

from django.db.models import Count

from campaigns import vocabulary as words
from campaigns.live import LiveProgress, live_progress, live_queryset
from campaigns.management.cli import ActingCommand, campaign_id
from campaigns.models import Campaign, CampaignJob, JobStatus
from campaigns.pipelines import pipeline_phases, pipeline_root
from campaigns.selectors import campaign_get, campaign_history, campaigns_progress


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
        root = pipeline_root(actor=actor, campaign=campaign)
        phases = pipeline_phases(actor=actor, root=root)
        if self.as_json:  # machine-readable: stored values, ISO 8601 times
            shown = campaigns_progress(live_queryset(Campaign.objects.filter(pk__in=[campaign.pk, *(p.pk for p in phases)])))
            progress = {p.id: p.as_dict() for p in shown}
            pipeline = {"id": str(root.pk), "phases": [progress[str(phase.pk)] for phase in phases]}
            self.write_json({**progress[str(campaign.pk)], "pipeline": pipeline})
            return
        # The console's words: its derived states, thousands separators, h:mm:ss, times with their zone.
        live = live_progress(live_queryset(Campaign.objects.filter(pk__in=[campaign.pk, *(p.pk for p in phases)])))
        lines = self._summary(live[str(campaign.pk)])
        shown = [live[str(phase.pk)] for phase in phases]
        state_width = max(len(p.state_text) for p in shown)
        type_width = max(len(p.type_label) for p in shown)
        lines += ["", f"Pipeline {root.pk}:"]
        lines += [
            f"  {'*' if p.id == str(campaign.pk) else ' '} {p.id}  {p.type_label:<{type_width}}  {p.state_text:<{state_width}}"
            f"  {p.texts['processed']}/{p.texts['total']}  successful {p.texts['successful']}"
            f"  failed {words.number(p.negative + p.errors)}"
            for p in shown
        ]
        lines += ["", "History:"]
        lines += [
            f"  #{event.sequence:<3} {words.moment(event.created_at)}  "
            f"{words.status_label(event.from_status) or '—'} -> {words.status_label(event.to_status)}"
            f"  ({words.transition_label(event.transition)}) by {event.actor_label or '—'}"
            + (f": {event.reason}" if event.reason else "")
            for event in campaign_history(campaign=campaign)
        ]
        lines += ["", "Jobs: " + self._jobs(campaign)]
        self.stdout.write("\n".join(lines))

    @staticmethod
    def _summary(p: LiveProgress) -> list[str]:
        t = p.texts
        lines = [
            f"Campaign {p.id}  {p.name}",
            f"  type      {p.type_label}",
            f"  status    {p.state_text} (version {p.version})",
            f"  progress  {t['processed']}/{t['total']} ({t['percent']})"
            f"  successful {t['successful']}  failed {words.number(p.negative + p.errors)}",
            f"  rate      {t['rate']}  eta {t['eta']}  active {t['active']}",
            f"  started   {t['started']}  finished {t['finished']}",
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
        return "  ".join(f"{words.status_label(status)} {words.number(counts.get(status, 0))}" for status in JobStatus.values)
