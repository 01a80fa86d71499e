"""The outbound event number (ADR 0013): `seq`, and the existing rows numbered in id order."""

from typing import Any

from django.conf import settings
from django.db import migrations, models


def number_existing_rows(apps: Any, schema_editor: Any) -> None:
    """Give every row without a number the next one, in id order, in one UPDATE (the same
    statement as `audit.api.sequence_events`, copied so the migration stays as it is)."""
    table = schema_editor.quote_name(apps.get_model("audit", "AuditEvent")._meta.db_table)
    with schema_editor.connection.cursor() as cursor:
        cursor.execute(
            f"UPDATE {table} SET seq = numbered.seq FROM ("  # noqa: S608 - a table name
            f" SELECT id, (SELECT COALESCE(MAX(seq), 0) FROM {table})"
            f" + ROW_NUMBER() OVER (ORDER BY id) AS seq FROM {table} WHERE seq IS NULL"
            f") AS numbered WHERE {table}.id = numbered.id"
        )


class Migration(migrations.Migration):
    dependencies = [
        ("audit", "0002_initial"),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.AddField(
            model_name="auditevent",
            name="seq",
            field=models.BigIntegerField(blank=True, null=True, unique=True),
        ),
        migrations.RunPython(number_existing_rows, migrations.RunPython.noop, elidable=True),
        migrations.AddIndex(
            model_name="auditevent",
            index=models.Index(
                condition=models.Q(("seq__isnull", True)),
                fields=["id"],
                name="audit_unsequenced_idx",
            ),
        ),
    ]
