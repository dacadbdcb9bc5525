# Generated names, DNS and HTTP results reference their campaign without a database constraint
# (a look-up per row written; campaigns/models/campaign.py _lock_before_delete keeps them whole),
# and generated names lose the campaign_id index their two unique constraints already lead with.

import django.db.models.deletion
from django.db import migrations, models


class Migration(migrations.Migration):

    dependencies = [
        ('campaigns', '0011_notify_running'),
    ]

    operations = [
        migrations.AlterField(
            model_name='dnsresult',
            name='campaign',
            field=models.ForeignKey(db_constraint=False, db_index=False, on_delete=django.db.models.deletion.CASCADE, related_name='dns_results', to='campaigns.campaign'),
        ),
        migrations.AlterField(
            model_name='generateddomain',
            name='campaign',
            field=models.ForeignKey(db_constraint=False, db_index=False, on_delete=django.db.models.deletion.CASCADE, related_name='generated_domains', to='campaigns.campaign'),
        ),
        migrations.AlterField(
            model_name='httpresult',
            name='campaign',
            field=models.ForeignKey(db_constraint=False, db_index=False, on_delete=django.db.models.deletion.CASCADE, related_name='http_results', to='campaigns.campaign'),
        ),
    ]
