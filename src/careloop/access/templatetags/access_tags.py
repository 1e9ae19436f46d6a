from __future__ import annotations

from typing import Any

from django import template

from careloop.access import selectors
from careloop.accounts import rules as access

register = template.Library()


@register.inclusion_tag("access/_panel.html", takes_context=True)
def access_panel(context: Any, patient: Any) -> dict[str, Any]:
    role = str(context.get("user_role", ""))
    if not access.has_permission(role, "careplan.read"):
        return {"show": False}
    org, pid = patient.organization_id, patient.pk
    return {"show": True, "p": patient,
            "messages": list(selectors.messages(organization_id=org, patient_id=pid)[:10]),
            "notices": list(selectors.notices(organization_id=org, patient_id=pid)[:5]),
            "contacts": list(selectors.after_hours_contacts(organization_id=org, patient_id=pid)[:10]),
            "proxies": list(selectors.proxies(organization_id=org, patient_id=pid)),
            "shares": list(selectors.shares_for_patient(organization_id=org, patient_id=pid))}
