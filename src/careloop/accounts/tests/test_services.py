"""accounts services end to end through the web layer: lockout, idle timeout, MFA enrolment and enforcement."""

from __future__ import annotations

import datetime as dt

import pytest
import time_machine
from django.conf import settings
from django.test import Client
from django_otp.oath import totp
from django_otp.plugins.otp_totp.models import TOTPDevice

from careloop.accounts.models import User
from careloop.accounts.services import create_user, issue_api_token, set_org_mfa_requirement, user_for_token
from careloop.accounts.tests.factories import PASSWORD, actor, make_user
from careloop.audit.models import AuditEvent
from careloop.clinics.tests.factories import make_org
from careloop.core.errors import PermissionDenied, ValidationFailed

T0 = dt.datetime(2026, 3, 9, 14, 0, tzinfo=dt.UTC)
WRONG = "not-the-password"
LOCKED_MSG = b"This account is locked after repeated failed sign-ins."
BAD_MSG = b"Wrong username or password."


def _login(client: Client, username: str, password: str):  # type: ignore[no-untyped-def]
    return client.post("/login/", {"username": username, "password": password})


def _logged_in_user_id(client: Client) -> str | None:
    return client.session.get("_auth_user_id")


def _actions(user: User) -> list[str]:
    return list(AuditEvent.objects.filter(object_type="User", object_id=str(user.pk)).order_by("seq")
                .values_list("action", flat=True))


# ---- lockout ------------------------------------------------------------------------------------------

@pytest.mark.django_db
def test_login_succeeds_and_redirects() -> None:
    user = make_user(make_org(), "nurse", username="nina")
    client = Client()
    response = _login(client, "nina", PASSWORD)
    assert response.status_code == 302
    assert response["Location"] == "/"
    assert _logged_in_user_id(client) == str(user.pk)
    assert _actions(user) == ["user.login_succeeded"]


@pytest.mark.django_db
def test_unknown_username_gets_the_same_answer_as_a_wrong_password() -> None:
    make_user(make_org(), "nurse", username="nina")
    client = Client()
    unknown = _login(client, "nobody", PASSWORD)
    wrong = _login(client, "nina", WRONG)
    assert (unknown.status_code, wrong.status_code) == (401, 401)
    assert BAD_MSG in unknown.content
    assert BAD_MSG in wrong.content


@pytest.mark.django_db
def test_five_failures_lock_the_account_until_lockout_seconds_pass() -> None:
    assert (settings.LOCKOUT_ATTEMPTS, settings.LOCKOUT_SECONDS) == (5, 900)
    user = make_user(make_org(), "coordinator", username="cora")
    client = Client()
    with time_machine.travel(T0, tick=False) as traveller:
        for _ in range(4):
            response = _login(client, "cora", WRONG)
            assert response.status_code == 401
            assert BAD_MSG in response.content
        user.refresh_from_db()
        assert (user.failed_login_attempts, user.locked_until) == (4, None)

        response = _login(client, "cora", WRONG)  # 5th failure locks
        assert response.status_code == 401
        assert LOCKED_MSG in response.content
        user.refresh_from_db()
        assert user.failed_login_attempts == 5
        assert user.locked_until == T0 + dt.timedelta(seconds=900)

        # The right password is refused while locked.
        response = _login(client, "cora", PASSWORD)
        assert response.status_code == 401
        assert LOCKED_MSG in response.content
        assert _logged_in_user_id(client) is None

        traveller.shift(dt.timedelta(seconds=899))
        response = _login(client, "cora", PASSWORD)
        assert response.status_code == 401
        assert LOCKED_MSG in response.content

        traveller.shift(dt.timedelta(seconds=2))
        response = _login(client, "cora", PASSWORD)
        assert response.status_code == 302
        assert _logged_in_user_id(client) == str(user.pk)
    user.refresh_from_db()
    assert (user.failed_login_attempts, user.locked_until) == (0, None)
    assert _actions(user) == ["user.login_failed"] * 7 + ["user.login_succeeded"]
    reasons = [e.detail for e in AuditEvent.objects.filter(object_id=str(user.pk)).order_by("seq")]
    assert reasons == (['{"reason":"bad_credentials"}'] * 4 + ['{"reason":"locked"}'] * 3
                       + ['{"reason":"ok"}'])


@pytest.mark.django_db
def test_a_success_resets_the_failure_counter() -> None:
    user = make_user(make_org(), "coordinator", username="cora")
    client = Client()
    for _ in range(4):
        _login(client, "cora", WRONG)
    assert _login(client, "cora", PASSWORD).status_code == 302
    client.logout()
    for _ in range(4):
        assert _login(client, "cora", WRONG).status_code == 401
    user.refresh_from_db()
    assert (user.failed_login_attempts, user.locked_until) == (4, None)


