"""`careloop demo`: a synthetic clinic on the embedded SQLite database, one login per role, served locally.

Idempotent: a second run keeps the data and only issues fresh demo passwords.
"""

from __future__ import annotations

import datetime as dt
import os
import secrets
import sys
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from careloop.clinics.models import Organization

DEMO_SLUG = "maple-grove"
DEMO_SOURCE = "synth-ehr"

STAFF = [
    # username, role, first, last, on the care team
    ("admin", "admin", "Ada", "Admin", False),
    ("dr.patel", "provider", "Priya", "Patel", True),
    ("nurse.kim", "nurse", "Grace", "Kim", True),
    ("coord.lopez", "coordinator", "Maria", "Lopez", True),
    ("coord.james", "coordinator", "Devon", "James", True),
    ("chw.okafor", "chw", "Chidi", "Okafor", True),
    ("bh.nguyen", "bh_care_manager", "Linh", "Nguyen", True),
    ("billing.ross", "billing", "Sam", "Ross", False),
    ("leader.cho", "leader", "Helen", "Cho", False),
    ("patient.demo", "patient", "Pat", "Demo", False),
    ("caregiver.demo", "caregiver", "Casey", "Demo", False),
    ("partner.cardio", "partner", "Omar", "Haddad", False),
]


def _password() -> str:
    return "demo-" + secrets.token_urlsafe(9)


def run_demo(*, patients: int, seed: int, host: str, port: int, serve: bool) -> int:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "careloop.config.settings")
    import django

    django.setup()
    from django.conf import settings
    from django.core.management import call_command

    print(f"careloop demo: database {settings.DATABASES['default']['NAME']}", flush=True)
    call_command("migrate", interactive=False, verbosity=0)

    from careloop.clinics.models import Organization

    org = Organization.objects.filter(slug=DEMO_SLUG).first()
    fresh = org is None
    if org is None:
        org = _setup_clinic(patients=patients, seed=seed)
    logins = _reset_logins(org)
    if fresh:
        _seed_workload(org)
        _seed_access(org)
        _seed_transitions(org)
        _seed_compliance(org)
        _seed_billing(org)
        _seed_quality(org)
    print("\nLogins (passwords are new on every `careloop demo` run):")
    for username, role, password in logins:
        print(f"  {role:16} {username:16} {password}")
    print()
    if not serve:
        return 0
    from careloop.serve import serve as run_server

    return run_server(host=host, port=port)


def _setup_clinic(*, patients: int, seed: int) -> Organization:
    from django.conf import settings
    from django.db import transaction

    from careloop.cli import _progress_bar
    from careloop.clinics.models import CareTeam, Location, Organization, Practitioner
    from careloop.core import clock
    from careloop.core.actor import Actor
    from careloop.interop.fhir.importer import FhirImporter, total_bytes
    from careloop.synth.generator import generate

    out = Path(settings.DATA_DIR) / "demo-clinic"
    as_of: dt.date = clock.today()
    print(f"generating {patients} synthetic patients (seed {seed}, data up to {as_of}) in {out}", flush=True)
    bar = _progress_bar(patients, "generating", unit="patients")
    generate(patients=patients, seed=seed, out_dir=out, as_of=as_of, progress=bar.update)
    bar.close()

    with transaction.atomic():
        org = Organization.objects.create(
            name="Maple Grove Primary Care",
            slug=DEMO_SLUG,
            npi="1234567893",
            tin="123456789",
            practice_type="physician",
            after_hours_phone="555-0100",
        )
        main = Location.objects.create(
            organization=org,
            name="Maple Grove Main Street",
            address_line="100 Main St",
            city="Springfield",
            state="MA",
            postal_code="01101",
            phone="555-0101",
        )
        Location.objects.create(
            organization=org,
            name="Maple Grove Riverside",
            address_line="12 River Rd",
            city="Springfield",
            state="MA",
            postal_code="01103",
            phone="555-0102",
        )
        for i, (given, family) in enumerate(
            [("Priya", "Patel"), ("Michael", "Brennan"), ("Aisha", "Rahman"), ("Tomas", "Silva")]
        ):
            Practitioner.objects.create(
                organization=org,
                given=given,
                family=family,
                credentials="MD",
                npi=_npi(1000 + i),
                tin=org.tin,
                specialty="Family Medicine",
                location=main,
            )
        CareTeam.objects.create(organization=org, name="Main Street care team", location=main)

    paths = [out]
    bar = _progress_bar(total_bytes(paths), "importing")
    importer = FhirImporter(
        organization_id=org.pk,
        source_system=DEMO_SOURCE,
        actor=Actor.system(org.pk, "careloop demo"),
        progress=bar.update,
    )
    summary = importer.import_paths(paths)
    bar.close()
    created = sum(c["created"] for c in summary.as_json().values())
    print(f"imported {created} resources ({len(summary.rejections)} rejected)", flush=True)
    return org


