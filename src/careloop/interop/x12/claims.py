"""The billing month as an 837P file: billing selectors -> writer -> pyx12 validation, audited.

Only physician/NPP practices bill professional claims. RHCs and FQHCs bill institutional claims (837I, TOB
71X/77X, cms-rules 2.12 and 4), which careloop does not write yet: the export refuses them with that reason.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from django.db import transaction

from careloop.accounts import rules as access
from careloop.audit.services import EventSpec, record_events
from careloop.billing import selectors
from careloop.clinics.choices import PracticeType
from careloop.clinics.models import Organization
from careloop.core import clock
from careloop.core.actor import Actor
from careloop.core.errors import PermissionDenied, ValidationFailed
from careloop.interop.x12.validate import Validation, partition, validate_sets, validate_x12, validation_workers
from careloop.interop.x12.writer import (
    MAX_CLAIMS_PER_ST,
    BillingProvider,
    Envelope,
    Party,
    claim_problems,
    claims_per_set,
    write_837p,
)


class InstitutionalPractice(ValidationFailed):
    pass


@dataclass
class Export837:
    month: str
    claims: int
    lines: int
    skipped: list[dict[str, Any]]
    validation: Validation
    text: str = field(repr=False)
    seconds_write: float = 0.0
    seconds_validate: float = 0.0

    def as_json(self) -> dict[str, Any]:
        return {"month": self.month, "claims": self.claims, "lines": self.lines, "skipped": self.skipped,
                "validation": self.validation.as_json(), "seconds_write": round(self.seconds_write, 3),
                "seconds_validate": round(self.seconds_validate, 3)}


def build_837p(*, organization: Organization, month: str, actor: Actor, validate: bool = True,
               control_number: int | None = None) -> Export837:
    """The month's billable lines as one 837P interchange, validated with pyx12 (``validate``)."""
    if actor.role != "system" and (actor.organization_id != organization.pk
                                   or not access.has_permission(actor.role, "billing.export")):
        raise PermissionDenied(f"role {actor.role!r} may not export claims")
    if organization.practice_type in (PracticeType.RHC, PracticeType.FQHC):
        raise InstitutionalPractice(
            f"{organization.get_practice_type_display()}s bill institutional claims (837I, type of bill "
            f"{'71X' if organization.practice_type == PracticeType.RHC else '77X'}); the 837P export does not "
            "apply (cms-rules 2.12, 4). Use the CSV export.")
    cfg = selectors.settings_for(organization)
    if not organization.npi or not organization.tin:
        raise ValidationFailed("the organization needs an NPI and a TIN (EIN) to bill claims",
                               field_errors={"organization": "npi and tin required"})
    now = clock.now()
    started = time.perf_counter()
    claims = list(selectors.month_claims(organization_id=organization.pk, month=month))
    if not claims:
        raise ValidationFailed(f"no billable lines for {month}: run the billing month first")
    provider = BillingProvider(organization.name, organization.npi, organization.tin, cfg.address_line,
                               cfg.city, cfg.state, cfg.postal_code)
    envelope = Envelope(
        submitter=Party(organization.name, organization.tin), receiver=Party(cfg.receiver_name, cfg.receiver_id),
        contact_name=f"{organization.name} billing", contact_phone=organization.after_hours_phone or "",
        payer_name="MEDICARE PART B", payer_id=cfg.payer_id,
        control_number=control_number if control_number is not None else int(now.timestamp()) % 1_000_000_000,
        created=now.astimezone(clock.clinic_zone(organization.time_zone)),
    )
    parts = validation_workers(-(-len(claims) // MAX_CLAIMS_PER_ST))
    per_set = claims_per_set(sum(1 for c in claims if not claim_problems(c)), parts=parts)
    out = write_837p(claims, provider=provider, envelope=envelope, max_claims_per_st=per_set)
    written, skipped, text = out.claims, out.skipped, out.text
    t_write = time.perf_counter() - started
    started = time.perf_counter()
    if written == 0:
        validation = Validation(False, "", ("no claim could be written",))
    elif not validate:
        validation = Validation(True, "", (), "not validated")
    elif len(out.sets) == 1:
        validation = validate_x12(text)
    else:  # equal transaction sets of at most 5,000 claims, one interchange per worker (same envelope; pyx12
        # loads its maps once per interchange), the workers in parallel
        groups = partition([len(st) for st in out.sets], parts)
        checked = validate_sets([out.subset(g) for g in groups], workers=parts)
        errors = tuple(f"ST {','.join(f'{i + 1:04d}' for i in g)}: {e}" for g, v in zip(groups, checked, strict=True)
                       for e in (*v.errors, v.exception) if e)
        validation = Validation(all(v.accepted for v in checked) and not errors,
                                "".join(v.ack for v in checked), errors)
    t_valid = time.perf_counter() - started
    left_out = {id(c) for c, _p in skipped}
    sent = [c for c in claims if id(c) not in left_out]
    with transaction.atomic():
        record_events(actor=actor, organization_id=organization.pk, events=[
            EventSpec("billing.claim_exported", c.patient_id, "PatientMonth", f"{c.patient_id}:{month}",
                      detail={"format": "837P", "lines": len(c.services)}) for c in sent
        ] + [EventSpec("billing.export_837p", None, "BillingMonth", month,
                       outcome="success" if validation.accepted else "failure",
                       detail={"claims": written, "skipped": len(skipped), "errors": list(validation.errors[:20])})])
    return Export837(
        month, written, sum(len(c.services) for c in sent),
        [{"patient_id": c.patient_id, "problems": list(p)} for c, p in skipped], validation, text, t_write, t_valid,
    )


def export_837p(*, organization: Organization, month: str, actor: Actor, out: Path) -> Export837:
    """Write the file only when pyx12 accepts it; otherwise raise with the 999 errors (nothing written)."""
    result = build_837p(organization=organization, month=month, actor=actor)
    if not result.validation.accepted:
        raise ValidationFailed("pyx12 rejected the 837P: " + "; ".join(result.validation.errors[:20])
                               + (f" ({result.validation.exception})" if result.validation.exception else ""))
    out.write_text(result.text)
    return result
