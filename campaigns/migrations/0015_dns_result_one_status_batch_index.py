# An HTTP job reads the resolved rows of one DNS batch by position (services/phases/inputs), planned
# with sorting off so that only an index giving those rows in order, with the batch on its prefix,
# is cheap: with statistics gathered before a campaign's rows existed, the planner had chosen the
# (campaign, status) index and read every resolved row of the campaign for each batch. One index on
# (campaign, status, batch, id) is that index and still serves the console's outcomes per status,
# which skip along its (campaign, status) prefix; it replaces both the partial (campaign, batch, id)
# index and the (campaign, status) one, so the DNS phase's writes keep one index fewer.

from django.db import migrations, models


class Migration(migrations.Migration):

    dependencies = [
        ('campaigns', '0014_http_batch_default_1000'),
    ]

    operations = [
        migrations.RemoveIndex(
            model_name='dnsresult',
            name='dns_result_resolved_idx',
        ),
        migrations.RemoveIndex(
            model_name='dnsresult',
            name='dns_result_status_idx',
        ),
        migrations.AddIndex(
            model_name='dnsresult',
            index=models.Index(fields=['campaign', 'status', 'batch_number', 'id'], name='dns_result_status_batch_idx'),
        ),
    ]
