"""The campaign admin's add forms, one per campaign type.

Each form only parses what was posted into the arguments of campaign_create
(names, lists, numbers); what they mean is checked by the services, whose
messages land on the fields.
"""
from __future__ import annotations

from typing import Any, ClassVar

from django import forms
from django.contrib.auth import get_user_model
from django.core.exceptions import ValidationError
from django.utils import timezone

from campaigns.admin.form_checks import check_generation
from campaigns.models import (
    DNS_BATCH_SIZE, HTTP_BATCH_SIZE, Campaign, CampaignType, DnsPersona, DomainGenerationParams, HttpPersona,
    HttpValidationParams, KeywordSet, Proxy,
)
from campaigns.services.access import campaigns_visible_to
from campaigns.services.errors import InvalidCampaignParams
from campaigns.services.params import SOURCE_TYPE, build_params


def comma_list(text: str | None) -> list[str]:
    """'a, b ,, c' → ['a', 'b', 'c']: names and keywords may hold spaces, so only commas separate them."""
    return [item.strip() for item in (text or "").split(",") if item.strip()]


def port_list(text: str | None) -> list[int | str]:
    """'443, 80' → [443, 80]; a token that is no number is passed on as text, for the service to refuse."""
    tokens = (text or "").replace(",", " ").split()
    return [int(token) if token.isascii() and token.isdigit() else token for token in tokens]


class NamedChoiceField(forms.ModelChoiceField):
    """A config object chosen by name: the name is what the page posts and what the service takes."""

    def __init__(self, queryset, **kwargs: Any) -> None:
        super().__init__(queryset, to_field_name="name", **kwargs)

    def label_from_instance(self, obj) -> str:
        return obj.name if getattr(obj, "enabled", True) else f"{obj.name} (disabled)"  # chosen, the service says why not


class NamedMultipleChoiceField(forms.ModelMultipleChoiceField):
    def __init__(self, queryset, **kwargs: Any) -> None:
        super().__init__(queryset, to_field_name="name", **kwargs)

    def label_from_instance(self, obj) -> str:
        return obj.name


class SourceCampaignField(forms.ModelChoiceField):
    """Lists the user's campaigns of the source type, and accepts any campaign the user can see.

    A visible campaign of the wrong type thus reaches campaign_create, which
    refuses it with its own message; a campaign the user cannot see is refused
    here, with one message whether it exists or not.
    """

    default_error_messages = {"invalid_choice": "No campaign you can see has this id."}

    def __init__(self, *, listed, visible, show_owner: bool, **kwargs: Any) -> None:
        super().__init__(queryset=listed, **kwargs)
        self.visible = visible
        self.show_owner = show_owner

    def to_python(self, value):
        if value in self.empty_values:
            return None
        try:
            return self.visible.get(pk=value)
        except (ValueError, TypeError, ValidationError, Campaign.DoesNotExist):
            raise ValidationError(self.error_messages["invalid_choice"], code="invalid_choice") from None

    def label_from_instance(self, obj: Campaign) -> str:
        owner = f", {obj.owner.get_username()}" if self.show_owner else ""
        return f"{obj.name} ({obj.status}{owner}, created {timezone.localtime(obj.created_at):%Y-%m-%d %H:%M})"


def dns_personas_help() -> str:
    names = list(DnsPersona.objects.filter(enabled=True).order_by("name").values_list("name", flat=True)[:21])
    available = ", ".join(names[:20]) + (", …" if len(names) > 20 else "") if names else "none yet"
    return (
        "Persona names separated by commas, tried in this order until one resolves "
        f"(typed rather than picked from a list, because a list box cannot say an order). Available: {available}."
    )


SOURCE_CHOICES_LIMIT = 200
SOURCE_LABELS = {CampaignType.DOMAIN_GENERATION: "domain generation", CampaignType.DNS_VALIDATION: "DNS validation"}

# Which form field shows the service's message about each chain param.
CHAIN_FIELDS = {
    CampaignType.DNS_VALIDATION: {"personas": "chain_dns_personas"},
    CampaignType.HTTP_KEYWORD_VALIDATION: {
        "persona": "chain_http_persona",
        "keyword_sets": "chain_keyword_sets",
        "adhoc_keywords": "chain_adhoc_keywords",
        "target_ports": "chain_target_ports",
    },
}
CHAIN_HTTP_EXTRAS = ("chain_keyword_sets", "chain_adhoc_keywords", "chain_target_ports")


