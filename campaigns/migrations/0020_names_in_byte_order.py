# Names compare byte by byte in every table that holds them, whatever the database's locale
# (docs/DECISIONS.md, "Names in byte order"). No table is rewritten: PostgreSQL rebuilds the
# indexes on the three columns, holding off writes to each table while it does.

from django.db import migrations, models


class Migration(migrations.Migration):

    dependencies = [
        ('campaigns', '0019_claim_by_campaign'),
    ]

    operations = [
        migrations.AlterField(
            model_name='dnsresult',
            name='domain_name',
            field=models.CharField(db_collation='C', max_length=253),
        ),
        migrations.AlterField(
            model_name='generateddomain',
            name='domain_name',
            field=models.CharField(db_collation='C', max_length=253),
        ),
        migrations.AlterField(
            model_name='httpresult',
            name='domain_name',
            field=models.CharField(db_collation='C', max_length=253),
        ),
    ]