def _seed_workload(org: Organization) -> None:
    """Give the care team a panel: the most complex patients get a designated care-team member (continuity),
    then the month's recurring rules fill the queues."""
    from django.db.models import Count

    from careloop.accounts.models import User
    from careloop.core.actor import Actor
    from careloop.programs.services import designate_care_member
    from careloop.registry.models import Condition
    from careloop.risk.tasks import refresh_all
    from careloop.worklist.services.recurring import run_recurring

    refresh_all(incremental=False)
    print("risk tiers computed for the whole panel", flush=True)
    actor = Actor.system(org.pk, "careloop demo")
    members = {u.username: u.pk for u in User.objects.filter(organization=org)}
    coordinators = [members["coord.lopez"], members["coord.james"], members["nurse.kim"], members["chw.okafor"]]
    complex_patients = list(
        Condition.objects.filter(organization=org, clinical_status="active")
        .exclude(icd10="")
        .values("patient_id")
        .annotate(n=Count("icd10", distinct=True))
        .filter(n__gte=3)
        .order_by("-n", "patient_id")
        .values_list("patient_id", flat=True)[:240]
    )
    bh_patients = set(
        Condition.objects.filter(organization=org, clinical_status="active", icd10__startswith="F3",
                                 patient_id__in=complex_patients).values_list("patient_id", flat=True)
    )
    for i, patient_id in enumerate(complex_patients):
        user_id = members["bh.nguyen"] if patient_id in bh_patients and i % 3 == 0 else coordinators[i % 4]
        designate_care_member(organization_id=org.pk, patient_id=patient_id, user_id=user_id, actor=actor)
    results = run_recurring()
    created = sum(r.created for r in results.values())
    print(f"designated care-team members for {len(complex_patients)} complex patients; "
          f"{created} monthly check-in tasks queued", flush=True)


def _seed_transitions(org: Organization) -> None:
    """Discharges of the last 10 days open transition episodes (deadlines, tasks) on the transitions board."""
    import datetime as _dt

    from careloop.core import clock
    from careloop.transitions.tasks import scan_organizations

    since = clock.today(org.time_zone) - _dt.timedelta(days=10)
    result = scan_organizations(org_slug=org.slug, since=since)
    opened = sum(r["opened"] for r in result)
    print(f"{opened} transition episodes opened from discharges since {since}", flush=True)