class CampaignCreateForm(forms.Form):
    """What every type's add form has; a subclass adds its params and says how they become campaign_create's.

    With chain_next and the chain_* fields, the form builds chain_params as
    create_campaign's --chain-* options do, and checks them with build_params
    first, so that a refusal names the chain field rather than the next
    phase's own param.
    """

    campaign_type: ClassVar[str]
    title: ClassVar[str]  # as it reads after "Add …"
    # (legend, description, field names) in page order; "{title}" is the form's title.
    FIELDSETS: ClassVar[tuple[tuple[str, str, tuple[str, ...]], ...]]
    CHAIN_REQUIRED: ClassVar[tuple[str, str]] = ("", "")  # the chain field chain_next needs, and the message

    name = forms.CharField(max_length=200)
    start = forms.BooleanField(
        required=False, label="Start now", help_text="Queue it for the workers now; otherwise start it later from its page."
    )
    owner = forms.ModelChoiceField(
        queryset=get_user_model().objects.none(), required=False, help_text="Staff only; you by default."
    )

    def __init__(self, *args: Any, user, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        if user.is_staff:
            self.fields["owner"].queryset = get_user_model().objects.filter(is_active=True).order_by("username")
        else:
            del self.fields["owner"]
        wanted = SOURCE_TYPE.get(self.campaign_type)
        if wanted is not None:
            visible = campaigns_visible_to(user).select_related("owner")
            self.fields["source_campaign"] = SourceCampaignField(
                # The newest few hundred (owners come with them); an older id posted from a
                # link still validates against `visible`.
                listed=visible.filter(campaign_type=wanted).order_by("-created_at", "-id")[
                    :SOURCE_CHOICES_LIMIT
                ],
                visible=visible,
                show_owner=user.is_staff,
                label="Source campaign",
                empty_label=f"— a {SOURCE_LABELS[wanted]} campaign —",
                help_text=f"The {SOURCE_LABELS[wanted]} campaign whose output this one reads, batch by batch; "
                "it must have been started (it may still be running) before this campaign can start.",
            )
            self.fields["start"].help_text = (
                "Queue it for the workers now. Its source must have been started: if it is pending or cancelled, "
                "the campaign is still created, pending, with a warning."
            )
        for name in ("personas", "chain_dns_personas"):
            if name in self.fields:
                self.fields[name].help_text = dns_personas_help()

    def fieldsets(self) -> list[tuple[str, str, list[forms.BoundField]]]:
        """The bound fields grouped for the page (the owner only for staff)."""
        groups = []
        for legend, description, names in self.FIELDSETS:
            fields = [self[name] for name in names if name in self.fields]
            if fields:
                groups.append((legend.format(title=self.title), description, fields))
        return groups

    def params(self) -> dict[str, Any]:
        raise NotImplementedError

    def chain_params(self) -> dict[str, Any]:
        """chain_params from the chain fields (only those given), as create_campaign builds them."""
        data = self.cleaned_data
        if not data.get("chain_next"):
            return {}
        chain: dict[str, Any] = {}
        personas = comma_list(data.get("chain_dns_personas"))
        if personas:
            chain[CampaignType.DNS_VALIDATION] = {"personas": personas}
        persona = data.get("chain_http_persona")
        if persona is not None:
            http: dict[str, Any] = {"persona": persona.name}
            extras = {
                "keyword_sets": [s.name for s in data.get("chain_keyword_sets") or []],
                "adhoc_keywords": comma_list(data.get("chain_adhoc_keywords")),
                "target_ports": port_list(data.get("chain_target_ports")),
            }
            http.update({key: value for key, value in extras.items() if value})
            chain[CampaignType.HTTP_KEYWORD_VALIDATION] = http
        return chain

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean()
        if "chain_next" in self.fields:
            self._check_chain(cleaned)
        return cleaned

    def _check_chain(self, data: dict[str, Any]) -> None:
        chain_fields = [name for names in CHAIN_FIELDS.values() for name in names.values() if name in self.fields]
        filled = [name for name in chain_fields if data.get(name)]
        if not data.get("chain_next"):
            for name in filled:
                self.add_error(name, "Used only with chain next: tick it, or clear this field.")
            return
        required, message = self.CHAIN_REQUIRED
        if not data.get(required) and required not in self.errors:
            self.add_error(required, message)
        if not data.get("chain_http_persona"):
            for name in CHAIN_HTTP_EXTRAS:
                if name in filled:
                    self.add_error(name, "Used only with a chain HTTP persona: choose one, or clear this field.")
        if any(name in self.errors for name in chain_fields):
            return
        for next_type, params in self.chain_params().items():
            try:
                build_params(next_type, params)  # validates only; nothing is written
            except InvalidCampaignParams as exc:
                for key, message in exc.errors.items():
                    self.add_error(CHAIN_FIELDS[next_type].get(key), message)

    def service_kwargs(self) -> dict[str, Any]:
        data = self.cleaned_data
        owner, source = data.get("owner"), data.get("source_campaign")
        return {
            "name": data["name"],
            "campaign_type": self.campaign_type,
            "params": self.params(),
            "owner_id": owner.pk if owner else None,
            "source_campaign_id": source.pk if source else None,
            "chain_next": bool(data.get("chain_next")),
            "chain_params": self.chain_params(),
            "start": data["start"],
        }

    def add_service_errors(self, errors: dict[str, str]) -> None:
        for field, message in errors.items():
            if field in self.fields:
                self.add_error(field, message)
            else:
                self.add_error(None, message if field == "__all__" else f"{field}: {message}")


class ChainedHttpFields(forms.Form):
    """The HTTP phase to chain after a DNS phase (generation and DNS forms)."""

    chain_http_persona = NamedChoiceField(
        HttpPersona.objects.all(), required=False, label="Chain: HTTP persona", help_text="The persona of the chained HTTP phase."
    )
    chain_keyword_sets = NamedMultipleChoiceField(
        KeywordSet.objects.all(), required=False, label="Chain: keyword sets", help_text="Hold Ctrl (⌘ on a Mac) to pick several."
    )
    chain_adhoc_keywords = forms.CharField(
        max_length=2000, required=False, label="Chain: ad-hoc keywords", help_text="Separated by commas; matched case-insensitively."
    )
    chain_target_ports = forms.CharField(
        max_length=200, required=False, label="Chain: target ports", help_text="Tried in this order; empty means 443, then 80."
    )


class GenerationCreateForm(CampaignCreateForm, ChainedHttpFields):
    """A domain generation campaign; chain_next creates the DNS (and optionally HTTP) phases with it."""

    campaign_type = CampaignType.DOMAIN_GENERATION
    title = "domain generation campaign"

    pattern = forms.ChoiceField(choices=DomainGenerationParams.Pattern.choices)
    prefix_length = forms.IntegerField(initial=0, help_text="Variable characters before the constant.")
    suffix_length = forms.IntegerField(initial=0, help_text="Variable characters after the constant.")
    charset = forms.CharField(max_length=64, help_text="Characters of the variable part: a-z, 0-9, '-'.")
    constant = forms.CharField(max_length=63, required=False)
    tlds = forms.CharField(max_length=1000, label="TLDs", help_text="Separated by commas or spaces, e.g. com, net, co.uk")
    count = forms.IntegerField(help_text="How many domains to generate.")
    batch_size = forms.IntegerField(initial=10_000, help_text="Domains per job.")
    chain_next = forms.BooleanField(
        required=False,
        help_text="Create a pipeline: a DNS phase on the generated domains with the chain DNS personas (and an HTTP "
        "phase after it, if a chain HTTP persona is chosen) is created with this campaign, starts with it and is fed "
        "batch by batch. Fixed once created.",
    )
    chain_dns_personas = forms.CharField(max_length=1000, required=False, label="Chain: DNS personas")

    PARAM_FIELDS = ("pattern", "prefix_length", "suffix_length", "charset", "constant", "tlds", "count", "batch_size")
    FIELDSETS = (
        ("{title}", "", ("name", *PARAM_FIELDS)),
        ("Chaining", "Used only with chain next.", ("chain_next", "chain_dns_personas", "chain_http_persona", *CHAIN_HTTP_EXTRAS)),
        ("", "", ("start", "owner")),
    )
    CHAIN_REQUIRED = ("chain_dns_personas", "Name the DNS personas of the chained DNS phase, or untick chain next.")

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["chain_http_persona"].empty_label = "— none: stop after the DNS phase —"

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean()
        check = check_generation(cleaned)  # every field's error in one submit, not the service's first
        for name, message in check.errors.items():
            if name not in self.errors:
                self.add_error(name, message)
        self.normalisation_notes = check.notes
        return cleaned

    def params(self) -> dict[str, Any]:
        data = self.cleaned_data
        params = {name: data[name] for name in self.PARAM_FIELDS}
        params["tlds"] = [tld for tld in data["tlds"].replace(",", " ").split() if tld]
        return params


class DnsCreateForm(CampaignCreateForm, ChainedHttpFields):
    """A DNS validation campaign on a generation campaign's domains; chain_next creates an HTTP phase with it."""

    campaign_type = CampaignType.DNS_VALIDATION
    title = "DNS validation campaign"

    personas = forms.CharField(max_length=1000, label="DNS personas")
    batch_size = forms.IntegerField(initial=DNS_BATCH_SIZE, help_text="Domains per job.")
    chain_next = forms.BooleanField(
        required=False,
        help_text="Create a pipeline: an HTTP keyword phase on the resolved domains, with the chain fields below, is "
        "created with this campaign, starts with it and is fed batch by batch. Fixed once created.",
    )

    FIELDSETS = (
        ("{title}", "", ("name", "source_campaign", "personas", "batch_size")),
        ("Chaining", "Used only with chain next.", ("chain_next", "chain_http_persona", *CHAIN_HTTP_EXTRAS)),
        ("", "", ("start", "owner")),
    )
    CHAIN_REQUIRED = ("chain_http_persona", "Choose the HTTP persona of the chained HTTP phase, or untick chain next.")

    def params(self) -> dict[str, Any]:
        return {"personas": comma_list(self.cleaned_data["personas"]), "batch_size": self.cleaned_data["batch_size"]}


class HttpCreateForm(CampaignCreateForm):
    """An HTTP keyword validation campaign on a DNS campaign's resolved domains (the last phase: no chaining)."""

    campaign_type = CampaignType.HTTP_KEYWORD_VALIDATION
    title = "HTTP keyword validation campaign"

    persona = NamedChoiceField(HttpPersona.objects.all(), label="HTTP persona")
    keyword_sets = NamedMultipleChoiceField(
        KeywordSet.objects.all(), required=False, help_text="Hold Ctrl (⌘ on a Mac) to pick several."
    )
    adhoc_keywords = forms.CharField(
        max_length=2000, required=False, label="Ad-hoc keywords", help_text="Separated by commas; matched case-insensitively."
    )
    proxies = NamedMultipleChoiceField(Proxy.objects.all(), required=False, help_text="None picked: direct connections.")
    proxy_strategy = forms.ChoiceField(
        choices=HttpValidationParams.ProxyStrategy.choices, initial=HttpValidationParams.ProxyStrategy.ROUND_ROBIN
    )
    target_ports = forms.CharField(
        max_length=200, required=False, initial="443, 80", help_text="Tried in this order; empty means 443, then 80."
    )
    batch_size = forms.IntegerField(initial=HTTP_BATCH_SIZE, help_text="Domains per job.")
    retries = forms.IntegerField(initial=1, help_text="Retries per domain, 0 to 10.")
    max_in_flight = forms.IntegerField(initial=50, help_text="Requests at once, per job; a worker's idle lanes add theirs to a running job.")

    FIELDSETS = (
        (
            "{title}",
            "",
            ("name", "source_campaign", "persona", "keyword_sets", "adhoc_keywords", "proxies", "proxy_strategy",
             "target_ports", "batch_size", "retries", "max_in_flight"),
        ),
        ("", "", ("start", "owner")),
    )

    def clean_proxies(self):
        disabled = ", ".join(f"“{p.name}”" for p in self.cleaned_data["proxies"] if not p.enabled)
        if disabled:
            raise ValidationError(f"Disabled, so no request would go through: {disabled}. Enable under Proxies, or leave out.")
        return self.cleaned_data["proxies"]

    def params(self) -> dict[str, Any]:
        data = self.cleaned_data
        return {
            "persona": data["persona"].name,
            "keyword_sets": [s.name for s in data["keyword_sets"]],
            "adhoc_keywords": comma_list(data["adhoc_keywords"]),
            "proxies": [p.name for p in data["proxies"]],
            "proxy_strategy": data["proxy_strategy"],
            "target_ports": port_list(data["target_ports"]),
            "batch_size": data["batch_size"],
            "retries": data["retries"],
            "max_in_flight": data["max_in_flight"],
        }


CREATE_FORMS: dict[str, type[CampaignCreateForm]] = {
    form.campaign_type: form for form in (GenerationCreateForm, DnsCreateForm, HttpCreateForm)
}
