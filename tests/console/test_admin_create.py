"""The admin's add page creates all three campaign types through campaign_create, chain params included."""
from __future__ import annotations

import pytest
from django.contrib.messages import get_messages
from django.urls import reverse

from campaigns.models import (
    AuditLog,
    Campaign,
    CampaignStateEvent,
    DnsPersona,
    DnsResult,
    DnsValidationParams,
    GeneratedDomain,
    HttpPersona,
    HttpResult,
    HttpValidationParams,
    KeywordRule,
    KeywordSet,
)
from campaigns.services.campaigns import campaign_create
from campaigns.services.transitions import campaign_transition
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
from tests.servers.http_server import Page, html
from tests.support.engine import run_jobs_here

WORKER = "admin-create-worker"


def messages_of(response) -> list[tuple[str, str]]:
    return [(m.level_tag, str(m)) for m in get_messages(response.wsgi_request)]


def drain() -> None:
    run_jobs_here(worker_id=WORKER)


# --- the page ----------------------------------------------------------------


@pytest.mark.django_db
def test_add_page_defaults_to_generation_and_links_the_other_types(operator, client_for):
    page = client_for(operator).get(ADD).content.decode()
    assert "<h2>Domain generation campaign</h2>" in page
    for field in ("name", "pattern", "prefix_length", "suffix_length", "charset", "constant", "tlds", "count", "batch_size"):
        assert f'id="id_{field}"' in page, field
    assert 'id="id_chain_dns_personas"' in page and 'id="id_start"' in page
    assert f'href="{DNS_ADD}"' in page and f'href="{HTTP_ADD}"' in page
    assert '<span aria-current="page">Domain generation</span>' in page
    assert 'action="/admin/campaigns/campaign/add/"' in page


@pytest.mark.django_db
def test_each_type_has_its_own_form_on_the_same_url(operator, client_for, config):
    client = client_for(operator)
    dns_page = client.get(DNS_ADD).content.decode()
    assert "<h2>DNS validation campaign</h2>" in dns_page and f'action="{DNS_ADD}"' in dns_page
    assert 'id="id_personas"' in dns_page and 'id="id_chain_http_persona"' in dns_page
    assert 'id="id_pattern"' not in dns_page and 'id="id_chain_dns_personas"' not in dns_page
    assert "tried in this order until one resolves" in dns_page and "Available: backup, local." in dns_page
    http_page = client.get(HTTP_ADD).content.decode()
    assert "<h2>HTTP keyword validation campaign</h2>" in http_page
    assert 'id="id_target_ports"' in http_page and 'value="443, 80"' in http_page
    assert 'id="id_chain_next"' not in http_page  # the last phase chains nothing
    assert client.get(f"{ADD}?type=nonsense").status_code == 404


@pytest.mark.django_db
def test_source_lists_only_the_users_own_campaigns_of_the_source_type(operator, staff, client_for, sources):
    dns_choices = client_for(operator).get(DNS_ADD).context["form"].fields["source_campaign"].queryset
    assert list(dns_choices) == [sources["mine"]]
    http_choices = client_for(operator).get(HTTP_ADD).context["form"].fields["source_campaign"].queryset
    assert list(http_choices) == [sources["my_dns"]]
    page = client_for(operator).get(DNS_ADD).content.decode()
    assert "my generation (pending" in page and "their generation" not in page
    staff_choices = client_for(staff).get(DNS_ADD).context["form"].fields["source_campaign"].queryset
    assert set(staff_choices) == {sources["mine"], sources["theirs"]}


# --- creating each type ------------------------------------------------------------


