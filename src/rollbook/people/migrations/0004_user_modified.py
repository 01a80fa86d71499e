"""Users get a modification time (OneRoster's dateLastModified, ADR 0018).

An existing user's is the time of its latest `user.created`/`user.updated` audit event (the
last change to what other systems see of it), or, with none, the day it joined: one UPDATE
with a correlated subquery on the audit log's (subject, id) index."""

from django.db import migrations, models
from django.db.models import CharField, F, OuterRef, Subquery, Value
from django.db.models.functions import Coalesce, Concat

import rollbook.lib.clock

USER_CHANGES = ("user.created", "user.updated")


def backfill(apps, schema_editor):
    User = apps.get_model("people", "User")
    AuditEvent = apps.get_model("audit", "AuditEvent")
    latest = (
        AuditEvent.objects.filter(
            subject=Concat(Value("user:"), OuterRef("username"), output_field=CharField()),
            event__in=USER_CHANGES,
        )
        .order_by("-id")
        .values("time")[:1]
    )
    User.objects.update(modified=Coalesce(Subquery(latest), F("date_joined")))


class Migration(migrations.Migration):
    dependencies = [
        ("people", "0003_external_ids"),
        ("audit", "0003_event_sequence"),
    ]

    operations = [
        migrations.AddField(
            model_name="user",
            name="modified",
            field=models.DateTimeField(db_index=True, default=rollbook.lib.clock.now),
        ),
        migrations.RunPython(backfill, migrations.RunPython.noop),
    ]
