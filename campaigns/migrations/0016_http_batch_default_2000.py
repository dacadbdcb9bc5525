# HTTP batches of 2,000 sites by default (docs/DECISIONS.md, "Batch sizes"): a batch's fixed costs
# (claim, reading its input, one transaction, the fetch's set-up) are then shared by twice the sites.

from django.db import migrations, models


class Migration(migrations.Migration):

    dependencies = [
        ('campaigns', '0015_dns_result_one_status_batch_index'),
    ]

    operations = [
        migrations.AlterField(
            model_name='httpvalidationparams',
            name='batch_size',
            field=models.PositiveIntegerField(default=2000),
        ),
    ]
