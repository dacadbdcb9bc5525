"""One name's lookup, driven by callbacks: the personas in order, each record type, attempts over resolvers.

Each name is a small state machine instead of a coroutine: at tens of thousands of names a
second, waking a task once for its in-flight slot and again for its answer, through four
awaiting frames, cost as much CPU as the queries' sockets. Here a released slot calls the
waiting lookup, which asks at once (the query leaves with the others of the loop's turn), and
an answer (or its timeout) calls the lookup from the socket's read callback. Only the rare
steps that wait on something else, a rate limit's token or the TCP retry of a truncated answer,
run as tasks.
"""
from __future__ import annotations

import asyncio
import functools
import itertools
from typing import Protocol

from campaigns.dns.config import RECORD_TYPES, DnsOutcome, DnsPersonaConfig, RateReserver
from campaigns.dns.limits import _persona_slots, _SharedBucket, _Slots, _TokenBucket
from campaigns.dns.picker import _Picker
from campaigns.dns.wire import (
    _CLASS_IN,
    _HEADER_TAIL,
    _OPT,
    _RCODES,
    UNREACHABLE,
    Reply,
    _ask_tcp,
    _Channel,
    _ip_order,
    _ip_text,
    _qname_wire,
    channel_sockets,
)

# Numbers the persona runs of every call in start order: the in-flight slots serve the oldest first.
_CALLS = itertools.count()
# An outcome from a tuple of its fields in order: a named tuple's own constructor runs a Python
# function, which costs twice as much, once for every name.
_outcome = functools.partial(tuple.__new__, DnsOutcome)


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
        self.loop = loop
        self.resolvers = config.resolvers
        self.timeout_s = config.timeout_s
        self.max_in_flight = config.max_in_flight
        self.attempts = 1 + config.retries
        self.types = [RECORD_TYPES[t].to_bytes(2, "big") + _CLASS_IN for t in config.record_types]
        self.slots = _persona_slots(loop, config)
        self.bucket: _TokenBucket | _SharedBucket | None = None
        if config.rate_limit_qps and rate_reserver is not None:
            expected = expected_names * len(config.record_types)  # first attempts, if every name reaches us
            self.bucket = _SharedBucket(f"dns:{config.name}", config.rate_limit_qps, rate_reserver, loop, expected=expected)
        elif config.rate_limit_qps:
            self.bucket = _TokenBucket(config.rate_limit_qps, loop)
        self.picker = _Picker(config, loop)
        # The cap bounds how many queries one resolver can have outstanding; spread them over sockets.
        sockets = channel_sockets(config.max_in_flight)
        self.channels: list[_Channel] = []
        for resolver in config.resolvers:
            self.channels.append(_Channel(resolver, loop, timeout_s=config.timeout_s, sockets=sockets))
        self.call = next(_CALLS)
        self.slots.join(self.call)

    def close(self) -> None:
        for channel in self.channels:
            channel.close()
        self.slots.leave(self.call)


class Owner(Protocol):
    """What a lookup reports to: its outcome, or an unexpected error that ends the whole call."""

    def finished(self, lookup: _Lookup, outcome: DnsOutcome) -> None: ...

    def failed(self, error: Exception) -> None: ...


