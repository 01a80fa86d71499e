"""Orgs get a modification time (OneRoster's dateLastModified, ADR 0018): an existing org's
is its creation (its name was only ever changed in the admin, which did not audit it)."""

from django.db import migrations, models
from django.db.models import F

import rollbook.lib.clock


def backfill(apps, schema_editor):
    apps.get_model("catalog", "Org").objects.update(modified=F("created"))


class Migration(migrations.Migration):
    dependencies = [
        ("catalog", "0001_initial"),
    ]

    operations = [
        migrations.AddField(
            model_name="org",
            name="modified",
            field=models.DateTimeField(default=rollbook.lib.clock.now),
        ),
        migrations.RunPython(backfill, migrations.RunPython.noop),
    ]
