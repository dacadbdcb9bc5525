"""The fetcher: connections pinned to DNS-found addresses, redirects under the address policy, retries.

Every request goes to an address chosen by the DNS phase (directly or through a proxy tunnel) with
Host and TLS SNI carrying the domain; a redirect to another host is resolved and checked against
the private-address policy like the first hop. Keep-alive connections come from a ConnectionPool
(connections.py) keyed by address, so one connection to a shared host serves every domain on it;
TLS ones by address, SNI and TLS settings.
"""
from __future__ import annotations

import asyncio
import functools
import ipaddress
import socket
import ssl
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from urllib.parse import quote, urljoin, urlsplit

from campaigns.http.addresses import authority, classify_address, hostport, normalise_host
from campaigns.http.config import FetchTarget, HttpOutcome, HttpPersonaConfig, ProxyConfig
from campaigns.http.connections import ConnectionPool
from campaigns.http.errors import Closed, FetchError, connection_error, describe
from campaigns.http.pages import Page, failure
from campaigns.http.proxies import ProxyPool
from campaigns.http.tunnels import http_connect, socks5_connect
from campaigns.http.wire import Conn, Response, read_response

REDIRECT_CODES = frozenset({301, 302, 303, 307, 308})
WATCHDOG_TICK_S = 0.05  # how late past its deadline an attempt may be cancelled
_PATH_SAFE = "!#$%&'()*+,/:;=?@[]~"


@functools.lru_cache(maxsize=16)
def tls_context(verify: bool, ca_file: str | None) -> ssl.SSLContext:
    """A client context, built once per process (loading the CA store is slow; contexts are shareable)."""
    if verify:
        ctx = ssl.create_default_context(cafile=ca_file)
    else:
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
        ctx.check_hostname = False
        ctx.verify_mode = ssl.CERT_NONE
    ctx.set_alpn_protocols(["http/1.1"])
    return ctx


@dataclass
class _Attempt:
    proxy: ProxyConfig | None
    tunnel_ok: bool = False  # the proxy connected us to the target (a later timeout is not its fault)
    deadline: float = 0.0  # on the loop's clock
    expired: bool = False  # the watchdog cancelled it


class _Watchdog:
    """Cancels the attempts past their deadline, from one timer that sweeps every WATCHDOG_TICK_S.

    One timer for a whole batch instead of asyncio.timeout() per attempt, which schedules and
    cancels a timer and looks up the running loop and task several times for every page.
    """

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self.loop = loop
        self.running: dict[asyncio.Task, _Attempt] = {}
        self.handle = loop.call_later(WATCHDOG_TICK_S, self._sweep)

    def _sweep(self) -> None:
        now = self.loop.time()
        for task, attempt in list(self.running.items()):
            if attempt.deadline <= now and not attempt.expired:
                attempt.expired = True
                task.cancel()
        self.handle = self.loop.call_later(WATCHDOG_TICK_S, self._sweep)

    def close(self) -> None:
        self.handle.cancel()


