"""The admin shows and edits a persona's `enabled`, and its add form refuses a disabled persona with the reason."""
from __future__ import annotations

import pytest
from django.urls import reverse

from campaigns.models import AuditLog, Campaign
from campaigns.services.campaigns import campaign_create
from tests.support.personas import DNS_OFF, HTTP_OFF, persona_pairs

ADD = reverse("admin:campaigns_campaign_add")
GENERATION = {
    "name": "generated", "pattern": "prefix", "prefix_length": "1", "suffix_length": "0", "charset": "ab",
    "constant": "x", "tlds": "com", "count": "2", "batch_size": "2",
}


@pytest.fixture
def personas(db):
    return persona_pairs()


@pytest.fixture
def dns_campaign(operator, personas):
    generation = campaign_create(
        actor=operator, name="gen", campaign_type="domain_generation",
        params={"pattern": "prefix", "prefix_length": 1, "charset": "ab", "constant": "x", "tlds": ["com"], "count": 2},
    ).campaign
    return campaign_create(
        actor=operator, name="dns", campaign_type="dns_validation", params={"personas": ["on-dns"]},
        source_campaign_id=generation.pk,
    ).campaign


@pytest.mark.django_db
def test_the_dns_form_shows_the_reason_on_the_personas_field(operator, client_for, dns_campaign):
    before = Campaign.objects.count()
    form = {"name": "r", "source_campaign": str(dns_campaign.source_campaign_id), "personas": "on-dns, off-dns", "batch_size": "5"}

    response = client_for(operator).post(f"{ADD}?type=dns_validation", form)

    assert response.status_code == 200
    assert response.context["form"].errors == {"personas": [DNS_OFF]}
    assert "Available: on-dns." in response.context["form"].fields["personas"].help_text  # disabled ones are not offered
    assert Campaign.objects.count() == before


@pytest.mark.django_db
def test_the_http_form_lists_a_disabled_persona_as_such_and_refuses_it_with_the_reason(operator, client_for, dns_campaign):
    client = client_for(operator)
    page = client.get(f"{ADD}?type=http_keyword_validation").content.decode()
    assert '<option value="off-http">off-http (disabled)</option>' in page
    assert '<option value="on-http">on-http</option>' in page

    response = client.post(
        f"{ADD}?type=http_keyword_validation",
        {"name": "f", "source_campaign": str(dns_campaign.pk), "persona": "off-http", "proxy_strategy": "round_robin",
         "target_ports": "443", "batch_size": "5", "retries": "0", "max_in_flight": "5"},
    )

    assert response.context["form"].errors == {"persona": [HTTP_OFF]}
    assert not Campaign.objects.filter(name="f").exists()


@pytest.mark.django_db
def test_the_generation_form_shows_the_reason_on_the_chain_field(operator, client_for, personas):
    response = client_for(operator).post(
        ADD, {**GENERATION, "chain_next": "on", "chain_dns_personas": "on-dns", "chain_http_persona": "off-http"}
    )

    assert response.context["form"].errors == {"chain_http_persona": [HTTP_OFF]}
    assert not Campaign.objects.exists()


@pytest.mark.django_db
@pytest.mark.parametrize("model", ["dnspersona", "httppersona"])
def test_staff_see_enabled_in_the_list_and_untick_it_on_the_change_page(staff, client_for, personas, model):
    client = client_for(staff)
    persona = personas["on-dns"] if model == "dnspersona" else personas["on-http"]
    listing = client.get(reverse(f"admin:campaigns_{model}_changelist"))
    assert "enabled" in listing.context["cl"].list_display
    assert "?enabled__exact=0" in listing.content.decode()  # the filter

    change = reverse(f"admin:campaigns_{model}_change", args=[persona.pk])
    form = client.get(change).context["adminform"].form
    assert form.initial["enabled"] is True
    # The page as rendered, with the box unticked (an unticked box is not posted).
    data = {name: form[name].value() for name in form.fields if name != "enabled"}
    data = {k: v for k, v in data.items() if v is not None and v is not False}
    # Fields with a callable default carry their initial value in a hidden input, as the page does.
    data.update({f"initial-{name}": data[name] for name, field in form.fields.items() if field.show_hidden_initial})
    response = client.post(change, data)

    assert response.status_code == 302, response.context["adminform"].form.errors
    assert type(persona).objects.get(pk=persona.pk).enabled is False
    audit = AuditLog.objects.get(action="config.change")
    assert audit.details == {"name": persona.name, "fields": ["enabled"]}