class _Lookup:
    """One name: every record type through a persona, the next persona if none resolved it.

    A query holds one of its persona's in-flight slots from its send until its answer, or until
    its TCP retry ends; each attempt takes a slot anew. `abandon` hands a held slot to its call,
    which gives it back.
    """

    __slots__ = (
        "index", "_domain", "_runs", "_owner", "_run", "_run_pos", "_qname", "_type_pos", "_question", "_tail",
        "_tried", "_started", "_sent", "_waited", "_addresses", "_address_from", "_answer", "_failure",
        "_holding", "_dead", "_task",
    )

    def __init__(self, domain: str, index: int, runs: list[_PersonaRun], owner: Owner) -> None:
        self.index = index
        self._domain = domain
        self._runs = runs
        self._owner = owner
        self._run = runs[0]
        self._run_pos = 0
        self._sent = 0
        self._waited = 0.0
        self._holding = self._dead = False
        self._task: asyncio.Task | None = None

    def start(self) -> None:
        qname = _qname_wire(self._domain)
        if qname is None:
            self._owner.finished(self, DnsOutcome(self._domain, "error", "", (), "", "", "", 0, 0))
            return
        self._qname = qname
        self._start_persona()

    def abandon(self) -> _Slots | None:
        """Stop here (the call was cancelled or failed) and decline any slot still to come. Returns
        the slots of the one it holds, for the call to give back once all its lookups have stopped:
        released now, it could be handed to one of them that has not stopped yet."""
        self._dead = True
        if self._task is not None:
            self._task.cancel()
        if not self._holding:
            return None
        self._holding = False
        return self._run.slots

    def _start_persona(self) -> None:
        self._addresses: set[bytes] = set()
        self._address_from = ""
        self._answer: tuple[str, str] | None = None  # (rcode, resolver) of the last NOERROR/NXDOMAIN
        self._failure: tuple[str, str, str] | None = None  # (status, rcode, resolver) of the last failure
        self._type_pos = 0
        self._start_query()

    def _start_query(self) -> None:
        self._question = self._qname + self._run.types[self._type_pos]
        self._tail = _HEADER_TAIL + self._question + _OPT
        self._tried: list[int] = []
        self._attempt()

    def _attempt(self) -> None:
        self._run.slots.acquire(self._run.call, self._granted)

    def _granted(self) -> bool:
        if self._dead:
            return False
        self._holding = True
        try:
            # The resolver is picked with the slot in hand (a paced query then waits only for its
            # token): what the picker learnt while this one waited (a failed resolver, say) counts.
            picker = self._run.picker
            self._tried.append(picker.next(self._tried) if self._tried else picker.first())
            if self._run.bucket is None:
                self._send()
            else:
                self._task = self._run.loop.create_task(self._paced_send())
        except Exception as error:  # noqa: BLE001 - raised in whoever released the slot: fail this call
            self._owner.failed(error)
        return True

    async def _paced_send(self) -> None:
        try:
            await self._run.bucket.take()
            self._send()
        except Exception as error:  # noqa: BLE001 - the call fails with it (abandon's cancel is not one)
            self._owner.failed(error)

    def _send(self) -> None:
        run = self._run
        self._started = run.loop.time()
        self._sent += 1
        run.channels[self._tried[-1]].ask(self._tail, self._question, self._answered)

    def _answered(self, reply: Reply | None) -> None:
        if self._dead:
            return
        try:
            if reply is not None and reply[2] and not reply[1]:
                # Truncated without addresses: the same resolver over TCP has the full answer.
                self._task = self._run.loop.create_task(self._ask_over_tcp())
                return
            self._attempted(reply)
        except Exception as error:  # noqa: BLE001 - from a socket callback: the call fails with it
            self._owner.failed(error)

    async def _ask_over_tcp(self) -> None:
        run = self._run
        try:
            if run.bucket is not None:
                await run.bucket.take()
            self._sent += 1
            try:
                reply = await _ask_tcp(run.resolvers[self._tried[-1]], self._tail, self._question, run.timeout_s)
            except OSError:
                reply = UNREACHABLE
            self._attempted(reply)
        except Exception as error:  # noqa: BLE001 - the call fails with it (abandon's cancel is not one)
            self._owner.failed(error)

    def _attempted(self, reply: Reply | None) -> None:
        """One attempt ended: its slot goes back; an answer ends the query, a failure tries again.

        The picker learns the outcome before the slot goes back: the query the slot goes to picks
        its resolver when it gets the slot."""
        run = self._run
        self._waited += run.loop.time() - self._started
        self._holding = False
        self._task = None
        index = self._tried[-1]
        if reply is not None and reply[0] in (0, 3):  # NOERROR or NXDOMAIN: an answer
            run.picker.succeeded(index)
            run.slots.release()
            self._answered_type(_RCODES[reply[0]], run.channels[index].address, reply[1])
            return
        run.picker.failed(index)
        run.slots.release()
        if len(self._tried) < run.attempts:
            self._attempt()
            return
        rcode = "" if reply is None else _RCODES.get(reply[0], "")
        self._failure = ("timeout" if reply is None else "error", rcode, run.channels[index].address)
        self._next_type()

    def _answered_type(self, rcode: str, resolver: str, found: list[bytes]) -> None:
        if found:
            self._addresses.update(found)
            self._address_from = self._address_from or resolver
        self._answer = (rcode, resolver)
        if rcode == "NXDOMAIN":
            self._persona_done()  # the name does not exist: no other type can have records
        else:
            self._next_type()

    def _next_type(self) -> None:
        self._type_pos += 1
        if self._type_pos < len(self._run.types):
            self._start_query()
        else:
            self._persona_done()

    def _persona_done(self) -> None:
        run = self._run
        latency_ms = round(self._waited * 1000)
        if self._addresses:
            addresses = self._addresses
            if len(addresses) == 1:
                ips = (_ip_text(next(iter(addresses))),)
            else:
                ips = tuple([_ip_text(raw) for raw in sorted(addresses, key=_ip_order)])
            self._owner.finished(self, _outcome((
                self._domain, "resolved", "valid_dns", ips, "NOERROR", self._address_from, run.name, self._sent,
                latency_ms,
            )))
            return
        answer, failure = self._answer, self._failure
        if answer is not None and (answer[0] == "NXDOMAIN" or failure is None):
            status, rcode, resolver = "unresolved", answer[0], answer[1]
        else:
            assert failure is not None
            status, rcode, resolver = failure
        self._run_pos += 1
        if self._run_pos < len(self._runs):
            self._run = self._runs[self._run_pos]
            self._start_persona()
            return
        self._owner.finished(
            self, _outcome((self._domain, status, "", (), rcode, resolver, run.name, self._sent, latency_ms))
        )
