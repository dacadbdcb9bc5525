# An HTTP job reads the resolved rows of one DNS batch by position (services/phases/inputs).
# Without statistics on rows just written, the planner chose the (campaign, status) index for it
# and read every resolved row of the campaign to return one batch's, so each HTTP batch cost more
# the larger the campaign. The partial index matches the query's conditions and order exactly;
# the (campaign, batch) index it replaces had no other reader.

from django.db import migrations, models


class Migration(migrations.Migration):

    dependencies = [
        ('campaigns', '0009_result_campaign_index_http_batch_size'),
    ]

    operations = [
        migrations.RemoveIndex(
            model_name='dnsresult',
            name='dns_result_batch_idx',
        ),
        migrations.AddIndex(
            model_name='dnsresult',
            index=models.Index(condition=models.Q(('status', 'resolved')), fields=['campaign', 'batch_number', 'id'], name='dns_result_resolved_idx'),
        ),
    ]