def _seed_compliance(org: Organization) -> None:
    """APCM compliance for the demo: the eight practice capabilities with evidence from 1 January, the providers'
    performance pathways (one left unrecorded, so coverage shows a gap), and APCM enrollments with consent for the
    portal patient and the first designated patients, from the start of last month."""
    from careloop.access.models import PortalAccount
    from careloop.accounts.models import User
    from careloop.accounts.services import actor_for
    from careloop.clinics.models import Practitioner
    from careloop.compliance import services as compliance
    from careloop.core import clock
    from careloop.core.actor import Actor
    from careloop.core.errors import CareloopError
    from careloop.programs.models import DesignatedCareMember, Enrollment
    from careloop.programs.services import ConsentIn, enroll_patient
    from careloop.worklist.services.outreach import log_outreach
    from careloop.worklist.services.time import add_time_entry

    users = {u.username: u for u in User.objects.filter(organization=org)}
    leader = actor_for(users["leader.cho"], "")
    today = clock.today(org.time_zone)
    jan1 = today.replace(month=1, day=1)
    evidence = {
        "24x7_access": ("After-hours nurse line and on-call clinician rota; calls logged in careloop",
                        "policies/after-hours-access-v3.pdf"),
        "designated_care_team_member": ("Every APCM patient has a named coordinator or nurse (careloop designation)",
                                        ""),
        "alternative_care_delivery": ("Home visits by the CHW team; evening clinic Tuesday and Thursday until 19:00",
                                      "schedules/expanded-hours.pdf"),
        "electronic_care_plan": ("careloop versioned care plans, shared via portal and with partners", ""),
        "ehi_exchange": ("HL7 v2 ADT feed from the regional HIE (MLLP); discharge summaries via Direct",
                         "agreements/hie-participation.pdf"),
        "async_communication": ("Patient portal secure messaging, answered within one business day", ""),
        "population_gap_analysis": ("Monthly quality care-gap run (careloop quality run)", "reports/care-gaps"),
        "risk_stratification": ("careloop risk methodology (CCW count, Charlson, HCC, utilization), nightly refresh",
                                "careloop risk methodology --format pdf"),
    }
    for key, (text, link) in evidence.items():
        compliance.record_capability(actor=leader, key=key, effective_from=jan1, evidence=text, evidence_link=link)
    providers = list(Practitioner.objects.filter(organization=org, is_billing_practitioner=True).order_by("pk"))
    for pr in providers[:-1] if len(providers) > 1 else providers:
        compliance.record_pathway(actor=leader, practitioner_id=pr.pk, performance_year=today.year,
                                  pathway="MVP_M0005", evidence="QPP Value in Primary Care MVP registration")
    start = (today.replace(day=1) - dt.timedelta(days=1)).replace(day=1)
    portal = list(PortalAccount.objects.filter(organization=org).values_list("patient_id", flat=True))
    designated = list(DesignatedCareMember.objects.filter(organization=org, until__isnull=True)
                      .order_by("pk").values_list("patient_id", flat=True)[:24])
    system = Actor.system(org.pk, "careloop demo")
    enrolled = 0
    for i, patient_id in enumerate(dict.fromkeys(portal + designated)):
        if Enrollment.objects.filter(organization=org, patient_id=patient_id, program="APCM").exists():
            continue
        consent = ConsentIn(method="verbal" if i % 2 else "written",
                            disclosures=("availability", "cost_sharing", "one_practitioner_per_month",
                                         "right_to_stop"),
                            obtained_by_user_id=users["coord.lopez"].pk,
                            obtained_at=dt.datetime.combine(start - dt.timedelta(days=3), dt.time(15), dt.UTC),
                            evidence="APCM consent script, signed form scanned to the EHR")
        try:
            enroll_patient(organization_id=org.pk, patient_id=patient_id, program="APCM",
                           billing_practitioner_id=providers[i % len(providers)].pk, consent=consent, actor=system,
                           start=start)
            enrolled += 1
        except CareloopError:
            continue
    # Two of every three APCM patients got a check-in call and medication review in each month (APCM activity).
    coord = actor_for(users["coord.lopez"], "")
    apcm = list(Enrollment.objects.filter(organization=org, program="APCM").order_by("pk")
                .values_list("patient_id", flat=True))
    zone = clock.clinic_zone(org.time_zone)
    for i, patient_id in enumerate(apcm):
        if i % 3 == 2:
            continue
        for day in (start + dt.timedelta(days=9 + i % 10), today.replace(day=1) + dt.timedelta(days=i % 7)):
            if day > today:
                continue
            try:
                log_outreach(organization_id=org.pk, patient_id=patient_id, channel="phone", outcome="reached",
                             actor=coord, at=dt.datetime.combine(day, dt.time(10, 30), zone), minutes=12,
                             program="APCM", note="Monthly APCM check-in: symptoms, needs, next steps")
                add_time_entry(organization_id=org.pk, patient_id=patient_id, minutes=10,
                               activity="medication_management", program="APCM", interactive=False,
                               service_date=day, actor=coord, note="Medication review and adherence check")
            except CareloopError:
                continue
    example = portal[0] if portal else (apcm[0] if apcm else None)
    print(f"APCM compliance: 8 practice capabilities, pathways for {max(len(providers) - 1, 1)} providers, "
          f"{enrolled} APCM enrollments from {start}; leader page /compliance/; packet: careloop compliance packet "
          f"--patient {example} --month {today:%Y-%m} --out packet.pdf", flush=True)


