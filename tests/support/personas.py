"""An enabled and a disabled persona of each kind, and the reasons a disabled one is refused with."""
from __future__ import annotations

from campaigns.models import DnsPersona, HttpPersona

DNS_OFF = "DNS persona 'off-dns' is disabled; enable it under DNS personas or pick another"
HTTP_OFF = "HTTP persona 'off-http' is disabled; enable it under HTTP personas or pick another"


def persona_pairs() -> dict:
    """Personas "on-dns", "off-dns", "on-http" and "off-http" by name (the off ones disabled)."""
    return {
        "on-dns": DnsPersona.objects.create(name="on-dns", resolvers=["127.0.0.1:53"]),
        "off-dns": DnsPersona.objects.create(name="off-dns", resolvers=["127.0.0.1:53"], enabled=False),
        "on-http": HttpPersona.objects.create(name="on-http"),
        "off-http": HttpPersona.objects.create(name="off-http", enabled=False),
    }