@pytest.mark.django_db
def test_inactive_user_cannot_log_in() -> None:
    user = make_user(make_org(), "nurse", username="ina")
    User.objects.filter(pk=user.pk).update(is_active=False)
    client = Client()
    assert _login(client, "ina", PASSWORD).status_code == 401
    assert _logged_in_user_id(client) is None


@pytest.mark.django_db
def test_login_next_parameter_only_redirects_inside_the_site() -> None:
    make_user(make_org(), "nurse", username="nina")
    assert Client().post("/login/?next=/patients/", {"username": "nina", "password": PASSWORD})["Location"] \
        == "/patients/"
    assert Client().post("/login/?next=//evil.example/", {"username": "nina", "password": PASSWORD})["Location"] \
        == "/"
    assert Client().post("/login/?next=https://evil.example/", {"username": "nina", "password": PASSWORD})[
        "Location"] == "/"


# ---- idle timeout -------------------------------------------------------------------------------------

@pytest.mark.django_db
def test_activity_keeps_the_session_alive() -> None:
    user = make_user(make_org(), "coordinator")
    client = Client()
    with time_machine.travel(T0, tick=False) as traveller:
        client.force_login(user)
        for _ in range(4):
            assert client.get("/patients/").status_code == 200
            traveller.shift(dt.timedelta(seconds=settings.SESSION_IDLE_SECONDS - 60))
        assert client.get("/patients/").status_code == 200
        assert client.get("/api/patients").status_code == 200


@pytest.mark.django_db
def test_idle_session_is_logged_out() -> None:
    assert settings.SESSION_IDLE_SECONDS == 900
    user = make_user(make_org(), "coordinator")
    client = Client()
    with time_machine.travel(T0, tick=False) as traveller:
        client.force_login(user)
        assert client.get("/patients/").status_code == 200
        traveller.shift(dt.timedelta(seconds=settings.SESSION_IDLE_SECONDS + 1))
        response = client.get("/patients/")
        assert response.status_code == 302
        assert response["Location"].startswith("/login/")
        assert _logged_in_user_id(client) is None
        assert client.get("/api/patients").status_code == 401


@pytest.mark.django_db
def test_idle_timeout_redirect_tells_the_user_why() -> None:
    user = make_user(make_org(), "coordinator")
    client = Client()
    with time_machine.travel(T0, tick=False) as traveller:
        client.force_login(user)
        assert client.get("/patients/").status_code == 200
        traveller.shift(dt.timedelta(seconds=settings.SESSION_IDLE_SECONDS + 1))
        response = client.get("/patients/")
    assert response.status_code == 302
    assert response["Location"] == "/login/?timeout=1"
    assert b"signed out after a period of inactivity" in client.get(response["Location"]).content


@pytest.mark.django_db
def test_idle_api_session_is_logged_out() -> None:
    user = make_user(make_org(), "coordinator")
    client = Client()
    with time_machine.travel(T0, tick=False) as traveller:
        client.force_login(user)
        assert client.get("/api/patients").status_code == 200
        traveller.shift(dt.timedelta(seconds=settings.SESSION_IDLE_SECONDS + 1))
        assert client.get("/api/patients").status_code == 401
        assert _logged_in_user_id(client) is None


# ---- MFA ----------------------------------------------------------------------------------------------

def _code(device: TOTPDevice) -> str:
    return f"{totp(device.bin_key):06d}"


@pytest.mark.django_db
def test_staff_of_an_mfa_org_must_enrol_and_the_api_refuses_their_session_until_verified() -> None:
    org = make_org(require_mfa_for_staff=True)
    user = make_user(org, "nurse", username="nina")
    client = Client()
    with time_machine.travel(T0, tick=False) as traveller:
        assert _login(client, "nina", PASSWORD).status_code == 302
        response = client.get("/patients/")
        assert response.status_code == 302
        assert response["Location"] == "/mfa/enroll/"
        assert client.get("/").status_code == 302
        assert client.get("/api/patients").status_code == 401
        assert client.get("/fhir/Patient?identifier=x").status_code == 401

        page = client.get("/mfa/enroll/")
        assert page.status_code == 200
        assert b"<svg" in page.content
        device = TOTPDevice.objects.get(user=user)
        assert device.confirmed is False
        assert client.get("/mfa/enroll/").status_code == 200
        assert TOTPDevice.objects.filter(user=user).count() == 1  # the pending device is reused

        good = _code(device)
        bad = f"{(int(good) + 1) % 1_000_000:06d}"
        response = client.post("/mfa/enroll/", {"token": bad})
        assert response.status_code == 200
        assert b"That code did not match" in response.content
        assert client.get("/api/patients").status_code == 401

        traveller.shift(dt.timedelta(seconds=2))  # django-otp throttles for 1 s after a failure
        response = client.post("/mfa/enroll/", {"token": good})
        assert response.status_code == 302
        assert response["Location"] == "/"
        device.refresh_from_db()
        assert device.confirmed is True
        assert client.get("/patients/").status_code == 200
        assert client.get("/api/patients").status_code == 200
    assert _actions(user) == ["user.login_succeeded", "user.mfa_enrolled"]


