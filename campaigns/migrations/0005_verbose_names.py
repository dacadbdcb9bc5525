# Display names: DNS and HTTP written as such.

from django.db import migrations


class Migration(migrations.Migration):

    dependencies = [
        ('campaigns', '0004_rate_limit_windows'),
    ]

    operations = [
        migrations.AlterModelOptions(
            name='dnspersona',
            options={'ordering': ['name'], 'verbose_name': 'DNS persona'},
        ),
        migrations.AlterModelOptions(
            name='dnsresult',
            options={'verbose_name': 'DNS result'},
        ),
        migrations.AlterModelOptions(
            name='httppersona',
            options={'ordering': ['name'], 'verbose_name': 'HTTP persona'},
        ),
        migrations.AlterModelOptions(
            name='httpresult',
            options={'verbose_name': 'HTTP result'},
        ),
    ]
