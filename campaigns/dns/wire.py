"""DNS on the wire: query encoding, reply parsing, UDP channels (_Channel) and the TCP fallback (_ask_tcp)."""
from __future__ import annotations

import asyncio
import errno
import functools
import ipaddress
import random
import re
import socket
import sys
from collections.abc import Callable

import dns.rcode

from campaigns.dns.config import Resolver

_RCODES = {code: dns.rcode.to_text(code) for code in range(16)}
# Header after the id: RD set (what dns.message.make_query sends), one question, one OPT record.
_HEADER_TAIL = b"\x01\x00\x00\x01\x00\x00\x00\x00\x00\x01"
# EDNS(0) OPT record advertising 1232 bytes: big answers arrive whole instead of truncated.
_OPT = b"\x00\x00\x29\x04\xd0\x00\x00\x00\x00\x00\x00"
_CLASS_IN = b"\x00\x01"
_LABEL = r"[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?"
_HOSTNAME = re.compile(rf"(?:{_LABEL}\.)*{_LABEL}")
_LENGTHS = [bytes([length]) for length in range(64)]  # a label's length octet
# The wire form of names' labels after the first, by their text (b"" for an invalid ending);
# emptied when full, so a campaign of random suffixes costs a bounded dict and no more.
_SUFFIXES: dict[str, bytes] = {}
_MAX_SUFFIXES = 4096
_MAX_READS = 512  # datagrams drained per wake-up, so one busy socket cannot starve the loop
_SOCKET_BUFFER = 4 << 20  # a burst of answers must fit, or the kernel drops them (capped by rmem_max)
_IDS_PER_SOCKET = 16384  # well under the 65536 query ids, so picking a free id stays cheap
# What one answer may take of a receive buffer: the kernel charges a datagram's whole allocation,
# not its payload (about 830 bytes for a small one on the loopback interface, half a page or a page
# on many network cards).
_ANSWER_BUFFER_BYTES = 2048
_MAX_SOCKETS = 16  # per channel, and a worker opens one channel per resolver for each DNS batch it runs
# Linux's UDP_SEGMENT (include/uapi/linux/udp.h; Python's socket module does not name it): one send
# of equal-sized datagrams laid end to end, which the kernel splits into those datagrams.
_UDP_SEGMENT = 103
_MAX_SEGMENTS = 64  # datagrams per such send: the kernel's UDP_MAX_SEGMENTS (older kernels allow no more)
_MAX_SEGMENTED_BYTES = 60_000  # under a UDP payload's 65,507
# The errors by which a system refuses segmenting (no UDP_SEGMENT, or a route whose device cannot
# compute UDP checksums): that channel sends each datagram alone from then on.
_NO_SEGMENTS = frozenset({errno.ENOPROTOOPT, errno.EOPNOTSUPP, errno.EIO, errno.EINVAL})

Reply = tuple[int, list[bytes], bool]  # (rcode, raw addresses of the asked type, truncated)