def _seed_billing(org: Organization) -> None:
    """Billing for the demo: CCM enrollments with consent and last month's staff minutes (15/25/45/65: one short,
    one base, one base + add-on, one held add-on), an RPM patient with device days, the practice's billing
    address, then last month's billing run and an 837P checked with pyx12 (the billing page at /billing/)."""
    from careloop.accounts.models import User
    from careloop.accounts.services import actor_for
    from careloop.billing.models import BillingSettings
    from careloop.billing_commands import run_month
    from careloop.clinics.models import Practitioner
    from careloop.core import clock
    from careloop.core.actor import Actor
    from careloop.core.errors import CareloopError
    from careloop.interop.x12.claims import build_837p
    from careloop.programs.models import DesignatedCareMember, Enrollment
    from careloop.programs.services import ConsentIn, enroll_patient, record_device_day
    from careloop.worklist.services.time import add_time_entry

    BillingSettings.objects.get_or_create(organization=org, defaults={
        "address_line": "100 Main St", "city": "Springfield", "state": "MA", "postal_code": "011010001"})
    users = {u.username: u for u in User.objects.filter(organization=org)}
    system = Actor.system(org.pk, "careloop demo")
    nurse = actor_for(users["nurse.kim"], "")
    today = clock.today(org.time_zone)
    last_month_end = today.replace(day=1) - dt.timedelta(days=1)
    start = last_month_end.replace(day=1)
    month = f"{start:%Y-%m}"
    providers = list(Practitioner.objects.filter(organization=org, is_billing_practitioner=True).order_by("pk"))
    taken = set(Enrollment.objects.filter(organization=org).values_list("patient_id", flat=True))
    candidates = [pid for pid in DesignatedCareMember.objects.filter(organization=org, until__isnull=True)
                  .order_by("pk").values_list("patient_id", flat=True) if pid not in taken][:13]
    minutes = (15, 25, 45, 65)
    ccm = 0
    for i, patient_id in enumerate(candidates):
        program = "RPM" if i == len(candidates) - 1 else "CCM"
        consent = ConsentIn(method="verbal", disclosures=("availability", "cost_sharing",
                                                          "one_practitioner_per_month", "right_to_stop"),
                            obtained_by_user_id=users["nurse.kim"].pk,
                            obtained_at=dt.datetime.combine(start - dt.timedelta(days=35), dt.time(14), dt.UTC),
                            evidence="CCM consent discussed at the visit; note in the EHR")
        try:
            enroll_patient(organization_id=org.pk, patient_id=patient_id, program=program,
                           billing_practitioner_id=providers[i % len(providers)].pk, consent=consent, actor=system,
                           start=start - dt.timedelta(days=31))
            if program == "RPM":
                for d in range(18):
                    record_device_day(organization_id=org.pk, patient_id=patient_id, kind="rpm",
                                      day=start + dt.timedelta(days=d), readings=2, actor=system)
                add_time_entry(organization_id=org.pk, patient_id=patient_id, minutes=22, activity="care_coordination",
                               program="RPM", interactive=True, service_date=start + dt.timedelta(days=12),
                               actor=nurse, note="Reviewed home BP readings with the patient by phone")
                continue
            total = minutes[i % len(minutes)]
            for k, part in enumerate((total // 2, total - total // 2)):
                add_time_entry(organization_id=org.pk, patient_id=patient_id, minutes=part,
                               activity="care_coordination", program="CCM", interactive=k == 0,
                               service_date=start + dt.timedelta(days=4 + 9 * k), actor=nurse,
                               note="Care coordination: specialist follow-up, medication questions")
            ccm += 1
        except CareloopError:
            continue
    try:
        counts = run_month(org, month, system, show_progress=False)
    except CareloopError as exc:
        print(f"billing run for {month} did not complete: {exc}", flush=True)
        return
    print(f"billing {month}: {counts.patients} patient-months, {counts.billable_lines} billable lines "
          f"{counts.lines_by_code}, {counts.denied} denied, {counts.flagged} held; allowed ${counts.total_allowed} "
          f"({ccm} CCM patients added) - see /billing/?month={month}", flush=True)
    if org.practice_type == "physician":
        try:
            x12 = build_837p(organization=org, month=month, actor=system)
            status = "accepted by pyx12" if x12.validation.accepted else f"REJECTED: {x12.validation.errors[:3]}"
            print(f"837P for {month}: {x12.claims} claims, {status}; download it from the billing page or "
                  f"`careloop billing export-837 --month {month} --out claims.x12`", flush=True)
        except CareloopError as exc:
            print(f"837P for {month}: {exc}", flush=True)


def _valueset_folder() -> Path | None:
    """careloop ships no licensed value sets. The demo loads them from CARELOOP_VALUESETS_DIR, or from the
    eCQM value sets of a ../shared folder beside the checkout when one exists (the build machines have it)."""
    named = os.environ.get("CARELOOP_VALUESETS_DIR")
    candidates = [Path(named)] if named else [Path.cwd().parent / "shared" / "oracles" / "ecqm" / "valuesets"]
    return next((c for c in candidates if c.is_dir() and any(c.glob("*.json"))), None)


def _seed_quality(org: Organization) -> None:
    """This year's quality run, so the dashboards and the chart show care gaps."""
    from careloop.core import clock
    from careloop.core.actor import Actor
    from careloop.quality.engine.period import MeasurementPeriod
    from careloop.quality.engine.valuesets import MissingValueSets
    from careloop.quality.measures import REGISTRY
    from careloop.quality.population import run_population
    from careloop.quality.selectors import valueset_index
    from careloop.quality.services import load_valuesets

    folder = _valueset_folder()
    if folder is None:
        print("quality: no value sets (set CARELOOP_VALUESETS_DIR to a folder of ValueSet JSON, then run "
              "`careloop valuesets load DIR` and `careloop quality run`); care gaps are not shown", flush=True)
        return
    load_valuesets(folder=folder)
    year = clock.today(org.time_zone).year
    period = MeasurementPeriod(dt.date(year, 1, 1), dt.date(year, 12, 31))
    measures = [m for m in REGISTRY.values() if m.official_cases]
    try:
        index = valueset_index(tuple(u for m in measures for u in m.valuesets))
        summary = run_population(organization_id=org.pk, period=period, measures=measures, valuesets=index,
                                 actor=Actor.system(org.pk, "careloop demo"))
    except MissingValueSets as exc:
        print(f"quality: {exc}; care gaps are not shown", flush=True)
        return
    print(f"quality: {len(measures)} measures for {year} from value sets in {folder} "
          f"({summary.patients} patients evaluated, {summary.open_gaps} open care gaps)", flush=True)


def _seed_access(org: Organization) -> None:
    """Care plan and 24/7 access for the demo: patient.demo and caregiver.demo see a real patient's plan in the
    portal, partner.cardio has it shared for 90 days, the after-hours protocol and a week of on-call nights."""
    from careloop.access import services as access
    from careloop.access.models import PortalAccount
    from careloop.accounts.models import User
    from careloop.accounts.services import actor_for
    from careloop.careplans import rules as plan_rules
    from careloop.careplans import services as careplans
    from careloop.core import clock
    from careloop.programs.models import DesignatedCareMember
    from careloop.registry.models import Condition, Patient

    users = {u.username: u for u in User.objects.filter(organization=org)}
    if PortalAccount.objects.filter(user=users["patient.demo"]).exists():
        return
    coord = actor_for(users["coord.lopez"], "")
    mine = DesignatedCareMember.objects.filter(organization=org, user=users["coord.lopez"]) \
        .values_list("patient_id", flat=True)
    diabetic = Condition.objects.filter(organization=org, patient_id__in=mine, icd10__startswith="E11") \
        .values_list("patient_id", flat=True).first()
    patient_id = diabetic or mine.first() or Patient.objects.filter(organization=org).values_list("pk", flat=True)[0]
    codes = Condition.objects.filter(organization=org, patient_id=patient_id, clinical_status="active") \
        .values_list("icd10", flat=True)
    templates = sorted({t for c in codes if (t := plan_rules.template_for_icd10(c))})
    today = clock.today(org.time_zone)
    access.set_protocol(organization_id=org.pk, nurse_line_phone=org.after_hours_phone or "555-0100", actor=coord,
                        instructions="For urgent questions when the office is closed, call the nurse line; "
                                     "the on-call clinician will call you back. For an emergency call 911.")
    access.link_portal_account(organization_id=org.pk, patient_id=patient_id, user_id=users["patient.demo"].pk,
                               actor=coord)
    access.grant_proxy(organization_id=org.pk, patient_id=patient_id, caregiver_id=users["caregiver.demo"].pk,
                       consent_date=today, relationship="daughter", actor=coord)
    access.record_access_notice(organization_id=org.pk, patient_id=patient_id, told_on=today, method="handout",
                                actor=coord, note="After-hours card given at the initiating visit")
    plan = careplans.create_plan(organization_id=org.pk, patient_id=patient_id, actor=coord, templates=templates,
                                 reason="Initial comprehensive care plan")
    access.share_with_partner(organization_id=org.pk, patient_id=patient_id, partner_id=users["partner.cardio"].pk,
                              partner_kind="specialist", expires_at=clock.now() + dt.timedelta(days=90),
                              actor=coord, plan_id=plan.pk)
    zone = clock.clinic_zone(org.time_zone)
    for i in range(7):
        start = dt.datetime.combine(today + dt.timedelta(days=i), dt.time(17), tzinfo=zone)
        access.add_on_call_shift(organization_id=org.pk, clinician_id=users["nurse.kim"].pk, starts_at=start,
                                 ends_at=start + dt.timedelta(hours=15), phone="555-0100", actor=coord)
    print(f"care plan ({', '.join(templates) or 'no template'}) for patient {patient_id}: portal login patient.demo, "
          "proxy caregiver.demo, shared with partner.cardio for 90 days; on-call nights scheduled", flush=True)


def _npi(n: int) -> str:
    """A valid NPI (Luhn check digit over the 80840 prefix) from a serial number."""
    base = f"1{n:08d}"
    digits = [int(d) for d in "80840" + base]
    total = 0
    for i, d in enumerate(reversed(digits)):
        if i % 2 == 0:
            d *= 2
            if d > 9:
                d -= 9
        total += d
    return base + str((10 - total % 10) % 10)


def _reset_logins(org: Organization) -> list[tuple[str, str, str]]:
    from django.db import transaction

    from careloop.accounts.models import User
    from careloop.clinics.models import CareTeam, CareTeamMember, Practitioner

    team = CareTeam.objects.filter(organization=org).first()
    out = []
    with transaction.atomic():
        for username, role, first, last, on_team in STAFF:
            user = User.objects.filter(username=username).first()
            if user is None:
                user = User(username=username, organization=org, role=role, first_name=first, last_name=last)
            password = _password()
            user.set_password(password)
            user.failed_login_attempts = 0
            user.locked_until = None
            user.save()
            if on_team and team is not None:
                CareTeamMember.objects.get_or_create(organization=org, team=team, user=user, defaults={"role": role})
            if role == "provider":
                Practitioner.objects.filter(organization=org, family=last).update(user=user)
            out.append((username, role, password))
    return out


if __name__ == "__main__":
    sys.exit(run_demo(patients=2000, seed=7, host="127.0.0.1", port=8000, serve=True))
