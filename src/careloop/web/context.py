from __future__ import annotations

from typing import Any

from django.http import HttpRequest

from careloop.accounts import rules


def navigation(request: HttpRequest) -> dict[str, Any]:
    user = getattr(request, "user", None)
    role = getattr(user, "role", "") if user is not None and user.is_authenticated else ""
    items = []
    can_worklist = bool(role) and (rules.has_permission(role, "worklist.own")
                                   or rules.has_permission(role, "worklist.team"))
    if can_worklist:
        items.append(("Queue", "/queue/"))
    if role and rules.has_permission(role, "worklist.team"):
        items.append(("Team", "/team/"))
    if role and rules.has_permission(role, "patient.read"):
        items.append(("Patients", "/patients/"))
    if role and rules.has_permission(role, "audit.read"):
        items.append(("Audit", "/audit/"))
    if role and rules.has_permission(role, "org.manage"):
        items.append(("Security", "/settings/security/"))
    return {"nav_items": items, "user_role": role, "can_worklist": can_worklist}
