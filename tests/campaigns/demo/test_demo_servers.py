"""The demo's DNS and web servers answer for exactly the demo's sites."""
from __future__ import annotations

import http.client
import socket

import dns.message
import dns.query
import dns.rcode
import pytest

from campaigns.demo import sites
from campaigns.demo.servers import DemoServerError, DemoServers
from campaigns.generation import domain_at, normalise


@pytest.fixture
def demo():
    servers = DemoServers().start()
    yield servers
    servers.stop()


def of_kind(kind: str) -> str:
    return next(name for name in sites.all_names() if sites.kind_of(name) == kind)


def ask(demo: DemoServers, name: str, rdtype: str = "A", *, tcp: bool = False) -> dns.message.Message:
    query = dns.message.make_query(name, rdtype)
    send = dns.query.tcp if tcp else dns.query.udp
    return send(query, "127.0.0.1", port=demo.dns_port, timeout=5)


def get(demo: DemoServers, host: str) -> tuple[int, str]:
    conn = http.client.HTTPConnection("127.0.0.1", demo.web_port, timeout=5)
    conn.request("GET", "/", headers={"Host": f"{host}:{demo.web_port}"})
    response = conn.getresponse()
    return response.status, response.read().decode()


def test_the_generation_params_produce_exactly_the_demo_names():
    params = {key: value for key, value in sites.GENERATION_PARAMS.items() if key not in ("count", "batch_size")}
    spec = normalise(suffix_length=0, **params)
    generated = [domain_at(spec, offset) for offset in range(sites.GENERATION_PARAMS["count"])]
    assert sorted(generated) == sorted(sites.all_names())


def test_every_kind_of_site_is_there():
    assert {kind: count > 10 for kind, count in sites.counts().items()} == {kind: True for kind, _ in sites.KINDS}


def test_dns_answers_resolving_names_with_loopback_over_udp_and_tcp(demo):
    shop = of_kind("shop")
    for tcp in (False, True):
        answer = ask(demo, shop, tcp=tcp)
        assert [rr.to_text() for rrset in answer.answer for rr in rrset] == ["127.0.0.1"]


def test_dns_says_nxdomain_for_unresolved_and_foreign_names_and_nodata_for_aaaa(demo):
    assert ask(demo, of_kind("unresolved")).rcode() == dns.rcode.NXDOMAIN
    assert ask(demo, "example.com").rcode() == dns.rcode.NXDOMAIN
    nodata = ask(demo, of_kind("blog"), "AAAA")
    assert (nodata.rcode(), nodata.answer) == (dns.rcode.NOERROR, [])


def test_the_web_server_serves_each_kind_by_host(demo):
    status, body = get(demo, of_kind("shop"))
    assert status == 200 and "Add to cart" in body and "Free shipping" in body
    assert get(demo, of_kind("parked"))[1].count("for sale") == 1
    assert get(demo, of_kind("error"))[0] in (404, 500, 503)
    assert get(demo, "example.com")[0] == 421


def test_a_taken_port_is_one_clear_error_and_nothing_keeps_running():
    with socket.socket() as holder:
        holder.bind(("127.0.0.1", 0))
        holder.listen()
        taken = holder.getsockname()[1]
        with pytest.raises(DemoServerError) as info:
            DemoServers(web_port=taken).start()
    assert str(info.value) == f"demo web server: cannot listen on 127.0.0.1:{taken} (Address already in use)"
