"""The operator console's admin (STYLE "Admin"): one module per area, registered on `site`.

site.py       the ConsoleAdminSite (`site`, mounted at /admin/) and shared pieces
campaigns.py  campaigns: list, change page, add page, transitions through the services
campaign_forms.py / create_forms.py   the change form and owner filter / one add form per type
params.py     each type's params, read-only, on the campaign page
results.py    generated domains, DNS and HTTP results: read-only, owner-scoped, exportable
records.py    jobs, state events, audit log, generation offset spaces: read-only
config.py     personas, proxies, keyword sets: staff-only writes, each audited

Importing this package registers every ModelAdmin.
"""
from __future__ import annotations

from campaigns.admin import campaigns, config, records, results
from campaigns.admin.site import ConsoleAdminSite, site

__all__ = ["ConsoleAdminSite", "campaigns", "config", "records", "results", "site"]
