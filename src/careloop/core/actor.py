"""Who is acting, passed explicitly into every service and selector (no thread-locals)."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Actor:
    user_id: int | None
    username: str
    role: str
    organization_id: int | None
    source_ip: str = ""

    @classmethod
    def system(cls, organization_id: int | None, name: str = "system") -> Actor:
        return cls(user_id=None, username=name, role="system", organization_id=organization_id)
