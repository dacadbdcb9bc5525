"""What a statement reads, from its EXPLAIN (ANALYZE, FORMAT JSON) plan: boundedness is measured, not timed."""
from __future__ import annotations

from collections.abc import Collection


def rows_read(node: dict, tables: Collection[str]) -> int:
    """Rows a plan node and its children read from `tables` (returned or filtered out, every loop)."""
    own = 0
    if node.get("Relation Name") in tables:
        own = (node["Actual Rows"] + node.get("Rows Removed by Filter", 0)) * node["Actual Loops"]
    return own + sum(rows_read(child, tables) for child in node.get("Plans", []))
