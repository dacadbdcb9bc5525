"""Idle lanes lend their fetchers to the HTTP batches still running on their event loop.

A batch fetches with at most its campaign's max_in_flight at once, and a worker runs one batch per
lane. When a phase nears its end, or a fed phase waits for input, most lanes have no job while the
last batches still fetch at their own allowance only. A lane that finds no job lends its allowance
instead: the running batch with the most sites left per fetcher gets max_in_flight more fetchers,
which take sites from the same batch. The lane recalls them as soon as it has a job of its own
(each stops after its current site), so a worker never runs more than its lanes' allowances at
once, besides the fetches a recalled fetcher is finishing.
"""
from __future__ import annotations

from collections.abc import Callable


class Loan:
    """Fetchers lent to one batch; they stop taking sites once recalled or once none is left."""

    def __init__(self, left: Callable[[], int]) -> None:
        self.recalled = False
        self._left = left

    @property
    def ended(self) -> bool:
        """Every site of the batch went to a fetcher: the lane may lend to another batch."""
        return self._left() == 0

    def recall(self) -> None:
        self.recalled = True


class Borrower:
    """One running batch, as lanes see it: what it has left and how to give it more fetchers."""

    def __init__(self, *, allowance: int, left: Callable[[], int], spawn: Callable[[Loan], None]) -> None:
        self.allowance = allowance
        self.left = left
        self.spawn = spawn
        self.loans: list[Loan] = []

    @property
    def fetchers(self) -> int:
        """Fetchers at work: the batch's own allowance and every loan not recalled."""
        return self.allowance * (1 + sum(not loan.recalled for loan in self.loans))


class Lenders:
    """The batches of one event loop that can take lent fetchers (used from the loop's thread only)."""

    def __init__(self) -> None:
        self.borrowers: list[Borrower] = []

    def lend(self) -> Loan | None:
        """Lend one allowance to the batch with the most sites left per fetcher; None if none has any left."""
        candidates = [b for b in self.borrowers if b.left() > b.fetchers]
        if not candidates:
            return None
        borrower = max(candidates, key=lambda b: b.left() / b.fetchers)
        loan = Loan(borrower.left)
        borrower.loans = [*(kept for kept in borrower.loans if not kept.recalled), loan]
        borrower.spawn(loan)
        return loan