@pytest.mark.django_db
def test_dns_form_creates_a_dns_campaign_with_the_personas_in_the_given_order(operator, client_for, config, sources):
    response = client_for(operator).post(DNS_ADD, dns_form(sources["mine"]))
    campaign = Campaign.objects.get(name="resolve them")
    assert response.status_code == 302
    assert response["Location"] == reverse("admin:campaigns_campaign_change", args=[campaign.pk])
    assert (campaign.campaign_type, campaign.owner, campaign.source_campaign, campaign.status, campaign.chain_next) == (
        "dns_validation", operator, sources["mine"], "pending", False
    )
    params = DnsValidationParams.objects.get(campaign=campaign)
    assert params.persona_ids == [config["backup"].pk, config["local"].pk]
    assert params.batch_size == 50
    assert CampaignStateEvent.objects.get(campaign=campaign).actor == operator
    audit = AuditLog.objects.get(action="campaign.create", entity_id=str(campaign.pk))
    assert audit.actor == operator and audit.details["source"] == str(sources["mine"].pk)


@pytest.mark.django_db
def test_dns_form_with_chain_next_stores_the_http_phase_as_the_cli_does(operator, client_for, config, sources):
    client_for(operator).post(
        DNS_ADD,
        dns_form(
            sources["mine"],
            chain_next="on",
            chain_http_persona="browser",
            chain_keyword_sets=["shop"],
            chain_adhoc_keywords="widget, buy now",
            chain_target_ports="8080 443",
        ),
    )
    campaign = Campaign.objects.get(name="resolve them")
    assert campaign.chain_next is True
    assert campaign.chain_params == {
        "http_keyword_validation": {
            "persona": "browser",
            "keyword_sets": ["shop"],
            "adhoc_keywords": ["widget", "buy now"],
            "target_ports": [8080, 443],
        }
    }


@pytest.mark.django_db
def test_http_form_creates_an_http_campaign_with_every_param(operator, client_for, config, sources):
    response = client_for(operator).post(HTTP_ADD, http_form(sources["my_dns"]))
    assert response.status_code == 302
    campaign = Campaign.objects.get(name="fetch them")
    assert (campaign.campaign_type, campaign.owner, campaign.source_campaign) == (
        "http_keyword_validation", operator, sources["my_dns"]
    )
    params = HttpValidationParams.objects.get(campaign=campaign)
    assert params.persona_id == config["browser"].pk
    assert sorted(params.keyword_set_ids) == sorted([config["shop"].pk, config["promo"].pk])
    assert params.adhoc_keywords == ["buy now", "widget"]
    assert sorted(params.proxy_ids) == sorted([config["p1"].pk, config["p2"].pk])
    assert (params.proxy_strategy, params.target_ports) == ("least_used", [8443, 8080])
    assert (params.batch_size, params.retries, params.max_in_flight) == (20, 2, 7)


@pytest.mark.django_db
def test_dns_form_defaults_post_batches_of_5000_names(operator, client_for, config, sources):
    client = client_for(operator)
    initial = client.get(DNS_ADD).context["form"]["batch_size"].value()
    client.post(DNS_ADD, {**dns_form(sources["mine"]), "batch_size": initial})
    assert DnsValidationParams.objects.get(campaign__name="resolve them").batch_size == 5000


@pytest.mark.django_db
def test_http_form_defaults_post_ports_443_then_80_and_no_extras(operator, client_for, config, sources):
    client = client_for(operator)
    initial = client.get(HTTP_ADD).context["form"]
    fields = {name: initial[name].value() for name in ("batch_size", "retries", "max_in_flight", "target_ports", "proxy_strategy")}
    client.post(HTTP_ADD, {"name": "plain", "source_campaign": str(sources["my_dns"].pk), "persona": "browser", **fields})
    params = HttpValidationParams.objects.get(campaign__name="plain")
    assert (params.target_ports, params.keyword_set_ids, params.adhoc_keywords, params.proxy_ids) == ([443, 80], [], [], [])
    assert (params.proxy_strategy, params.batch_size, params.retries, params.max_in_flight) == ("round_robin", 2000, 1, 50)


