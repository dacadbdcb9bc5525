"""DNS validation: resolve many domains through personas of resolvers (the only DNS network I/O)."""
from __future__ import annotations

import asyncio
import bisect
import ipaddress
import random
import re
import socket
import weakref
from collections import deque
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass

import dns.rcode

STRATEGIES = ("random", "weighted", "round_robin", "sequential_failover")
RECORD_TYPES = {"A": 1, "AAAA": 28}

# A sequential_failover resolver that failed is skipped this long before it is tried again.
FAILOVER_COOLDOWN_S = 30.0

_RCODES = {code: dns.rcode.to_text(code) for code in range(16)}
# Header after the id: RD set (what dns.message.make_query sends), one question, one OPT record.
_HEADER_TAIL = b"\x01\x00\x00\x01\x00\x00\x00\x00\x00\x01"
# EDNS(0) OPT record advertising 1232 bytes: big answers arrive whole instead of truncated.
_OPT = b"\x00\x00\x29\x04\xd0\x00\x00\x00\x00\x00\x00"
_CLASS_IN = b"\x00\x01"
_LABEL = r"[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?"
_HOSTNAME = re.compile(rf"(?:{_LABEL}\.)*{_LABEL}")
_MAX_READS = 512  # datagrams drained per wake-up, so one busy socket cannot starve the loop
_SOCKET_BUFFER = 4 << 20  # a burst of answers must fit, or the kernel drops them (capped by rmem_max)
_IDS_PER_SOCKET = 16384  # well under the 65536 query ids, so picking a free id stays cheap


# Reserves `count` queries at `rate` per second under `key` for every process sharing the key;
# answers how many seconds from now the reserved window starts (see _SharedBucket).
RateReserver = Callable[[str, int, float], Awaitable[float]]
# A shared rate limit is taken in grants of this many seconds' worth of queries (one query at least).
RATE_GRANT_S = 0.2


@dataclass(frozen=True, slots=True)
class Resolver:
    """One recursive resolver, by IP address (never a name: resolving it would need DNS)."""

    host: str
    port: int = 53
    weight: int = 1

    def __post_init__(self) -> None:
        try:
            ipaddress.ip_address(self.host)
        except ValueError:
            raise ValueError(f"invalid resolver {self.host!r}: must be an IP address") from None
        if not 1 <= self.port <= 65535:
            raise ValueError(f"invalid resolver port {self.port}: must be 1-65535")
        if self.weight < 1:
            raise ValueError(f"invalid resolver weight {self.weight}: must be at least 1")

    @property
    def address(self) -> str:
        """The resolver as "ip:port" ("[v6]:port" for IPv6), the form parse_resolver reads."""
        return f"[{self.host}]:{self.port}" if ":" in self.host else f"{self.host}:{self.port}"


def parse_resolver(text: str, *, weight: int = 1) -> Resolver:
    """Parse "ip", "ip:port", "v6" or "[v6]:port" into a Resolver."""
    raw = text.strip()
    host, port = raw, "53"
    if raw.startswith("["):
        host, sep, rest = raw[1:].partition("]")
        if not sep or (rest and not rest.startswith(":")):
            raise ValueError(f"invalid resolver {text!r}: expected [IPv6]:port")
        port = rest[1:] if rest else "53"
        if "." in host:
            raise ValueError(f"invalid resolver {text!r}: brackets are for IPv6 addresses only")
    elif raw.count(":") == 1:
        host, _, port = raw.partition(":")
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        raise ValueError(f"invalid resolver {text!r}: must be an IP address, optionally with :port") from None
    if not port.isdigit() or not 1 <= int(port) <= 65535:
        raise ValueError(f"invalid resolver {text!r}: port must be 1-65535")
    return Resolver(host=str(address), port=int(port), weight=weight)


@dataclass(frozen=True, slots=True)
class DnsPersonaConfig:
    """How to resolve: which resolvers, how to pick them, how hard to push them."""

    name: str
    resolvers: tuple[Resolver, ...]
    strategy: str = "round_robin"
    timeout_s: float = 2.0
    retries: int = 2
    max_in_flight: int = 100
    rate_limit_qps: float | None = None
    record_types: tuple[str, ...] = ("A", "AAAA")

    def __post_init__(self) -> None:
        if not self.resolvers:
            raise ValueError(f"persona {self.name!r}: at least one resolver is required")
        if self.strategy not in STRATEGIES:
            raise ValueError(f"persona {self.name!r}: strategy must be one of {', '.join(STRATEGIES)}")
        if not self.timeout_s > 0:
            raise ValueError(f"persona {self.name!r}: timeout_s must be positive")
        if self.retries < 0:
            raise ValueError(f"persona {self.name!r}: retries must be 0 or more")
        if self.max_in_flight < 1:
            raise ValueError(f"persona {self.name!r}: max_in_flight must be at least 1")
        if self.rate_limit_qps is not None and not self.rate_limit_qps > 0:
            raise ValueError(f"persona {self.name!r}: rate_limit_qps must be positive or None")
        if not self.record_types or any(t not in RECORD_TYPES for t in self.record_types):
            raise ValueError(f"persona {self.name!r}: record_types must be A and/or AAAA")


