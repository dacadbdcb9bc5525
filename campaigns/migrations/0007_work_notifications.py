# NOTIFY domainflow_work when jobs are inserted or a campaign becomes queued (campaigns/notify.py).

from django.db import migrations

SQL = """
CREATE FUNCTION campaigns_notify_work() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_notify('domainflow_work', TG_TABLE_NAME);
    RETURN NULL;
END $$;
CREATE TRIGGER campaigns_job_inserted AFTER INSERT ON campaigns_campaignjob
    FOR EACH STATEMENT EXECUTE FUNCTION campaigns_notify_work();
CREATE TRIGGER campaigns_campaign_queued AFTER UPDATE OF status ON campaigns_campaign
    FOR EACH ROW WHEN (NEW.status = 'queued' AND OLD.status IS DISTINCT FROM 'queued')
    EXECUTE FUNCTION campaigns_notify_work();
"""
REVERSE = """
DROP TRIGGER campaigns_campaign_queued ON campaigns_campaign;
DROP TRIGGER campaigns_job_inserted ON campaigns_campaignjob;
DROP FUNCTION campaigns_notify_work();
"""


class Migration(migrations.Migration):

    dependencies = [
        ("campaigns", "0006_streaming_pipelines"),
    ]

    operations = [migrations.RunSQL(SQL, REVERSE)]
