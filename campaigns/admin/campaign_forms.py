"""The campaign change page's form and the changelist's owner filter (add forms: create_forms.py)."""
from __future__ import annotations

from typing import Any

from django import forms
from django.contrib import admin
from django.contrib.auth import get_user_model

from campaigns.models import Campaign
from campaigns.services.access import campaigns_visible_to
from campaigns.services.errors import StaleCampaign


class OwnerFilter(admin.SimpleListFilter):
    """Owners of the campaigns the user can see (an operator sees only their own name)."""

    title = "owner"
    parameter_name = "owner"

    def lookups(self, request, model_admin):
        visible = campaigns_visible_to(request.user)
        users = get_user_model().objects.filter(pk__in=visible.values("owner_id")).order_by("username")
        return [(str(user.pk), user.get_username()) for user in users]

    def queryset(self, request, queryset):
        value = self.value()
        if value is None:
            return queryset
        if not value.isdigit():
            return queryset.none()
        return queryset.filter(owner_id=int(value))


class CampaignChangeForm(forms.ModelForm):
    """The name, plus the version the page showed (checked again by campaign_update).

    chain_next is shown read-only: a pipeline's phases are created with its first
    phase, so whether a campaign heads one is fixed at creation.
    """

    expected_version = forms.IntegerField(widget=forms.HiddenInput)

    class Meta:
        model = Campaign
        fields = ["name"]

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        if self.instance.pk is not None:
            self.fields["expected_version"].initial = self.instance.version

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean()
        expected = cleaned.get("expected_version")
        if expected is not None and self.instance.pk is not None and expected != self.instance.version:
            raise forms.ValidationError(
                str(StaleCampaign(self.instance.pk, expected=expected, actual=self.instance.version)), code="stale"
            )
        return cleaned
