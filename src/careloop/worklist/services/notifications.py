"""Notification use-cases."""

from __future__ import annotations

from django.db import transaction

from careloop.core import clock
from careloop.core.actor import Actor
from careloop.core.errors import NotFound
from careloop.worklist.models import Notification
from careloop.worklist.services._common import require, user_id_of


def mark_notifications_read(*, organization_id: int, actor: Actor, notification_ids: list[int] | None = None) -> int:
    """Mark the actor's notifications (all, or the given ones) read. Returns how many changed."""
    require(actor, organization_id, "worklist.own", "worklist.team")
    me = user_id_of(actor)
    with transaction.atomic():
        mine = Notification.objects.filter(organization_id=organization_id, user_id=me)
        qs = mine.filter(read_at__isnull=True)
        if notification_ids is not None:
            if notification_ids and not mine.filter(pk__in=notification_ids).exists():
                raise NotFound("notification not found")
            qs = qs.filter(pk__in=notification_ids)
        return qs.update(read_at=clock.now())
