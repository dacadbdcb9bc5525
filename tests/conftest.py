from __future__ import annotations

pytest_plugins = [
    "tests.servers.dns_server",
    "tests.servers.http_server",
]