@pytest.mark.django_db
def test_generation_form_stores_chain_params_as_the_cli_does(operator, client_for, config):
    response = client_for(operator).post(
        ADD,
        {
            **GENERATION,
            "chain_next": "on",
            "chain_dns_personas": "backup, local",
            "chain_http_persona": "browser",
            "chain_keyword_sets": ["promo", "shop"],
            "chain_target_ports": "80",
        },
    )
    assert response.status_code == 302
    campaign = Campaign.objects.get(name="generated")
    assert campaign.chain_next is True
    assert campaign.chain_params == {
        "dns_validation": {"personas": ["backup", "local"]},
        "http_keyword_validation": {"persona": "browser", "keyword_sets": ["promo", "shop"], "target_ports": [80]},
    }


@pytest.mark.django_db
def test_generation_form_without_chaining_stores_no_chain_params(operator, client_for):
    client_for(operator).post(ADD, GENERATION)
    campaign = Campaign.objects.get(name="generated")
    assert (campaign.chain_next, campaign.chain_params, campaign.status) == (False, {}, "pending")


@pytest.mark.django_db
def test_generation_form_can_start_the_campaign_now(operator, client_for):
    response = client_for(operator).post(ADD, {**GENERATION, "start": "on"}, follow=True)
    campaign = Campaign.objects.get(name="generated")
    assert campaign.status == "queued" and campaign.jobs.count() == 1  # one batch at a time: each queues the next
    assert ("success", "Created and started “generated” (queued).") in messages_of(response)


@pytest.mark.django_db
def test_staff_may_choose_the_owner_and_an_operator_always_gets_themselves(operator, other_operator, staff, client_for, sources):
    client_for(staff).post(DNS_ADD, dns_form(sources["theirs"], name="for b", owner=str(other_operator.pk)))
    assert Campaign.objects.get(name="for b").owner == other_operator
    assert 'name="owner"' not in client_for(operator).get(DNS_ADD).content.decode()
    client_for(operator).post(DNS_ADD, dns_form(sources["mine"], name="mine", owner=str(other_operator.pk)))
    assert Campaign.objects.get(name="mine").owner == operator


# --- sources that have not completed, and ones that have ----------------------------


@pytest.mark.django_db
def test_start_now_on_a_pending_source_creates_it_pending_with_the_warning(operator, client_for, sources):
    response = client_for(operator).post(DNS_ADD, dns_form(sources["mine"], start="on"), follow=True)
    campaign = Campaign.objects.get(name="resolve them")
    assert campaign.status == "pending" and not DnsResult.objects.filter(campaign=campaign).exists()
    assert messages_of(response) == [
        ("success", "Created “resolve them” (pending; start it when ready)."),
        (
            "warning",
            "start failed: Cannot start “resolve them”: its source phase “my generation” is pending; "
            "start the source first (a pipeline starts from its first phase).",
        ),
    ]
    assert list(CampaignStateEvent.objects.filter(campaign=campaign).values_list("transition", flat=True)) == ["create"]


@pytest.mark.django_db
def test_a_source_not_completed_is_pointed_out_when_not_starting(operator, client_for, sources):
    response = client_for(operator).post(HTTP_ADD, http_form(sources["my_dns"]), follow=True)
    assert ("info", "Its source “my dns” is pending: start this campaign once the source has started.") in messages_of(response)


@pytest.mark.django_db
def test_start_now_on_a_running_source_starts_it(operator, client_for, sources):
    campaign_transition(campaign_id=sources["mine"].pk, transition="start", actor=operator)
    campaign_transition(campaign_id=sources["mine"].pk, transition="begin", actor=None, actor_label="worker")

    response = client_for(operator).post(DNS_ADD, dns_form(sources["mine"], start="on"), follow=True)

    campaign = Campaign.objects.get(name="resolve them")
    # Fed batch by batch as its source commits them: nothing committed yet, so nothing to do yet.
    assert (campaign.status, campaign.total_items, campaign.jobs.count()) == ("queued", 0, 0)
    assert messages_of(response) == [("success", "Created and started “resolve them” (queued).")]


