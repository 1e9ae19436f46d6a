"""SQLite: the per-patient index covers only the organizations' own chains (business events); events of the read
chains are found per patient through the read index file, filled in batches (docs/adr/0006-deferred-read-index.md).

The model state keeps ``audit_patient_idx`` as declared (PostgreSQL keeps the full index). If a later migration
makes Django rebuild this table on SQLite, it recreates the full index: run this statement again after it.
"""

from django.db import migrations

STRIDE = 1 << 40  # audit.rules.SHARD_STRIDE: chains at or above it are read chains
PARTIAL = (
    "CREATE INDEX audit_patient_idx ON audit_auditevent (organization_id, patient_id, at) "
    f"WHERE chain < {STRIDE}"
)
FULL = "CREATE INDEX audit_patient_idx ON audit_auditevent (organization_id, patient_id, at)"


def forwards(apps, schema_editor):  # type: ignore[no-untyped-def]
    if schema_editor.connection.vendor == "sqlite":
        schema_editor.execute("DROP INDEX IF EXISTS audit_patient_idx")
        schema_editor.execute(PARTIAL)


def backwards(apps, schema_editor):  # type: ignore[no-untyped-def]
    if schema_editor.connection.vendor == "sqlite":
        schema_editor.execute("DROP INDEX IF EXISTS audit_patient_idx")
        schema_editor.execute(FULL)


class Migration(migrations.Migration):
    dependencies = [("audit", "0002_append_only")]
    operations = [migrations.RunPython(forwards, backwards)]
