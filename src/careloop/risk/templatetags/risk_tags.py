"""``{% load risk_tags %}{% risk_panel patient %}``: the chart's risk panel in one line.

The patient passed in was already loaded through the tenant-scoped chart selector (which audits the view),
so the panel reads the same organization's risk rows for that patient only.
"""

from __future__ import annotations

from typing import Any

from django import template

from careloop.risk.models import PatientRisk, RiskTierChange

register = template.Library()


@register.inclusion_tag("risk/_chart_panel.html")
def risk_panel(patient: Any) -> dict[str, Any]:
    org, pid = patient.organization_id, patient.pk
    return {
        "risk": PatientRisk.objects.filter(organization_id=org, patient_id=pid).first(),
        "risk_history": list(
            RiskTierChange.objects.filter(organization_id=org, patient_id=pid).order_by("-changed_at", "-id")[:5]
        ),
    }
