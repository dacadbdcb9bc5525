"""Which addresses may be fetched, and how hosts and authorities are written."""
from __future__ import annotations

import functools
import ipaddress

from campaigns.http.errors import FetchError


def _address_refusal(ip: str) -> str | None:
    """Why `ip` may not be fetched without allow_private, or None for a public unicast address."""
    addr = ipaddress.ip_address(ip)
    if isinstance(addr, ipaddress.IPv6Address) and addr.ipv4_mapped is not None:
        addr = addr.ipv4_mapped
    for kind in ("loopback", "unspecified", "link_local", "multicast", "private", "reserved"):
        if getattr(addr, f"is_{kind}"):
            return kind.replace("_", "-")
    return None if addr.is_global else "non-global"


@functools.lru_cache(maxsize=8192)
def classify_address(ip: str) -> tuple[str, str | None]:
    """(canonical form, refusal reason or None); ValueError when `ip` is not an IP address."""
    return str(ipaddress.ip_address(ip)), _address_refusal(ip)


def hostport(ip: str, port: int) -> str:
    return f"[{ip}]:{port}" if ":" in ip else f"{ip}:{port}"


def authority(host: str, scheme: str, port: int) -> str:
    shown = f"[{host}]" if ":" in host else host
    return shown if port == (443 if scheme == "https" else 80) else f"{shown}:{port}"


def normalise_host(host: str) -> str:
    host = host.strip().rstrip(".").lower()
    try:
        host.encode("ascii")
    except UnicodeEncodeError:
        try:
            host = host.encode("idna").decode("ascii")
        except UnicodeError:
            raise FetchError(f"domain {host!r} cannot be encoded as IDNA") from None
    return host
