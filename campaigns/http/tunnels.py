"""Tunnels through proxies: HTTP CONNECT (plain or over TLS) and SOCKS5, always to an IP address.

Through an HTTP(S) proxy every target, plain HTTP too, is reached with `CONNECT ip:port`: the
absolute-form `GET http://…` would make the proxy resolve the domain (or rewrite Host to the IP),
and the address chosen by the DNS phase must be the one connected to.
"""
from __future__ import annotations

import base64
import ipaddress

from campaigns.http.addresses import hostport
from campaigns.http.config import ParsedProxy
from campaigns.http.errors import FetchError
from campaigns.http.wire import Conn, read_connect_reply

_SOCKS_REPLIES = {
    1: "general SOCKS server failure", 2: "connection not allowed by ruleset", 3: "network unreachable",
    4: "host unreachable", 5: "connection refused", 6: "TTL expired", 7: "command not supported",
    8: "address type not supported",
}


async def http_connect(conn: Conn, proxy: ParsedProxy, ip: str, port: int) -> None:
    target = hostport(ip, port)
    request = f"CONNECT {target} HTTP/1.1\r\nHost: {target}\r\n"
    if proxy.username or proxy.password:
        token = base64.b64encode(f"{proxy.username}:{proxy.password}".encode()).decode("ascii")
        request += f"Proxy-Authorization: Basic {token}\r\n"
    conn.write((request + "\r\n").encode("latin-1"))
    try:
        status = await read_connect_reply(conn)
    except FetchError as exc:
        raise FetchError(f"bad CONNECT reply: {exc}", retryable=True, proxy_fault=True) from None
    if status in (502, 503, 504):  # the proxy works; the target did not answer it
        raise FetchError(f"proxy could not reach {target} (CONNECT answered {status})", retryable=True)
    if not 200 <= status <= 299:
        raise FetchError(f"CONNECT {target} answered {status}", retryable=True, proxy_fault=True)
    if conn.buf:
        raise FetchError("sent data before the tunnel was used", retryable=True, proxy_fault=True)


async def socks5_connect(conn: Conn, proxy: ParsedProxy, ip: str, port: int) -> None:
    with_auth = bool(proxy.username or proxy.password)
    conn.write(b"\x05\x02\x00\x02" if with_auth else b"\x05\x01\x00")
    version, method = await conn.read_exact(2)
    if version != 5:
        raise FetchError("not a SOCKS5 server", retryable=True, proxy_fault=True)
    if method == 2 and with_auth:
        user, password = proxy.username.encode()[:255], proxy.password.encode()[:255]
        conn.write(bytes([1, len(user)]) + user + bytes([len(password)]) + password)
        if (await conn.read_exact(2))[1] != 0:
            raise FetchError("SOCKS5 username/password rejected", retryable=True, proxy_fault=True)
    elif method != 0:
        raise FetchError("SOCKS5 server accepts none of our authentication methods", retryable=True,
                         proxy_fault=True)
    addr = ipaddress.ip_address(ip)
    atyp = b"\x01" if addr.version == 4 else b"\x04"
    conn.write(b"\x05\x01\x00" + atyp + addr.packed + port.to_bytes(2, "big"))
    version, reply, _, atyp_reply = await conn.read_exact(4)
    if version != 5:
        raise FetchError("bad SOCKS5 reply", retryable=True, proxy_fault=True)
    if reply != 0:
        reason = _SOCKS_REPLIES.get(reply, f"error {reply}")
        raise FetchError(f"SOCKS5 proxy could not reach {hostport(ip, port)}: {reason}", retryable=True,
                         proxy_fault=reply in (1, 2, 7, 8))
    if atyp_reply == 3:
        (length,) = await conn.read_exact(1)
        await conn.read_exact(length + 2)
    elif atyp_reply in (1, 4):
        await conn.read_exact((4 if atyp_reply == 1 else 16) + 2)
    else:
        raise FetchError(f"bad SOCKS5 reply (address type {atyp_reply})", retryable=True, proxy_fault=True)