@pytest.mark.django_db
def test_a_user_with_a_device_must_verify_in_every_new_session() -> None:
    org = make_org()  # the org does not require MFA: having a device is enough
    user = make_user(org, "provider", username="pat")
    device = TOTPDevice.objects.create(user=user, name="phone", confirmed=True)
    client = Client()
    with time_machine.travel(T0, tick=False) as traveller:
        assert _login(client, "pat", PASSWORD).status_code == 302
        response = client.get("/patients/")
        assert (response.status_code, response["Location"]) == (302, "/mfa/verify/")
        assert client.get("/mfa/enroll/")["Location"] == "/mfa/verify/"
        assert client.get("/api/patients").status_code == 401
        response = client.post("/mfa/verify/", {"token": "12345x"})
        assert response.status_code == 200
        assert b"That code did not match." in response.content
        traveller.shift(dt.timedelta(seconds=2))  # django-otp throttles for 1 s after a failure
        response = client.post("/mfa/verify/", {"token": _code(device)})
        assert (response.status_code, response["Location"]) == (302, "/")
        assert client.get("/patients/").status_code == 200
        assert client.get("/api/patients").status_code == 200
    assert _actions(user) == ["user.login_succeeded", "user.mfa_failed"]


@pytest.mark.django_db
def test_patient_role_is_not_forced_to_enrol() -> None:
    org = make_org(require_mfa_for_staff=True)
    make_user(org, "patient", username="pete")
    client = Client()
    assert _login(client, "pete", PASSWORD).status_code == 302
    home = client.get("/")
    assert home.status_code == 200
    assert client.get("/patients/").status_code == 403  # not allowed, but not sent to /mfa/ either
    assert not TOTPDevice.objects.exists()


@pytest.mark.django_db
def test_staff_of_an_org_without_mfa_is_not_forced() -> None:
    make_user(make_org(), "coordinator", username="cora")
    client = Client()
    assert _login(client, "cora", PASSWORD).status_code == 302
    assert client.get("/patients/").status_code == 200
    assert client.get("/api/patients").status_code == 200


@pytest.mark.django_db
def test_set_org_mfa_requirement_is_admin_only_and_audited() -> None:
    org, other = make_org(), make_org()
    admin = make_user(org, "admin")
    with pytest.raises(PermissionDenied):
        set_org_mfa_requirement(organization=org, required=True, actor=actor(make_user(org, "leader")))
    with pytest.raises(PermissionDenied):
        set_org_mfa_requirement(organization=org, required=True, actor=actor(make_user(other, "admin")))
    org.refresh_from_db()
    assert org.require_mfa_for_staff is False
    set_org_mfa_requirement(organization=org, required=True, actor=actor(admin))
    org.refresh_from_db()
    assert org.require_mfa_for_staff is True
    event = AuditEvent.objects.get(action="organization.mfa_policy_changed")
    assert (event.actor_id, event.object_id, event.detail) == (admin.pk, str(org.pk), '{"required":true}')


# ---- users and tokens ---------------------------------------------------------------------------------

@pytest.mark.django_db
def test_create_user_refuses_an_unknown_role() -> None:
    with pytest.raises(ValidationFailed) as exc:
        create_user(organization=make_org(), username="x", password=PASSWORD, role="superuser")
    assert exc.value.field_errors == {"role": "unknown role"}
    assert not User.objects.exists()


@pytest.mark.django_db
def test_api_tokens_are_stored_hashed_and_can_be_revoked() -> None:
    user = make_user(make_org(), "admin")
    raw = issue_api_token(user=user, name="ehr")
    assert raw.startswith("cl_")
    token = user.api_tokens.get()
    assert token.token_hash != raw and len(token.token_hash) == 64
    assert user_for_token(raw) == user
    assert user_for_token(raw + "x") is None
    token.revoked = True
    token.save()
    assert user_for_token(raw) is None
