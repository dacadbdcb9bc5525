"""Idle lanes lend their fetchers to the HTTP batches running on their event loop.

A batch fetches with at most its campaign's max_in_flight at once, and a worker hands out the sites
of one batch of a campaign at a time (campaigns/fetch_share.py). The lanes without a job lend their
allowance instead: a loan stands for as long as its lane is idle. It goes to the running batch with
the most sites left per fetcher, which gets max_in_flight more fetchers taking sites from it; when
that batch has handed out its last site, or a batch starts, the loans without sites to take move to
the batch that needs them most, at once, without waiting for their lanes to look. A lane recalls
its loan as soon as it has a job of its own (each fetcher stops after its current site), so a
worker never runs more than its lanes' allowances at once, besides the fetches a recalled or moved
loan's fetchers are finishing.
"""
from __future__ import annotations

from collections.abc import Callable


class Loan:
    """One idle lane's allowance, lent to one batch at a time until the lane recalls it."""

    def __init__(self) -> None:
        self.borrower: Borrower | None = None  # its fetchers stop taking sites once this is not their batch


class Borrower:
    """One running batch, as lanes see it: what it has left and how to give it more fetchers."""

    def __init__(self, *, allowance: int, left: Callable[[], int], spawn: Callable[[Loan], None]) -> None:
        self.allowance = allowance
        self.left = left
        self.spawn = spawn
        self.loans: list[Loan] = []

    @property
    def fetchers(self) -> int:
        """Fetchers taking sites: the batch's own allowance and one per loan."""
        return self.allowance * (1 + len(self.loans))

    def close(self) -> None:
        """The batch ended: drop its callbacks, which refer to it through its fetchers (a reference
        cycle only the garbage collector would free otherwise)."""
        del self.spawn, self.left


class Lenders:
    """The batches of one event loop and the idle lanes' loans (used from the loop's thread only)."""

    def __init__(self) -> None:
        self.borrowers: list[Borrower] = []
        self.loans: list[Loan] = []

    def lend(self) -> Loan:
        """An idle lane's standing loan, placed at once if a batch can use it."""
        loan = Loan()
        self.loans.append(loan)
        self._place()
        return loan

    def recall(self, loan: Loan) -> None:
        """The lane has a job again: its loan's fetchers stop after their current site."""
        self.loans.remove(loan)
        self._free(loan)

    def join(self, borrower: Borrower) -> None:
        """A batch started: the loans without sites to take may go to it."""
        self.borrowers.append(borrower)
        self._place()

    def exhausted(self, borrower: Borrower) -> None:
        """A batch handed out its last site: its loans go where sites are left."""
        for loan in list(borrower.loans):
            self._free(loan)
        self._place()

    def leave(self, borrower: Borrower) -> None:
        """A batch ended."""
        self.borrowers.remove(borrower)
        self.exhausted(borrower)

    def _free(self, loan: Loan) -> None:
        if loan.borrower is not None:
            loan.borrower.loans.remove(loan)
            loan.borrower = None

    def _place(self) -> None:
        for loan in self.loans:
            if loan.borrower is not None:
                continue
            candidates = [b for b in self.borrowers if b.left() > b.fetchers]
            if not candidates:
                return
            borrower = max(candidates, key=lambda b: b.left() / b.fetchers)
            loan.borrower = borrower
            borrower.loans.append(loan)
            borrower.spawn(loan)
