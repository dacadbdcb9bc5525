"""Resolving domains through personas: resolve_many/resolve_batch, per-persona runs and per-domain fallback."""
from __future__ import annotations

import asyncio
from collections.abc import Sequence

from campaigns.dns.config import RECORD_TYPES, DnsOutcome, DnsPersonaConfig, RateReserver
from campaigns.dns.limits import _persona_slots, _SharedBucket, _TokenBucket
from campaigns.dns.picker import _Picker
from campaigns.dns.wire import (
    _CLASS_IN,
    _HEADER_TAIL,
    _IDS_PER_SOCKET,
    _OPT,
    _RCODES,
    _ask_tcp,
    _Channel,
    _ip_order,
    _ip_text,
    _qname_wire,
)

def resolve_batch(
    domains: Sequence[str], *, personas: Sequence[DnsPersonaConfig], rate_reserver: RateReserver | None = None
) -> list[DnsOutcome]:
    """Resolve domains from synchronous code (workers call it outside any transaction)."""
    return asyncio.run(resolve_many(domains, personas=personas, rate_reserver=rate_reserver))


async def resolve_many(
    domains: Sequence[str], *, personas: Sequence[DnsPersonaConfig], rate_reserver: RateReserver | None = None
) -> list[DnsOutcome]:
    """Resolve domains through the personas, in order; outcomes come back in input order.

    A persona's rate limit holds for this call alone, or, with `rate_reserver`, for every
    caller sharing the reserver's store (all workers of all hosts): see _SharedBucket.
    """
    if not personas:
        raise ValueError("at least one DNS persona is required")
    loop = asyncio.get_running_loop()
    results: list[DnsOutcome | None] = [None] * len(domains)
    indexes = iter(range(len(domains)))
    runs: list[_PersonaRun] = []
    try:
        for config in personas:
            runs.append(_PersonaRun(config, loop, rate_reserver, expected_names=len(domains)))

        async def work() -> None:
            for i in indexes:  # shared iterator: each index goes to exactly one worker
                results[i] = await _resolve_domain(domains[i], runs)

        # A worker has at most one query in flight, so this many can fill every persona's cap.
        workers = min(len(domains), sum(config.max_in_flight for config in personas))
        async with asyncio.TaskGroup() as group:
            for _ in range(workers):
                group.create_task(work())
    finally:
        for run in runs:
            run.close()
    return results  # type: ignore[return-value]


async def _resolve_domain(domain: str, runs: list[_PersonaRun]) -> DnsOutcome:
    """Try the personas in order until one resolves the domain."""
    qname = _qname_wire(domain)
    if qname is None:
        return DnsOutcome(domain, "error", "", (), "", "", "", 0, 0)
    attempts = 0
    waited = 0.0
    for run in runs:
        status, rcode, resolver, addresses, sent, rtt = await run.resolve(qname)
        attempts += sent
        waited += rtt
        if status == "resolved":
            ips = tuple(_ip_text(raw) for raw in sorted(addresses, key=_ip_order))
            return DnsOutcome(
                domain, status, "valid_dns", ips, rcode, resolver, run.name, attempts, round(waited * 1000)
            )
    return DnsOutcome(domain, status, "", (), rcode, resolver, run.name, attempts, round(waited * 1000))


class _PersonaRun:
    """One persona during one resolve_many call: its sockets, limits and strategy state."""

    def __init__(
        self,
        config: DnsPersonaConfig,
        loop: asyncio.AbstractEventLoop,
        rate_reserver: RateReserver | None = None,
        *,
        expected_names: int = 0,
    ) -> None:
        self.name = config.name
        self._loop = loop
        self._resolvers = config.resolvers
        self._attempts = 1 + config.retries
        self._types = [RECORD_TYPES[t].to_bytes(2, "big") + _CLASS_IN for t in config.record_types]
        self._slots = _persona_slots(loop, config)
        self._bucket: _TokenBucket | _SharedBucket | None = None
        if config.rate_limit_qps and rate_reserver is not None:
            expected = expected_names * len(config.record_types)  # first attempts, if every name reaches us
            self._bucket = _SharedBucket(f"dns:{config.name}", config.rate_limit_qps, rate_reserver, loop, expected=expected)
        elif config.rate_limit_qps:
            self._bucket = _TokenBucket(config.rate_limit_qps, loop)
        self._picker = _Picker(config, loop)
        # The cap bounds how many ids one resolver can have outstanding; spread them over sockets.
        sockets = -(-config.max_in_flight // _IDS_PER_SOCKET)
        self._channels: list[_Channel] = []
        for resolver in config.resolvers:
            self._channels.append(_Channel(resolver, loop, timeout_s=config.timeout_s, sockets=sockets))

    def close(self) -> None:
        for channel in self._channels:
            channel.close()

    async def resolve(self, qname: bytes) -> tuple[str, str, str, set[bytes], int, float]:
        """Query every record type; return (status, rcode, resolver, addresses, queries sent, seconds waited)."""
        addresses: set[bytes] = set()
        address_from = ""
        failure: tuple[str, str, str] | None = None
        answer: tuple[str, str] | None = None
        sent = 0
        waited = 0.0
        for qtype in self._types:
            kind, rcode, resolver, found, tries, rtt = await self._query(qname, qtype)
            sent += tries
            waited += rtt
            if kind != "answer":
                failure = (kind, rcode, resolver)
                continue
            if found:
                addresses.update(found)
                address_from = address_from or resolver
            answer = (rcode, resolver)
            if rcode == "NXDOMAIN":
                break  # the name does not exist: no other type can have records
        if addresses:
            return "resolved", "NOERROR", address_from, addresses, sent, waited
        if answer is not None and (answer[0] == "NXDOMAIN" or failure is None):
            return "unresolved", answer[0], answer[1], addresses, sent, waited
        assert failure is not None
        return failure[0], failure[1], failure[2], addresses, sent, waited

    async def _query(self, qname: bytes, qtype: bytes) -> tuple[str, str, str, list[bytes], int, float]:
        """Ask one question, retrying on other resolvers; return (kind, rcode, resolver, addresses, sent, rtt)."""
        question = qname + qtype
        tail = _HEADER_TAIL + question + _OPT
        picker = self._picker
        loop = self._loop
        tried: list[int] = []
        waited = 0.0
        sent = 0
        kind = rcode = ""
        for attempt in range(self._attempts):
            index = picker.first() if attempt == 0 else picker.next(tried)
            tried.append(index)
            channel = self._channels[index]
            async with self._slots:
                if self._bucket is not None:
                    await self._bucket.take()
                started = loop.time()
                sent += 1
                try:
                    reply = await channel.ask(tail, question)
                    if reply is not None and reply[2] and not reply[1]:
                        # Truncated without addresses: the same resolver over TCP has the full answer.
                        if self._bucket is not None:
                            await self._bucket.take()
                        sent += 1
                        reply = await _ask_tcp(self._resolvers[index], tail, question, channel.timeout_s)
                except OSError:
                    reply = (-1, [], False)  # unreachable network or the like: an error, try another
                waited += loop.time() - started
            if reply is None:
                kind, rcode = "timeout", ""
            elif reply[0] in (0, 3):
                picker.succeeded(index)
                return "answer", _RCODES[reply[0]], channel.address, reply[1], sent, waited
            else:
                kind, rcode = "error", _RCODES.get(reply[0], "")
            picker.failed(index)
        return kind, rcode, self._channels[tried[-1]].address, [], sent, waited
