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
    if role and rules.has_permission(role, "program.read"):
        items.append(("Population", "/programs/population/"))
        items.append(("Enroll first", "/programs/enroll-first/"))
    if role and rules.has_permission(role, "quality.read"):
        items.append(("Quality", "/quality/"))
    if role and rules.has_permission(role, "transitions.read"):
        items.append(("Transitions", "/transitions/"))
    if role and rules.has_permission(role, "billing.view"):
        items.append(("Billing", "/billing/"))
    if role and rules.has_permission(role, "compliance.read"):
        items.append(("Compliance", "/compliance/"))
    if role and rules.has_permission(role, "insights.view"):
        items.append(("Revenue", "/insights/"))
    if role and rules.has_permission(role, "portal.use"):
        items.append(("My care plan", "/portal/"))
    if role and rules.has_permission(role, "partner.use"):
        items.append(("Shared plans", "/partner/"))
    if role and rules.has_permission(role, "oncall.read"):
        items.append(("On-call", "/access/on-call/"))
    if role and rules.has_permission(role, "audit.read"):
        items.append(("Audit", "/audit/"))
    if role and rules.has_permission(role, "org.manage"):
        items.append(("Security", "/settings/security/"))
    return {"nav_items": items, "user_role": role, "can_worklist": can_worklist,
            "perms_program_read": bool(role) and rules.has_permission(role, "program.read"),
            "perms_quality_read": bool(role) and rules.has_permission(role, "quality.read"),
            "perms_transitions_read": bool(role) and rules.has_permission(role, "transitions.read"),
            "perms_compliance_packet": bool(role) and rules.has_permission(role, "compliance.packet")}
