"""What a fetch is told and what it reports: persona, proxy URLs, targets, outcomes (no I/O)."""
from __future__ import annotations

import ipaddress
import re
from dataclasses import dataclass
from typing import NamedTuple
from urllib.parse import unquote, urlsplit

from campaigns.keywords import KeywordHit

PROXY_SCHEMES = ("http", "https", "socks5")
# A persona may keep at most this many decompressed bytes of one page. Pages are parsed whole,
# several at once per process, so an unbounded cap would let a few bombs hold gigabytes; 8 MiB is
# far above real HTML documents, and parsing holds up to ~60 bytes per byte of a tag-dense page.
MAX_BODY_BYTES_LIMIT = 8 * 1024 * 1024
# Headers the client owns: letting a persona set them would break framing, decoding or pinning.
RESERVED_HEADERS = frozenset(
    {"host", "content-length", "transfer-encoding", "connection", "keep-alive", "te", "trailer",
     "upgrade", "accept-encoding", "proxy-authorization", "proxy-connection", "user-agent"}
)
_TOKEN_RE = re.compile(r"[!#$%&'*+.^_`|~0-9A-Za-z-]+")

# Every business status an HttpOutcome can carry (the admin's filter lists these, not a DISTINCT).
BUSINESS_STATUSES = ("lead_valid", "http_valid_no_keywords", "invalid_http_code", "invalid_http_response_error")


@dataclass(frozen=True)
class HttpPersonaConfig:
    name: str
    user_agent: str = "DomainFlow/1.0"
    headers: tuple[tuple[str, str], ...] = ()
    timeout_s: float = 10.0
    follow_redirects: bool = True
    max_redirects: int = 5
    verify_tls: bool = True
    allowed_status_codes: tuple[int, ...] = ()  # empty = 200–299
    max_body_bytes: int = 1_048_576

    def __post_init__(self) -> None:
        _check_header_value("User-Agent", self.user_agent)
        for name, value in self.headers:
            if not _TOKEN_RE.fullmatch(name):
                raise ValueError(f"invalid header name {name!r}")
            if name.lower() in RESERVED_HEADERS:
                raise ValueError(f"header {name!r} is set by the client and cannot be overridden")
            _check_header_value(name, value)
        if not self.timeout_s > 0:
            raise ValueError(f"timeout must be positive, got {self.timeout_s}")
        if self.max_redirects < 0:
            raise ValueError(f"max redirects must be >= 0, got {self.max_redirects}")
        check_max_body_bytes(self.max_body_bytes)
        for code in self.allowed_status_codes:
            if not 100 <= code <= 599:
                raise ValueError(f"allowed status code {code} is not between 100 and 599")

    def status_allowed(self, code: int) -> bool:
        return code in self.allowed_status_codes if self.allowed_status_codes else 200 <= code <= 299


def check_max_body_bytes(value: int) -> None:
    """ValueError unless `value` is a usable per-page body cap (1 … MAX_BODY_BYTES_LIMIT)."""
    if not 1 <= value <= MAX_BODY_BYTES_LIMIT:
        raise ValueError(f"max body bytes must be between 1 and {MAX_BODY_BYTES_LIMIT:,}, got {value:,}")


def _check_header_value(name: str, value: str) -> None:
    if any(c in value for c in "\r\n\0"):
        raise ValueError(f"header {name!r} must not contain CR, LF or NUL")
    try:
        value.encode("latin-1")
    except UnicodeEncodeError:
        raise ValueError(f"header {name!r} must be Latin-1 text") from None


@dataclass(frozen=True)
class ProxyConfig:
    key: str
    url: str  # http://, https://, socks5:// with optional user:pass@


@dataclass(frozen=True)
class ParsedProxy:
    scheme: str
    host: str
    port: int
    username: str
    password: str


def parse_proxy_url(url: str) -> ParsedProxy:
    """Parse and validate a proxy URL; ValueError with a one-line reason when it is unusable."""
    try:
        parts = urlsplit(url.strip())
        port = parts.port
    except ValueError as exc:
        raise ValueError(f"invalid proxy URL {url!r}: {exc}") from None
    scheme = parts.scheme.lower()
    if scheme not in PROXY_SCHEMES:
        raise ValueError(f"unsupported proxy scheme {parts.scheme!r} in {url!r} (expected http, https or socks5)")
    host = parts.hostname or ""
    if not host:
        raise ValueError(f"proxy URL {url!r} has no host")
    try:
        ipaddress.ip_address(host)
    except ValueError:
        if not _valid_hostname(host):
            raise ValueError(f"proxy URL {url!r} has an invalid host {host!r}") from None
    if port is None:
        if parts.netloc.endswith(":"):
            raise ValueError(f"proxy URL {url!r} has an empty port")
        port = {"http": 80, "https": 443, "socks5": 1080}[scheme]
    if port == 0:
        raise ValueError(f"proxy URL {url!r} has port 0 (expected 1-65535)")
    if parts.path not in ("", "/") or parts.query or parts.fragment:
        raise ValueError(f"proxy URL {url!r} must not have a path, query or fragment")
    return ParsedProxy(scheme, host, port, unquote(parts.username or ""), unquote(parts.password or ""))


def _valid_hostname(host: str) -> bool:
    labels = host.rstrip(".").split(".")
    return len(host) <= 253 and all(
        0 < len(label) <= 63 and re.fullmatch(r"[A-Za-z0-9_-]+", label) and not label.startswith("-")
        for label in labels
    )


@dataclass(frozen=True)
class FetchTarget:
    domain: str
    ips: tuple[str, ...]  # addresses found by the DNS phase


class HttpOutcome(NamedTuple):
    """One domain's result; every text field holds only characters PostgreSQL can store.

    A named tuple, like dns.DnsOutcome: one is made per site, and a frozen dataclass of these
    seventeen fields costs four times as much to build (each field set through object.__setattr__).
    """

    domain: str
    status: str  # success | failed | timeout | error
    business_status: str  # one of BUSINESS_STATUSES
    status_code: int | None
    final_url: str
    redirect_count: int
    title: str
    server: str
    content_length: int  # bytes of the decoded body kept (at most the persona's max_body_bytes)
    body_sha256: str  # of those bytes
    snippet: str  # first ~300 characters of the visible text
    keyword_hits: tuple[KeywordHit, ...]
    persona: str
    proxy: str
    attempts: int
    response_time_ms: int  # of the attempt that answered (redirects included); of all attempts on failure
    error: str
