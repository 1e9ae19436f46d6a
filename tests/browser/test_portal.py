"""Real-browser tests (Debian Chromium via Playwright): the care-plan editor and the portal.

A coordinator builds a plan from a template in the chart and edits it; the patient signs in, reads the plan in
plain language, comments, marks an action done and sends a message; the message lands in the coordinator's
queue; a partner with a share sees the plan. Skipped with a reason when /usr/bin/chromium is absent.
"""

from __future__ import annotations

import datetime as dt
import os
import shutil
from collections.abc import Iterator
from typing import Any

import pytest

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
PASSWORD = "Browser-pass-77"
pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(
        not os.path.exists(CHROMIUM), reason="Debian chromium is not installed (apt-get install chromium)"
    ),
]


@pytest.fixture
def browser() -> Iterator[Any]:
    os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = "true"  # Playwright's sync API runs an event loop in this thread
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=[
            "--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
            "--disable-sync", "--no-first-run"])
        yield b
        b.close()


def _clinic() -> dict[str, Any]:
    from careloop.access import services as access
    from careloop.accounts.services import create_user
    from careloop.careplans.tests.factories import make_clinic
    from careloop.programs.services import designate_care_member

    c = make_clinic("portal-browser")
    users = {}
    for name, role in [("coord.portal", "coordinator"), ("pat.portal", "patient"), ("partner.portal", "partner")]:
        users[role] = create_user(organization=c.org, username=name, password=PASSWORD, role=role)
    coord = users["coordinator"]
    from careloop.accounts.tests.factories import actor

    a = actor(coord)
    designate_care_member(organization_id=c.org.pk, patient_id=c.patient.pk, user_id=coord.pk, actor=a,
                          since=dt.date(2020, 1, 1))
    access.link_portal_account(organization_id=c.org.pk, patient_id=c.patient.pk, user_id=users["patient"].pk,
                               actor=a)
    access.set_protocol(organization_id=c.org.pk, nurse_line_phone="555-0100", actor=a,
                        instructions="Call the nurse line any time.")
    return {"clinic": c, **users}


def _login(browser: Any, url: str, username: str, path: str) -> Any:
    page = browser.new_context(viewport={"width": 390, "height": 844}).new_page()  # phone-sized
    page.goto(f"{url}{path}")
    page.fill("input[name=username]", username)
    page.fill("input[name=password]", PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_url(f"**{path}**")
    return page


@pytest.mark.django_db(transaction=True)
def test_plan_from_template_portal_message_queue_and_partner(live_server: Any, browser: Any) -> None:
    from careloop.access import services as access
    from careloop.accounts.tests.factories import actor
    from careloop.careplans.models import CarePlan
    from careloop.worklist.models import CareTask

    w = _clinic()
    c = w["clinic"]
    # 1. the coordinator builds the plan from the diabetes template in the chart, then edits it
    coord = _login(browser, live_server.url, "coord.portal", f"/patients/{c.patient.pk}/")
    assert coord.is_checked("#new-plan input[value=diabetes]")
    coord.click("#new-plan button[type=submit]")
    coord.wait_for_selector("h1:has-text('Care plan')")
    assert "HbA1c below 8% within 6 months" in coord.inner_text("body")
    coord.click("text=Edit plan")
    coord.fill("input[name='new:goals']", "Walk my dog every morning")
    coord.check("input[name='new-patient-stated:goals']")
    coord.fill("input[name=reason]", "Added the patient's own goal")
    coord.click("#plan-editor button[type=submit]")
    coord.wait_for_selector("text=Version 2")
    coord.click("text=History")
    assert "Walk my dog every morning" in coord.inner_text("#v2")
    plan = CarePlan.objects.get(patient=c.patient)

    # 2. the patient reads the plan in plain language, comments, marks an action done and sends a message
    pat = _login(browser, live_server.url, "pat.portal", "/portal/")
    body = pat.inner_text("body")
    assert "Your goals" in body and "Walk my dog every morning" in body and "Things you can do" in body
    pat.fill("textarea[aria-label='Your comment']", "Can my daughter come to visits?")
    pat.click(f"#plan-{plan.pk} button:has-text('Send comment')")
    pat.wait_for_selector("text=Can my daughter come to visits?")
    pat.click(f"#plan-{plan.pk} button:has-text('Mark done') >> nth=0")
    pat.wait_for_selector(f"#plan-{plan.pk} .tag:has-text('done')")
    pat.fill("textarea[aria-label='Your message']", "My feet are tingling more this week")
    pat.click("#messages button[type=submit]")
    pat.wait_for_selector("#message-result")
    assert "Your message was sent to your care team." in pat.inner_text("#message-result")

    # 3. the message is in the coordinator's queue as a message_response task
    task = CareTask.objects.get(patient=c.patient, task_type="message_response")
    assert task.assigned_user_id == w["coordinator"].pk
    coord.goto(f"{live_server.url}/queue/")
    coord.wait_for_selector("text=My feet are tingling more this week")

    # 4. a partner with a share sees the plan and comments
    access.share_with_partner(organization_id=c.org.pk, patient_id=c.patient.pk, partner_id=w["partner"].pk,
                              partner_kind="specialist", actor=actor(w["coordinator"]),
                              expires_at=dt.datetime.now(dt.UTC) + dt.timedelta(days=30))
    partner = _login(browser, live_server.url, "partner.portal", "/partner/")
    assert "Walk my dog every morning" in partner.inner_text(f"#plan-{plan.pk}")
    partner.fill(f"#plan-{plan.pk} textarea", "Podiatry visit booked for next week")
    partner.click(f"#plan-{plan.pk} button:has-text('Comment')")
    partner.wait_for_selector("text=Podiatry visit booked for next week")
