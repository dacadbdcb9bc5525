# Nothing reads HTTP results by batch (no phase comes after HTTP; the console and exports read them
# by campaign and domain or business status), so the (campaign, batch) index only cost every write.

from django.db import migrations


class Migration(migrations.Migration):

    dependencies = [
        ('campaigns', '0012_bulk_rows_without_constraint'),
    ]

    operations = [
        migrations.RemoveIndex(
            model_name='httpresult',
            name='http_result_batch_idx',
        ),
    ]