@functools.cache
def _answers_per_socket() -> int:
    """How many answers one channel socket can hold, by the buffer the kernel grants it (the
    size asked for, held to net.core.rmem_max: a few hundred answers at Linux's default)."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, _SOCKET_BUFFER)
        granted = probe.getsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF)
    return max(1, min(_IDS_PER_SOCKET, granted // _ANSWER_BUFFER_BYTES))


def channel_sockets(in_flight: int) -> int:
    """Sockets for a channel with up to `in_flight` queries outstanding: enough for their ids, and
    (up to _MAX_SOCKETS) for all their answers to wait in the sockets' buffers should they arrive
    while the loop runs something else. The kernel drops what does not fit, and each dropped
    answer is a name that waits out its timeout and may end as one."""
    by_ids = -(-in_flight // _IDS_PER_SOCKET)
    return max(by_ids, min(_MAX_SOCKETS, -(-in_flight // _answers_per_socket())))
OnReply = Callable[[Reply | None], None]
Waiter = tuple[OnReply, bytes, float]  # a query's callback, question and deadline
UNREACHABLE: Reply = (-1, [], False)  # the network refused the query: an error, try another resolver


class _Channel:
    """UDP sockets connected to one resolver; answers are matched to waiting queries by id and question,
    and handed to each query's callback from the socket's read callback (None when it times out).

    The queries asked during one turn of the event loop are sent together at its end (_flush):
    most are asked while the answers of one read are handled, and sent one by one between them,
    each found the resolver asleep again and paid for waking it, on both sides. Sent back to back,
    the resolver is woken once and reads them all (docs/DECISIONS.md, "A loop turn's writes leave
    together"). Those of one socket and one size (a campaign's names mostly share a length) leave in
    one segmented send (_send_segmented): one system call and one pass through the network stack
    for up to _MAX_SEGMENTS queries, which arrive as the datagrams they are (docs/DECISIONS.md,
    "Queries of one size leave in one send").
    """

    def __init__(
        self, resolver: Resolver, loop: asyncio.AbstractEventLoop, *, timeout_s: float, sockets: int
    ) -> None:
        self.address = resolver.address
        self.timeout_s = timeout_s
        self._loop = loop
        self._tick = min(0.01, timeout_s / 10)  # how late a timeout may fire: sweeping is batched
        self._sockets: list[socket.socket] = []
        # Per socket: id -> (callback, question, deadline), in the order asked. Every query of a channel
        # waits as long, so each dict holds its deadlines in order: the timeout sweep walks a dict from
        # the front and stops at the first query still in time, and an answered query has left its
        # dict already. Nothing else is kept per query (the garbage collector, which otherwise
        # dominates the CPU time at high rates, walks what is kept).
        self._pending: list[dict[int, Waiter]] = []
        self._timer: asyncio.TimerHandle | None = None
        self._outbox: list[tuple[int, int, bytes]] = []  # (socket, id, datagram) to send at the turn's end
        self._flushing = False
        self._segmenting = sys.platform == "linux"
        self._turn = 0
        family = socket.AF_INET6 if ":" in resolver.host else socket.AF_INET
        try:
            for _ in range(sockets):
                sock = socket.socket(family, socket.SOCK_DGRAM)
                self._sockets.append(sock)
                sock.setblocking(False)
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, _SOCKET_BUFFER)
                # Connected: the kernel drops datagrams from any other address.
                sock.connect((resolver.host, resolver.port))
                pending: dict[int, Waiter] = {}
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
        self._outbox.clear()
        for pending in self._pending:
            pending.clear()  # their lookups were abandoned, or answered

    def ask(self, tail: bytes, question: bytes, on_reply: OnReply) -> None:
        """Send one query at the end of this loop turn; `on_reply` gets its Reply, None on timeout, or
        UNREACHABLE if the network refuses it."""
        turn = self._turn
        self._turn = (turn + 1) % len(self._sockets)
        pending = self._pending[turn]
        qid = random.getrandbits(16)
        while qid in pending:
            qid = random.getrandbits(16)
        deadline = self._loop.time() + self.timeout_s
        pending[qid] = (on_reply, question, deadline)
        if self._timer is None:
            self._timer = self._loop.call_at(deadline, self._expire)
        self._outbox.append((turn, qid, qid.to_bytes(2, "big") + tail))
        if not self._flushing:
            self._flushing = True
            self._loop.call_soon(self._flush)

    def _flush(self) -> None:
        """Send the queries asked since the last flush, back to back."""
        self._flushing = False
        outbox, self._outbox = self._outbox, []
        if not self._sockets:
            return  # closed: the queries' lookups have all stopped
        if self._segmenting and len(outbox) > 1:
            outbox = self._send_segmented(outbox)
        sockets = self._sockets
        for turn, qid, datagram in outbox:
            try:
                sockets[turn].send(datagram)
            except BlockingIOError:
                pass  # send buffer full: as if lost on the wire, it times out and is retried
            except OSError:
                entry = self._pending[turn].pop(qid, None)
                if entry is not None:
                    entry[0](UNREACHABLE)

    def _send_segmented(self, outbox: list[tuple[int, int, bytes]]) -> list[tuple[int, int, bytes]]:
        """Send each socket's queries of one size together, as segments of one send; return those
        left to send one by one (alone in their size, or refused together)."""
        groups: dict[tuple[int, int], list[tuple[int, int, bytes]]] = {}
        for entry in outbox:
            key = (entry[0], len(entry[2]))
            group = groups.get(key)
            if group is None:
                groups[key] = [entry]
            else:
                group.append(entry)
        alone: list[tuple[int, int, bytes]] = []
        for (turn, size), group in groups.items():
            step = max(1, min(_MAX_SEGMENTS, _MAX_SEGMENTED_BYTES // size))  # a datagram too big to share leaves alone
            for start in range(0, len(group), step):
                part = group[start : start + step]
                if len(part) < 2 or not self._segmenting:
                    alone += part
                    continue
                try:
                    self._sockets[turn].sendmsg(
                        [b"".join([datagram for _, _, datagram in part])],
                        [(socket.SOL_UDP, _UDP_SEGMENT, size.to_bytes(2, sys.byteorder))],
                    )
                except BlockingIOError:
                    pass  # send buffer full: as if lost on the wire, they time out and are retried
                except OSError as error:
                    # Sent one by one instead, each refused or not on its own as before.
                    self._segmenting = error.errno not in _NO_SEGMENTS
                    alone += part
        return alone

    def _on_readable(self, sock: socket.socket, pending: dict[int, Waiter]) -> None:
        for _ in range(_MAX_READS):
            try:
                data = sock.recv(4096)
            except BlockingIOError:
                return
            except OSError:
                continue  # an ICMP error reported on the connected socket: that query will time out
            if len(data) < 12:
                continue
            # Numbers are read from the datagram byte by byte throughout: int.from_bytes on a slice
            # costs twice as much, and this runs for every answer.
            qid = data[0] << 8 | data[1]
            entry = pending.get(qid)
            if entry is None:
                continue  # late (already timed out) or unsolicited
            try:
                reply = _parse_reply(data, entry[1])
            except (IndexError, ValueError):
                reply = None
            if reply is not None:  # else not the answer to this query: it keeps waiting, in its place
                del pending[qid]
                entry[0](reply)

    def _expire(self) -> None:
        """Time out the queries past their deadline, then sweep again when the next one is due."""
        now = self._loop.time()
        expired: list[OnReply] = []
        next_deadline = None
        for pending in self._pending:
            late = []
            for qid, (_, _, deadline) in pending.items():
                if deadline > now:
                    next_deadline = deadline if next_deadline is None else min(next_deadline, deadline)
                    break
                late.append(qid)
            expired.extend(pending.pop(qid)[0] for qid in late)
        # The next sweep is set before the callbacks run: a retry they ask joins it instead of
        # setting a timer of its own.
        self._timer = None
        if next_deadline is not None:
            self._timer = self._loop.call_at(max(next_deadline, now + self._tick), self._expire)
        for on_reply in expired:
            on_reply(None)


def _parse_reply(data: bytes, question: bytes) -> Reply | None:
    """(rcode, raw addresses of the asked type, truncated) from an answer; None if it answers another question."""
    # A response (QR), standard query opcode, one question, and the question we asked.
    if data[2] & 0xF8 != 0x80 or data[4] or data[5] != 1:
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
    for _ in range(data[6] << 8 | data[7]):
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
        rdlength = data[pos + 8] << 8 | data[pos + 9]
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
) -> Reply | None:
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


def _qname_wire(domain: str) -> bytes | None:
    """The wire form of a hostname (lower-cased), or None if it is not a valid LDH hostname.

    A campaign's names share their labels after the first (its TLD, or a pattern's suffix), so
    those are checked and encoded once (_SUFFIXES): encoding every label of every name was the
    largest part of a lookup's own CPU.
    """
    name = domain.lower()
    if name.endswith("."):
        name = name[:-1]
    if not name.isascii() or len(name) > 253:
        return None
    first, dot, rest = name.partition(".")
    if not dot:
        return _labels_wire(name) or None
    if not _ldh_label(first):
        return None
    tail = _SUFFIXES.get(rest)
    if tail is None:
        if len(_SUFFIXES) >= _MAX_SUFFIXES:
            _SUFFIXES.clear()
        tail = _SUFFIXES[rest] = _labels_wire(rest)
    if not tail:
        return None
    return _LENGTHS[len(first)] + first.encode() + tail


def _ldh_label(label: str) -> bool:
    """Whether an ASCII, lower-cased label is a hostname's (_LABEL): 1 to 63 letters, digits and
    hyphens, no hyphen at either end. Checked with str methods: a regex match cost a third of
    encoding the name."""
    if len(label) > 63:
        return False
    if label.isalnum():  # on ASCII text: letters and digits only
        return True
    return bool(label) and label[0] != "-" and label[-1] != "-" and label.replace("-", "").isalnum()


def _labels_wire(name: str) -> bytes:
    """The wire form of dot-separated labels ending the name; b"" if they are not a valid hostname's end."""
    if not _HOSTNAME.fullmatch(name):
        return b""
    labels = name.split(".")
    if labels[-1].isdigit():
        return b""  # an all-numeric top label: an IP address, not a domain
    return b"".join([len(label).to_bytes(1, "big") + label.encode() for label in labels]) + b"\x00"


def _ip_order(raw: bytes) -> tuple[int, bytes]:
    return len(raw), raw  # IPv4 before IPv6, then numeric: big-endian bytes sort like the numbers


def _ip_text(raw: bytes) -> str:
    return socket.inet_ntop(socket.AF_INET, raw) if len(raw) == 4 else str(ipaddress.IPv6Address(raw))
