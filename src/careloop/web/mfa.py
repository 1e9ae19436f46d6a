"""TOTP enrolment and verification pages (django-otp)."""

from __future__ import annotations

from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import render
from django_otp import login as otp_login
from django_otp.plugins.otp_totp.models import TOTPDevice

from careloop.accounts.permissions import client_ip
from careloop.accounts.services import actor_for
from careloop.audit.services import record_event


def _qr_svg(uri: str) -> str:
    import segno

    return str(segno.make(uri, error="m").svg_inline(scale=4))


def enroll(request: HttpRequest) -> HttpResponse:
    if not request.user.is_authenticated:
        return HttpResponseRedirect("/login/")
    user = request.user
    device = TOTPDevice.objects.filter(user=user, confirmed=False).first()
    if device is None:
        if TOTPDevice.objects.filter(user=user, confirmed=True).exists():
            return HttpResponseRedirect("/mfa/verify/")
        device = TOTPDevice.objects.create(user=user, name="authenticator", confirmed=False)
    error = ""
    if request.method == "POST":
        if device.verify_token(request.POST.get("token", "").strip()):
            device.confirmed = True
            device.save(update_fields=["confirmed"])
            otp_login(request, device)
            record_event(
                actor=actor_for(user, client_ip(request)),
                action="user.mfa_enrolled",  # type: ignore[arg-type]
                object_type="User",
                object_id=str(user.pk),
            )
            return HttpResponseRedirect("/")
        error = "That code did not match. Check the time on your phone and try the current code."
    return render(
        request,
        "web/mfa_enroll.html",
        {"qr": _qr_svg(device.config_url), "secret_uri": device.config_url, "error": error},
    )


def verify(request: HttpRequest) -> HttpResponse:
    if not request.user.is_authenticated:
        return HttpResponseRedirect("/login/")
    error = ""
    if request.method == "POST":
        token = request.POST.get("token", "").strip()
        for device in TOTPDevice.objects.filter(user=request.user, confirmed=True):
            if device.verify_token(token):
                otp_login(request, device)
                return HttpResponseRedirect("/")
        error = "That code did not match."
        record_event(
            actor=actor_for(request.user, client_ip(request)),
            action="user.mfa_failed",  # type: ignore[arg-type]
            object_type="User",
            object_id=str(request.user.pk),
            outcome="failure",
        )
    return render(request, "web/mfa_verify.html", {"error": error})
