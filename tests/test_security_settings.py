"""The organization security page: admins make two-step sign-in mandatory; others may not."""

from __future__ import annotations

import pytest
from django.test import Client

from careloop.audit.models import AuditEvent
from careloop.clinics.models import Organization

from .conftest import World


@pytest.mark.django_db
def test_admin_makes_mfa_mandatory_and_it_is_audited(world: World) -> None:
    client = Client()
    client.force_login(world.a.user("admin"))
    response = client.post("/settings/security/", {"require_mfa": "on"})
    assert response.status_code == 200
    assert Organization.objects.get(pk=world.a.org.pk).require_mfa_for_staff is True
    assert Organization.objects.get(pk=world.b.org.pk).require_mfa_for_staff is False
    event = AuditEvent.objects.get(action="organization.mfa_policy_changed")
    assert event.organization_id == world.a.org.pk
    assert event.detail == '{"required":true}'
    # The next page load sends a staff member without a device to enrolment.
    coordinator = Client()
    coordinator.force_login(world.a.user("coordinator"))
    assert coordinator.get("/patients/").url == "/mfa/enroll/"


@pytest.mark.django_db
@pytest.mark.parametrize("role", ["coordinator", "provider", "leader", "billing"])
def test_non_admins_cannot_change_security_policy(world: World, role: str) -> None:
    client = Client()
    client.force_login(world.a.user(role))
    response = client.post("/settings/security/", {"require_mfa": "on"})
    assert response.status_code == 403
    assert Organization.objects.get(pk=world.a.org.pk).require_mfa_for_staff is False