@pytest.mark.django_db(transaction=True)
def test_start_now_on_a_completed_source_starts_it_with_one_row_per_domain(operator, client_for, config, dns_server):
    source = campaign_create(
        actor=operator, name="done", campaign_type="domain_generation",
        params={"pattern": "prefix", "prefix_length": 2, "charset": "abc", "constant": "shop", "tlds": ["com"], "count": 9},
        start=True,
    ).campaign
    drain()
    assert Campaign.objects.get(pk=source.pk).status == "completed"

    response = client_for(operator).post(DNS_ADD, dns_form(source, start="on"), follow=True)

    campaign = Campaign.objects.get(name="resolve them")
    assert (campaign.status, campaign.total_items) == ("queued", 9)
    assert messages_of(response) == [("success", "Created and started “resolve them” (queued).")]
    # Its jobs cover the 9 names; result rows are written only when their batch commits.
    assert sum(job.range_hi - job.range_lo for job in campaign.jobs.all()) == 9
    assert not DnsResult.objects.filter(campaign=campaign).exists()

    DnsPersona.objects.update(resolvers=[dns_server.address], timeout_s=0.5, retries=0)  # every name: NXDOMAIN
    drain()

    names = set(GeneratedDomain.objects.filter(campaign=source).values_list("domain_name", flat=True))
    rows = list(DnsResult.objects.filter(campaign=campaign).values_list("domain_name", "status"))
    assert len(names) == 9 and sorted(rows) == sorted((name, "unresolved") for name in names)
    assert Campaign.objects.get(pk=campaign.pk).status == "completed"


# --- chaining really chains ----------------------------------------------------------


@pytest.fixture
def served(settings, dns_server, http_server, web_site):
    """Two generated names: one resolves to a page with a keyword, one does not exist."""
    settings.DOMAINFLOW_ALLOW_PRIVATE_TARGETS = True
    settings.DOMAINFLOW_RETRY_BACKOFF_S = 0.01
    dns_server.set("aadmin.df.test", a=["127.0.0.1"])
    dns_server.set("badmin.df.test", rcode="NXDOMAIN")
    web_site.add("aadmin.df.test", "/", Page(body=html("A", "<p>Every widget on sale.</p>")))
    DnsPersona.objects.create(name="local", resolvers=[dns_server.address], timeout_s=0.5, retries=1)
    HttpPersona.objects.create(name="browser", timeout_s=5)
    KeywordRule.objects.create(keyword_set=KeywordSet.objects.create(name="shop"), pattern="widget")
    return http_server


@pytest.mark.django_db(transaction=True)
def test_a_generation_campaign_created_with_chain_fields_chains_dns_then_http(operator, client_for, served):
    form = {
        "name": "chained",
        "pattern": "prefix",
        "prefix_length": "1",
        "suffix_length": "0",
        "charset": "ab",
        "constant": "admin",
        "tlds": "df.test",
        "count": "2",
        "batch_size": "10",
        "chain_next": "on",
        "chain_dns_personas": "local",
        "chain_http_persona": "browser",
        "chain_keyword_sets": ["shop"],
        "chain_target_ports": str(served.port),
        "start": "on",
    }
    assert client_for(operator).post(ADD, form).status_code == 302
    first = Campaign.objects.get(name="chained")
    assert first.status == "queued"

    drain()

    dns_campaign = Campaign.objects.get(source_campaign=first)
    assert (dns_campaign.campaign_type, dns_campaign.owner, dns_campaign.status) == ("dns_validation", operator, "completed")
    assert dns_campaign.dns_params.persona_ids == [DnsPersona.objects.get(name="local").pk]
    assert dict(DnsResult.objects.filter(campaign=dns_campaign).values_list("domain_name", "status")) == {
        "aadmin.df.test": "resolved", "badmin.df.test": "unresolved",
    }
    http_campaign = Campaign.objects.get(source_campaign=dns_campaign)
    assert (http_campaign.campaign_type, http_campaign.owner, http_campaign.status) == (
        "http_keyword_validation", operator, "completed"
    )
    assert http_campaign.http_params.target_ports == [served.port]
    lead = HttpResult.objects.get(campaign=http_campaign)
    assert (lead.domain_name, lead.business_status, lead.keyword_count) == ("aadmin.df.test", "lead_valid", 1)
