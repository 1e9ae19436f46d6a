"""Real-browser tests: Debian's Chromium driven by Playwright (no browser download).

Skipped with a reason when /usr/bin/chromium is absent (CI installs it).
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from typing import Any

import pytest

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(
        not os.path.exists(CHROMIUM), reason="Debian chromium is not installed (apt-get install chromium)"
    ),
]


@pytest.fixture
def page() -> Iterator[Any]:
    os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = "true"  # Playwright's sync API runs an event loop in this thread
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(
            executable_path=CHROMIUM,
            args=[
                "--no-sandbox",
                "--disable-gpu",
                "--disable-background-networking",
                "--disable-component-update",
                "--disable-sync",
                "--no-first-run",
            ],
        )
        pg = browser.new_page(viewport={"width": 1280, "height": 860})
        yield pg
        browser.close()


def _clinic() -> tuple[Any, Any]:
    from careloop.accounts.services import create_user
    from careloop.clinics.models import Organization
    from careloop.core.actor import Actor
    from careloop.interop.fhir.importer import FhirImporter

    org = Organization.objects.create(name="Browser clinic", slug="browser")
    user = create_user(
        organization=org, username="coord.browser", password="Browser-pass-77", role="coordinator", first_name="Maria"
    )
    bundle = {
        "resourceType": "Bundle",
        "type": "collection",
        "entry": [
            {
                "fullUrl": "urn:uuid:p1",
                "resource": {
                    "resourceType": "Patient",
                    "id": "p1",
                    "name": [{"family": "Quill", "given": ["Ada"]}],
                    "gender": "female",
                    "birthDate": "1948-03-02",
                    "identifier": [{"system": "urn:mrn", "value": "MRN-4242", "type": {"coding": [{"code": "MR"}]}}],
                },
            },
            {
                "fullUrl": "urn:uuid:c1",
                "resource": {
                    "resourceType": "Condition",
                    "id": "c1",
                    "subject": {"reference": "urn:uuid:p1"},
                    "clinicalStatus": {"coding": [{"code": "active"}]},
                    "code": {
                        "coding": [
                            {
                                "system": "http://hl7.org/fhir/sid/icd-10-cm",
                                "code": "E11.9",
                                "display": "Type 2 diabetes mellitus without complications",
                            }
                        ]
                    },
                },
            },
            {
                "fullUrl": "urn:uuid:o1",
                "resource": {
                    "resourceType": "Observation",
                    "id": "o1",
                    "status": "final",
                    "subject": {"reference": "urn:uuid:p1"},
                    "category": [{"coding": [{"code": "laboratory"}]}],
                    "code": {"coding": [{"system": "http://loinc.org", "code": "4548-4", "display": "Hemoglobin A1c"}]},
                    "effectiveDateTime": "2026-10-01T09:00:00-04:00",
                    "valueQuantity": {"value": 9.4, "unit": "%"},
                },
            },
        ],
    }
    import orjson

    importer = FhirImporter(organization_id=org.pk, source_system="ehr", actor=Actor.system(org.pk))
    importer.import_bytes(orjson.dumps(bundle), "bundle.json")
    importer.flush()
    return org, user


@pytest.mark.django_db(transaction=True)
def test_coordinator_signs_in_searches_and_opens_a_chart(live_server: Any, page: Any) -> None:
    _clinic()
    page.goto(f"{live_server.url}/patients/")
    assert "/login/" in page.url  # not signed in: sent to the sign-in page
    page.fill("input[name=username]", "coord.browser")
    page.fill("input[name=password]", "Browser-pass-77")
    page.click("button[type=submit]")
    page.wait_for_url("**/patients/**")
    page.fill("input[name=q]", "MRN-4242")
    page.press("input[name=q]", "Enter")
    page.wait_for_selector("text=Quill, Ada")
    page.click("text=Quill, Ada")
    page.wait_for_selector("h1:has-text('Quill, Ada')")
    assert page.locator("td.mono", has_text="E119").count() == 1
    assert "9.4 %" in page.inner_text("body")

    from careloop.audit.models import AuditEvent

    assert AuditEvent.objects.filter(action="patient.chart_viewed", actor_username="coord.browser").count() == 1


@pytest.mark.django_db(transaction=True)
def test_wrong_password_is_refused_in_the_browser(live_server: Any, page: Any) -> None:
    _clinic()
    page.goto(f"{live_server.url}/login/")
    page.fill("input[name=username]", "coord.browser")
    page.fill("input[name=password]", "not-the-password")
    page.click("button[type=submit]")
    assert page.locator("[role=alert]").inner_text().startswith("Wrong username or password")
