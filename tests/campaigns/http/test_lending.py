"""Fetchers lent by idle lanes: a running batch fetches with more at once, never beyond the loans,
and a recalled loan's fetchers stop after their current site."""
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
        assert lenders.lend() is None  # nothing running: nothing to lend to
        batch = asyncio.create_task(fetch(port, 80, lenders))
        await until(lambda: server.in_flight == 4)
        loan = lenders.lend()
        assert loan is not None and not loan.ended
        outcomes = await batch
        await server.stop()
        return server, lenders, loan, outcomes

    server, lenders, loan, outcomes = aio.run(scenario())
    assert [o.status for o in outcomes] == ["success"] * 80
    assert [o.domain for o in outcomes] == [t.domain for t in targets(80)]
    assert sorted(server.hosts) == sorted(t.domain for t in targets(80))  # none twice, none missed
    assert server.most == 8  # its own 4 and one loan of 4, never more
    assert loan.ended and lenders.borrowers == [] and lenders.lend() is None


def test_a_recalled_loans_fetchers_stop_after_their_current_site():
    async def scenario():
        server, lenders = CountingServer(), Lenders()
        port = await server.start()
        batch = asyncio.create_task(fetch(port, 200, lenders))
        await until(lambda: server.in_flight == 4)
        loan = lenders.lend()
        await until(lambda: server.in_flight == 8)
        loan.recall()
        await asyncio.sleep(DELAY_S * 3)  # the recalled fetchers finish the site they hold
        server.most = server.in_flight
        outcomes = await batch
        await server.stop()
        return server, outcomes

    server, outcomes = aio.run(scenario())
    assert [o.status for o in outcomes] == ["success"] * 200
    assert server.most <= 4


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
    assert first is not None and second is not None
    # 200 sites on 4 fetchers, then 200 on 8, still beat 20 on 4: both loans go to the large batch.
    assert counts == [0, 2]
