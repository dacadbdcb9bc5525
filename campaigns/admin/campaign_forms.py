"""The campaign admin's forms and its owner filter."""
from __future__ import annotations

from typing import Any

from django import forms
from django.contrib import admin
from django.contrib.auth import get_user_model

from campaigns.models import Campaign, CampaignType, DomainGenerationParams
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
    """Name and chain_next, plus the version the page showed (checked again by campaign_update)."""

    expected_version = forms.IntegerField(widget=forms.HiddenInput)

    class Meta:
        model = Campaign
        fields = ["name", "chain_next"]

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


class CampaignCreateForm(forms.Form):
    """A domain generation campaign: the fields campaign_create takes, validated by the service itself."""

    name = forms.CharField(max_length=200)
    pattern = forms.ChoiceField(choices=DomainGenerationParams.Pattern.choices)
    prefix_length = forms.IntegerField(initial=0, help_text="Variable characters before the constant.")
    suffix_length = forms.IntegerField(initial=0, help_text="Variable characters after the constant.")
    charset = forms.CharField(max_length=64, help_text="Characters of the variable part: a-z, 0-9, '-'.")
    constant = forms.CharField(max_length=63, required=False)
    tlds = forms.CharField(max_length=1000, label="TLDs", help_text="Separated by commas or spaces, e.g. com, net, co.uk")
    count = forms.IntegerField(help_text="How many domains to generate.")
    batch_size = forms.IntegerField(initial=10_000, help_text="Domains per job.")
    chain_next = forms.BooleanField(required=False, help_text="Create and start the DNS phase on completion.")
    owner = forms.ModelChoiceField(queryset=get_user_model().objects.none(), required=False, help_text="Staff only; you by default.")

    PARAM_FIELDS = ("pattern", "prefix_length", "suffix_length", "charset", "constant", "tlds", "count", "batch_size")

    def __init__(self, *args: Any, user, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        if user.is_staff:
            self.fields["owner"].queryset = get_user_model().objects.filter(is_active=True).order_by("username")
        else:
            del self.fields["owner"]

    def service_kwargs(self) -> dict[str, Any]:
        data = self.cleaned_data
        params = {name: data[name] for name in self.PARAM_FIELDS}
        params["tlds"] = [tld for tld in data["tlds"].replace(",", " ").split() if tld]
        owner = data.get("owner")
        return {
            "name": data["name"],
            "campaign_type": CampaignType.DOMAIN_GENERATION,
            "params": params,
            "chain_next": data["chain_next"],
            "owner_id": owner.pk if owner else None,
        }

    def add_service_errors(self, errors: dict[str, str]) -> None:
        for field, message in errors.items():
            if field in self.fields:
                self.add_error(field, message)
            else:
                self.add_error(None, message if field == "__all__" else f"{field}: {message}")
