# Result tables lose the campaign_id index Django gives a ForeignKey: every other index of theirs
# (the unique (campaign_id, domain_name), the batch and the status ones) leads with campaign_id and
# serves the same lookups, so it only cost each batch's COPY one more index to maintain.
# The index alone is dropped: the AlterField Django would run drops and re-adds the foreign key,
# which checks every result row again under a lock that holds off the workers' writes.
# HTTP params default to the batch size the service gives (campaigns/services/params.py).

import django.db.models.deletion
from django.db import migrations, models


def drop_campaign_index(model_name: str, table: str, index: str, related_name: str) -> migrations.SeparateDatabaseAndState:
    return migrations.SeparateDatabaseAndState(
        state_operations=[
            migrations.AlterField(
                model_name=model_name,
                name="campaign",
                field=models.ForeignKey(db_index=False, on_delete=django.db.models.deletion.CASCADE,
                                        related_name=related_name, to="campaigns.campaign"),
            ),
        ],
        database_operations=[
            migrations.RunSQL(f'DROP INDEX IF EXISTS "{index}"', reverse_sql=f'CREATE INDEX "{index}" ON "{table}" ("campaign_id")'),
        ],
    )


class Migration(migrations.Migration):
    dependencies = [("campaigns", "0008_persona_enabled")]

    operations = [
        drop_campaign_index("dnsresult", "campaigns_dnsresult", "campaigns_dnsresult_campaign_id_7f8f89c1", "dns_results"),
        drop_campaign_index("httpresult", "campaigns_httpresult", "campaigns_httpresult_campaign_id_a9578434", "http_results"),
        migrations.AlterField(
            model_name="httpvalidationparams",
            name="batch_size",
            field=models.PositiveIntegerField(default=500),
        ),
    ]
