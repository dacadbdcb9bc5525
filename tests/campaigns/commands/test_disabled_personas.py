"""Disabled DNS and HTTP personas: refused, with the reason, to new campaigns and pipelines; running ones keep them."""
from __future__ import annotations

import json

import pytest

from campaigns.models import Campaign, DnsPersona, DnsResult, HttpPersona, HttpResult
from campaigns.services.campaigns import campaign_create
from campaigns.services.config_io import config_document
from campaigns.services.errors import InvalidCampaignParams
from tests.campaigns.commands.helpers import run, run_failing, written_rows
from tests.factories import UserFactory
from tests.support.engine import run_jobs_here
from tests.support.personas import DNS_OFF, HTTP_OFF, persona_pairs

GENERATION = {"pattern": "prefix", "prefix_length": 1, "charset": "ab", "constant": "x", "tlds": ["com"], "count": 2}


@pytest.fixture
def personas(db):
    return persona_pairs()


@pytest.fixture
def source(personas):
    owner = UserFactory()
    return campaign_create(actor=owner, name="gen", campaign_type="domain_generation", params=GENERATION).campaign


def create(source: Campaign, campaign_type: str, params: dict, **kwargs) -> Campaign:
    return campaign_create(
        actor=source.owner, name="next", campaign_type=campaign_type, params=params, source_campaign_id=source.pk, **kwargs
    ).campaign


@pytest.mark.parametrize("named", ["off-dns", "id"])
def test_a_dns_campaign_naming_a_disabled_persona_is_refused_with_the_reason(source, personas, named):
    before = written_rows()
    value = personas["off-dns"].pk if named == "id" else named

    with pytest.raises(InvalidCampaignParams) as refused:
        create(source, "dns_validation", {"personas": ["on-dns", value]})

    assert refused.value.errors == {"personas": DNS_OFF}
    assert str(refused.value) == f"personas: {DNS_OFF}"
    assert written_rows() == before


def test_an_http_campaign_naming_a_disabled_persona_is_refused_with_the_reason(source, personas):
    dns = create(source, "dns_validation", {"personas": ["on-dns"]})

    with pytest.raises(InvalidCampaignParams) as refused:
        create(dns, "http_keyword_validation", {"persona": "off-http"})

    assert refused.value.errors == {"persona": HTTP_OFF}
    assert create(dns, "http_keyword_validation", {"persona": "on-http"}).http_params.persona_id == personas["on-http"].pk


@pytest.mark.parametrize(
    ("chain", "errors"),
    [
        ({"dns_validation": {"personas": ["off-dns"]}}, {"personas": DNS_OFF}),
        ({"dns_validation": {"personas": ["on-dns"]}, "http_keyword_validation": {"persona": "off-http"}}, {"persona": HTTP_OFF}),
    ],
    ids=["dns-phase", "http-phase"],
)
def test_a_pipeline_whose_later_phase_names_a_disabled_persona_is_refused_whole(personas, chain, errors):
    owner = UserFactory()
    before = written_rows()

    with pytest.raises(InvalidCampaignParams) as refused:
        campaign_create(
            actor=owner, name="pipe", campaign_type="domain_generation", params=GENERATION, chain_next=True, chain_params=chain
        )

    assert refused.value.errors == errors
    assert written_rows() == before


def test_enabling_it_again_lets_the_same_params_through(source, personas):
    DnsPersona.objects.filter(name="off-dns").update(enabled=True)

    campaign = create(source, "dns_validation", {"personas": ["off-dns"]})

    assert campaign.dns_params.persona_ids == [personas["off-dns"].pk]


def test_create_campaign_prints_the_reason_and_writes_nothing(root, personas):
    generation = run(
        "create_campaign", "--type", "domain_generation", "--name", "gen", "--pattern", "prefix", "--prefix-length", "1",
        "--charset", "ab", "--constant", "x", "--tld", "com", "--count", "2",
    ).out.split()[0]
    before = written_rows()

    error, output = run_failing(
        "create_campaign", "--type", "dns_validation", "--name", "r", "--source", generation, "--persona", "off-dns"
    )
    chained, _ = run_failing(
        "create_campaign", "--type", "dns_validation", "--name", "r", "--source", generation, "--persona", "on-dns",
        "--chain-next", "--chain-http-persona", "off-http",
    )

    assert str(error) == f"--persona: {DNS_OFF}"
    assert str(chained) == f"--chain-http-persona: {HTTP_OFF}"
    assert (output.out, written_rows()) == ("", before)


def test_export_and_import_config_carry_enabled(root, personas, tmp_path):
    document = config_document()
    assert [(p["name"], p["enabled"]) for p in document["dns_personas"]] == [("off-dns", False), ("on-dns", True)]
    assert [(p["name"], p["enabled"]) for p in document["http_personas"]] == [("off-http", False), ("on-http", True)]
    document["dns_personas"][1]["enabled"] = False
    document["http_personas"][0]["enabled"] = True
    path = tmp_path / "config.json"
    path.write_text(json.dumps(document))

    run("import_config", str(path))

    assert dict(DnsPersona.objects.values_list("name", "enabled")) == {"on-dns": False, "off-dns": False}
    assert dict(HttpPersona.objects.values_list("name", "enabled")) == {"on-http": True, "off-http": True}
    document["dns_personas"][0]["enabled"] = "no"
    path.write_text(json.dumps(document))
    error, _ = run_failing("import_config", str(path))
    assert str(error) == "dns_personas[0].enabled: must be true or false"


@pytest.mark.django_db(transaction=True)
def test_a_running_pipeline_keeps_its_personas_when_they_are_disabled(make_world, settings):
    # Valid at creation, so its later batches run with them (docs/DECISIONS.md, "Disabled personas").
    settings.DOMAINFLOW_ALLOW_PRIVATE_TARGETS = True
    world = make_world(count=6, batch_size=2)
    owner = UserFactory()
    gen, dns, http = world.pipeline(owner, dns_batch=2, http_batch=2)
    run_jobs_here(until=DnsResult.objects.exists, worker_id="disabled-personas", limit=1)

    DnsPersona.objects.filter(name="stream-dns").update(enabled=False)
    HttpPersona.objects.filter(name="stream-browser").update(enabled=False)
    run_jobs_here(worker_id="disabled-personas")

    assert [Campaign.objects.get(pk=c.pk).status for c in (gen, dns, http)] == ["completed"] * 3
    assert set(DnsResult.objects.filter(campaign=dns).values_list("domain_name", "persona")) == {
        (name, "stream-dns") for name in world.names
    }
    assert HttpResult.objects.filter(campaign=http).count() == len(world.resolved)
    with pytest.raises(InvalidCampaignParams) as refused:  # while a new pipeline with them is refused
        world.pipeline(owner)
    assert refused.value.errors == {"personas": "DNS persona 'stream-dns' is disabled; enable it under DNS personas or pick another"}
