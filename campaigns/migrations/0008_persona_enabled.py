# DNS and HTTP personas can be disabled: new campaigns cannot name them (campaigns/services/params.py).

from django.db import migrations, models

HELP = "Only enabled personas can be named by new campaigns; campaigns created earlier keep using it."


class Migration(migrations.Migration):
    dependencies = [("campaigns", "0007_work_notifications")]

    operations = [
        migrations.AddField(
            model_name="dnspersona",
            name="enabled",
            field=models.BooleanField(default=True, help_text=HELP),
        ),
        migrations.AddField(
            model_name="httppersona",
            name="enabled",
            field=models.BooleanField(default=True, help_text=HELP),
        ),
    ]
