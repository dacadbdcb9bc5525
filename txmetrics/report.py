"""Reading the transaction performance statistics (one implementation: the SQL function)."""
from __future__ import annotations

from dataclasses import asdict, dataclass
from uuid import UUID

from django.db import connection

from txmetrics import buffer


@dataclass(frozen=True)
class OperationStats:
    operation: str
    total: int
    succeeded: int
    failed: int
    avg_ms: float
    min_ms: float
    max_ms: float
    p50_ms: float
    p95_ms: float
    avg_retries: float

    def as_dict(self) -> dict[str, object]:
        return asdict(self)


def performance_stats(*, operation: str | None = None, campaign_id: UUID | None = None, hours: float = 24) -> list[OperationStats]:
    """Per-operation statistics from get_transaction_performance_stats over the last `hours`."""
    buffer.flush()  # this process's own recent successes count too
    with connection.cursor() as cursor:
        cursor.execute("SELECT * FROM get_transaction_performance_stats(%s, %s, %s)", [operation, campaign_id, hours])
        return [OperationStats(*row) for row in cursor.fetchall()]