class Client:
    """Fetches targets for one batch on the running loop, on connections from `connections`."""

    def __init__(self, *, persona: HttpPersonaConfig, ports: Sequence[int], tls_ports: Sequence[int],
                 proxies: ProxyPool | None, retries: int, allow_private: bool, ca_file: str | None,
                 connections: ConnectionPool) -> None:
        self.persona = persona
        self.ports = tuple(ports)
        self.tls_ports = frozenset(tls_ports)
        self.proxies = proxies if proxies is not None and len(proxies) else None
        self.retries = retries
        self.allow_private = allow_private
        self.loop = asyncio.get_running_loop()
        self.high_water = max(16 * 1024, min(persona.max_body_bytes, 256 * 1024))
        self.connections = connections
        self.tls = tls_context(persona.verify_tls, ca_file)
        self.tls_settings = (persona.verify_tls, ca_file)
        headers = [("User-Agent", persona.user_agent)] if persona.user_agent else []
        if not any(name.lower() == "accept" for name, _ in persona.headers):
            headers.append(("Accept", "text/html,application/xhtml+xml,*/*;q=0.8"))
        headers += [(name, value) for name, value in persona.headers]
        headers.append(("Accept-Encoding", "gzip, deflate, br"))
        self.header_tail = "".join(f"{name}: {value}\r\n" for name, value in headers).encode("latin-1") + b"\r\n"
        self.watchdog = _Watchdog(self.loop)

    def close(self) -> None:
        """Stop the client's timer (its connections stay in the pool)."""
        self.watchdog.close()

    async def _connect(self, scheme: str, ip: str, port: int, sni: str, attempt: _Attempt) -> Conn:
        tls = self.tls if scheme == "https" else None
        conn = self.connections.new(self.high_water)
        try:
            if attempt.proxy is None:
                try:
                    await self._open(conn, ip, port, tls, sni if tls else None)
                except (OSError, ssl.SSLError) as exc:
                    raise connection_error(exc, hostport(ip, port)) from None
                return conn
            await self._open_tunnel(conn, attempt, ip, port)
            if tls is not None:
                try:
                    conn.transport = await self.loop.start_tls(conn.transport, conn, tls, server_hostname=sni)
                except (OSError, ssl.SSLError) as exc:
                    raise connection_error(exc, f"{hostport(ip, port)} via proxy {attempt.proxy.key}") from None
            return conn
        except BaseException:
            conn.abort()
            raise

    async def _open(self, conn: Conn, host: str, port: int, tls: ssl.SSLContext | None, sni: str | None) -> None:
        """Connect `conn`; if that does not complete, the pool forgets it. uvloop closes a connection
        whose create_connection is cancelled after connection_made without ever calling
        connection_lost, so the pool would otherwise keep it, and wait for its end, for good."""
        try:
            await self.loop.create_connection(lambda: conn, host, port, ssl=tls, server_hostname=sni)
        except BaseException:
            self.connections.forget(conn)
            raise

    async def _open_tunnel(self, conn: Conn, attempt: _Attempt, ip: str, port: int) -> None:
        proxy = attempt.proxy
        parsed = self.proxies.parsed(proxy.key)  # type: ignore[union-attr]
        try:
            tls, sni = (self.tls, parsed.host) if parsed.scheme == "https" else (None, None)
            await self._open(conn, parsed.host, parsed.port, tls, sni)
            if parsed.scheme == "socks5":
                await socks5_connect(conn, parsed, ip, port)
            else:
                await http_connect(conn, parsed, ip, port)
        except FetchError as exc:
            if exc.proxy_fault:
                exc.args = (f"proxy {proxy.key}: {exc}",)
            raise
        except (OSError, ssl.SSLError, Closed) as exc:
            reason = "closed the connection" if isinstance(exc, Closed) else describe(exc)
            raise FetchError(f"proxy {proxy.key}: {reason}", retryable=True, proxy_fault=True) from None
        attempt.tunnel_ok = True

    async def _request(self, scheme: str, ip: str, port: int, host: str, path: str, attempt: _Attempt) -> Response:
        tls = scheme == "https"
        proxy_url = attempt.proxy.url if attempt.proxy is not None else None
        key = (scheme, ip, port, host if tls else None, self.tls_settings if tls else None, proxy_url)
        request = b"GET %s HTTP/1.1\r\nHost: %s\r\n%s" % (
            path.encode("latin-1"), authority(host, scheme, port).encode("ascii"), self.header_tail)
        cap = self.persona.max_body_bytes
        conn = self.connections.checkout(key, self.high_water)
        response = None
        if conn is not None:
            attempt.tunnel_ok = True
            try:  # the server may have dropped an idle keep-alive connection: then retry once on a new one
                conn.write(request)
                response = await read_response(conn, cap)
            except (Closed, ConnectionError):
                conn.abort()
            except BaseException:
                conn.abort()
                raise
        if response is None:
            conn = await self._connect(scheme, ip, port, host, attempt)
            try:
                conn.write(request)
                response = await read_response(conn, cap)
            except Closed:
                conn.abort()
                raise FetchError(f"server closed the connection without a response ({hostport(ip, port)})",
                                 retryable=True) from None
            except BaseException:
                conn.abort()
                raise
        if response.reusable:
            self.connections.checkin(key, conn)
        else:
            conn.abort()
        return response

    # ---- addresses and redirects

    async def _resolve(self, host: str, port: int) -> list[str]:
        try:
            infos = await self.loop.getaddrinfo(host, port, type=socket.SOCK_STREAM)
        except OSError as exc:
            raise FetchError(f"cannot resolve redirect host {host!r}: {describe(exc)}") from None
        # IPv4 first: where a name has both, IPv6 is the one more often unreachable
        ips = list(dict.fromkeys(info[4][0] for info in sorted(infos, key=lambda info: info[0] != socket.AF_INET)))
        return self._allowed_ips(ips, what=f"redirect host {host}")

    def _allowed_ips(self, ips: Iterable[str], *, what: str) -> list[str]:
        allowed, refused = [], []
        for ip in ips:
            try:
                canonical, reason = classify_address(ip)
            except ValueError:
                refused.append(f"{ip!r} (not an IP address)")
                continue
            if reason is None or self.allow_private:
                allowed.append(canonical)
            else:
                refused.append(f"{ip} ({reason})")
        if allowed:
            return allowed
        if refused:
            raise FetchError(f"refused non-public address {', '.join(refused)} for {what} (allow_private is off)")
        raise FetchError(f"no address to connect to for {what}")

    async def _fetch_page(self, domain: str, ip: str, port: int, attempt: _Attempt) -> Page:
        persona = self.persona
        pinned_ip = ip
        scheme, host, path = ("https" if port in self.tls_ports else "http"), domain, "/"
        visited: set[str] = set()
        redirects = 0
        while True:
            url = f"{scheme}://{authority(host, scheme, port)}{path}"
            visited.add(url)
            response = await self._request(scheme, ip, port, host, path, attempt)
            location = response.headers.get("location", "").strip()
            if not (persona.follow_redirects and response.status in REDIRECT_CODES and location):
                return Page(response.status, response.headers, response.body, url, redirects)
            if redirects >= persona.max_redirects:
                raise FetchError(
                    f"too many redirects (more than {persona.max_redirects}), the last to {location[:200]}")
            target = urljoin(url, location)
            parts = urlsplit(target)
            try:
                next_port = parts.port or (443 if parts.scheme == "https" else 80)
            except ValueError:
                raise FetchError(f"redirect to an invalid URL {target[:200]!r}") from None
            if parts.scheme not in ("http", "https") or not parts.hostname:
                raise FetchError(f"redirect to an unsupported URL {target[:200]!r}")
            next_host = normalise_host(parts.hostname)
            next_path = quote((parts.path or "/") + (f"?{parts.query}" if parts.query else ""), safe=_PATH_SAFE)
            next_url = f"{parts.scheme}://{authority(next_host, parts.scheme, next_port)}{next_path}"
            if next_url in visited:
                raise FetchError(f"redirect loop: {url} redirects to {next_url}, which was already visited")
            if next_host == domain:
                ip = pinned_ip  # the DNS phase's address: never a second lookup for the domain
            elif next_host != host:
                try:
                    literal = str(ipaddress.ip_address(next_host))
                except ValueError:
                    ip = (await self._resolve(next_host, next_port))[0]
                else:
                    ip = self._allowed_ips([literal], what=f"redirect to {next_host}")[0]
            scheme, host, port, path = parts.scheme, next_host, next_port, next_path
            redirects += 1

    # ---- one target

    async def fetch(self, target: FetchTarget) -> HttpOutcome | Page:
        """The failure outcome, or the fetched page (to analyse)."""
        started = time.perf_counter()
        try:
            return await self._fetch(target, started)
        except Exception as exc:  # one odd page must not fail the batch: it becomes that domain's error
            return self._failure(target.domain, FetchError(f"unexpected {type(exc).__name__}: {exc}"), 0, "",
                                 started)

    async def _fetch(self, target: FetchTarget, started: float) -> HttpOutcome | Page:
        try:
            domain = normalise_host(target.domain)
            ips = self._allowed_ips(target.ips, what=domain)
        except FetchError as exc:
            return self._failure(target.domain, exc, 0, "", started)
        candidates = [(ip, port) for ip in ips for port in self.ports]
        failed_proxies: list[str] = []
        attempts = 0
        proxy_key = ""
        error: FetchError | None = None  # made only when an attempt fails: most pages answer the first
        while attempts <= self.retries:
            attempt = _Attempt(None)
            if self.proxies is not None:
                attempt.proxy = self.proxies.choose(avoid=failed_proxies)
                if attempt.proxy is None:
                    error = FetchError(f"no healthy proxy left ({len(self.proxies)} configured, all unhealthy)")
                    break
                proxy_key = attempt.proxy.key
            ip, port = candidates[attempts % len(candidates)]
            attempts += 1
            attempt_started = time.perf_counter()
            try:
                page = await self._attempt(domain, ip, port, attempt)
            except TimeoutError:
                error = FetchError(f"timed out after {self.persona.timeout_s:g}s ({hostport(ip, port)})",
                                   retryable=True, timeout=True, proxy_fault=not attempt.tunnel_ok)
            except FetchError as exc:
                error = exc
            except (OSError, ssl.SSLError) as exc:
                error = connection_error(exc, hostport(ip, port))
            except Closed:
                error = FetchError(f"server closed the connection mid-response ({hostport(ip, port)})",
                                   retryable=True)
            else:
                if attempt.proxy is not None:
                    self.proxies.record_success(attempt.proxy.key)  # type: ignore[union-attr]
                page.domain, page.attempts, page.proxy = target.domain, attempts, proxy_key
                page.response_time_ms = round((time.perf_counter() - attempt_started) * 1000)
                return page
            if attempt.proxy is not None:
                if error.proxy_fault:
                    self.proxies.record_failure(attempt.proxy.key)  # type: ignore[union-attr]
                    failed_proxies.append(attempt.proxy.key)
                else:
                    self.proxies.record_success(attempt.proxy.key)  # type: ignore[union-attr]
            if not error.retryable:
                break
        return self._failure(target.domain, error or FetchError("no attempt made"), attempts, proxy_key, started)

    async def _attempt(self, domain: str, ip: str, port: int, attempt: _Attempt) -> Page:
        """One attempt under the persona's deadline; TimeoutError once the watchdog cancelled it."""
        task = asyncio.current_task(self.loop)
        assert task is not None
        cancelling = task.cancelling()
        attempt.deadline = self.loop.time() + self.persona.timeout_s
        running = self.watchdog.running
        running[task] = attempt
        try:
            return await self._fetch_page(domain, ip, port, attempt)
        except asyncio.CancelledError:
            # Ours only if the watchdog cancelled this attempt and nobody else cancelled the task.
            if attempt.expired and task.uncancel() <= cancelling:
                raise TimeoutError from None
            raise
        finally:
            del running[task]

    def _failure(self, domain: str, error: FetchError, attempts: int, proxy: str, started: float) -> HttpOutcome:
        return failure(domain, error, attempts=attempts, proxy=proxy, persona=self.persona.name,
                       elapsed_ms=round((time.perf_counter() - started) * 1000))
