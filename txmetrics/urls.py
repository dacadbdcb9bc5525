from __future__ import annotations

from django.urls import path

from txmetrics import views

app_name = "txmetrics"

urlpatterns = [
    path("reports/transactions/", views.transactions_report, name="transactions"),
]
