from __future__ import annotations

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError
from django.db import transaction

from campaigns.models import Campaign, DnsPersona, HttpPersona, KeywordRule, KeywordSet
from campaigns.services.campaigns import campaign_create

DEMO_NAME = "Demo: 3-letter .test names"


class Command(BaseCommand):
    help = "Load the demo data: personas, a keyword set and a small generation campaign ready to start (idempotent)."

    def handle(self, *args, **options):
        admin = get_user_model().objects.filter(is_superuser=True).order_by("pk").first()
        if admin is None:
            raise CommandError("no superuser exists; run `manage.py up` or `manage.py createsuperuser` first")
        with transaction.atomic():
            DnsPersona.objects.get_or_create(
                name="demo-public-resolvers",
                defaults={"resolvers": ["1.1.1.1:53", "9.9.9.9:53"], "strategy": "round_robin", "rate_limit_qps": 50},
            )
            HttpPersona.objects.get_or_create(
                name="demo-browser",
                defaults={"user_agent": "Mozilla/5.0 (compatible; DomainFlow/1.0)", "headers": {"Accept-Language": "en"}},
            )
            shop, created = KeywordSet.objects.get_or_create(name="demo-shop", defaults={"description": "Signs of a web shop"})
            if created:
                for pattern, kind in (("add to cart", "string"), ("checkout", "string"), (r"free\s+shipping", "regex")):
                    rule = KeywordRule(keyword_set=shop, pattern=pattern, kind=kind)
                    rule.full_clean()
                    rule.save()
        if Campaign.objects.filter(name=DEMO_NAME).exists():
            self.stdout.write("demo data already loaded")
            return
        campaign_create(
            actor=admin,
            name=DEMO_NAME,
            campaign_type="domain_generation",
            params={"pattern": "prefix", "prefix_length": 3, "charset": "abcdefghij", "constant": "", "tlds": ["test"], "count": 500, "batch_size": 100},
            chain_next=True,
            chain_params={
                "dns_validation": {"personas": ["demo-public-resolvers"]},
                "http_keyword_validation": {"persona": "demo-browser", "keyword_sets": ["demo-shop"]},
            },
        )
        self.stdout.write(f"demo data loaded: personas, keyword set 'demo-shop', campaign {DEMO_NAME!r} (pending; start it)")
