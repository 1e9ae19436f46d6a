from __future__ import annotations

from typing import Any

from django import template

from careloop.accounts import rules as access
from careloop.careplans import rules, selectors

register = template.Library()


@register.inclusion_tag("careplans/_panel.html", takes_context=True)
def careplan_panel(context: Any, patient: Any) -> dict[str, Any]:
    role = str(context.get("user_role", ""))
    plans = list(selectors.plans_for_patient(organization_id=patient.organization_id, patient_id=patient.pk)) \
        if access.has_permission(role, "careplan.read") else []
    return {"p": patient, "plans": plans, "templates": rules.templates(), "csrf_token": context.get("csrf_token"),
            "can_read": access.has_permission(role, "careplan.read"),
            "can_write": access.has_permission(role, "careplan.write"),
            "suggested": {rules.template_for_icd10(c.icd10) for c in getattr(context.get("chart"), "conditions", [])
                          if getattr(c, "icd10", "")}}
