from __future__ import annotations

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError

from campaigns.models import Campaign
from campaigns.services.campaigns import campaign_create

DEMO_NAME = "Demo: 3-letter .test names"


class Command(BaseCommand):
    help = "Load the demo data: a small generation campaign, ready to start (idempotent)."

    def handle(self, *args, **options):
        admin = get_user_model().objects.filter(is_superuser=True).order_by("pk").first()
        if admin is None:
            raise CommandError("no superuser exists; run `manage.py up` or `manage.py createsuperuser` first")
        if Campaign.objects.filter(name=DEMO_NAME).exists():
            self.stdout.write("demo data already loaded")
            return
        campaign_create(
            actor=admin,
            name=DEMO_NAME,
            campaign_type="domain_generation",
            params={"pattern": "prefix", "prefix_length": 3, "charset": "abcdefghij", "constant": "", "tlds": ["test"], "count": 500, "batch_size": 100},
        )
        self.stdout.write(f"demo campaign created: {DEMO_NAME!r} (pending; start it from the console)")
