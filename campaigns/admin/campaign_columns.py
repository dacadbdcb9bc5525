"""The campaign admin's live columns: derived state, outcome bar, successes and failures, rate and ETA.

The changelist computes LiveProgress for its whole page at once (live.live_progress:
a fixed number of queries), through the documented get_changelist hook.
"""
from __future__ import annotations

from django.contrib import admin
from django.contrib.admin.views.main import ChangeList
from django.http import HttpRequest
from django.template.loader import render_to_string
from django.utils.html import format_html

from campaigns import vocabulary as words
from campaigns.live import LiveProgress, live_progress
from campaigns.models import Campaign


class LiveChangeList(ChangeList):
    def get_results(self, request: HttpRequest) -> None:
        super().get_results(request)
        progress = live_progress(self.result_list)
        for obj in self.result_list:
            obj._console_live = progress[str(obj.pk)]


class LiveColumns:
    """Mixin for CampaignAdmin: every column a person reads, in the console's words."""

    def get_changelist(self, request, **kwargs):
        return LiveChangeList

    @staticmethod
    def live(obj: Campaign) -> LiveProgress:
        cached = getattr(obj, "_console_live", None)
        if cached is None:
            cached = obj._console_live = live_progress([obj])[str(obj.pk)]
        return cached

    @admin.display(description="status", ordering="status")
    def status_badge(self, obj: Campaign):
        p = self.live(obj)
        return format_html('<span class="df-badge df-badge-{}">{}</span>', p.state, p.state_text)

    @admin.display(description="type", ordering="campaign_type")
    def type_label(self, obj: Campaign) -> str:
        return words.type_label(obj.campaign_type)

    @admin.display(description="progress")
    def progress_bar(self, obj: Campaign):
        p = self.live(obj)
        return format_html("{}{}", render_to_string("campaigns/_bar.html", {"p": p}), p.texts["percent"])

    @admin.display(description="processed / total")
    def processed_of_total(self, obj: Campaign) -> str:
        p = self.live(obj)
        return f"{p.texts['processed']} / {p.texts['total']}"

    @admin.display(description="successful")
    def outcome_successful(self, obj: Campaign):
        p = self.live(obj)
        return format_html('<span class="df-num">{}</span> <span class="df-unit">{}</span>', p.texts["successful"], p.success_label)

    @admin.display(description="failed")
    def outcome_failed(self, obj: Campaign):
        p = self.live(obj)
        negative = format_html("{} {}, ", p.texts["negative"], p.negative_label) if p.negative_label else ""
        return format_html('<span class="df-num{}">{}{} errors</span>', " df-fail" if p.errors else "", negative, p.texts["errors"])

    @admin.display(description="rate")
    def rate(self, obj: Campaign) -> str:
        return self.live(obj).texts["rate"]

    @admin.display(description="ETA")
    def eta(self, obj: Campaign) -> str:
        return self.live(obj).texts["eta"]

    @admin.display(description="owner", ordering="owner__username")
    def owner_name(self, obj: Campaign) -> str:
        # Text, not a link: the user pages are staff's, and an operator would meet a 403 behind it.
        return obj.owner.get_username()

    @admin.display(description="created", ordering="created_at")
    def created(self, obj: Campaign) -> str:
        return words.moment(obj.created_at)

    @admin.display(description="started")
    def started(self, obj: Campaign) -> str:
        return words.moment(obj.started_at)

    @admin.display(description="finished")
    def finished(self, obj: Campaign) -> str:
        return words.moment(obj.finished_at)
