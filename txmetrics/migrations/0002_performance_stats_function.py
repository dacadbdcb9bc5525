from __future__ import annotations

from django.db import migrations

CREATE = """
CREATE OR REPLACE FUNCTION get_transaction_performance_stats(
    p_operation text DEFAULT NULL,
    p_campaign_id uuid DEFAULT NULL,
    p_hours double precision DEFAULT 24
)
RETURNS TABLE (
    operation text,
    total bigint,
    succeeded bigint,
    failed bigint,
    avg_ms double precision,
    min_ms double precision,
    max_ms double precision,
    p50_ms double precision,
    p95_ms double precision,
    avg_retries double precision
)
LANGUAGE sql STABLE AS $$
    SELECT m.operation::text,
           count(*),
           count(*) FILTER (WHERE m.success),
           count(*) FILTER (WHERE NOT m.success),
           avg(m.duration_ms),
           min(m.duration_ms),
           max(m.duration_ms),
           percentile_cont(0.5) WITHIN GROUP (ORDER BY m.duration_ms),
           percentile_cont(0.95) WITHIN GROUP (ORDER BY m.duration_ms),
           avg(m.retry_count)::double precision
    FROM txmetrics_transactionmetric m
    WHERE m.created_at >= now() - make_interval(secs => p_hours * 3600)
      AND (p_operation IS NULL OR m.operation = p_operation)
      AND (p_campaign_id IS NULL OR m.campaign_id = p_campaign_id)
    GROUP BY m.operation
    ORDER BY m.operation
$$;
"""

DROP = "DROP FUNCTION IF EXISTS get_transaction_performance_stats(text, uuid, double precision);"


class Migration(migrations.Migration):
    dependencies = [("txmetrics", "0001_initial")]

    operations = [migrations.RunSQL(CREATE, DROP)]
