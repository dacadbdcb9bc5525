"""The demo's configuration and pipeline: imported and created through the services, as an operator would."""
from __future__ import annotations

from dataclasses import dataclass

from django.contrib.auth.models import AbstractBaseUser

from campaigns.demo import sites
from campaigns.models import Campaign, CampaignStatus, CampaignType
from campaigns.services.campaigns import campaign_create
from campaigns.services.config_io import VERSION, config_import
from campaigns.services.transitions import campaign_transition

PIPELINE_NAME = "Demo: 324 made-up .test sites (offline)"
DNS_PERSONA = "demo-local-dns"
HTTP_PERSONA = "demo-browser"
KEYWORD_SETS = ("demo-shop",)
ACTOR_LABEL = "demo"


def demo_config(*, dns_address: str) -> dict:
    """The import_config document of the demo: personas pointing at the demo servers, a keyword set."""
    return {
        "version": VERSION,
        "dns_personas": [
            {"name": DNS_PERSONA, "resolvers": [dns_address], "record_types": ["A"], "timeout_s": 1.0, "retries": 1},
        ],
        "http_personas": [
            {"name": HTTP_PERSONA, "user_agent": "Mozilla/5.0 (compatible; DomainFlow demo)", "timeout_s": 5.0,
             "headers": {"Accept-Language": "en"}},
        ],
        "keyword_sets": [
            {"name": "demo-shop", "description": "Signs of a web shop (demo)", "rules": [
                {"pattern": "add to cart", "kind": "string"},
                {"pattern": "checkout", "kind": "string"},
                {"pattern": r"free\s+shipping", "kind": "regex"},
            ]},
        ],
    }


@dataclass(frozen=True)
class DemoPipeline:
    campaign: Campaign
    created: bool


def demo_load(*, owner: AbstractBaseUser, dns_address: str, web_port: int) -> DemoPipeline:
    """Import the demo's configuration; create and start its pipeline once (later runs start it if pending)."""
    config_import(actor=None, actor_label=ACTOR_LABEL, document=demo_config(dns_address=dns_address), source="demo")
    existing = Campaign.objects.filter(name=PIPELINE_NAME, campaign_type=CampaignType.DOMAIN_GENERATION).first()
    if existing is not None:
        if existing.status == CampaignStatus.PENDING:
            existing = campaign_transition(campaign_id=existing.pk, transition="start", actor=owner)
        return DemoPipeline(existing, created=False)
    outcome = campaign_create(
        actor=owner,
        name=PIPELINE_NAME,
        campaign_type=CampaignType.DOMAIN_GENERATION,
        params=dict(sites.GENERATION_PARAMS),
        owner_id=owner.pk,
        chain_next=True,
        chain_params={
            CampaignType.DNS_VALIDATION: {"personas": [DNS_PERSONA]},
            CampaignType.HTTP_KEYWORD_VALIDATION: {
                "persona": HTTP_PERSONA, "keyword_sets": list(KEYWORD_SETS), "target_ports": [web_port],
            },
        },
        start=True,
    )
    return DemoPipeline(outcome.campaign, created=True)
