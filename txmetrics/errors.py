from __future__ import annotations


class TransactionTimeout(Exception):
    """A statement ran longer than the transaction's timeout and was cancelled."""

    def __init__(self, operation: str, timeout_s: float) -> None:
        super().__init__(f"{operation}: a statement ran longer than {timeout_s:g}s and was cancelled")
        self.operation = operation
        self.timeout_s = timeout_s


class TransactionRetriesExhausted(Exception):
    """A transaction kept failing with a retryable error until its retries ran out."""

    def __init__(self, operation: str, attempts: int, sqlstate: str) -> None:
        super().__init__(
            f"{operation}: gave up after {attempts} attempts (SQLSTATE {sqlstate}); try again later"
        )
        self.operation = operation
        self.attempts = attempts
        self.sqlstate = sqlstate
