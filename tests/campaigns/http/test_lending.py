"""Fetchers lent by idle lanes: a running batch fetches with more at once, never beyond the loans;
a loan stands until its lane recalls it, moving to where sites are left, and a recalled loan's
fetchers stop after their current site."""
from __future__ import annotations

import asyncio

from campaigns import aio
from campaigns.http import FetchTarget, HttpPersonaConfig, Lenders, fetch_many

PERSONA = HttpPersonaConfig(name="lending-test", timeout_s=5.0)
DELAY_S = 0.05


class CountingServer:
    """Answers every GET after DELAY_S on keep-alive connections, counting requests in flight."""

    def __init__(self) -> None:
        self.in_flight = 0
        self.most = 0
        self.hosts: list[str] = []
        self.server: asyncio.Server | None = None

    async def start(self) -> int:
        self.server = await asyncio.start_server(self._serve, "127.0.0.1", 0)
        return self.server.sockets[0].getsockname()[1]

    async def stop(self) -> None:
        self.server.close()
        await self.server.wait_closed()

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while head := await reader.readuntil(b"\r\n\r\n"):
                host = next(line[6:] for line in head.decode().split("\r\n") if line.lower().startswith("host: "))
                self.hosts.append(host.split(":")[0])
                self.in_flight += 1
                self.most = max(self.most, self.in_flight)
                await asyncio.sleep(DELAY_S)
                self.in_flight -= 1
                writer.write(b"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 2\r\n\r\nok")
        except (asyncio.IncompleteReadError, ConnectionError):
            pass
        finally:
            writer.close()


async def until(condition, timeout: float = 5.0) -> None:
    async with asyncio.timeout(timeout):
        while not condition():
            await asyncio.sleep(0.002)


def targets(count: int) -> list[FetchTarget]:
    return [FetchTarget(f"site{i}.df.test", ("127.0.0.1",)) for i in range(count)]


def fetch(server_port: int, count: int, lenders: Lenders, in_flight: int = 4):
    return fetch_many(targets(count), persona=PERSONA, rules=[], ports=(server_port,), tls_ports=(), retries=0,
                      allow_private=True, max_in_flight=in_flight, lenders=lenders)


def test_a_loan_doubles_a_running_batchs_fetchers_and_each_site_is_fetched_once():
    async def scenario():
        server, lenders = CountingServer(), Lenders()
        port = await server.start()
        loan = lenders.lend()
        waited = loan.borrower  # nothing running yet: the loan stands until a batch starts
        batch = asyncio.create_task(fetch(port, 80, lenders))
        await until(lambda: server.in_flight == 8)
        outcomes = await batch
        await server.stop()
        return server, lenders, waited, loan, outcomes

    server, lenders, waited, loan, outcomes = aio.run(scenario())
    assert waited is None
    assert [o.status for o in outcomes] == ["success"] * 80
    assert [o.domain for o in outcomes] == [t.domain for t in targets(80)]
    assert sorted(server.hosts) == sorted(t.domain for t in targets(80))  # none twice, none missed
    assert server.most == 8  # its own 4 and one loan of 4, never more
    assert loan.borrower is None and lenders.borrowers == [] and lenders.loans == [loan]


def test_a_recalled_loans_fetchers_stop_after_their_current_site():
    async def scenario():
        server, lenders = CountingServer(), Lenders()
        port = await server.start()
        batch = asyncio.create_task(fetch(port, 200, lenders))
        await until(lambda: server.in_flight == 4)
        loan = lenders.lend()
        await until(lambda: server.in_flight == 8)
        lenders.recall(loan)
        await asyncio.sleep(DELAY_S * 3)  # the recalled fetchers finish the site they hold
        server.most = server.in_flight
        outcomes = await batch
        await server.stop()
        return server, lenders, outcomes

    server, lenders, outcomes = aio.run(scenario())
    assert [o.status for o in outcomes] == ["success"] * 200
    assert server.most <= 4
    assert lenders.loans == []


def test_a_lane_lends_to_the_batch_with_the_most_sites_left_per_fetcher():
    async def scenario():
        server, lenders = CountingServer(), Lenders()
        port = await server.start()
        small = asyncio.create_task(fetch(port, 20, lenders))
        large = asyncio.create_task(fetch(port, 200, lenders))
        await until(lambda: server.in_flight == 8)
        first, second = lenders.lend(), lenders.lend()
        counts = [len(borrower.loans) for borrower in lenders.borrowers]
        await asyncio.gather(small, large)
        await server.stop()
        return first, second, counts

    first, second, counts = aio.run(scenario())
    assert first is not second
    # 200 sites on 4 fetchers, then 200 on 8, still beat 20 on 4: both loans go to the large batch.
    assert counts == [0, 2]


def test_a_loan_moves_to_another_batch_once_its_batch_has_handed_out_every_site():
    async def scenario():
        server, lenders = CountingServer(), Lenders()
        port = await server.start()
        first = asyncio.create_task(fetch(port, 40, lenders))
        await until(lambda: server.in_flight == 4)
        loan = lenders.lend()  # the only batch running gets it
        lent_to_first = loan.borrower
        second = asyncio.create_task(fetch(port, 400, lenders))
        await until(lambda: len(lenders.borrowers) == 2)
        await first
        moved_to = loan.borrower
        server.most = server.in_flight
        await until(lambda: server.in_flight == 8)  # the second batch's 4 and the moved loan's 4
        await second
        await server.stop()
        return lenders, lent_to_first, moved_to, server

    lenders, lent_to_first, moved_to, server = aio.run(scenario())
    assert lent_to_first is not None and moved_to is not None and moved_to is not lent_to_first
    assert server.most == 8  # once the first batch ended: the second's own 4 and the loan's 4
    assert lenders.borrowers == []
