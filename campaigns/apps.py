from __future__ import annotations

from django.apps import AppConfig

from campaigns import checks  # noqa: F401  (registers the database's system checks)


class CampaignsConfig(AppConfig):
    name = "campaigns"
    default_auto_field = "django.db.models.BigAutoField"
