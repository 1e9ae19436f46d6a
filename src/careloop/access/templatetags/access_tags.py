from __future__ import annotations

from typing import Any

from django import template

from careloop.access.views import panel_context

register = template.Library()


@register.inclusion_tag("access/_panel.html", takes_context=True)
def access_panel(context: Any, patient: Any) -> dict[str, Any]:
    return panel_context(str(context.get("user_role", "")), patient)
