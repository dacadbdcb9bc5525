# An HTTP job reads the resolved rows of one DNS batch by position (services/phases/inputs). With
# statistics gathered before a campaign's rows existed, the planner still chose the (campaign,
# status) index over the partial (campaign, batch, id) one and read every resolved row of the
# campaign for each batch. One index on (campaign, status, batch, id) answers that read with
# equality on its whole prefix and in its order, so no plan reads more, and it still serves the
# console's per-status outcomes; the DNS phase's writes keep one index fewer.

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