# The business status of a resolved domain; every other outcome has none.
BUSINESS_STATUSES = ("valid_dns",)


@dataclass(frozen=True, slots=True)
class DnsOutcome:
    """The final answer for one domain."""

    domain: str
    status: str
    business_status: str
    ips: tuple[str, ...]
    rcode: str
    resolver: str
    persona: str
    attempts: int
    latency_ms: int


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


# A persona's in-flight cap holds for its whole process, across every batch resolving at once
# in one event loop: a worker runs several batches side by side to keep that many in flight.
_SLOTS: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, dict[tuple[str, int], asyncio.Semaphore]] = (
    weakref.WeakKeyDictionary()
)


def _persona_slots(loop: asyncio.AbstractEventLoop, config: DnsPersonaConfig) -> asyncio.Semaphore:
    slots = _SLOTS.setdefault(loop, {})
    key = (config.name, config.max_in_flight)
    if key not in slots:
        slots[key] = asyncio.Semaphore(config.max_in_flight)
    return slots[key]


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


class _Channel:
    """UDP sockets connected to one resolver; answers are matched to waiting queries by id and question."""

    def __init__(
        self, resolver: Resolver, loop: asyncio.AbstractEventLoop, *, timeout_s: float, sockets: int
    ) -> None:
        self.address = resolver.address
        self.timeout_s = timeout_s
        self._loop = loop
        self._tick = min(0.01, timeout_s / 10)  # how late a timeout may fire: sweeping is batched
        self._sockets: list[socket.socket] = []
        self._pending: list[dict[int, tuple[asyncio.Future, bytes, int]]] = []  # per socket: id -> waiter
        # (deadline, socket, id, serial) in send order; one timeout per channel keeps deadlines sorted.
        # Only numbers, never the futures: answered queries are freed at once and the garbage collector,
        # which otherwise dominates the CPU time at high rates, does not have to walk these.
        self._expiry: deque[tuple[float, int, int, int]] = deque()
        self._timer: asyncio.TimerHandle | None = None
        self._turn = 0
        self._serial = 0
        family = socket.AF_INET6 if ":" in resolver.host else socket.AF_INET
        try:
            for _ in range(sockets):
                sock = socket.socket(family, socket.SOCK_DGRAM)
                self._sockets.append(sock)
                sock.setblocking(False)
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, _SOCKET_BUFFER)
                # Connected: the kernel drops datagrams from any other address.
                sock.connect((resolver.host, resolver.port))
                pending: dict[int, tuple[asyncio.Future, bytes, int]] = {}
                self._pending.append(pending)
                loop.add_reader(sock.fileno(), self._on_readable, sock, pending)
        except BaseException:
            self.close()
            raise

    def close(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        for sock in self._sockets:
            self._loop.remove_reader(sock.fileno())
            sock.close()
        self._sockets.clear()
        for pending in self._pending:
            for fut, _, _ in pending.values():
                if not fut.done():
                    fut.cancel()
            pending.clear()

    def ask(self, tail: bytes, question: bytes) -> asyncio.Future:
        """Send one query; the future gets (rcode, addresses, truncated), or None on timeout."""
        turn = self._turn
        self._turn = (turn + 1) % len(self._sockets)
        pending = self._pending[turn]
        qid = random.getrandbits(16)
        while qid in pending:
            qid = random.getrandbits(16)
        try:
            self._sockets[turn].send(qid.to_bytes(2, "big") + tail)
        except BlockingIOError:
            pass  # send buffer full: as if lost on the wire, it times out and is retried
        fut = self._loop.create_future()
        self._serial += 1
        pending[qid] = (fut, question, self._serial)
        deadline = self._loop.time() + self.timeout_s
        self._expiry.append((deadline, turn, qid, self._serial))
        if self._timer is None:
            self._timer = self._loop.call_at(deadline, self._expire)
        return fut

    def _on_readable(self, sock: socket.socket, pending: dict[int, tuple[asyncio.Future, bytes, int]]) -> None:
        for _ in range(_MAX_READS):
            try:
                data = sock.recv(4096)
            except BlockingIOError:
                return
            except OSError:
                continue  # an ICMP error reported on the connected socket: that query will time out
            entry = pending.pop(int.from_bytes(data[:2], "big"), None) if len(data) >= 12 else None
            if entry is None:
                continue  # late (already timed out) or unsolicited
            fut = entry[0]
            try:
                reply = _parse_reply(data, entry[1])
            except (IndexError, ValueError):
                reply = None
            if reply is None:
                pending[int.from_bytes(data[:2], "big")] = entry  # not the answer to this query: keep waiting
            elif not fut.done():
                fut.set_result(reply)

    def _expire(self) -> None:
        self._timer = None
        now = self._loop.time()
        expiry = self._expiry
        while expiry and expiry[0][0] <= now:
            _, turn, qid, serial = expiry.popleft()
            pending = self._pending[turn]
            entry = pending.get(qid)
            if entry is not None and entry[2] == serial:  # unanswered (or its waiter was cancelled)
                del pending[qid]
                if not entry[0].done():
                    entry[0].set_result(None)
        if expiry:
            self._timer = self._loop.call_at(max(expiry[0][0], now + self._tick), self._expire)


def _parse_reply(data: bytes, question: bytes) -> tuple[int, list[bytes], bool] | None:
    """(rcode, raw addresses of the asked type, truncated) from an answer; None if it answers another question."""
    # A response (QR), standard query opcode, one question, and the question we asked.
    if data[2] & 0xF8 != 0x80 or data[4:6] != b"\x00\x01":
        return None
    end = 12 + len(question)
    echoed = data[12:end]
    if echoed != question and echoed.lower() != question:  # the name's case may differ (0x20 resolvers)
        return None
    rcode = data[3] & 0x0F
    truncated = bool(data[2] & 0x02)
    wanted = question[-4:]
    size = 4 if wanted[1] == 1 else 16
    addresses = []
    pos = end
    for _ in range(int.from_bytes(data[6:8], "big")):
        while True:  # skip the owner name: labels ending in a root label or a compression pointer
            length = data[pos]
            if length >= 0xC0:
                pos += 2
                break
            if length > 63:
                raise ValueError("bad label")
            pos += length + 1
            if length == 0:
                break
        rdlength = int.from_bytes(data[pos + 8 : pos + 10], "big")
        start = pos + 10
        if start + rdlength > len(data):
            raise ValueError("truncated record")
        # Records of the asked type and class anywhere in the answer: a CNAME chain ends in them.
        if rdlength == size and data[pos : pos + 4] == wanted:
            addresses.append(data[start : start + rdlength])
        pos = start + rdlength
    return rcode, addresses, truncated


async def _ask_tcp(
    resolver: Resolver, tail: bytes, question: bytes, timeout_s: float
) -> tuple[int, list[bytes], bool] | None:
    """Ask over TCP (after a truncated UDP answer); None on timeout."""
    query = random.getrandbits(16).to_bytes(2, "big") + tail
    try:
        async with asyncio.timeout(timeout_s):
            reader, writer = await asyncio.open_connection(resolver.host, resolver.port)
            try:
                writer.write(len(query).to_bytes(2, "big") + query)
                size = int.from_bytes(await reader.readexactly(2), "big")
                data = await reader.readexactly(size)
            finally:
                writer.close()
                await writer.wait_closed()
    except TimeoutError:
        return None
    except asyncio.IncompleteReadError:
        return (-1, [], False)
    if data[:2] != query[:2]:
        return (-1, [], False)
    try:
        reply = _parse_reply(data, question)
    except (IndexError, ValueError):
        reply = None
    return reply if reply is not None else (-1, [], False)


class _Picker:
    """Chooses the resolver for each attempt according to the persona's strategy."""

    def __init__(self, config: DnsPersonaConfig, loop: asyncio.AbstractEventLoop) -> None:
        self._strategy = config.strategy
        self._count = len(config.resolvers)
        self._weights = [r.weight for r in config.resolvers]
        self._cumulative = [sum(self._weights[: i + 1]) for i in range(self._count)]
        self._turn = 0
        self._loop = loop
        self._unhealthy_until = [0.0] * self._count

    def first(self) -> int:
        if self._count == 1:
            return 0
        strategy = self._strategy
        if strategy == "round_robin":
            index = self._turn
            self._turn = (index + 1) % self._count
            return index
        if strategy == "random":
            return random.randrange(self._count)
        if strategy == "weighted":
            return bisect.bisect(self._cumulative, random.random() * self._cumulative[-1])
        now = self._loop.time()
        for index, until in enumerate(self._unhealthy_until):
            if until <= now:
                return index
        return min(range(self._count), key=self._unhealthy_until.__getitem__)  # all failed: the earliest

    def next(self, tried: list[int]) -> int:
        """Another resolver than the last one tried, untried ones first."""
        count = self._count
        last = tried[-1]
        if count == 1:
            return 0
        if self._strategy in ("round_robin", "sequential_failover"):
            now = self._loop.time()
            order = [(last + step) % count for step in range(1, count)]
            if self._strategy == "sequential_failover":
                for index in order:
                    if index not in tried and self._unhealthy_until[index] <= now:
                        return index
            for index in order:
                if index not in tried:
                    return index
            return order[0]
        candidates = [i for i in range(count) if i not in tried] or [i for i in range(count) if i != last]
        if self._strategy == "random":
            return random.choice(candidates)
        return random.choices(candidates, weights=[self._weights[i] for i in candidates])[0]

    def failed(self, index: int) -> None:
        if self._strategy == "sequential_failover":
            self._unhealthy_until[index] = self._loop.time() + FAILOVER_COOLDOWN_S

    def succeeded(self, index: int) -> None:
        if self._strategy == "sequential_failover":
            self._unhealthy_until[index] = 0.0


class _TokenBucket:
    """Spaces queries at `rate` per second, with a burst of at most 10 ms worth (at least one query)."""

    def __init__(self, rate: float, loop: asyncio.AbstractEventLoop) -> None:
        self._rate = rate
        self._capacity = max(1.0, rate / 100)
        self._tokens = self._capacity
        self._loop = loop
        self._stamp = loop.time()

    async def take(self) -> None:
        now = self._loop.time()
        self._tokens = min(self._capacity, self._tokens + (now - self._stamp) * self._rate)
        self._stamp = now
        self._tokens -= 1
        if self._tokens < 0:
            # In debt: each waiter sleeps until its own token is due, so waits never pile up late.
            await asyncio.sleep(-self._tokens / self._rate)


class _SharedBucket:
    """Spaces queries at `rate` per second across every process that reserves under the same key.

    Time is cut into windows reserved one after another from a shared store (the
    reserver): a grant of n queries owns a window of n / rate seconds that starts
    where the previous grant, anyone's, ended. Queries inside a grant are spaced
    1 / rate apart, so however many workers share a persona, together they stay
    at its rate. Grants are sized to the `expected` queries still to come (first
    attempts) and retries beyond them take small grants, so a grant left partly
    unused when a batch ends wastes little of the shared time.
    """

    def __init__(
        self, key: str, rate: float, reserver: RateReserver, loop: asyncio.AbstractEventLoop, *, expected: int
    ) -> None:
        self._key = key
        self._rate = rate
        self._reserver = reserver
        self._loop = loop
        self._full_grant = max(1, round(rate * RATE_GRANT_S))
        self._small_grant = max(1, self._full_grant // 10)
        self._expected = expected
        self._taken = 0
        self._lock = asyncio.Lock()
        self._start = 0.0
        self._granted = self._used = 0

    async def take(self) -> None:
        async with self._lock:  # one refill at a time; the wait itself happens outside the lock
            if self._used == self._granted:
                still_expected = self._expected - self._taken
                size = min(self._full_grant, still_expected) if still_expected > 0 else self._small_grant
                delay = await self._reserver(self._key, size, self._rate)
                self._start = self._loop.time() + max(0.0, delay)
                self._granted, self._used = size, 0
            due = self._start + self._used / self._rate
            self._used += 1
            self._taken += 1
        wait = due - self._loop.time()
        if wait > 0:
            await asyncio.sleep(wait)


def _qname_wire(domain: str) -> bytes | None:
    """The wire form of a hostname (lower-cased), or None if it is not a valid LDH hostname."""
    name = domain.lower()
    if name.endswith("."):
        name = name[:-1]
    if not name.isascii() or len(name) > 253 or not _HOSTNAME.fullmatch(name):
        return None
    labels = name.split(".")
    if labels[-1].isdigit():
        return None  # an all-numeric top label: an IP address, not a domain
    return b"".join([len(label).to_bytes(1, "big") + label.encode() for label in labels]) + b"\x00"


def _ip_order(raw: bytes) -> tuple[int, bytes]:
    return len(raw), raw  # IPv4 before IPv6, then numeric: big-endian bytes sort like the numbers


def _ip_text(raw: bytes) -> str:
    return socket.inet_ntop(socket.AF_INET, raw) if len(raw) == 4 else str(ipaddress.IPv6Address(raw))
