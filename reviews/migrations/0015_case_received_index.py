"""An index of the application date: the admin case list filters on it (DateFieldListFilter) without a scan."""

from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("reviews", "0014_scale_indexes"),
    ]

    operations = [
        migrations.AddIndex(
            model_name="case",
            index=models.Index(fields=["application_received_date"], name="case_received_idx"),
        ),
    ]
