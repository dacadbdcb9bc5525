"""The admin's add page refuses bad input on the field, writing nothing, and lists sources at a flat query cost."""
from __future__ import annotations

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from campaigns.admin import create_forms
from campaigns.models import (
    AuditLog,
    Campaign,
    CampaignStateEvent,
    DnsValidationParams,
    DomainGenerationParams,
    HttpValidationParams,
)
from tests.console.create_data import (  # noqa: F401 - config, sources: fixtures
    ADD,
    DNS_ADD,
    GENERATION,
    HTTP_ADD,
    config,
    dns_form,
    http_form,
    sources,
)
from tests.factories import UserFactory


def row_counts() -> dict[str, int]:
    models = (Campaign, DomainGenerationParams, DnsValidationParams, HttpValidationParams, CampaignStateEvent, AuditLog)
    return {model.__name__: model.objects.count() for model in models}


# --- refusals: the message on the field, nothing written ----------------------------------


def refused(client, url, data, field) -> list[str]:
    """Post a form that must be refused; return the messages on `field` after checking nothing was written."""
    before = row_counts()
    response = client.post(url, data)
    assert response.status_code == 200
    assert row_counts() == before
    errors = response.context["form"].errors
    assert field in errors, errors
    return errors[field]


@pytest.mark.django_db
def test_unknown_dns_persona_is_refused_on_the_field(operator, client_for, sources):
    errors = refused(client_for(operator), DNS_ADD, dns_form(sources["mine"], personas="local, nope"), "personas")
    assert errors == ["no DNS persona 'nope'"]


@pytest.mark.django_db
def test_a_source_of_the_wrong_type_is_refused_by_the_service_on_the_field(operator, client_for, sources):
    errors = refused(client_for(operator), DNS_ADD, dns_form(sources["my_dns"]), "source_campaign")
    assert errors == ["must be a domain_generation campaign, not dns_validation"]
    errors = refused(client_for(operator), HTTP_ADD, http_form(sources["mine"]), "source_campaign")
    assert errors == ["must be a dns_validation campaign, not domain_generation"]


@pytest.mark.django_db
def test_another_operators_campaign_cannot_be_the_source(operator, client_for, sources):
    client = client_for(operator)
    assert refused(client, DNS_ADD, dns_form(sources["theirs"]), "source_campaign") == ["No campaign you can see has this id."]
    assert refused(client, HTTP_ADD, http_form(sources["their_dns"]), "source_campaign") == [
        "No campaign you can see has this id."
    ]
    assert refused(client, DNS_ADD, dns_form(sources["mine"], source_campaign="not-a-uuid"), "source_campaign") == [
        "No campaign you can see has this id."
    ]


@pytest.mark.django_db
@pytest.mark.parametrize("ports", ["70000", "443, http", "0"])
def test_a_bad_port_is_refused_by_the_service_on_the_field(operator, client_for, sources, ports):
    errors = refused(client_for(operator), HTTP_ADD, http_form(sources["my_dns"], target_ports=ports), "target_ports")
    assert errors == ["must be a list of ports from 1 to 65535"]


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("batch_size", "0", "must be a whole number from 1 to 10000"),
        ("retries", "11", "must be a whole number from 0 to 10"),
        ("persona", "nobody", "Select a valid choice. That choice is not one of the available choices."),
        ("name", "  ", "This field is required."),
    ],
)
def test_other_bad_http_params_are_refused_on_their_field(operator, client_for, sources, field, value, message):
    assert refused(client_for(operator), HTTP_ADD, http_form(sources["my_dns"], **{field: value}), field) == [message]


@pytest.mark.django_db
def test_chain_next_without_dns_personas_is_refused_on_the_field(operator, client_for, config):
    errors = refused(client_for(operator), ADD, {**GENERATION, "chain_next": "on"}, "chain_dns_personas")
    assert errors == ["Name the DNS personas of the chained DNS phase, or untick chain next."]
    page = client_for(operator).post(ADD, {**GENERATION, "chain_next": "on"}).content.decode()
    assert "Name the DNS personas of the chained DNS phase, or untick chain next." in page


@pytest.mark.django_db
def test_dns_chain_next_without_an_http_persona_is_refused_on_the_field(operator, client_for, sources):
    errors = refused(client_for(operator), DNS_ADD, dns_form(sources["mine"], chain_next="on"), "chain_http_persona")
    assert errors == ["Choose the HTTP persona of the chained HTTP phase, or untick chain next."]


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("fields", "field", "message"),
    [
        ({"chain_dns_personas": "local, nope"}, "chain_dns_personas", "no DNS persona 'nope'"),
        ({"chain_dns_personas": "local", "chain_http_persona": "browser", "chain_target_ports": "99999"},
         "chain_target_ports", "must be a list of ports from 1 to 65535"),
        ({"chain_dns_personas": "local", "chain_adhoc_keywords": "widget"},
         "chain_adhoc_keywords", "Used only with a chain HTTP persona: choose one, or clear this field."),
    ],
)
def test_bad_chain_fields_are_refused_on_the_chain_field(operator, client_for, config, fields, field, message):
    assert refused(client_for(operator), ADD, {**GENERATION, "chain_next": "on", **fields}, field) == [message]


@pytest.mark.django_db
def test_chain_fields_without_chain_next_are_refused_not_ignored(operator, client_for, config):
    errors = refused(client_for(operator), ADD, {**GENERATION, "chain_dns_personas": "local"}, "chain_dns_personas")
    assert errors == ["Used only with chain next: tick it, or clear this field."]


@pytest.mark.django_db
def test_a_refused_dns_form_keeps_what_was_typed(operator, client_for, sources):
    page = client_for(operator).post(DNS_ADD, dns_form(sources["mine"], personas="nope, local")).content.decode()
    assert 'value="nope, local"' in page
    assert f'<option value="{sources["mine"].pk}" selected>' in page
    assert "no DNS persona &#x27;nope&#x27;" in page


@pytest.mark.django_db
def test_the_source_list_costs_the_same_queries_for_3_or_40_owners(staff, client_for, config, make_campaign):
    client = client_for(staff)

    def queries_with(owners: int) -> int:
        for _ in range(owners):
            make_campaign(actor=UserFactory())
        with CaptureQueriesContext(connection) as captured:
            assert client.get(DNS_ADD).status_code == 200
        return len(captured)

    assert queries_with(40) == queries_with(3)


@pytest.mark.django_db
def test_the_source_list_offers_the_newest_campaigns_and_an_older_one_still_validates(
    operator, client_for, config, make_campaign, monkeypatch
):
    monkeypatch.setattr(create_forms, "SOURCE_CHOICES_LIMIT", 2)
    oldest, middle, newest = (make_campaign(actor=operator, name=name) for name in ("oldest", "middle", "newest"))
    client = client_for(operator)

    listed = client.get(DNS_ADD).context["form"].fields["source_campaign"].queryset
    assert list(listed) == [newest, middle]
    response = client.post(DNS_ADD, dns_form(oldest))
    assert response.status_code == 302
    assert Campaign.objects.get(source_campaign=oldest).campaign_type == "dns_validation"
