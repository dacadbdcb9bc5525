"""Configuration a live campaign still needs cannot be deleted from the admin; finished campaigns do not hold it."""
from __future__ import annotations

import pytest
from django.urls import reverse

from campaigns.models import AuditLog, Campaign, DnsPersona, HttpPersona, KeywordSet, Proxy
from campaigns.selectors import campaigns_using_config
from campaigns.services.campaigns import campaign_create
from tests.console.validation_data import config, dns_campaign, http_campaign  # noqa: F401 (fixtures)


def delete_url(model: str, pk: int) -> str:
    return reverse(f"admin:campaigns_{model}_delete", args=[pk])


@pytest.mark.django_db
def test_a_persona_a_dns_campaign_uses_is_protected_until_the_campaign_is_done(staff, operator, dns_campaign, client_for):
    persona = DnsPersona.objects.get(name="local")
    campaign = dns_campaign(operator, name="needs local")
    client = client_for(staff)

    confirm = client.get(delete_url("dnspersona", persona.pk))
    assert "used by campaign “needs local” (pending)" in confirm.content.decode()
    refused = client.post(delete_url("dnspersona", persona.pk), {"post": "yes"})
    assert refused.status_code == 200  # the confirmation page again, saying why
    assert DnsPersona.objects.filter(pk=persona.pk).exists()
    assert not AuditLog.objects.filter(action="config.delete").exists()

    Campaign.objects.filter(pk=campaign.pk).update(status="completed")  # its results are in: no longer needed
    assert client.post(delete_url("dnspersona", persona.pk), {"post": "yes"}).status_code == 302
    assert not DnsPersona.objects.filter(pk=persona.pk).exists()


@pytest.mark.django_db
def test_names_in_a_pending_chain_protect_what_the_next_phases_will_use(staff, operator, config, make_campaign):
    generation = campaign_create(
        actor=operator, name="chained", campaign_type="domain_generation",
        params={"pattern": "prefix", "prefix_length": 1, "charset": "ab", "constant": "x", "tlds": ["test"], "count": 2},
        chain_next=True,
        chain_params={"dns_validation": {"personas": ["local"]},
                      "http_keyword_validation": {"persona": "browser", "keyword_sets": ["shop"]}},
    ).campaign
    unused = DnsPersona.objects.create(name="unused", resolvers=["127.0.0.1:5353"])
    # The later phases exist from the pipeline's creation: each names what it uses in its own params.
    dns = Campaign.objects.get(source_campaign=generation)
    http = Campaign.objects.get(source_campaign=dns)

    assert list(campaigns_using_config(DnsPersona.objects.get(name="local"))) == [generation, dns]
    for obj in (HttpPersona.objects.get(name="browser"), KeywordSet.objects.get(name="shop")):
        assert list(campaigns_using_config(obj)) == [generation, http], obj
    assert list(campaigns_using_config(unused)) == []


@pytest.mark.django_db
def test_the_delete_selected_action_deletes_none_when_one_is_in_use(staff, operator, http_campaign, client_for):
    squid = Proxy.objects.create(name="squid", scheme="http", host="127.0.0.1", port=3128)
    spare = Proxy.objects.create(name="spare", scheme="http", host="127.0.0.1", port=3129)
    source = http_campaign(operator).source_campaign
    campaign_create(
        actor=operator, name="via squid", campaign_type="http_keyword_validation",
        params={"persona": "browser", "proxies": ["squid"]}, source_campaign_id=source.pk,
    )

    response = client_for(staff).post(
        reverse("admin:campaigns_proxy_changelist"),
        {"action": "delete_selected", "post": "yes", "_selected_action": [str(squid.pk), str(spare.pk)]},
    )

    assert response.status_code == 200
    assert "used by campaign “via squid” (pending)" in response.content.decode()
    assert Proxy.objects.count() == 2
