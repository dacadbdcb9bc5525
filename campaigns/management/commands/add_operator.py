from __future__ import annotations

import secrets

from campaigns.management.cli import CampaignCommand, cli_actor_label, user_named
from campaigns.services.operators import OPERATORS_GROUP, operator_add, operator_create


class Command(CampaignCommand):
    help = (
        f"Make a non-staff user an operator (the {OPERATORS_GROUP!r} group): they sign in to the console "
        "and the admin, and see and run only their own campaigns."
    )

    def add_arguments(self, parser):
        parser.add_argument("username")
        parser.add_argument("--create", action="store_true", help="Create the user; their password is printed once.")

    def handle(self, *args, username: str, create: bool, **options):
        # Whoever runs manage.py holds the database credentials: the command acts as the system.
        label = cli_actor_label()
        password = None
        if create:
            password = secrets.token_urlsafe(12)
            operator_create(actor=None, username=username, password=password, actor_label=label)
        else:
            operator_add(actor=None, user=user_named(username, option="username"), actor_label=label)
        if self.as_json:
            self.write_json({"username": username, "group": OPERATORS_GROUP, "created": create, "password": password})
        elif create:
            self.stdout.write(f"Created operator {username} / {password}   (shown once)")
        else:
            self.stdout.write(f"{username} is an operator ({OPERATORS_GROUP})")
