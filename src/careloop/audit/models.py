"""Append-only audit trail, hash-chained per organization.

``seq`` numbers each chain without gaps; ``hash`` covers the row's content and the previous row's hash; the
chain head records the last ``seq`` and ``hash`` so rows removed from the end are detected too. Database
triggers (see the migration) refuse UPDATE and DELETE on the table.
"""

from __future__ import annotations

from django.db import models


class AuditChainHead(models.Model):
    chain = models.BigIntegerField(unique=True, help_text="organization id, or 0 for the system chain")
    seq = models.BigIntegerField(default=0)
    last_hash = models.CharField(max_length=64, default="0" * 64)


class AuditEvent(models.Model):
    chain = models.BigIntegerField()
    seq = models.BigIntegerField()
    organization_id = models.BigIntegerField(null=True)
    at = models.DateTimeField()
    actor_id = models.BigIntegerField(null=True)
    actor_username = models.CharField(max_length=150)
    role = models.CharField(max_length=32)
    action = models.CharField(max_length=64)
    patient_id = models.BigIntegerField(null=True)
    object_type = models.CharField(max_length=64, blank=True)
    object_id = models.CharField(max_length=128, blank=True)
    source_ip = models.CharField(max_length=64, blank=True)
    outcome = models.CharField(max_length=16, default="success")
    detail = models.TextField(default="{}")
    prev_hash = models.CharField(max_length=64)
    hash = models.CharField(max_length=64)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["chain", "seq"], name="uniq_audit_chain_seq")]
        indexes = [
            models.Index(fields=["organization_id", "patient_id", "at"], name="audit_patient_idx"),
            models.Index(fields=["organization_id", "at"], name="audit_org_at_idx"),
        ]
