# Shared rate-limit windows (campaigns.services.ratelimit).

from django.db import migrations, models


class Migration(migrations.Migration):

    dependencies = [
        ('campaigns', '0003_validation_phases'),
    ]

    operations = [
        migrations.CreateModel(
            name='RateLimitWindow',
            fields=[
                ('key', models.CharField(max_length=200, primary_key=True, serialize=False)),
                ('next_free', models.DateTimeField()),
            ],
        ),
        migrations.AlterField(
            model_name='dnspersona',
            name='rate_limit_qps',
            field=models.FloatField(blank=True, help_text='Queries per second, for all workers together; empty = unlimited.', null=True),
        ),
    ]
