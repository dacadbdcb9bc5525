# A campaign's jobs are created when it is started (queued), but lanes claim only jobs of running
# campaigns, and only the worker whose maintenance moves it to running knew when that happened:
# the lanes of every other worker, woken by the jobs' NOTIFY while the campaign was still queued,
# found nothing and backed off for up to a second. Becoming running is announced too, with its own
# payload, so every worker's lanes claim at once (campaigns/notify.py).

from django.db import migrations

SQL = """
CREATE FUNCTION campaigns_notify_running() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_notify('domainflow_work', 'running');
    RETURN NULL;
END $$;
CREATE TRIGGER campaigns_campaign_running AFTER UPDATE OF status ON campaigns_campaign
    FOR EACH ROW WHEN (NEW.status = 'running' AND OLD.status IS DISTINCT FROM 'running')
    EXECUTE FUNCTION campaigns_notify_running();
"""
REVERSE = """
DROP TRIGGER campaigns_campaign_running ON campaigns_campaign;
DROP FUNCTION campaigns_notify_running();
"""


class Migration(migrations.Migration):

    dependencies = [
        ("campaigns", "0010_dns_resolved_input_index"),
    ]

    operations = [migrations.RunSQL(SQL, REVERSE)]
