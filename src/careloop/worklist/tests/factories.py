"""Worklist test helpers: staff with actors, tasks created through the service, a small clinic."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Any

from careloop.accounts.models import User
from careloop.accounts.tests.factories import actor, make_user
from careloop.clinics.models import CareTeam, CareTeamMember, Organization
from careloop.clinics.tests.factories import make_org
from careloop.core.actor import Actor
from careloop.registry.models import Patient
from careloop.registry.tests.factories import make_patient
from careloop.worklist import services
from careloop.worklist.models import CareTask

UTC = dt.UTC
# Monday 9 March 2026, 14:00 UTC = 10:00 in New York (EDT since 8 March).
T0 = dt.datetime(2026, 3, 9, 14, 0, tzinfo=UTC)
_n = {"k": 0}


def system(org: Organization) -> Actor:
    return Actor.system(org.pk, "test job")


def make_task(org: Organization, patient: Patient, task_type: str = "monthly_checkin", **kw: Any) -> CareTask:
    _n["k"] += 1
    kw.setdefault("reason", f"{task_type} #{_n['k']}")
    kw.setdefault("dedupe_key", f"test:{_n['k']}")
    return services.create_task(organization_id=org.pk, patient_id=patient.pk, task_type=task_type,
                                actor=kw.pop("actor", None) or system(org), **kw)


def add_to_team(team: CareTeam, user: User, capacity: int = 60) -> CareTeamMember:
    return CareTeamMember.objects.create(organization_id=team.organization_id, team=team, user=user, role=user.role,
                                         capacity=capacity)


@dataclass
class Clinic:
    org: Organization
    patients: list[Patient]
    users: dict[str, User] = field(default_factory=dict)

    def user(self, name: str, role: str | None = None) -> User:
        if name not in self.users:
            self.users[name] = make_user(self.org, role or name, username=f"{name}-{self.org.slug}")
        return self.users[name]

    def actor(self, name: str, role: str | None = None) -> Actor:
        return actor(self.user(name, role))


def make_clinic(slug: str | None = None, n_patients: int = 3) -> Clinic:
    org = make_org(slug)
    names = ["Adams", "Baker", "Chen", "Diaz", "Evans", "Fox", "Gray", "Hill"]
    patients = [make_patient(org, names[i % len(names)], f"P{i}") for i in range(n_patients)]
    return Clinic(org, patients)
