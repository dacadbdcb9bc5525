from __future__ import annotations

from django.apps import AppConfig


class TxmetricsConfig(AppConfig):
    name = "txmetrics"
    verbose_name = "Transaction metrics"
    default_auto_field = "django.db.models.BigAutoField"
